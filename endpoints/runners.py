"""The deploy job: bring up the model servers a configuration needs, then make it live.

It is idempotent on the endpoint: a second attempt plans again and finds the servers the
first one created (same spec, not retired), so it only waits for what is still missing.
"""

from __future__ import annotations

import json
import os
import sys
import time
from contextlib import ExitStack
from typing import Any

from django.conf import settings
from django.db import transaction

from endpoints.choices import ServerStatus
from endpoints.models import Endpoint, ModelServer, TransformJob
from endpoints.services import (
    DEPLOY_JOB_KIND,
    deploy_abandon,
    deploy_commit,
    deploy_plan,
    live_hosts,
)
from endpoints.transform import (
    TRANSFORM_JOB_KIND,
    transform_job_finish,
    transform_job_progress,
    transform_job_started,
)
from registry.models import PackageStatus
from studio import storage
from studio.choices import DatasetStatus, JobStatus, Queue
from studio.errors import ServiceError
from studio.jobs import JobContext, JobFailed, register_runner
from studio.jobs.sandbox import memory_failure, run_limited
from studio.models import Job

POLL_SECONDS = 0.2


def _deploy_finished(job: Job) -> None:
    """A deploy that did not complete leaves the endpoint as it was (or Failed if new)."""
    if job.status == JobStatus.COMPLETED:
        return
    endpoint_id = (job.parameters or {}).get("endpoint")
    if not Endpoint.objects.filter(pk=endpoint_id, job=job).exists():
        return  # deleted, or a later deploy owns it now
    reason = job.failure_reason or f"The deploy job ended {job.status}."
    deploy_abandon(endpoint_id=int(endpoint_id), reason=reason)


@register_runner(
    DEPLOY_JOB_KIND, queue=Queue.DEFAULT, title="Deploy endpoint", on_finish=_deploy_finished
)
def deploy(ctx: JobContext) -> dict[str, Any]:
    endpoint_id = int(ctx.job.parameters["endpoint"])
    with transaction.atomic():
        endpoint = Endpoint.objects.select_for_update().filter(pk=endpoint_id).first()
        if endpoint is None:
            raise JobFailed("The endpoint was deleted.")
        if endpoint.pending_config is None:  # made live by an earlier attempt
            return {"endpoint": endpoint.pk, "generation": endpoint.generation}
        plan = deploy_plan(endpoint)
    ids = [s.pk for s in plan]
    ctx.log(f"{endpoint.name}: {len(ids)} model server(s) for this configuration.")
    deadline = time.monotonic() + float(settings.SEXTANT_DEPLOY_TIMEOUT)
    said: dict[int, str] = {}
    while True:
        ctx.check_cancelled()
        servers = list(ModelServer.objects.filter(pk__in=ids).select_related("host"))
        if len(servers) != len(ids):
            raise JobFailed("The endpoint was deleted while deploying.")
        unplaced = [s for s in servers if s.host_id is None]
        if unplaced:
            hosts = live_hosts()
            if hosts:
                for i, server in enumerate(unplaced):
                    server.host = hosts[i % len(hosts)]
                    server.save(update_fields=["host", "updated_at"])
        for server in servers:
            where = f" on {server.host.name}:{server.port}" if server.host and server.port else ""
            state = f"{server.status}{where}"
            if said.get(server.pk) != state:
                said[server.pk] = state
                ctx.log(f"Variant {server.variant}, instance {server.pk}: {state}.")
        failed = [s for s in servers if s.status == ServerStatus.FAILED]
        if failed:
            raise JobFailed(f"Variant {failed[0].variant} could not start: {failed[0].last_error}")
        running = sum(s.status == ServerStatus.RUNNING for s in servers)
        ctx.progress(running / max(1, len(servers)))
        if running == len(servers):
            break
        if time.monotonic() > deadline:
            if unplaced and not live_hosts():
                raise JobFailed(
                    "No model host is running: start one with `python manage.py model_host` "
                    "(make run starts one)."
                )
            raise JobFailed(
                f"The model servers did not start within {settings.SEXTANT_DEPLOY_TIMEOUT:g} s."
            )
        time.sleep(POLL_SECONDS)
    endpoint = deploy_commit(endpoint_id=endpoint_id, servers=ids)
    ctx.log(f"{endpoint.name} is InService (generation {endpoint.generation}).")
    return {"endpoint": endpoint.pk, "generation": endpoint.generation}


# --- batch transform ----------------------------------------------------------------------
class _RowsDone:
    """Keeps ``rows_done`` of a transform current from its child's progress lines, at most
    once a second (the job's own progress is written by the framework)."""

    INTERVAL = 1.0

    def __init__(self, transform_id: int) -> None:
        self.transform_id = transform_id
        self.rows = 0
        self.saved = 0
        self.last = 0.0

    def message(self, message: dict[str, Any]) -> None:
        rows = message.get("rows_done")
        if isinstance(rows, int) and rows > self.rows:
            self.rows = rows
            self.tick()

    def tick(self) -> None:
        if self.rows != self.saved and time.monotonic() - self.last >= self.INTERVAL:
            self.save()

    def save(self) -> None:
        self.last = time.monotonic()
        self.saved = self.rows
        transform_job_progress(transform_id=self.transform_id, rows_done=self.rows)


def _transform_failure(status: int, messages: list[dict[str, Any]], stderr_tail: str) -> str:
    for message in reversed(messages):
        error = message.get("error")
        if isinstance(error, dict):
            return str(error.get("message") or "The transform failed.")
    if memory_failure(status, stderr_tail):
        return (
            "The transform ran out of memory (limit "
            f"{settings.SEXTANT_PROCESSING_MEMORY_MB} MiB per instance, "
            "SEXTANT_PROCESSING_MEMORY_MB): try fewer batch_rows."
        )
    lines = stderr_tail.strip().splitlines()
    return f"The transform failed: {lines[-1] if lines else f'exit status {status}'}"


@register_runner(TRANSFORM_JOB_KIND, queue=Queue.CPU, title="Batch transform")
def run_transform_job(ctx: JobContext) -> dict[str, Any]:
    """Score the dataset with the package in a limited child process (the archive is a
    pickle), then register the predictions as a new dataset and link it."""
    transform = (
        TransformJob.objects.select_related("model_package__group", "dataset", "output_dataset")
        .filter(job_id=ctx.job_id)
        .first()
    )
    if transform is None:
        raise JobFailed("The transform job no longer exists.")
    if transform.output_dataset is not None:  # a redelivered run after success
        return _transform_outputs(transform.pk, transform.output_dataset.pk, transform.rows_done)
    package, dataset = transform.model_package, transform.dataset
    if dataset is None or dataset.status != DatasetStatus.READY:
        raise JobFailed("The input dataset was deleted or is no longer Ready.")
    if package.status != PackageStatus.COMPLETED or not package.artifact_key:
        raise JobFailed(f"Model package {package} is {package.status}, not Completed.")
    transform_job_started(transform_id=transform.pk)
    workdir = ctx.workdir
    output = workdir / "predictions.parquet"
    rows_done = _RowsDone(transform.pk)
    instances = transform.instance_count
    with ExitStack() as stack:
        spec = {
            "input": str(stack.enter_context(storage.open_local(dataset.data_key))),
            "model": str(stack.enter_context(storage.open_local(package.artifact_key))),
            "output": str(output),
            "batch_rows": transform.batch_rows,
            "instance_count": instances,
            "join_input": transform.join_input,
            "workdir": str(workdir / "parts"),
        }
        (workdir / "spec.json").write_text(json.dumps(spec))
        ctx.log(
            f"Scoring {dataset.name} v{dataset.version} ({dataset.num_rows or 0:,} rows) with "
            f"{package}, {instances} instance{'s' if instances > 1 else ''}, batches of "
            f"{transform.batch_rows:,} rows."
        )
        # The instances share the machine's cores rather than each taking all of them.
        threads = max(1, (os.cpu_count() or 1) // instances)
        status, messages, stderr_tail = run_limited(
            ctx,
            [sys.executable, "-m", "endpoints.engine.transform", str(workdir / "spec.json")],
            workdir=workdir,
            timeout=ctx.max_runtime or float(settings.SEXTANT_PROCESSING_TIMEOUT),
            env={"OMP_NUM_THREADS": str(threads)},
            on_message=rows_done.message,
            on_tick=rows_done.tick,
        )
    rows_done.save()  # where it stopped, whatever comes next
    result_path = workdir / "result.json"
    if status != 0 or not result_path.exists() or not output.exists():
        raise JobFailed(_transform_failure(status, messages, stderr_tail))
    result = json.loads(result_path.read_text())
    try:
        transform = transform_job_finish(
            transform_id=transform.pk, path=output, rows=int(result["rows"])
        )
    except ServiceError as exc:
        raise JobFailed(exc.message)
    predictions = transform.output_dataset
    assert predictions is not None
    ctx.log(
        f"Wrote dataset {predictions.name} v{predictions.version}: {result['rows']:,} rows, "
        f"columns {', '.join(result['columns'])} ({result['seconds']:.1f} s)."
    )
    return _transform_outputs(transform.pk, predictions.pk, int(result["rows"]))


def _transform_outputs(transform_id: int, dataset_id: int, rows: int) -> dict[str, Any]:
    return {"transform_job": transform_id, "dataset": dataset_id, "rows": rows}
