"""The sidebar (the lifecycle, section by section) and the current project of a session."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from django.http import HttpRequest

from studio.models import Membership, Project
from studio.selectors import access_project

SESSION_KEY = "sextant_project"
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class NavItem:
    """One sidebar entry; ``url_name`` is None for a capability not built yet."""

    label: str
    url_name: str | None
    icon: str
    # A count shown beside the label (unread alerts…), filled in per request.
    badge: int = 0


NAVIGATION: list[tuple[str, list[NavItem]]] = [
    ("", [NavItem("Home", "home", "home"), NavItem("Jobs", "job-list", "jobs")]),
    (
        "Prepare",
        [
            NavItem("Datasets", "dataset-list", "table"),
            NavItem("Labeling", "labeling-job-list", "tag"),
            NavItem("Data flows", "flow-list", "flow"),
            NavItem("Feature store", None, "layers"),
            NavItem("Clarify", "clarify-job-list", "scale"),
        ],
    ),
    ("Build", [NavItem("Notebooks", None, "book"), NavItem("Algorithms", None, "cpu")]),
    (
        "Train & Tune",
        [
            NavItem("Training jobs", "training-job-list", "play"),
            NavItem("Experiments", "experiment-list", "beaker"),
            NavItem("Tuning", None, "sliders"),
            NavItem("Autopilot", None, "wand"),
        ],
    ),
    (
        "Deploy & Monitor",
        [
            NavItem("Models", "model-group-list", "box"),
            NavItem("Endpoints", "endpoint-list", "globe"),
            NavItem("Batch transform", "transform-job-list", "stack"),
            NavItem("Monitoring", "monitoring-home", "activity"),
            NavItem("Edge", None, "chip"),
        ],
    ),
]


Badge = Callable[[HttpRequest, Project], int]
_BADGES: dict[str, Badge] = {}


def register_nav_badge(url_name: str, count: Badge) -> None:
    """Show ``count(request, project)`` beside the entry ``url_name`` when it is above 0: how
    apps above the core flag what waits for people (the core imports none of them)."""
    _BADGES[url_name] = count


def navigation_for(
    request: HttpRequest, project: Project | None
) -> list[tuple[str, list[NavItem]]]:
    """The sidebar with this request's badges (the shared NAVIGATION when there are none)."""
    if project is None or not _BADGES:
        return NAVIGATION
    counts: dict[str, int] = {}
    for url_name, count in _BADGES.items():
        try:
            counts[url_name] = int(count(request, project))
        except Exception:  # a badge must never take a page down
            logger.exception("The navigation badge of %s failed", url_name)
    if not any(counts.values()):
        return NAVIGATION
    return [
        (
            heading,
            [
                replace(item, badge=counts[item.url_name])
                if item.url_name and counts.get(item.url_name)
                else item
                for item in items
            ],
        )
        for heading, items in NAVIGATION
    ]


def current_project(request: HttpRequest) -> tuple[Project | None, list[Project]]:
    """The project the user is working in (kept in the session) and all of theirs."""
    cached: Any = getattr(request, "_sextant_projects", None)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    memberships = list(
        Membership.objects.filter(user=request.user)
        .select_related("project")
        .order_by("project__name", "project_id")
    )
    projects = [m.project for m in memberships]
    for m, p in zip(memberships, projects, strict=True):
        p.my_role = m.role  # type: ignore[attr-defined]
    wanted = request.session.get(SESSION_KEY)
    project = next((p for p in projects if p.pk == wanted), projects[0] if projects else None)
    result = (project, projects)
    request._sextant_projects = result  # type: ignore[attr-defined]
    return result


def enter_project(request: HttpRequest, project_id: int) -> None:
    """Make the project of the object a page shows the current one, where the user is a
    member: the top bar then names the project the page belongs to, and the sidebar's
    sections list that project's objects."""
    _, projects = current_project(request)
    project = next((p for p in projects if p.pk == project_id), None)
    if project is None:  # staff looking at a project they are not in: nothing to switch
        return
    request.session[SESSION_KEY] = project.pk
    request._sextant_projects = (project, projects)  # type: ignore[attr-defined]


def page_project(request: HttpRequest, *, write: bool = False) -> Project | None:
    """The project a section's page shows (the session's current one), checked as any
    access is; None when the user belongs to no project."""
    project, _ = current_project(request)
    if project is None:
        return None
    return access_project(request.user, project.pk, write=write)
