"""Reads of training jobs, with the same permission rules as every project object."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import Http404

from studio.selectors import access_project, check_role, membership_of, readable_project_ids
from training.models import TrainingJob


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
