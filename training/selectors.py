"""Reads of training jobs, with the same permission rules as every project object."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import Http404

from studio.selectors import (
    access_project,
    check_role,
    job_metric_series,
    membership_of,
    readable_project_ids,
)
from training.models import Experiment, Run, RunMetric, TrainingJob


def access_training_job(user: Any, pk: Any, *, write: bool = False) -> TrainingJob:
    """The training job for ``user``: 404 for a stranger, 403 for a role that may not act."""
    try:
        key = int(pk)
    except (TypeError, ValueError):
        raise Http404("No such training job.")
    found = TrainingJob.objects.select_related("job", "project", "created_by").filter(pk=key)
    training = found.first()
    if training is None:
        raise Http404("No such training job.")
    check_role(membership_of(user, training.project_id), write=write, what="training job")
    return training


def training_job_list(
    user: Any, *, project_id: Any = None, status: str | None = None
) -> QuerySet[TrainingJob]:
    qs = TrainingJob.objects.filter(project__in=readable_project_ids(user))
    if project_id is not None:
        qs = qs.filter(project=access_project(user, project_id))
    if status:
        qs = qs.filter(job__status=status)
    return qs.select_related("job", "project", "created_by")


def training_job_rules(
    training: TrainingJob, series: dict[str, list[tuple[int, float]]] | None = None
) -> list[dict[str, Any]]:
    """The job's debugger rules as they stand, each with the plot of what it read."""
    from training.engine.rule_figures import rule_figures

    if series is None:
        series = job_metric_series(training.job)
    classes = (training.result or {}).get("classes") or []
    return rule_figures(
        list(training.rule_statuses or []), series, training.debug_values or {}, classes
    )


def access_experiment(user: Any, pk: Any, *, write: bool = False) -> Experiment:
    try:
        key = int(pk)
    except (TypeError, ValueError):
        raise Http404("No such experiment.")
    experiment = Experiment.objects.select_related("project").filter(pk=key, deleted=False).first()
    if experiment is None:
        raise Http404("No such experiment.")
    check_role(membership_of(user, experiment.project_id), write=write, what="experiment")
    return experiment


def access_run(user: Any, pk: Any = None, *, uuid: Any = None, write: bool = False) -> Run:
    """A run by its id, or by its MLflow ``uuid``: 404 for a stranger."""
    qs = Run.objects.select_related("experiment", "training_job").filter(deleted=False)
    if uuid is not None:
        run = qs.filter(uuid=str(uuid)).first()
    else:
        try:
            run = qs.filter(pk=int(pk)).first()
        except (TypeError, ValueError):
            run = None
    if run is None:
        raise Http404("No such run.")
    check_role(membership_of(user, run.project_id), write=write, what="run")
    return run


def experiment_list(user: Any, *, project_id: Any = None) -> QuerySet[Experiment]:
    qs = Experiment.objects.filter(project__in=readable_project_ids(user), deleted=False)
    if project_id is not None:
        qs = qs.filter(project=access_project(user, project_id))
    return qs


def run_list(
    user: Any, *, project_id: Any = None, experiment_ids: list[int] | None = None
) -> QuerySet[Run]:
    qs = Run.objects.filter(project__in=readable_project_ids(user), deleted=False)
    if project_id is not None:
        qs = qs.filter(project=access_project(user, project_id))
    if experiment_ids is not None:
        qs = qs.filter(experiment_id__in=experiment_ids)
    return qs.select_related("experiment", "training_job")


def metric_history(run: Run, key: str, *, max_points: int = 0) -> list[tuple[int, float, int]]:
    """``(step, value, timestamp)`` of one metric, in step order (see :func:`downsample`)."""
    rows = list(
        RunMetric.objects.filter(run=run, key=key)
        .order_by("step", "timestamp", "id")
        .values_list("step", "value", "timestamp")
    )
    return downsample(rows, max_points) if max_points else rows


def downsample(rows: list[tuple[int, float, int]], max_points: int) -> list[tuple[int, float, int]]:
    """About ``max_points`` of a series: the first and last points, and the lowest and the
    highest of each of ``max_points / 2`` equal buckets, so spikes survive."""
    if len(rows) <= max_points:
        return rows
    buckets = max(1, max_points // 2)
    size = len(rows) / buckets
    kept: dict[int, tuple[int, float, int]] = {0: rows[0], len(rows) - 1: rows[-1]}
    for b in range(buckets):
        chunk = range(int(b * size), min(len(rows), int((b + 1) * size)))
        if not chunk:
            continue
        low = min(chunk, key=lambda i: rows[i][1])
        high = max(chunk, key=lambda i: rows[i][1])
        kept[low], kept[high] = rows[low], rows[high]
    return [kept[i] for i in sorted(kept)]
