"""The worker portal: where labelers work, in a frame of its own with nothing of the studio.

Two pages. The home lists the jobs the user may label; the task page is a shell that works
through the REST API with the session (next task, submit, skip, the labeler's own numbers),
so that the portal and a labeler's script share one path to the queue. Whoever may not label
a job gets a 404 for its task page, as from the API.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from labeling import selectors
from labeling.markup import render_instructions
from labeling.models import LabelingJob, TaskType
from studio.selectors import readable_project_ids


def _frame(request: HttpRequest) -> dict[str, Any]:
    """What the portal's frame needs: whether a way back to the studio is worth showing."""
    return {"has_studio": readable_project_ids(request.user).exists()}


def _task_label(job: LabelingJob) -> str:
    if job.task_type == TaskType.VERIFICATION:
        return f"Verify {TaskType(job.verifies).label.lower()}"
    return str(TaskType(job.task_type).label)


@login_required
def portal_home(request: HttpRequest) -> HttpResponse:
    jobs = selectors.worker_job_summaries(request.user)
    for row in jobs:
        row["task_label"] = _task_label(row["job"])
    return render(request, "labeling/portal/home.html", {**_frame(request), "jobs": jobs})


def _config(job: LabelingJob) -> dict[str, Any]:
    """The task page's settings, read by portal.js: the job and the API paths it calls."""
    submit = reverse("api-assignment-submit", args=[0])
    skip = reverse("api-assignment-skip", args=[0])
    return {
        "job": {
            "id": job.pk,
            "name": job.name,
            "task_type": job.task_type,
            "verifies": job.verifies,
            "kind": job.label_kind,
            "labels": job.labels,
            "items_total": job.items_total,
            "time_limit_seconds": job.time_limit_seconds,
            "status": job.status,
            "active": job.is_active,
        },
        "urls": {
            "next": reverse("api-labeling-job-next-task", args=[job.pk]),
            "me": reverse("api-labeling-job-me", args=[job.pk]),
            # "{id}" stands for the assignment's id.
            "submit": submit.replace("/0/", "/{id}/"),
            "skip": skip.replace("/0/", "/{id}/"),
            "home": reverse("portal"),
        },
    }


@login_required
def portal_task(request: HttpRequest, pk: int) -> HttpResponse:
    job = selectors.access_job_as_worker(request.user, pk)
    context = {
        **_frame(request),
        "job": job,
        "task_label": _task_label(job),
        "verification": job.task_type == TaskType.VERIFICATION,
        "instructions": render_instructions(job.instructions),
        "config": _config(job),
    }
    return render(request, "labeling/portal/task.html", context)
