"""Training writes: submitting a training job, checked before any work starts."""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from django.db import transaction

from studio import storage
from studio.choices import DatasetStatus, Queue
from studio.errors import ServiceError
from studio.models import Dataset, Project
from studio.services import NAME_RE, job_submit
from training.engine import TrainingError, algorithms, check_spec, get_algorithm
from training.engine import script as scripts
from training.models import TrainingJob

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
) -> TrainingJob:
    """Check everything a training job needs, then create it and queue its Job (on the gpu
    queue for a GPU instance type).

    ``algorithm`` is a built-in algorithm's name, or ``"script"`` with ``source`` (an
    uploaded ``.py`` or ``.zip``), ``entry_point`` and ``metric_definitions``.
    """
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
        algo_name, supervised = algo.name, algo.supervised
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
    return training
