"""Reads shared by pages and the API, with the permission checks that go with them.

``access_*`` fetch one object for a user: a stranger (not a member of its project) gets a
404 — the object's existence is not revealed — and a member whose role is too weak a 403.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Exists, OuterRef, QuerySet, Sum
from django.http import Http404

from studio.choices import ACTIVE_JOB_STATUSES, DatasetStatus, JobStatus, Role
from studio.models import Dataset, Job, JobLog, JobMetric, Membership, Project
from studio.models.projects import READ_ROLES, WRITE_ROLES

User = AbstractBaseUser | AnonymousUser


def membership_of(user: Any, project_id: int) -> Membership | None:
    if not getattr(user, "is_authenticated", False):
        return None
    return Membership.objects.filter(project_id=project_id, user=user).first()


def check_role(
    membership: Membership | None,
    *,
    write: bool,
    what: str,
    admin: bool = False,
    any_member: bool = False,
) -> None:
    """404 for no membership (a stranger), 403 for a role too weak for what is asked."""
    if membership is None:
        raise Http404(f"No such {what}.")
    if any_member and not (write or admin):
        return
    if admin and membership.role != Role.OWNER:
        raise PermissionDenied("Only the project's owners may do this.")
    if write and membership.role not in WRITE_ROLES:
        raise PermissionDenied(f"Your role ({membership.role}) may not change this {what}.")
    if membership.role not in READ_ROLES:
        raise PermissionDenied(f"Your role ({membership.role}) has no access to {what}s.")


def can_write(user: Any, project_id: int) -> bool:
    """Whether ``user`` may change things in the project (owner or scientist)."""
    membership = membership_of(user, project_id)
    return membership is not None and membership.can_write


def access_project(
    user: Any,
    project_id: Any,
    *,
    write: bool = False,
    admin: bool = False,
    any_member: bool = False,
) -> Project:
    """``any_member`` lets labelers read the project itself (its name, their role)."""
    try:
        pk = int(project_id)
    except (TypeError, ValueError):
        raise Http404("No such project.")
    # One query: the membership and its project together (a stranger has no row).
    membership = (
        Membership.objects.select_related("project").filter(project_id=pk, user=user).first()
        if getattr(user, "is_authenticated", False)
        else None
    )
    check_role(membership, write=write, admin=admin, what="project", any_member=any_member)
    assert membership is not None
    return membership.project


def access_dataset(user: Any, dataset_id: Any, *, write: bool = False) -> Dataset:
    dataset = _get_or_404(Dataset.objects.select_related("project"), dataset_id, "dataset")
    check_role(membership_of(user, dataset.project_id), write=write, admin=False, what="dataset")
    return dataset


def access_job(user: Any, job_id: Any, *, write: bool = False) -> Job:
    job = _get_or_404(Job.objects.select_related("project", "owner"), job_id, "job")
    if getattr(user, "is_staff", False):
        return job  # ops people see, stop and retry every job from the console
    check_role(membership_of(user, job.project_id), write=write, admin=False, what="job")
    return job


def _get_or_404(qs: QuerySet[Any], pk: Any, what: str) -> Any:
    try:
        return qs.get(pk=int(pk))
    except (TypeError, ValueError, qs.model.DoesNotExist):
        raise Http404(f"No such {what}.")


def readable_project_ids(user: Any) -> QuerySet[Membership]:
    return Membership.objects.filter(user=user, role__in=READ_ROLES).values_list(
        "project_id", flat=True
    )


def project_list(user: Any) -> QuerySet[Project]:
    return Project.objects.filter(memberships__user=user).distinct().order_by("name", "id")


def dataset_list(
    user: Any, *, project: Project | None = None, latest_only: bool = False, search: str = ""
) -> QuerySet[Dataset]:
    qs = Dataset.objects.select_related("project", "created_by")
    qs = (
        qs.filter(project=project)
        if project
        else qs.filter(project_id__in=readable_project_ids(user))
    )
    if search:
        qs = qs.filter(name__icontains=search)
    if latest_only:
        newer = Dataset.objects.filter(
            project_id=OuterRef("project_id"),
            name=OuterRef("name"),
            version__gt=OuterRef("version"),
        )
        qs = qs.exclude(Exists(newer))
    return qs.order_by("-created_at", "-id")


def dataset_versions(dataset: Dataset) -> QuerySet[Dataset]:
    return Dataset.objects.filter(project_id=dataset.project_id, name=dataset.name).order_by(
        "-version"
    )


JOB_FILTERS = {"project", "status", "kind", "queue"}


def job_list(
    user: Any,
    *,
    project: Project | None = None,
    status: str | None = None,
    kind: str | None = None,
    queue: str | None = None,
) -> QuerySet[Job]:
    qs = Job.objects.select_related("project", "owner")
    if project is not None:
        qs = qs.filter(project=project)
    elif not getattr(user, "is_staff", False):
        qs = qs.filter(project_id__in=readable_project_ids(user))
    if status:
        qs = qs.filter(status=status)
    if kind:
        qs = qs.filter(kind=kind)
    if queue:
        qs = qs.filter(queue=queue)
    return qs.order_by("-created_at", "-id")


def job_logs(job: Job, *, after: int = 0, limit: int = 1000) -> list[JobLog]:
    return list(JobLog.objects.filter(job=job, id__gt=after).order_by("id")[:limit])


def job_metric_series(job: Job) -> dict[str, list[tuple[int, float]]]:
    series: dict[str, list[tuple[int, float]]] = {}
    for name, step, value in (
        JobMetric.objects.filter(job=job)
        .order_by("name", "step", "id")
        .values_list("name", "step", "value")
    ):
        series.setdefault(name, []).append((step, value))
    return series


def project_summary(user: Any, project: Project) -> dict[str, Any]:
    """The numbers and querysets the home dashboard shows for one project."""
    datasets = dataset_list(user, project=project, latest_only=True)
    jobs = job_list(user, project=project)
    totals = datasets.aggregate(rows=Sum("num_rows"), bytes=Sum("source_bytes"))
    by_status = dict(jobs.values_list("status").annotate(n=Count("id")).order_by())
    return {
        "datasets": datasets,
        "jobs": jobs,
        "dataset_count": datasets.count(),
        "total_rows": totals["rows"] or 0,
        "storage_bytes": totals["bytes"] or 0,
        "active_jobs": sum(by_status.get(s, 0) for s in ACTIVE_JOB_STATUSES),
        "waiting_jobs": by_status.get(JobStatus.PENDING, 0),
        "failed_count": by_status.get(JobStatus.FAILED, 0),
        "has_dataset": datasets.exists(),
        "profiled": datasets.filter(profile__isnull=False).first(),
        "first_ready": datasets.filter(status=DatasetStatus.READY).first(),
    }
