"""Clarify's pages: the jobs of a project, the new-job form (it posts to the API from the
page) and a job's report — bias before and after training, per facet group and for their
intersections, and SHAP explanations."""

from __future__ import annotations

from typing import Any, Final

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import URLPattern, path, reverse

from monitor import selectors
from monitor.clarify import MAX_SHAP_ROWS, METHODS
from monitor.models import ClarifyJob
from monitor.reports import fmt, positive_text
from studio.choices import ACTIVE_JOB_STATUSES
from studio.navigation import enter_project, page_project
from studio.selectors import can_write
from studio.tables import paginate

SECTION: Final = "clarify-job-list"
METHOD_LABELS: Final = {
    "pre_training_bias": "Pre-training bias",
    "post_training_bias": "Post-training bias",
    "shap": "SHAP",
}
STAGES: Final = (
    ("pre_training_bias", "Pre-training bias", "of the data: does the label favour a group?"),
    ("post_training_bias", "Post-training bias", "of the model's predictions on the data"),
)


def _no_project(request: HttpRequest) -> HttpResponse:
    return render(request, "studio/no_project.html", {"section": SECTION})


@login_required
def clarify_job_list(request: HttpRequest) -> HttpResponse:
    project = page_project(request)
    if project is None:
        return _no_project(request)
    jobs = selectors.clarify_job_list(request.user, project_id=project.pk)
    page = paginate(request, jobs.select_related("created_by"))
    return render(
        request,
        "monitor/clarify_list.html",
        {
            "section": SECTION,
            "project": project,
            "page": page,
            "rows": [
                {"c": c, "methods": [METHOD_LABELS.get(m, m) for m in c.methods or []]}
                for c in page.object_list
            ],
            "has_datasets": bool(selectors.tabular_datasets(project)),
            "can_write": can_write(request.user, project.pk),
        },
    )


@login_required
def clarify_job_new(request: HttpRequest) -> HttpResponse:
    """The form posts to the API from the page; errors show beside their fields.
    ``?dataset=<id>`` and ``?model_package=<id>`` preselect."""
    project = page_project(request)
    if project is None:
        return _no_project(request)
    wanted = {key: request.GET.get(key, "") for key in ("dataset", "model_package")}
    config = {
        "project": project.pk,
        "api": reverse("api-clarify-job-list"),
        "detail": reverse("clarify-job-detail", args=[0]).replace("/0/", "/{id}/"),
        "datasets": [
            {
                "id": d.pk,
                "label": f"{d.name} v{d.version} · {d.num_rows or 0:,} rows",
                "columns": [
                    {"name": str(c.get("name")), "dtype": str(c.get("dtype", ""))}
                    for c in d.columns or []
                ],
            }
            for d in selectors.tabular_datasets(project)
        ],
        "packages": [
            {"id": p.pk, "label": f"{p.group.name} v{p.version}", "problem": p.problem_type}
            for p in selectors.completed_packages(project)
        ],
        "methods": [{"value": m, "label": METHOD_LABELS[m]} for m in METHODS],
        "maxShapRows": MAX_SHAP_ROWS,
        "selected": {k: int(v) if v.isdigit() else None for k, v in wanted.items()},
    }
    return render(
        request,
        "monitor/clarify_new.html",
        {
            "section": SECTION,
            "project": project,
            "config": config,
            "can_write": can_write(request.user, project.pk),
        },
    )


def _metric(metric: dict[str, Any]) -> dict[str, Any]:
    """A metric as its table row shows it: the description without the repeated acronym."""
    name, description = str(metric.get("name", "")), str(metric.get("description", ""))
    return {
        **metric,
        "label": description.removesuffix(f" ({name})"),
        "text": fmt(metric.get("value")),
    }


def clarify_stages(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The report's bias stages as the page and the HTML report show them: per stage, the
    facet groups (intersections marked) with their metrics."""
    stages = []
    for key, title, help_text in STAGES:
        if key not in report:
            continue
        groups = [
            {
                "facet": entry.get("facet"),
                "group": entry.get("value_or_threshold"),
                "size": entry.get("group_size"),
                "intersection": " & " in str(entry.get("facet", "")),
                "metrics": [_metric(m) for m in entry.get("metrics") or []],
            }
            for entry in report.get(key) or []
        ]
        stages.append({"key": key, "title": title, "help": help_text, "groups": groups})
    return stages


@login_required
def clarify_job_detail(request: HttpRequest, pk: int) -> HttpResponse:
    clarify: ClarifyJob = selectors.access_clarify_job(request.user, pk)
    enter_project(request, clarify.project_id)
    report = clarify.report or {}
    explanations = report.get("explanations") or {}
    report_url = reverse("api-clarify-job-download", args=[clarify.pk])
    return render(
        request,
        "monitor/clarify_detail.html",
        {
            "section": SECTION,
            "project": clarify.project,
            "clarify": clarify,
            "job": clarify.job,
            "running": clarify.job.status in ACTIVE_JOB_STATUSES,
            "stages": clarify_stages(report),
            "explanations": explanations,
            "methods": [METHOD_LABELS.get(m, m) for m in clarify.methods or []],
            "positive": positive_text(clarify.positive_label_values),
            "charts": {
                "stages": {key: report.get(key) or [] for key, _, _ in STAGES if key in report},
                "explanations": explanations or None,
            },
            "api": reverse("api-clarify-job-detail", args=[clarify.pk]),
            "download_html": f"{report_url}?file=html",
            "download_json": f"{report_url}?file=json",
            "can_write": can_write(request.user, clarify.project_id),
        },
    )


urlpatterns: list[URLPattern] = [
    path("clarify/", clarify_job_list, name="clarify-job-list"),
    path("clarify/new/", clarify_job_new, name="clarify-job-new"),
    path("clarify/<int:pk>/", clarify_job_detail, name="clarify-job-detail"),
]
