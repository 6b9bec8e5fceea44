"""Endpoint pages: the list, and each endpoint's dashboard."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from endpoints import selectors
from studio import selectors as studio_selectors
from studio.models import Project
from studio.navigation import current_project, enter_project
from studio.selectors import membership_of

SECTION = "endpoint-list"


def _project(request: HttpRequest) -> Project | None:
    project, _ = current_project(request)
    if project is None:
        return None
    return studio_selectors.access_project(request.user, project.pk)


def _can_write(request: HttpRequest, project_id: int) -> bool:
    membership = membership_of(request.user, project_id)
    return membership is not None and membership.can_write


@login_required
def endpoint_list(request: HttpRequest) -> HttpResponse:
    project = _project(request)
    if project is None:
        return render(request, "studio/no_project.html", {"section": SECTION})
    endpoints = selectors.endpoint_list(request.user, project_id=project.pk)
    return render(
        request,
        "endpoints/endpoint_list.html",
        {
            "section": SECTION,
            "project": project,
            "endpoints": list(endpoints[:200]),
            "can_write": _can_write(request, project.pk),
        },
    )


@login_required
def endpoint_detail(request: HttpRequest, pk: int) -> HttpResponse:
    endpoint = selectors.access_endpoint(request.user, pk)
    enter_project(request, endpoint.project_id)
    config = endpoint.config or endpoint.pending_config or {}
    return render(
        request,
        "endpoints/endpoint_detail.html",
        {
            "section": SECTION,
            "endpoint": endpoint,
            "project": endpoint.project,
            "variants": config.get("variants", []),
            "shadow": config.get("shadow"),
            "capture": config.get("data_capture") or {},
            "instances": selectors.endpoint_instances(endpoint),
            "can_write": _can_write(request, endpoint.project_id),
        },
    )
