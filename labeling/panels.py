"""The labeling card of the home page: the project's jobs in progress with their progress."""

from __future__ import annotations

from typing import Any, Final

from django.http import HttpRequest

from labeling.selectors import active_statuses, labeling_job_list, progress_shares
from studio.models import Project
from studio.panels import register_panel

SHOWN: Final = 5


def home_context(request: HttpRequest, project: Project | None) -> dict[str, Any] | None:
    """None when the project has no job initializing or in progress."""
    if project is None:
        return None
    active = labeling_job_list(request.user, project_id=project.pk).filter(
        status__in=active_statuses()
    )
    jobs = list(active[:SHOWN])
    if not jobs:
        return None
    rows = [
        {"job": job, "p": progress_shares(job.items_done, job.items_auto, job.items_total)}
        for job in jobs
    ]
    return {"rows": rows, "count": len(jobs) if len(jobs) < SHOWN else active.count()}


register_panel("home", "labeling/partials/home_panel.html", home_context)
