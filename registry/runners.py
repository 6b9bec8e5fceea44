"""The runner that checks an uploaded model: loaded, tried on example rows and wrapped into
the studio's archive in a limited child process (no secrets, a memory and a time limit),
since loading a pickle runs whatever code it names."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import PurePosixPath
from typing import Any

from registry.models import ModelPackage, PackageStatus
from registry.services import (
    VALIDATE_JOB_KIND,
    VALIDATION_TIMEOUT_SECONDS,
    model_package_complete,
    model_package_fail,
    model_package_validation_started,
)
from studio import storage
from studio.choices import JobStatus
from studio.jobs import JobContext, JobFailed, register_runner
from studio.jobs.sandbox import memory_failure, run_limited
from studio.models import Job


def _reason(status: int, messages: list[dict[str, Any]], stderr_tail: str) -> str:
    for message in reversed(messages):
        error = message.get("error")
        if isinstance(error, dict):
            return str(error.get("message") or "The model was refused.")
    if memory_failure(status, stderr_tail):
        return "Loading the model ran out of memory."
    lines = stderr_tail.strip().splitlines()
    return f"The model's check failed: {lines[-1] if lines else f'exit status {status}'}"


def _finished(job: Job) -> None:
    """However the job ended short of Completed (failed, stopped, its worker lost), the
    package ends Failed with the reason."""
    if job.status == JobStatus.COMPLETED:
        return
    package_id = (job.parameters or {}).get("model_package")
    if package_id is not None:
        reason = job.failure_reason or f"The check was {job.status.lower()} before it finished."
        model_package_fail(package_id=int(package_id), reason=reason)


@register_runner(VALIDATE_JOB_KIND, queue="cpu", title="Validate model", on_finish=_finished)
def run_model_validation(ctx: JobContext) -> dict[str, Any]:
    package = ModelPackage.objects.filter(pk=ctx.parameters.get("model_package")).first()
    if package is None:
        raise JobFailed("The model package no longer exists.")
    if package.status == PackageStatus.COMPLETED:
        # A redelivered or retried run after success: the archive is in place already.
        return {"model_package": package.pk, "artifact": package.artifact_key}
    model_package_validation_started(package_id=package.pk)
    workdir = ctx.workdir
    source = workdir / PurePosixPath(package.upload_key).name  # a name the service made
    with storage.open_local(package.upload_key) as stored:
        shutil.copyfile(stored, source)  # the child reads its own copy, in its own folder
    asked = package.upload_request or {}
    spec = {
        "source": str(source),
        "kind": package.upload_kind,
        "output": str(workdir / "model.tar.gz"),
        "input_schema": asked.get("input_schema"),
        "problem_type": asked.get("problem_type"),
        "classes": asked.get("classes"),
    }
    (workdir / "spec.json").write_text(json.dumps(spec))
    ctx.log(
        f"Checking {package.upload_filename or 'the upload'} ({package.upload_kind}) for "
        f"{package.group.name} v{package.version}."
    )
    status, messages, tail = run_limited(
        ctx,
        [sys.executable, "-m", "registry.engine.validate", str(workdir / "spec.json")],
        workdir=workdir,
        timeout=float(VALIDATION_TIMEOUT_SECONDS),
        env={"OMP_NUM_THREADS": "1"},
    )
    result_path = workdir / "result.json"
    if status != 0 or not result_path.exists():
        raise JobFailed(_reason(status, messages, tail))
    metadata = json.loads(result_path.read_text())["metadata"]
    package = model_package_complete(
        package_id=package.pk, path=workdir / "model.tar.gz", metadata=metadata
    )
    ctx.log(f"{package} is Completed: {str(metadata['problem_type']).replace('_', ' ')}.")
    return {"model_package": package.pk, "artifact": package.artifact_key}
