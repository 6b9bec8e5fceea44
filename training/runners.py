"""Training job runners: a built-in algorithm, or a user's script, in a limited child process."""

from __future__ import annotations

import json
import platform
import sys
from contextlib import ExitStack
from typing import Any

from django.conf import settings
from django.db import transaction

from studio import services as studio_services
from studio import storage
from studio.choices import DatasetStatus
from studio.jobs import JobContext, JobFailed, register_runner
from studio.jobs.sandbox import memory_failure, run_limited
from studio.models import Dataset, Job
from training.engine import script as scripts
from training.models import TrainingJob
from training.services import (
    INSTANCE_TYPES,
    SCRIPT_JOB_KIND,
    TRAINING_JOB_KIND,
    training_run_finished,
    training_run_started,
)


def _failure(status: int, messages: list[dict[str, Any]], stderr_tail: str, memory_gb: int) -> str:
    for message in reversed(messages):
        error = message.get("error")
        if isinstance(error, dict):
            return str(error.get("message") or "Training failed.")
    if memory_failure(status, stderr_tail):
        return f"Training ran out of memory (the instance type allows {memory_gb} GiB)."
    lines = stderr_tail.strip().splitlines()
    return f"Training failed: {lines[-1] if lines else f'exit status {status}'}"


def _finished(job: Job) -> None:
    """The training job's run ends with its job, however the job ended."""
    training = TrainingJob.objects.filter(job_id=job.pk).first()
    if training is not None:
        training_run_finished(training, job.status)


@register_runner(TRAINING_JOB_KIND, queue="cpu", title="Training", on_finish=_finished)
def run_training_job(ctx: JobContext) -> dict[str, Any]:
    training = TrainingJob.objects.filter(pk=ctx.parameters.get("training_job")).first()
    if training is None:
        raise JobFailed("The training job no longer exists.")
    training_run_started(training)
    kind = INSTANCE_TYPES[training.instance_type]
    datasets = {
        d.pk: d
        for d in Dataset.objects.filter(
            project_id=ctx.project_id, pk__in=training.channels.values()
        )
    }
    workdir = ctx.workdir
    with ExitStack() as stack:
        paths = {}
        for name, dataset_id in training.channels.items():
            dataset = datasets.get(dataset_id)
            if dataset is None or dataset.status != DatasetStatus.READY:
                raise JobFailed(f"The {name} channel's dataset {dataset_id} is gone or not Ready.")
            paths[name] = str(stack.enter_context(storage.open_local(dataset.data_key)))
            ctx.log(f"{name}: {dataset.name} v{dataset.version} ({dataset.num_rows:,} rows).")
        spec = {
            "algorithm": training.algorithm,
            "hyperparameters": training.hyperparameters,
            "channels": paths,
            "target": training.target or None,
            "problem_type": training.problem_type,
            "threads": kind.threads,
            "device": "cuda" if kind.gpus else "cpu",
            "seed": 0,
            "output_dir": str(workdir / "model"),
            "instance_count": training.instance_count,
            "dask_address": settings.DASK_SCHEDULER_ADDRESS or None,
        }
        (workdir / "spec.json").write_text(json.dumps(spec))
        count = f"{training.instance_count} × " if training.instance_count > 1 else ""
        ctx.log(
            f"Training {training.algorithm} on {count}{kind.name} ({kind.threads} threads, "
            f"{kind.memory_gb} GiB)."
        )
        status, messages, stderr_tail = run_limited(
            ctx,
            [sys.executable, "-m", "training.engine.job", str(workdir / "spec.json")],
            workdir=workdir,
            timeout=float(training.max_runtime_seconds),
            memory_bytes=kind.memory_gb * 1024**3,
            env={"OMP_NUM_THREADS": str(kind.threads)},
        )
    result_path = workdir / "result.json"
    if status != 0 or not result_path.exists():
        raise JobFailed(_failure(status, messages, stderr_tail, kind.memory_gb))
    result = json.loads(result_path.read_text())
    artifact = studio_services.job_artifact_store(
        job_id=ctx.job_id,
        name="model.tar.gz",
        path=workdir / "model" / "model.tar.gz",
        content_type="application/gzip",
    )
    final = {k: float(v) for k, v in result["final_metrics"].items()}
    for name, value in sorted(final.items()):
        ctx.log(f"{name} = {value:.6g}")
    kept = {k: result.get(k) for k in ("problem_type", "classes", "rows", "features")}
    kept.update(
        {
            "feature_importance": result.get("feature_importance") or {},
            "fit_seconds": result.get("fit_seconds"),
            "training_seconds": result.get("training_seconds"),
        }
    )
    with transaction.atomic():
        TrainingJob.objects.filter(pk=training.pk).update(
            final_metrics=final,
            result=kept,
            model_artifact_key=artifact.storage_key,
            model_artifact_size=artifact.size,
        )
    return {
        "training_job": training.pk,
        "model_artifact": artifact.storage_key,
        "final_metrics": final,
    }


def _channel_paths(ctx: JobContext, training: TrainingJob, stack: ExitStack) -> dict[str, Any]:
    datasets = {
        d.pk: d
        for d in Dataset.objects.filter(
            project_id=ctx.project_id, pk__in=training.channels.values()
        )
    }
    paths = {}
    for name, dataset_id in training.channels.items():
        dataset = datasets.get(dataset_id)
        if dataset is None or dataset.status != DatasetStatus.READY:
            raise JobFailed(f"The {name} channel's dataset {dataset_id} is gone or not Ready.")
        paths[name] = stack.enter_context(storage.open_local(dataset.data_key))
        ctx.log(f"{name}: {dataset.name} v{dataset.version} ({dataset.num_rows:,} rows).")
    return paths


def _save(
    training: TrainingJob, final: dict[str, float], result: dict[str, Any], artifact: Any
) -> None:
    with transaction.atomic():
        TrainingJob.objects.filter(pk=training.pk).update(
            final_metrics=final,
            result=result,
            model_artifact_key=artifact.storage_key if artifact is not None else "",
            model_artifact_size=artifact.size if artifact is not None else 0,
        )


@register_runner(SCRIPT_JOB_KIND, queue="cpu", title="Training: script", on_finish=_finished)
def run_training_script(ctx: JobContext) -> dict[str, Any]:
    """A user's script with SageMaker's contract (:mod:`training.engine.script`), in a
    limited child process; its metrics read from its output by the job's definitions."""
    training = TrainingJob.objects.filter(pk=ctx.parameters.get("training_job")).first()
    if training is None:
        raise JobFailed("The training job no longer exists.")
    training_run_started(training)
    kind = INSTANCE_TYPES[training.instance_type]
    root = ctx.workdir / "ml"
    capture = scripts.MetricCapture(list(training.metric_definitions or []))

    def read_metrics(message: dict[str, Any]) -> None:
        text = message.get("message")
        if isinstance(text, str):
            for name, value, step in capture.feed(text):
                ctx.metric(name, value, step)

    with ExitStack() as stack:
        channels = _channel_paths(ctx, training, stack)
        source = stack.enter_context(storage.open_local(training.source_key))
        space, argv, env = scripts.prepare(
            root,
            source=source,
            kind="zip" if training.source_key.endswith(".zip") else "py",
            entry_point=training.entry_point,
            channels=channels,
            hyperparameters=training.hyperparameters,
            cpus=kind.threads,
            gpus=kind.gpus,
            python=sys.executable,
        )
    where = f"{kind.name} ({kind.threads} CPUs, {kind.memory_gb} GiB)"
    ctx.log(f"Running {training.entry_point} on {where}.")
    status, _, tail = run_limited(
        ctx,
        argv,
        workdir=root,
        timeout=float(training.max_runtime_seconds),
        env=env,
        memory_bytes=kind.memory_gb * 1024**3,
        on_message=read_metrics,
        merge_stderr=True,
    )
    if status != 0:
        if memory_failure(status, tail):
            raise JobFailed(
                f"The script ran out of memory (the instance type allows {kind.memory_gb} GiB)."
            )
        raise JobFailed(f"The script exited with status {status}. Its last output:\n{tail}")
    final = dict(capture.last)
    for name, value in sorted(final.items()):
        ctx.log(f"{name} = {value:.6g}")
    metadata = {
        "format": "sextant-script-model/1",
        "entry_point": training.entry_point,
        "hyperparameters": training.hyperparameters,
        "metrics": final,
        "framework": {"python": platform.python_version()},
    }
    artifact = None
    model = ctx.workdir / "model.tar.gz"
    if scripts.package(space.model, model, metadata):
        artifact = studio_services.job_artifact_store(
            job_id=ctx.job_id, name="model.tar.gz", path=model, content_type="application/gzip"
        )
    output = ctx.workdir / "output.tar.gz"
    outputs = {}
    if scripts.package(space.output, output):
        kept = studio_services.job_artifact_store(
            job_id=ctx.job_id, name="output.tar.gz", path=output, content_type="application/gzip"
        )
        outputs["output_data"] = kept.storage_key
    _save(training, final, {"entry_point": training.entry_point}, artifact)
    return {
        "training_job": training.pk,
        "model_artifact": artifact.storage_key if artifact is not None else None,
        "final_metrics": final,
        **outputs,
    }
