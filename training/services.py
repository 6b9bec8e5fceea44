"""Training writes: submitting a training job, checked before any work starts."""

from __future__ import annotations

import os
import re
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from django.db import transaction

from studio import storage
from studio.choices import DatasetStatus, Queue
from studio.errors import ConflictError, ServiceError
from studio.models import Dataset, Project
from studio.services import NAME_RE, job_submit
from training.models import Experiment, Run, RunMetric, RunStatus, TrainingJob

TRAINING_JOB_KIND: Final = "training.builtin"
SCRIPT_JOB_KIND: Final = "training.script"
CHANNELS: Final = ("train", "validation", "test")
#: A script's channels may have other names, as SageMaker's do.
SCRIPT_CHANNEL_RE: Final = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
SCRIPT: Final = "script"
MAX_RUNTIME_SECONDS: Final = 7 * 86_400
MAX_INSTANCES: Final = 16


@dataclass(frozen=True)
class InstanceType:
    """What a job may use: CPU threads, memory (the child's address-space limit), GPUs."""

    name: str
    cpus: int
    memory_gb: int
    gpus: int = 0

    @property
    def queue(self) -> str:
        return Queue.GPU if self.gpus else Queue.CPU

    @property
    def threads(self) -> int:
        return max(1, min(self.cpus, os.cpu_count() or 1))

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "cpus": self.cpus,
            "memory_gb": self.memory_gb,
            "gpus": self.gpus,
        }


INSTANCE_TYPES: Final = {
    t.name: t
    for t in (
        InstanceType("cpu.small", 2, 4),
        InstanceType("cpu.medium", 4, 8),
        InstanceType("cpu.large", 8, 16),
        InstanceType("cpu.xlarge", 16, 32),
        InstanceType("gpu.1", 8, 32, gpus=1),
    )
}


def _invalid(message: str, field: str) -> ServiceError:
    return ServiceError("invalid", message, field=field)


def _check_channels(project: Project, channels: Any, *, script: bool = False) -> dict[str, Dataset]:
    if script and channels in (None, ""):
        return {}
    if not isinstance(channels, dict):
        raise _invalid('channels maps names to dataset ids: {"train": 12, …}.', "channels")
    for name in channels:
        if script and not (isinstance(name, str) and SCRIPT_CHANNEL_RE.match(name)):
            raise _invalid(
                f"A channel name is a letter then up to 63 letters, digits, _ or - (got {name!r}).",
                f"channels.{name}",
            )
        if not script and name not in CHANNELS:
            raise _invalid(
                f"A channel is one of {', '.join(CHANNELS)} (got {name!r}).", f"channels.{name}"
            )
    if "train" not in channels and not script:
        raise _invalid("A train channel is required.", "channels")
    found: dict[str, Dataset] = {}
    for name, dataset_id in channels.items():
        field = f"channels.{name}"
        if isinstance(dataset_id, bool) or not isinstance(dataset_id, int):
            raise _invalid(f"The {name} channel must be a dataset id.", field)
        dataset = Dataset.objects.filter(project=project, pk=dataset_id).first()
        if dataset is None:
            raise _invalid(f"There is no dataset {dataset_id} in this project.", field)
        if dataset.status != DatasetStatus.READY or not dataset.data_key:
            raise _invalid(f"Dataset {dataset.name} is {dataset.status}, not Ready.", field)
        found[name] = dataset
    return found


def _check_target(datasets: dict[str, Dataset], target: Any, supervised: bool) -> str:
    if target in (None, ""):
        if supervised:
            raise _invalid("This algorithm predicts a target: name its column.", "target")
        return ""
    if not isinstance(target, str):
        raise _invalid("target is a column name.", "target")
    for name, dataset in datasets.items():
        columns = {c.get("name") for c in dataset.columns or []}
        if target not in columns:
            raise _invalid(
                f"The {name} channel's dataset {dataset.name} has no column {target!r}.", "target"
            )
    return target


def _check_int(value: Any, field: str, low: int, high: int, default: int) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _invalid(f"{field} must be a whole number from {low:,} to {high:,}.", field)
    return value


@dataclass(frozen=True)
class _Script:
    kind: str  # py | zip
    entry_point: str
    data: bytes
    metric_definitions: list[dict[str, str]]


def _check_script(source: Any, entry_point: Any, metric_definitions: Any) -> _Script:
    from training.engine import script as scripts

    if source is None or not hasattr(source, "read"):
        raise _invalid("Upload the script as source: a .py file or a .zip.", "source")
    data = source.read(scripts.MAX_SOURCE_BYTES + 1)
    if entry_point is not None and not isinstance(entry_point, str):
        raise _invalid("entry_point is the path of a .py file in the zip.", "entry_point")
    try:
        kind, entry = scripts.check_source(str(source.name or ""), data, entry_point or None)
        definitions = scripts.check_metric_definitions(metric_definitions)
    except scripts.ScriptError as exc:
        raise _invalid(exc.message, exc.field) from None
    return _Script(kind, entry, data, definitions)


@transaction.atomic
def training_job_create(
    *,
    project: Project,
    user: Any,
    name: Any,
    algorithm: Any,
    channels: Any,
    target: Any = None,
    hyperparameters: Any = None,
    problem_type: Any = None,
    instance_type: Any = None,
    instance_count: Any = None,
    max_runtime_seconds: Any = None,
    source: Any = None,
    entry_point: Any = None,
    metric_definitions: Any = None,
    experiment: Any = None,
    debugger_rules: Any = None,
) -> TrainingJob:
    """Check everything a training job needs, then create it and queue its Job (on the gpu
    queue for a GPU instance type).

    ``algorithm`` is a built-in algorithm's name, or ``"script"`` with ``source`` (an
    uploaded ``.py`` or ``.zip``), ``entry_point`` and ``metric_definitions``. The job logs
    a run in ``experiment`` (a name; "Default" if none), made on first use.
    """
    from training.engine import TrainingError, algorithms, check_spec, debugger, get_algorithm
    from training.engine import script as scripts

    if experiment is not None and (
        not isinstance(experiment, str) or not experiment.strip() or len(experiment) > 200
    ):
        raise _invalid("experiment is the name of an experiment (1–200 characters).", "experiment")
    if not isinstance(name, str) or not NAME_RE.match(name.strip()):
        raise _invalid("A name is 1–200 letters, digits, spaces, '.', '_' or '-'.", "name")
    script: _Script | None = None
    if algorithm == SCRIPT:
        script = _check_script(source, entry_point, metric_definitions)
        if target not in (None, ""):
            raise _invalid(
                "A script reads its own columns: pass the target as a hyperparameter.", "target"
            )
        if problem_type not in (None, "", "auto"):
            raise _invalid("A script decides its own problem type.", "problem_type")
        try:
            checked = scripts.check_hyperparameters(hyperparameters)
        except scripts.ScriptError as exc:
            raise _invalid(exc.message, exc.field) from None
        algo_name, problem, supervised = SCRIPT, "auto", False
    else:
        algo = get_algorithm(str(algorithm)) if isinstance(algorithm, str) else None
        if algo is None:
            known = ", ".join([a.name for a in algorithms()] + [SCRIPT])
            raise _invalid(f"Unknown algorithm {algorithm!r}; one of {known}.", "algorithm")
        for given, field in ((source, "source"), (entry_point, "entry_point")):
            if given not in (None, ""):
                raise _invalid(f'{field} goes with algorithm "script".', field)
        problem = problem_type or "auto"
        try:
            checked = check_spec(algo.name, hyperparameters, str(problem))
        except TrainingError as exc:
            raise _invalid(exc.message, exc.field or "hyperparameters") from None
        algo_name = algo.name
        supervised = algo.supervised or algo.problems[0] == "forecasting"
    try:
        rules = debugger.check_rules(debugger_rules)
    except debugger.RuleError as exc:
        raise _invalid(exc.message, exc.field) from None
    datasets = _check_channels(project, channels, script=script is not None)
    target = "" if script is not None else _check_target(datasets, target, supervised)
    kind = INSTANCE_TYPES.get(str(instance_type or "cpu.small"))
    if kind is None:
        raise _invalid(
            f"instance_type is one of {', '.join(INSTANCE_TYPES)} (got {instance_type!r}).",
            "instance_type",
        )
    count = _check_int(instance_count, "instance_count", 1, MAX_INSTANCES, 1)
    if count > 1 and algo_name != "xgboost":
        raise _invalid(
            "Only xgboost trains on several instances (distributed, on Dask).", "instance_count"
        )
    runtime = _check_int(max_runtime_seconds, "max_runtime_seconds", 1, MAX_RUNTIME_SECONDS, 86_400)
    job = job_submit(
        project=project,
        kind=SCRIPT_JOB_KIND if script is not None else TRAINING_JOB_KIND,
        owner=user,
        name=f"Training: {name.strip()}",
        inputs={"datasets": {n: d.pk for n, d in datasets.items()}},
        resources={
            "instance_type": kind.name,
            "instance_count": count,
            "max_runtime_seconds": runtime,
        },
        queue=kind.queue,
    )
    training = TrainingJob.objects.create(
        project=project,
        job=job,
        name=name.strip(),
        algorithm=algo_name,
        channels={n: d.pk for n, d in datasets.items()},
        target=target,
        problem_type=str(problem),
        hyperparameters=checked,
        instance_type=kind.name,
        instance_count=count,
        max_runtime_seconds=runtime,
        debugger_rules=rules,
        rule_statuses=debugger.evaluate(rules, debugger.Values()),
        created_by=user if getattr(user, "is_authenticated", False) else None,
    )
    if script is not None:
        training.entry_point = script.entry_point
        training.metric_definitions = script.metric_definitions
        training.source_key = f"training/{training.pk}/source.{script.kind}"
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "source"
            path.write_bytes(script.data)
            storage.put_file(training.source_key, path, move=True)
        training.save(update_fields=["entry_point", "metric_definitions", "source_key"])
    job.parameters = {"training_job": training.pk}
    job.save(update_fields=["parameters"])
    group = experiment_named(
        project=project, user=user, name=(experiment or DEFAULT_EXPERIMENT).strip()
    )
    run_create(
        experiment=group,
        user=user,
        name=training.name,
        status=RunStatus.SCHEDULED,
        training_job=training,
        params={
            "algorithm": training.algorithm,
            "instance_type": training.instance_type,
            "instance_count": training.instance_count,
            **{k: v for k, v in training.hyperparameters.items() if v is not None},
        },
        tags={"sextant.source": "training-job", "sextant.training_job": str(training.pk)},
        inputs=[
            {"channel": n, "dataset": d.pk, "name": d.name, "version": d.version}
            for n, d in datasets.items()
        ],
    )
    return training


def training_run_started(training: TrainingJob) -> None:
    """Its run is RUNNING from the moment its job starts."""
    Run.objects.filter(training_job=training).update(status=RunStatus.RUNNING, start_time=now_ms())


def training_run_finished(training: TrainingJob, job_status: str) -> None:
    """Its run ends as its job did, with the job's metric series and final metrics (the
    final ones a step past the last round, so they read as the latest)."""
    from studio.models import JobMetric

    run = Run.objects.filter(training_job=training).first()
    if run is None:
        return
    points = [
        {"key": name, "value": value, "step": step, "timestamp": int(at.timestamp() * 1000)}
        for name, value, step, at in JobMetric.objects.filter(job_id=training.job_id)
        .order_by("name", "step", "id")
        .values_list("name", "value", "step", "created_at")
    ]
    last = max((p["step"] for p in points), default=-1)
    points += [
        {"key": name, "value": value, "step": last + 1}
        for name, value in (training.final_metrics or {}).items()
    ]
    for start in range(0, len(points), MAX_BATCH_METRICS):
        run_log_batch(run=run, metrics=points[start : start + MAX_BATCH_METRICS])
    outcome = {
        "Completed": RunStatus.FINISHED,
        "Failed": RunStatus.FAILED,
        "Stopped": RunStatus.KILLED,
    }.get(job_status, RunStatus.FAILED)
    run_update(run=Run.objects.get(pk=run.pk), status=outcome)


# --------------------------------------------------------------------------- experiments

DEFAULT_EXPERIMENT: Final = "Default"
KEY_RE: Final = re.compile(r"^[\w\-. /:]{1,250}$")
MAX_BATCH_METRICS: Final = 1000
MAX_BATCH_PARAMS: Final = 100
MAX_BATCH_TAGS: Final = 100
MAX_PARAM_VALUE: Final = 6000


def now_ms() -> int:
    return int(time.time() * 1000)


def _check_key(key: Any, field: str) -> str:
    if not isinstance(key, str) or not KEY_RE.match(key):
        raise _invalid(
            f"A key is 1–250 letters, digits, spaces and _ - . / : (got {key!r}).", field
        )
    return key


def experiment_create(
    *, project: Project, user: Any, name: Any, description: Any = "", tags: Any = None
) -> Experiment:
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > 200:
        raise _invalid("An experiment's name is 1–200 characters.", "name")
    name = name.strip()
    if Experiment.objects.filter(project=project, name=name).exists():
        raise ConflictError("exists", f"There is already an experiment {name!r}.", field="name")
    if tags is not None and not isinstance(tags, dict):
        raise _invalid("tags is an object of key → value.", "tags")
    return Experiment.objects.create(
        project=project,
        name=name,
        description=str(description or ""),
        tags={_check_key(k, "tags"): str(v) for k, v in (tags or {}).items()},
        created_by=user if getattr(user, "is_authenticated", False) else None,
    )


def experiment_named(*, project: Project, user: Any, name: str) -> Experiment:
    """The project's experiment of that name, made on first use."""
    found = Experiment.objects.filter(project=project, name=name).first()
    return found or experiment_create(project=project, user=user, name=name)


def experiment_update(
    *, experiment: Experiment, name: Any = None, description: Any = None
) -> Experiment:
    if name is not None:
        if not isinstance(name, str) or not name.strip() or len(name.strip()) > 200:
            raise _invalid("An experiment's name is 1–200 characters.", "name")
        clash = Experiment.objects.filter(project=experiment.project, name=name.strip())
        if clash.exclude(pk=experiment.pk).exists():
            raise ConflictError("exists", f"There is already an experiment {name!r}.", field="name")
        experiment.name = name.strip()
    if description is not None:
        experiment.description = str(description)
    experiment.save()
    return experiment


def run_create(
    *,
    experiment: Experiment,
    user: Any,
    name: Any = "",
    start_time: Any = None,
    tags: Any = None,
    params: Any = None,
    status: str = RunStatus.RUNNING,
    training_job: TrainingJob | None = None,
    inputs: list[dict[str, Any]] | None = None,
) -> Run:
    if experiment.deleted:
        raise _invalid("The experiment is deleted.", "experiment")
    if name is not None and (not isinstance(name, str) or len(name) > 250):
        raise _invalid("A run's name is at most 250 characters.", "name")
    run = Run.objects.create(
        experiment=experiment,
        project_id=experiment.project_id,
        uuid=uuid.uuid4().hex,
        name=(name or "").strip(),
        status=status,
        start_time=_check_int(start_time, "start_time", 0, 2**62, now_ms()),
        training_job=training_job,
        inputs=inputs or [],
        created_by=user if getattr(user, "is_authenticated", False) else None,
    )
    if tags or params:
        run_log_batch(run=run, tags=tags, params=params)
    return run


def run_update(*, run: Run, status: Any = None, end_time: Any = None, name: Any = None) -> Run:
    if status is not None:
        if status not in RunStatus.values:
            raise _invalid(f"status is one of {', '.join(RunStatus.values)}.", "status")
        run.status = status
        if status in (RunStatus.FINISHED, RunStatus.FAILED, RunStatus.KILLED) and end_time is None:
            end_time = now_ms()
    if end_time is not None:
        run.end_time = _check_int(end_time, "end_time", 0, 2**62, now_ms())
    if name is not None:
        if not isinstance(name, str) or len(name) > 250:
            raise _invalid("A run's name is at most 250 characters.", "name")
        run.name = name.strip()
    run.save(update_fields=["status", "end_time", "name"])
    return run


def _pairs(value: Any, field: str, limit: int) -> list[tuple[str, str]]:
    """``[{key, value}]`` or ``{key: value}`` as checked (key, text) pairs."""
    if value in (None, ""):
        return []
    items = list(value.items()) if isinstance(value, dict) else value
    if not isinstance(items, list):
        raise _invalid(f"{field} is a list of {{key, value}}.", field)
    if len(items) > limit:
        raise _invalid(f"At most {limit} {field} at once.", field)
    out = []
    for i, item in enumerate(items):
        if isinstance(item, dict):
            if "key" not in item or "value" not in item:
                raise _invalid(f"Each of {field} is {{key, value}}.", f"{field}.{i}")
            key, text = item["key"], item["value"]
        else:
            key, text = item
        text = "" if text is None else str(text)
        if len(text) > MAX_PARAM_VALUE:
            raise _invalid(f"A value is at most {MAX_PARAM_VALUE} characters.", f"{field}.{i}")
        out.append((_check_key(key, f"{field}.{i}.key"), text))
    return out


@transaction.atomic
def run_log_batch(*, run: Run, metrics: Any = None, params: Any = None, tags: Any = None) -> Run:
    """Record metric points, parameters and tags together (all or nothing).

    A parameter keeps its first value: logging another is refused, as MLflow does.
    """
    if metrics not in (None, "") and not isinstance(metrics, list):
        raise _invalid("metrics is a list of {key, value, step, timestamp}.", "metrics")
    metrics = metrics or []
    if len(metrics) > MAX_BATCH_METRICS:
        raise _invalid(f"At most {MAX_BATCH_METRICS} metrics at once.", "metrics")
    now = now_ms()
    points = []
    for i, item in enumerate(metrics):
        where = f"metrics.{i}"
        if not isinstance(item, dict) or "key" not in item or "value" not in item:
            raise _invalid("Each metric is {key, value, step, timestamp}.", where)
        value = item["value"]
        if isinstance(value, str) and value in ("NaN", "Infinity", "-Infinity"):
            value = float(value.replace("Infinity", "inf"))
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _invalid("A metric's value is a number.", f"{where}.value")
        points.append(
            RunMetric(
                run=run,
                key=_check_key(item["key"], f"{where}.key"),
                value=float(value),
                step=_check_int(item.get("step"), f"{where}.step", -(2**62), 2**62, 0),
                timestamp=_check_int(item.get("timestamp"), f"{where}.timestamp", 0, 2**62, now),
            )
        )
    run = Run.objects.select_for_update().get(pk=run.pk)
    for key, value in _pairs(params, "params", MAX_BATCH_PARAMS):
        if key in run.params and run.params[key] != value:
            raise _invalid(
                f"The parameter {key!r} is already {run.params[key]!r}; a run's parameters "
                "do not change.",
                "params",
            )
        run.params[key] = value
    for key, value in _pairs(tags, "tags", MAX_BATCH_TAGS):
        run.tags[key] = value
    if points:
        RunMetric.objects.bulk_create(points, batch_size=1000)
        for point in points:  # the latest: the highest step, then the latest time
            last = run.metrics.get(point.key)
            if last is None or (point.step, point.timestamp) >= (last["step"], last["timestamp"]):
                run.metrics[point.key] = {
                    "value": point.value,
                    "step": point.step,
                    "timestamp": point.timestamp,
                }
    run.save(update_fields=["params", "tags", "metrics"])
    return run
