"""Training job runners: a built-in algorithm, or a user's script, in a limited child process."""

from __future__ import annotations

import json
import platform
import sys
import time
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
from training.models import TrainingJob
from training.services import (
    INSTANCE_TYPES,
    SCRIPT_JOB_KIND,
    TRAINING_JOB_KIND,
    training_run_finished,
    training_run_started,
)


class RuleWatch:
    """The job's debugger rules, fed with its values as they come and checked at most four
    times a second; a rule with the action ``stop`` that finds issues stops the job. What
    the rules read besides the metric series (tensors, class counts, importances) is saved
    on the training job every few seconds, for the plots behind the rules."""

    INTERVAL = 0.25
    SAVE_INTERVAL = 2.0

    def __init__(self, ctx: JobContext, training: TrainingJob) -> None:
        from training.engine import debugger

        self.ctx = ctx
        self.training = training
        self.rules = list(training.debugger_rules or [])
        self.values = debugger.Values()
        self.statuses: list[dict[str, Any]] = list(training.rule_statuses or [])
        self.last_check = 0.0
        self.last_value = time.monotonic()
        self.last_save = 0.0
        self.unsaved = False

    def add(self, name: str, value: float, step: int) -> None:
        self.values.add(name, step, value)
        self.last_value = time.monotonic()
        self.check()

    def message(self, message: dict[str, Any]) -> None:
        point = message.get("metric")
        if isinstance(point, dict):
            try:
                self.add(str(point["name"]), float(point["value"]), int(point.get("step", 0)))
            except (KeyError, TypeError, ValueError):
                pass
        found = message.get("debug")
        if not isinstance(found, dict):
            return
        try:
            if isinstance(found.get("tensor"), dict):
                stats = {k: float(v) for k, v in found["tensor"].items()}
                self.values.add_tensor(str(found["name"]), int(found.get("step", 0)), stats)
            elif isinstance(found.get("importance"), dict):
                shares = {str(k): float(v) for k, v in found["importance"]["shares"].items()}
                self.values.add_importance(int(found["importance"]["step"]), shares)
            elif isinstance(found.get("class_counts"), list):
                self.values.class_counts = [int(c) for c in found["class_counts"]]
            elif isinstance(found.get("tree_depths"), list):
                self.values.tree_depths.extend(int(d) for d in found["tree_depths"])
            else:
                return
        except (KeyError, TypeError, ValueError, AttributeError):
            return
        self.last_value = time.monotonic()
        self.unsaved = True
        self.check()

    def tick(self) -> None:
        self.values.seconds_since_last_value = time.monotonic() - self.last_value
        self.check()
        if self.unsaved and time.monotonic() - self.last_save >= self.SAVE_INTERVAL:
            self.save()

    def finish(self, result: dict[str, Any]) -> None:
        self.values.finished = True
        self.values.seconds_since_last_value = 0.0
        if result.get("class_counts"):
            self.values.class_counts = list(result["class_counts"])
        self.values.tree_depths = list(result.get("tree_depths") or [])
        if result.get("feature_importance"):
            self.values.feature_importance = dict(result["feature_importance"])
        self.check(force=True)
        self.unsaved = True

    def save(self) -> None:
        """Store the summary of the values (called as the job runs and once it ends, however
        it ends)."""
        if not self.unsaved:
            return
        self.unsaved = False
        self.last_save = time.monotonic()
        TrainingJob.objects.filter(pk=self.training.pk).update(debug_values=self.values.summary())

    def check(self, *, force: bool = False) -> None:
        from training.engine import debugger

        if not self.rules or (not force and time.monotonic() - self.last_check < self.INTERVAL):
            return
        self.last_check = time.monotonic()
        statuses = debugger.evaluate(self.rules, self.values)
        if statuses == self.statuses:
            return
        before = {s["name"]: s["status"] for s in self.statuses}
        for status in statuses:
            if (
                status["status"] == debugger.ISSUES
                and before.get(status["name"]) != debugger.ISSUES
            ):
                self.ctx.log(f"Rule {status['name']}: issues found. {status['message']}")
        self.statuses = statuses
        TrainingJob.objects.filter(pk=self.training.pk).update(rule_statuses=statuses)
        for status in statuses:
            if status["status"] == debugger.ISSUES and status["action"] == "stop":
                self.ctx.request_cancel(
                    f"Stopped by the rule {status['name']}: {status['message']}"
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
    workdir = ctx.workdir
    with ExitStack() as stack:
        paths = {k: str(v) for k, v in _channel_paths(ctx, training, stack).items()}
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
        watch = RuleWatch(ctx, training)
        stack.callback(watch.save)
        status, messages, stderr_tail = run_limited(
            ctx,
            [sys.executable, "-m", "training.engine.job", str(workdir / "spec.json")],
            workdir=workdir,
            timeout=float(training.max_runtime_seconds),
            memory_bytes=kind.memory_gb * 1024**3,
            env={"OMP_NUM_THREADS": str(kind.threads)},
            on_message=watch.message,
            on_tick=watch.tick,
        )
    result_path = workdir / "result.json"
    if status != 0 or not result_path.exists():
        raise JobFailed(_failure(status, messages, stderr_tail, kind.memory_gb))
    result = json.loads(result_path.read_text())
    watch.finish(result)
    watch.save()
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
            "curves": result.get("curves") or {},
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
    from training.engine import script as scripts

    training = TrainingJob.objects.filter(pk=ctx.parameters.get("training_job")).first()
    if training is None:
        raise JobFailed("The training job no longer exists.")
    training_run_started(training)
    kind = INSTANCE_TYPES[training.instance_type]
    root = ctx.workdir / "ml"
    capture = scripts.MetricCapture(list(training.metric_definitions or []))

    watch = RuleWatch(ctx, training)

    def read_metrics(message: dict[str, Any]) -> None:
        watch.message(message)
        text = message.get("message")
        if isinstance(text, str):
            for name, value, step in capture.feed(text):
                ctx.metric(name, value, step)
                watch.add(name, value, step)

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
    try:
        status, _, tail = run_limited(
            ctx,
            argv,
            workdir=root,
            timeout=float(training.max_runtime_seconds),
            env=env,
            memory_bytes=kind.memory_gb * 1024**3,
            on_message=read_metrics,
            merge_stderr=True,
            on_tick=watch.tick,
        )
    finally:
        watch.save()
    if status != 0:
        if memory_failure(status, tail):
            raise JobFailed(
                f"The script ran out of memory (the instance type allows {kind.memory_gb} GiB)."
            )
        raise JobFailed(f"The script exited with status {status}. Its last output:\n{tail}")
    watch.finish({})
    watch.save()
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
