"""Runners of the core's job kinds: ingesting an upload, profiling a dataset."""

from __future__ import annotations

import os
import signal
import time
from typing import Any

from django.conf import settings

from studio import services, storage
from studio.choices import DatasetStatus, JobStatus
from studio.engine.contracts import IngestError
from studio.jobs import JobContext, JobFailed, register_runner
from studio.models import Dataset, Job


def _dataset_of(ctx: JobContext) -> Dataset:
    dataset = Dataset.objects.filter(pk=ctx.inputs.get("dataset")).first()
    if dataset is None:
        raise JobFailed("The dataset this job works on no longer exists.")
    return dataset


def _ingest_finished(job: Job) -> None:
    if job.status in (JobStatus.FAILED, JobStatus.STOPPED):
        services.dataset_mark_failed(
            dataset_id=job.inputs.get("dataset"),
            reason=job.failure_reason or "Ingestion was stopped before it finished.",
        )


@register_runner("dataset_ingest", queue="cpu", title="Ingest dataset", on_finish=_ingest_finished)
def run_dataset_ingest(ctx: JobContext) -> dict[str, Any]:
    from studio.engine.ingest import ingest_images_zip, ingest_tabular

    dataset = _dataset_of(ctx)
    if dataset.status == DatasetStatus.READY:
        # A redelivered or retried run after success: everything is in place already.
        return {"dataset": dataset.pk}
    services.dataset_mark_pending(dataset_id=dataset.pk)
    ctx.log(
        f"Reading {dataset.source_filename} ({dataset.source_bytes:,} bytes, {dataset.format})."
    )
    out = ctx.workdir / "data.parquet"
    try:
        with storage.open_local(dataset.source_key) as source:
            if dataset.is_images:
                images_dir = ctx.workdir / "extracted"
                result = ingest_images_zip(source, images_dir, out)
                image_prefix = dataset.data_key.rsplit("/", 1)[0]
                for path in sorted(images_dir.rglob("*")):
                    if path.is_file():
                        rel = path.relative_to(images_dir).as_posix()
                        storage.put_file(f"{image_prefix}/{rel}", path, move=True)
            else:
                result = ingest_tabular(source, dataset.format, out, on_progress=ctx.progress)
    except IngestError as exc:
        raise JobFailed(exc.message)
    storage.put_file(dataset.data_key, out, move=True)
    columns = [{"name": c.name, "dtype": c.dtype, "nullable": c.nullable} for c in result.columns]
    services.dataset_mark_ready(dataset_id=dataset.pk, num_rows=result.num_rows, columns=columns)
    ctx.log(f"Ready: {result.num_rows:,} rows × {len(columns)} columns.")
    if not dataset.is_images:
        job = services.dataset_profile_start(
            dataset=Dataset.objects.get(pk=dataset.pk), user=ctx.job.owner
        )
        ctx.log(f"Profiling in job {job.pk}.")
    return {"dataset": dataset.pk, "num_rows": result.num_rows}


@register_runner("dataset_profile", queue="cpu", title="Profile dataset")
def run_dataset_profile(ctx: JobContext) -> dict[str, Any]:
    from studio.engine.profile import profile_parquet

    dataset = _dataset_of(ctx)
    if dataset.status != DatasetStatus.READY:
        raise JobFailed(f"The dataset is {dataset.status}, not Ready.")
    with storage.open_local(dataset.data_key) as path:
        profile = profile_parquet(path, on_progress=ctx.progress)
    services.dataset_profile_store(dataset_id=dataset.pk, profile=profile.to_dict())
    ctx.log(f"Profiled {len(profile.columns)} columns over {profile.num_rows:,} rows.")
    return {"dataset": dataset.pk}


# --- diagnostics: check that queues and workers answer (the ops console sends these) ---
@register_runner("diagnostic.noop", queue="default", title="No-op")
def run_noop(ctx: JobContext) -> dict[str, Any]:
    return {}


@register_runner("diagnostic.sleep", queue="cpu", title="Sleep")
def run_sleep(ctx: JobContext) -> dict[str, Any]:
    """Sleeps ``seconds`` in small steps, reporting progress and a metric on the way."""
    seconds = float(ctx.parameters.get("seconds", 5))
    steps = max(1, int(seconds * 10))
    for step in range(steps):
        time.sleep(seconds / steps)
        ctx.progress((step + 1) / steps)
        if step % 10 == 0:
            ctx.metric("elapsed_seconds", (step + 1) * seconds / steps, step=step)
    if ctx.parameters.get("fail"):
        raise JobFailed(str(ctx.parameters.get("fail")))
    return {"slept": seconds}


@register_runner("diagnostic.crash", queue="cpu", title="Crash the worker")
def run_crash(ctx: JobContext) -> dict[str, Any]:
    """Kills its own worker process: proves a crashing job cannot loop forever.

    Refused unless SEXTANT_DIAGNOSTICS_CRASH is set (test and staging installations).
    """
    if not settings.SEXTANT_DIAGNOSTICS_CRASH:
        raise JobFailed("diagnostic.crash is disabled on this installation.")
    ctx.log("Crashing this worker process now.")
    ctx.flush()
    os.kill(os.getpid(), signal.SIGKILL)
    return {}
