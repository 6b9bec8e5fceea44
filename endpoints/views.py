"""Endpoint pages: the list, and each endpoint's dashboard."""

from __future__ import annotations

import json
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from endpoints import selectors
from endpoints.engine.capture import PREFIX as CAPTURE_PREFIX
from registry.models import ModelPackage
from registry.selectors import package_lineage
from studio.navigation import enter_project, page_project
from studio.selectors import can_write

SECTION = "endpoint-list"


@login_required
def endpoint_list(request: HttpRequest) -> HttpResponse:
    project = page_project(request)
    if project is None:
        return render(request, "studio/no_project.html", {"section": SECTION})
    endpoints = selectors.endpoint_list(request.user, project_id=project.pk)
    return render(
        request,
        "endpoints/endpoint_list.html",
        {
            "section": SECTION,
            "project": project,
            "rows": [
                {
                    "e": e,
                    "variants": [
                        v["name"] for v in (e.config or e.pending_config or {}).get("variants", [])
                    ],
                }
                for e in endpoints[:200]
            ],
            "can_write": can_write(request.user, project.pk),
        },
    )


def _example(packages: list[ModelPackage]) -> dict[str, str]:
    """A request body to start the test panel from: one row of the input schema."""
    if not packages:
        return {"csv": "", "json": ""}
    schema = (packages[0].metadata or {}).get("input_schema") or []
    values: list[Any] = [0 if c.get("kind") == "numeric" else "" for c in schema]
    return {
        "csv": ",".join(str(v) for v in values),
        "json": json.dumps(
            {"instances": [dict(zip([c["name"] for c in schema], values, strict=True))]}, indent=2
        ),
        "columns": ", ".join(c["name"] for c in schema),
    }


@login_required
def endpoint_new(request: HttpRequest) -> HttpResponse:
    """The form posts to the API from the page; errors show beside their fields.
    ``?model_package=<id>`` preselects the first variant's model (the package page's Deploy)."""
    project = page_project(request)
    if project is None:
        return render(request, "studio/no_project.html", {"section": SECTION})
    wanted = request.GET.get("model_package", "")
    config = {
        "project": project.pk,
        "api": reverse("api-endpoint-list"),
        "detail": reverse("endpoint-detail", args=[0]).replace("/0/", "/{id}/"),
        "packages": selectors.servable_packages(project),
        "selected": int(wanted) if wanted.isdigit() else None,
        "allow_unapproved": project.allow_unapproved_deployments,
    }
    return render(
        request,
        "endpoints/endpoint_new.html",
        {
            "section": SECTION,
            "project": project,
            "config": config,
            "can_write": can_write(request.user, project.pk),
        },
    )


@login_required
def endpoint_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The endpoint's dashboard: live traffic, latency and errors per variant, the split,
    the variants' models and lineage, the instances, data capture and a test panel."""
    endpoint = selectors.access_endpoint(request.user, pk)
    enter_project(request, endpoint.project_id)
    config = endpoint.config or endpoint.pending_config or {}
    variants = selectors.endpoint_variants(endpoint)
    first = [p for v in variants for p in v["models"] if p is not None]
    lineage = package_lineage(first[0]) if first else None
    capture = config.get("data_capture") or {}
    return render(
        request,
        "endpoints/endpoint_detail.html",
        {
            "section": SECTION,
            "endpoint": endpoint,
            "project": endpoint.project,
            "variants": variants,
            "live_variants": [v for v in variants if not v["shadow"]],
            "multi_model": bool(config.get("multi_model")),
            "capture_percent": capture.get("percent", 0.0),
            "capture_prefix": f"{CAPTURE_PREFIX}/{endpoint.name}/",
            "instances": selectors.endpoint_instances(endpoint),
            "lineage": lineage,
            "example": _example(first),
            "invoke_path": f"/invocations/{endpoint.name}",
            "can_write": can_write(request.user, endpoint.project_id),
        },
    )
