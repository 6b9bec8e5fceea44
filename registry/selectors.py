"""Reads of the model registry, with the permission rules of every project object, and a
package's lineage (datasets → training job → package → what was made from it)."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Max, OuterRef, Q, QuerySet, Subquery
from django.http import Http404
from django.urls import reverse

from registry.lineage import downstream
from registry.models import (
    ApprovalStatus,
    ModelPackage,
    ModelPackageApproval,
    ModelPackageGroup,
    PackageStatus,
)
from studio.models import Dataset, Job
from studio.models.projects import ADMIN_ROLES
from studio.selectors import access_project, check_role, membership_of, readable_project_ids
from training.models import TrainingJob


def _key(pk: Any, what: str) -> int:
    try:
        return int(pk)
    except (TypeError, ValueError):
        raise Http404(f"No such {what}.")


def access_model_package(user: Any, pk: Any, *, write: bool = False) -> ModelPackage:
    """The package for ``user``: 404 for a stranger, 403 for a role that may not act."""
    package = (
        ModelPackage.objects.select_related(
            "group", "project", "created_by", "approval_updated_by", "training_job", "job"
        )
        .filter(pk=_key(pk, "model package"))
        .first()
    )
    if package is None:
        raise Http404("No such model package.")
    check_role(membership_of(user, package.project_id), write=write, what="model package")
    return package


def access_model_package_group(user: Any, pk: Any, *, write: bool = False) -> ModelPackageGroup:
    group = (
        ModelPackageGroup.objects.select_related("project", "created_by")
        .filter(pk=_key(pk, "model group"))
        .first()
    )
    if group is None:
        raise Http404("No such model group.")
    check_role(membership_of(user, group.project_id), write=write, what="model group")
    return group


def can_approve(user: Any, package: ModelPackage) -> bool:
    """Whether ``user`` may approve or reject the package (the project's owners)."""
    membership = membership_of(user, package.project_id)
    return membership is not None and membership.role in ADMIN_ROLES


def model_package_list(
    user: Any,
    *,
    project_id: Any = None,
    group: Any = None,
    approval_status: str | None = None,
    status: str | None = None,
) -> QuerySet[ModelPackage]:
    """The packages ``user`` may read; ``group`` is a group's id or its name."""
    qs = ModelPackage.objects.filter(project__in=readable_project_ids(user))
    if project_id is not None:
        qs = qs.filter(project=access_project(user, project_id))
    if group not in (None, ""):
        # A group's name may itself be digits ("2024"): a number matches either.
        wanted = Q(group__name=str(group))
        if str(group).isdecimal() and str(group).isascii():
            wanted |= Q(group_id=int(group))
        qs = qs.filter(wanted)
    if approval_status:
        qs = qs.filter(approval_status=approval_status)
    if status:
        qs = qs.filter(status=status)
    return qs.select_related("group", "created_by", "approval_updated_by", "training_job")


def model_package_group_list(user: Any, *, project_id: Any = None) -> QuerySet[ModelPackageGroup]:
    """The groups ``user`` may read, each with ``version_count``, ``latest_version``,
    ``latest_approved_version``, ``updated_at`` (its newest version's time) and its latest
    version's ``latest_id``, ``latest_status`` and ``latest_approval``."""
    qs = ModelPackageGroup.objects.filter(project__in=readable_project_ids(user))
    if project_id is not None:
        qs = qs.filter(project=access_project(user, project_id))
    latest = ModelPackage.objects.filter(group=OuterRef("pk")).order_by("-version")
    # Meta.ordering does not apply to a query with aggregates: the order is said here.
    return (
        qs.select_related("created_by")
        .order_by("name", "id")
        .annotate(
            version_count=Count("versions", distinct=True),
            latest_version=Max("versions__version"),
            latest_approved_version=Max(
                "versions__version", filter=Q(versions__approval_status=ApprovalStatus.APPROVED)
            ),
            updated_at=Max("versions__created_at"),
            latest_id=Subquery(latest.values("pk")[:1]),
            latest_status=Subquery(latest.values("status")[:1]),
            latest_approval=Subquery(latest.values("approval_status")[:1]),
        )
    )


def group_versions(group: ModelPackageGroup) -> QuerySet[ModelPackage]:
    return (
        ModelPackage.objects.filter(group=group)
        .select_related("created_by", "approval_updated_by", "training_job")
        .order_by("-version")
    )


def approval_history(package: ModelPackage) -> QuerySet[ModelPackageApproval]:
    return package.approvals.select_related("user").order_by("created_at", "id")


def package_deployable(package: ModelPackage, *, require_approval: bool = True) -> str | None:
    """None when the package can be deployed, else why not: its artifact is not ready, or
    (where the caller requires it) it is not Approved."""
    if package.status != PackageStatus.COMPLETED:
        reason = f"{package} is {package.status}, not Completed"
        if package.failure_reason:
            reason += f": {package.failure_reason}"
        return reason + "."
    if not package.artifact_key:
        return f"{package} has no model artifact."
    if require_approval and package.approval_status != ApprovalStatus.APPROVED:
        label = ApprovalStatus(package.approval_status).label
        return f"{package} is not approved for deployment ({label})."
    return None


def package_lineage(package: ModelPackage) -> dict[str, Any]:
    """Where the package came from and what was made from it, every object with its page::

        {"datasets": [{channel, id, name, version, url}], "training_job": {...} | None,
         "validation_job": {...} | None, "upload": {...} | None,
         "package": {...}, "downstream": [{kind, name, url, status}]}

    Objects deleted since it was registered keep the names they had then, with no url.
    """
    origin = package.origin or {}
    training: TrainingJob | None = package.training_job
    remembered = origin.get("training_job") or {}
    training_out: dict[str, Any] | None = None
    datasets_out: list[dict[str, Any]] = []
    if training is not None or remembered:
        channels: list[dict[str, Any]] = list(origin.get("datasets") or [])
        if training is not None and not channels:
            channels = [
                {"channel": c, "dataset": d, "name": None, "version": None}
                for c, d in training.channels.items()
            ]
        live = {d.pk: d for d in Dataset.objects.filter(pk__in=[c["dataset"] for c in channels])}
        for item in channels:
            dataset = live.get(item["dataset"])
            datasets_out.append(
                {
                    "channel": item["channel"],
                    "id": item["dataset"],
                    "name": dataset.name if dataset is not None else item.get("name"),
                    "version": dataset.version if dataset is not None else item.get("version"),
                    "url": reverse("dataset-detail", args=[dataset.pk]) if dataset else None,
                }
            )
        if training is not None:
            training_out = {
                "id": training.pk,
                "name": training.name,
                "algorithm": training.algorithm,
                "status": training.job.status,
                "url": reverse("training-job-detail", args=[training.pk]),
                "job": training.job_id,
                "job_url": reverse("job-detail", args=[training.job_id]),
            }
        else:
            training_out = {
                "id": remembered.get("id"),
                "name": remembered.get("name"),
                "algorithm": remembered.get("algorithm"),
                "status": "Deleted",
                "url": None,
                "job": None,
                "job_url": None,
            }
    job: Job | None = package.job
    return {
        "datasets": datasets_out,
        "training_job": training_out,
        "validation_job": (
            {
                "id": job.pk,
                "status": job.status,
                "url": reverse("job-detail", args=[job.pk]),
            }
            if job is not None
            else None
        ),
        "upload": (
            {"filename": package.upload_filename, "kind": package.upload_kind}
            if package.upload_key
            else None
        ),
        "package": {
            "id": package.pk,
            "group": package.group.name,
            "group_id": package.group_id,
            "version": package.version,
            "status": package.status,
            "approval_status": package.approval_status,
            "url": reverse("model-package-detail", args=[package.pk]),
        },
        "downstream": downstream(package),
    }
