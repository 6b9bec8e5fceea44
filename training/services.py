"""Training writes: submitting a training job, checked before any work starts."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Final

from django.db import transaction

from studio.choices import DatasetStatus, Queue
from studio.errors import ServiceError
from studio.models import Dataset, Project
from studio.services import NAME_RE, job_submit
from training.engine import TrainingError, check_spec, get_algorithm
from training.models import TrainingJob

TRAINING_JOB_KIND: Final = "training.builtin"
CHANNELS: Final = ("train", "validation", "test")
MAX_RUNTIME_SECONDS: Final = 7 * 86_400


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


def _check_channels(project: Project, channels: Any) -> dict[str, Dataset]:
    if not isinstance(channels, dict):
        raise _invalid('channels maps names to dataset ids: {"train": 12, …}.', "channels")
    for name in channels:
        if name not in CHANNELS:
            raise _invalid(
                f"A channel is one of {', '.join(CHANNELS)} (got {name!r}).", f"channels.{name}"
            )
    if "train" not in channels:
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
) -> TrainingJob:
    """Check everything a training job needs, then create it and queue its Job (on the gpu
    queue for a GPU instance type)."""
    if not isinstance(name, str) or not NAME_RE.match(name.strip()):
        raise _invalid("A name is 1–200 letters, digits, spaces, '.', '_' or '-'.", "name")
    algo = get_algorithm(str(algorithm)) if isinstance(algorithm, str) else None
    if algo is None:
        raise _invalid(f"Unknown algorithm {algorithm!r}.", "algorithm")
    problem = problem_type or "auto"
    try:
        checked = check_spec(algo.name, hyperparameters, str(problem))
    except TrainingError as exc:
        raise _invalid(exc.message, exc.field or "hyperparameters") from None
    datasets = _check_channels(project, channels)
    target = _check_target(datasets, target, algo.supervised)
    kind = INSTANCE_TYPES.get(str(instance_type or "cpu.small"))
    if kind is None:
        raise _invalid(
            f"instance_type is one of {', '.join(INSTANCE_TYPES)} (got {instance_type!r}).",
            "instance_type",
        )
    count = _check_int(instance_count, "instance_count", 1, 64, 1)
    if count > 1:
        raise _invalid(
            "Training on several instances (distributed XGBoost) is not available in this "
            "version; use instance_count 1.",
            "instance_count",
        )
    runtime = _check_int(max_runtime_seconds, "max_runtime_seconds", 1, MAX_RUNTIME_SECONDS, 86_400)
    job = job_submit(
        project=project,
        kind=TRAINING_JOB_KIND,
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
        algorithm=algo.name,
        channels={n: d.pk for n, d in datasets.items()},
        target=target,
        problem_type=str(problem),
        hyperparameters=checked,
        instance_type=kind.name,
        instance_count=count,
        max_runtime_seconds=runtime,
        created_by=user if getattr(user, "is_authenticated", False) else None,
    )
    job.parameters = {"training_job": training.pk}
    job.save(update_fields=["parameters"])
    return training
