"""Reads shared by the monitor's pages and API: permission-checked fetches (404 for a
stranger, 403 for a role that may not act) and the lists."""

from __future__ import annotations

from typing import Any

from django.db.models import Model, OuterRef, QuerySet, Subquery
from django.http import Http404

from endpoints.models import Endpoint
from monitor.models import (
    BaselineStatus,
    ClarifyJob,
    MonitoringAlert,
    MonitoringBaseline,
    MonitoringExecution,
    MonitoringSchedule,
)
from registry.models import ModelPackage, PackageStatus
from studio.choices import DatasetStatus
from studio.models import Dataset, Project
from studio.selectors import access_project, check_role, membership_of, readable_project_ids


def _key(pk: Any, what: str) -> int:
    try:
        return int(pk)
    except (TypeError, ValueError):
        raise Http404(f"No such {what}.")


def _access(qs: QuerySet[Any], user: Any, pk: Any, what: str, *, write: bool) -> Any:
    obj: Model | None = qs.filter(pk=_key(pk, what)).first()
    if obj is None:
        raise Http404(f"No such {what}.")
    check_role(membership_of(user, obj.project_id), write=write, what=what)  # type: ignore[attr-defined]
    return obj


def access_baseline(user: Any, pk: Any, *, write: bool = False) -> MonitoringBaseline:
    qs = MonitoringBaseline.objects.select_related(
        "project", "dataset", "model_package__group", "job", "created_by"
    )
    baseline: MonitoringBaseline = _access(qs, user, pk, "monitoring baseline", write=write)
    return baseline


def access_schedule(user: Any, pk: Any, *, write: bool = False) -> MonitoringSchedule:
    qs = MonitoringSchedule.objects.select_related("project", "endpoint", "baseline", "created_by")
    schedule: MonitoringSchedule = _access(qs, user, pk, "monitoring schedule", write=write)
    return schedule


def access_execution(user: Any, pk: Any, *, write: bool = False) -> MonitoringExecution:
    qs = MonitoringExecution.objects.select_related(
        "project", "schedule__endpoint", "schedule__baseline", "job", "labeling_job"
    )
    execution: MonitoringExecution = _access(qs, user, pk, "monitoring execution", write=write)
    return execution


def access_clarify_job(user: Any, pk: Any, *, write: bool = False) -> ClarifyJob:
    qs = ClarifyJob.objects.select_related(
        "project", "dataset", "model_package__group", "job", "created_by"
    )
    clarify: ClarifyJob = _access(qs, user, pk, "clarify job", write=write)
    return clarify


def _scoped(qs: QuerySet[Any], user: Any, project_id: Any) -> QuerySet[Any]:
    if project_id is not None:
        return qs.filter(project=access_project(user, project_id))
    return qs.filter(project_id__in=readable_project_ids(user).values("project_id"))


def baseline_list(user: Any, *, project_id: Any = None) -> QuerySet[MonitoringBaseline]:
    qs = MonitoringBaseline.objects.select_related("project", "dataset", "job", "created_by")
    return _scoped(qs, user, project_id).order_by("-created_at", "-id")


def schedule_list(
    user: Any, *, project_id: Any = None, endpoint_id: Any = None
) -> QuerySet[MonitoringSchedule]:
    qs = MonitoringSchedule.objects.select_related("project", "endpoint", "baseline")
    qs = _scoped(qs, user, project_id)
    if endpoint_id is not None:
        qs = qs.filter(endpoint_id=_key(endpoint_id, "endpoint"))
    return qs.order_by("-created_at", "-id")


def execution_list(
    user: Any, *, schedule_id: Any = None, project_id: Any = None, status: str | None = None
) -> QuerySet[MonitoringExecution]:
    qs = MonitoringExecution.objects.select_related("schedule", "job")
    if schedule_id is not None:
        schedule = access_schedule(user, schedule_id)
        qs = qs.filter(schedule=schedule)
    else:
        qs = _scoped(qs, user, project_id)
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("-created_at", "-id")


def execution_trend(schedule: MonitoringSchedule, *, limit: int = 200) -> list[dict[str, Any]]:
    """The scores of the schedule's last finished executions, oldest first (trend charts)."""
    rows = list(
        MonitoringExecution.objects.filter(schedule=schedule)
        .exclude(scores={})
        .order_by("-created_at", "-id")
        .values("id", "created_at", "status", "scores")[:limit]
    )
    rows.reverse()
    return rows


def clarify_job_list(user: Any, *, project_id: Any = None) -> QuerySet[ClarifyJob]:
    qs = ClarifyJob.objects.select_related("project", "dataset", "model_package__group", "job")
    return _scoped(qs, user, project_id).order_by("-created_at", "-id")


def alert_list(
    user: Any, *, project_id: Any = None, unread: bool = False
) -> QuerySet[MonitoringAlert]:
    qs = MonitoringAlert.objects.select_related("schedule__endpoint", "execution")
    qs = _scoped(qs, user, project_id)
    if unread:
        qs = qs.filter(read_at__isnull=True)
    return qs.order_by("-created_at", "-id")


# --------------------------------------------------------------------------- pages' choices


def tabular_datasets(project: Project) -> list[Dataset]:
    """The Ready datasets of tables (not images) with rows: what a baseline or a Clarify job
    reads."""
    qs = Dataset.objects.filter(project=project, status=DatasetStatus.READY).exclude(data_key="")
    return [d for d in qs.order_by("name", "-version")[:500] if not d.is_images and d.num_rows]


def completed_packages(project: Project) -> list[ModelPackage]:
    """Model packages with an artifact: the models a baseline or a Clarify job may load."""
    qs = ModelPackage.objects.select_related("group").filter(
        project=project, status=PackageStatus.COMPLETED
    )
    return list(qs.exclude(artifact_key="").order_by("group__name", "-version")[:500])


def project_endpoints(project: Project) -> list[Endpoint]:
    return list(Endpoint.objects.filter(project=project).order_by("name")[:500])


def completed_baselines(project: Project) -> list[MonitoringBaseline]:
    qs = MonitoringBaseline.objects.select_related("model_package__group").filter(
        project=project, status=BaselineStatus.COMPLETED
    )
    return list(qs.order_by("-created_at", "-id")[:500])


def latest_executions(schedule_ids: list[int]) -> dict[int, MonitoringExecution]:
    """Each schedule's most recent execution (two queries, whatever the history's length)."""
    newest = MonitoringExecution.objects.filter(schedule=OuterRef("pk")).order_by(
        "-created_at", "-id"
    )
    ids = (
        MonitoringSchedule.objects.filter(pk__in=schedule_ids)
        .annotate(latest=Subquery(newest.values("id")[:1]))
        .values_list("latest", flat=True)
    )
    found = MonitoringExecution.objects.filter(pk__in=[i for i in ids if i is not None])
    return {e.schedule_id: e for e in found}


def unread_alert_count(user: Any, project_id: Any) -> int:
    """The project's unread alerts the user may read; 0 for a role that may not (a labeler
    sees the sidebar too) or a stranger, rather than an error."""
    qs = _scoped(MonitoringAlert.objects.all(), user, None)
    return qs.filter(project_id=project_id, read_at__isnull=True).count()
