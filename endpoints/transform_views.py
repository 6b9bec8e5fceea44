"""Batch transform pages: the list, the new-transform form (it posts to the REST API from the
page), and a transform's page with its live progress and log."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from endpoints import transform as transforms
from endpoints.models import TransformJob
from studio.choices import ACTIVE_JOB_STATUSES
from studio.navigation import enter_project, page_project
from studio.selectors import can_write

SECTION = "transform-job-list"


def _number(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


@login_required
def transform_job_list(request: HttpRequest) -> HttpResponse:
    project = page_project(request)
    if project is None:
        return render(request, "studio/no_project.html", {"section": SECTION})
    q = request.GET.get("q", "").strip()[:200]
    found = transforms.transform_job_list(request.user, project_id=project.pk)
    if q:
        found = found.filter(name__icontains=q)
    inputs = transforms.transform_ready_inputs(project)
    return render(
        request,
        "endpoints/transform_job_list.html",
        {
            "section": SECTION,
            "project": project,
            "transforms": list(found[:200]),
            "q": q,
            "can_write": can_write(request.user, project.pk),
            "has_packages": bool(inputs["packages"]),
            "has_datasets": bool(inputs["datasets"]),
        },
    )


@login_required
def transform_job_new(request: HttpRequest) -> HttpResponse:
    """``?model_package=<id>`` and ``?dataset=<id>`` preselect what the form offers."""
    from endpoints.engine.transform import (
        DEFAULT_BATCH_ROWS,
        MAX_BATCH_ROWS,
        MAX_INSTANCES,
    )

    project = page_project(request)
    if project is None:
        return render(request, "studio/no_project.html", {"section": SECTION})
    inputs = transforms.transform_ready_inputs(project)
    config: dict[str, Any] = {
        "project": project.pk,
        "api": reverse("api-transform-job-list"),
        "detail": reverse("transform-job-detail", args=[0]).replace("/0/", "/{id}/"),
        "packages": inputs["packages"],
        "datasets": inputs["datasets"],
        "initial": {
            "model_package": _number(request.GET.get("model_package")),
            "dataset": _number(request.GET.get("dataset")),
        },
        "defaults": {"batch_rows": DEFAULT_BATCH_ROWS, "instance_count": 1},
        "limits": {"batch_rows": MAX_BATCH_ROWS, "instance_count": MAX_INSTANCES},
    }
    return render(
        request,
        "endpoints/transform_job_new.html",
        {
            "section": SECTION,
            "project": project,
            "config": config,
            "can_write": can_write(request.user, project.pk),
        },
    )


@login_required
def transform_job_detail(request: HttpRequest, pk: int) -> HttpResponse:
    transform = transforms.access_transform_job(request.user, pk)
    enter_project(request, transform.project_id)
    job = transform.job
    logs = list(job.logs.order_by("-id")[:500])[::-1]
    package = transform.model_package
    joined = transform.join_input or []
    return render(
        request,
        "endpoints/transform_job_detail.html",
        {
            "section": SECTION,
            "transform": transform,
            "job": job,
            "package": package,
            "joined": "all input columns" if joined == ["*"] else ", ".join(joined),
            "outputs": _output_columns(package.metadata or {}),
            "throughput": _throughput(transform),
            "can_write": can_write(request.user, transform.project_id),
            "active_statuses": list(ACTIVE_JOB_STATUSES),
            "logs": logs,
            "total_logs": job.logs.count(),
            "last_log_id": logs[-1].pk if logs else 0,
        },
    )


def _output_columns(metadata: dict[str, Any]) -> str:
    from endpoints.engine.transform import (
        prediction_columns,
    )

    columns = prediction_columns(metadata)
    if columns is None:
        return "component_1 … (one per component)"
    return ", ".join(columns)


def _throughput(transform: TransformJob) -> int | None:
    """Rows scored per second over the whole job (start-up and the output's registration
    included), once it has completed."""
    seconds = transform.job.duration_seconds
    if transform.output_dataset_id is None or not seconds:
        return None
    return round(transform.rows_done / seconds)
