"""The monitor's pages: the Monitoring section (schedules, baselines, alerts), the baseline
and schedule forms and pages, and an execution's report. The Clarify pages are in
:mod:`monitor.clarify_views`; their routes join these in ``urlpatterns``.

Every page reads through :mod:`monitor.selectors` (a stranger gets a 404); the forms and the
buttons write through the REST API from the page, so the pages and scripts share one path.
"""

from __future__ import annotations

import json
from typing import Any, Final

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import URLPattern, path, reverse

from monitor import clarify_views, selectors
from monitor.models import (
    ExecutionStatus,
    MonitoringBaseline,
    MonitoringExecution,
    MonitorType,
)
from monitor.reports import fmt
from monitor.services import SCHEDULE_ALIASES, default_window_hours
from studio.navigation import enter_project, page_project
from studio.selectors import can_write
from studio.tables import PAGE_SIZE, paginate, sort_header, sort_queryset

SECTION: Final = "monitoring-home"
SCHEDULE_SORTS: Final = {
    "name": "name",
    "endpoint": "endpoint__name",
    "type": "monitor_type",
    "status": "status",
    "next": "next_run_at",
    "created": "created_at",
}
#: Statuses of an execution still running: its page polls the API until they end.
RUNNING: Final = (ExecutionStatus.PENDING, ExecutionStatus.IN_PROGRESS)
#: The most score series the trend chart draws at once (a select picks others).
TREND_TRACES: Final = 12
#: How each monitor type is told apart in a sentence.
TYPE_HELP: Final = {
    MonitorType.DATA_QUALITY: "Missing values, types, ranges and drift of the inputs.",
    MonitorType.MODEL_QUALITY: "Accuracy, F1, RMSE… against ground truth (estimated before).",
    MonitorType.BIAS_DRIFT: "Post-training bias of the predictions per facet.",
    MonitorType.FEATURE_ATTRIBUTION_DRIFT: "The ranking of features by SHAP importance.",
}
#: Scalar metrics of a quality report, in the order a table lists them.
QUALITY_ORDER: Final = (
    "accuracy",
    "precision",
    "recall",
    "f1",
    "auc",
    "rmse",
    "mae",
    "r2",
    "mape",
    "count",
)


def _no_project(request: HttpRequest) -> HttpResponse:
    return render(request, "studio/no_project.html", {"section": SECTION})


def _pager(request: HttpRequest, items: Any, param: str, anchor: str) -> dict[str, Any]:
    """A page of ``items`` under its own ``?<param>=``, so tabs page independently."""
    page = Paginator(items, PAGE_SIZE).get_page(request.GET.get(param))

    def link(number: int) -> str:
        params = request.GET.copy()
        params[param] = str(number)
        return f"?{params.urlencode()}#{anchor}"

    return {
        "page": page,
        "previous": link(page.previous_page_number()) if page.has_previous() else "",
        "next": link(page.next_page_number()) if page.has_next() else "",
    }


def _template(name: str) -> str:
    return str(reverse(name, args=[0])).replace("/0/", "/{id}/")


def _change(now: Any, before: Any) -> float | None:
    numbers = [v for v in (now, before) if isinstance(v, int | float) and not isinstance(v, bool)]
    return float(now - before) if len(numbers) == 2 else None


def _signed(value: float | None) -> str:
    return "" if value is None else ("+" if value > 0 else "") + fmt(value)


def quality_rows(metrics: dict[str, Any], baseline: dict[str, Any] | None = None) -> list[Any]:
    """The scalar metrics of a quality report (and the baseline's beside them)."""
    names: list[str] = [n for n in QUALITY_ORDER if n in metrics or (baseline and n in baseline)]
    names += sorted(
        n
        for n, v in metrics.items()
        if n not in names and isinstance(v, int | float) and not isinstance(v, bool)
    )
    rows = []
    for name in names:
        now, before = metrics.get(name), (baseline or {}).get(name)
        change = _change(now, before)
        rows.append(
            {
                "name": name,
                "value": fmt(now),
                "baseline": fmt(before),
                "change": _signed(change),
                "worse": change is not None
                and (
                    change < 0
                    if name in ("accuracy", "precision", "recall", "f1", "auc", "r2")
                    else change > 0
                ),
            }
        )
    return rows


def bias_rows(current: list[Any], baseline: list[Any] | None = None) -> list[dict[str, Any]]:
    """One row per facet group and metric: the value (and the baseline's, and the change)."""
    before: dict[tuple[str, str, str], Any] = {}
    for entry in baseline or []:
        for metric in entry.get("metrics", []):
            key = (str(entry["facet"]), str(entry["value_or_threshold"]), str(metric["name"]))
            before[key] = metric.get("value")
    rows = []
    for entry in current:
        for metric in entry.get("metrics", []):
            key = (str(entry["facet"]), str(entry["value_or_threshold"]), str(metric["name"]))
            change = _change(metric.get("value"), before.get(key))
            rows.append(
                {
                    "facet": key[0],
                    "group": key[1],
                    "metric": key[2],
                    "description": metric.get("description", ""),
                    "value": fmt(metric.get("value")),
                    "baseline": fmt(before.get(key)),
                    "change": _signed(change),
                    "magnitude": abs(change) if change is not None else 0.0,
                    "error": metric.get("error", ""),
                }
            )
    return rows


def bias_matrix(entries: list[Any]) -> dict[str, Any]:
    """A bias report as one table: a row per metric, a column per facet group."""
    groups = [f"{e.get('facet')} = {e.get('value_or_threshold')}" for e in entries]
    names: dict[str, str] = {}
    values: dict[tuple[str, int], dict[str, Any]] = {}
    for i, entry in enumerate(entries):
        for metric in entry.get("metrics", []):
            name = str(metric.get("name"))
            names.setdefault(name, str(metric.get("description", "")).removesuffix(f" ({name})"))
            values[(name, i)] = {"text": fmt(metric.get("value")), "error": metric.get("error", "")}
    rows = [
        {
            "name": name,
            "description": description,
            "cells": [values.get((name, i), {"text": "", "error": ""}) for i in range(len(groups))],
        }
        for name, description in names.items()
    ]
    return {"groups": groups, "rows": rows}


# --------------------------------------------------------------------------- the section


@login_required
def monitoring_home(request: HttpRequest) -> HttpResponse:
    """Schedules (sortable), baselines and alerts of the current project, a tab each."""
    project = page_project(request)
    if project is None:
        return _no_project(request)
    qs, sort = sort_queryset(
        request,
        selectors.schedule_list(request.user, project_id=project.pk),
        SCHEDULE_SORTS,
        "-created",
    )
    page = paginate(request, qs)
    latest = selectors.latest_executions([s.pk for s in page.object_list])
    baselines = selectors.baseline_list(request.user, project_id=project.pk).select_related(
        "model_package__group"
    )
    alerts = selectors.alert_list(request.user, project_id=project.pk)
    return render(
        request,
        "monitor/home.html",
        {
            "section": SECTION,
            "project": project,
            "page": page,
            "schedules": [{"s": s, "latest": latest.get(s.pk)} for s in page.object_list],
            "headers": [
                sort_header(request, sort, "name", "Name"),
                sort_header(request, sort, "endpoint", "Endpoint"),
                sort_header(request, sort, "type", "Monitor"),
                {"label": "Schedule"},
                sort_header(request, sort, "status", "Status"),
                {"label": "Last execution"},
                sort_header(request, sort, "next", "Next run"),
            ],
            "baselines": _pager(request, baselines, "baselines_page", "baselines"),
            "alerts": _pager(request, alerts, "alerts_page", "alerts"),
            "unread": selectors.unread_alert_count(request.user, project.pk),
            "has_baselines": baselines.exists(),
            "alerts_read_api": reverse("api-monitoring-alert-read"),
            "can_write": can_write(request.user, project.pk),
        },
    )


# --------------------------------------------------------------------------- baselines


@login_required
def baseline_new(request: HttpRequest) -> HttpResponse:
    """The form posts to the API from the page; errors show beside their fields."""
    project = page_project(request)
    if project is None:
        return _no_project(request)
    config = {
        "project": project.pk,
        "api": reverse("api-monitoring-baseline-list"),
        "detail": _template("monitoring-baseline-detail"),
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
            {
                "id": p.pk,
                "label": f"{p.group.name} v{p.version}",
                "problem": p.problem_type,
                "inputs": [c["name"] for c in p.input_schema],
            }
            for p in selectors.completed_packages(project)
        ],
    }
    return render(
        request,
        "monitor/baseline_new.html",
        {
            "section": SECTION,
            "project": project,
            "config": config,
            "can_write": can_write(request.user, project.pk),
        },
    )


def _checks(constraints: dict[str, Any]) -> list[dict[str, Any]]:
    config = constraints.get("monitoring_config") or {}
    rows = []
    for name, value in config.items():
        if isinstance(value, dict):
            rows.append(
                {
                    "check": name,
                    "enabled": bool(value.get("enabled", True)),
                    "threshold": value.get("threshold"),
                    "method": value.get("method", ""),
                }
            )
        else:
            rows.append({"check": name, "enabled": None, "threshold": value, "method": ""})
    return rows


def _feature_constraints(constraints: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for feature in constraints.get("features") or []:
        numbers = feature.get("num_constraints") or {}
        strings = feature.get("string_constraints") or {}
        rows.append(
            {
                "name": feature.get("name"),
                "type": feature.get("inferred_type", ""),
                "completeness": feature.get("completeness"),
                "min": fmt(numbers.get("min")) if "min" in numbers else None,
                "max": fmt(numbers.get("max")),
                "non_negative": numbers.get("is_non_negative"),
                "domains": strings.get("domains"),
            }
        )
    return rows


def _baseline_columns(baseline: MonitoringBaseline) -> list[dict[str, Any]]:
    """Each profiled column with what its row in the Statistics table shows."""
    out = []
    for column in (baseline.statistics or {}).get("columns") or []:
        numeric = column.get("numeric") or {}
        categorical = column.get("categorical") or {}
        frequencies = categorical.get("frequencies") or {}
        top = sorted(frequencies.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
        total = max(1, int(column.get("count") or 0))
        out.append(
            {
                "name": column.get("name"),
                "type": column.get("inferred_type", ""),
                "kind": column.get("kind", ""),
                "completeness": column.get("completeness"),
                "missing": column.get("missing"),
                "numbers": [
                    (key, fmt(numeric.get(key)))
                    for key in ("mean", "std", "min", "max")
                    if column.get("kind") == "numeric"
                ],
                "distinct": (numeric or categorical).get("distinct"),
                "top": [{"value": v, "count": c, "share": c / total} for v, c in top],
            }
        )
    return out


def _chart_columns(baseline: MonitoringBaseline) -> list[dict[str, Any]]:
    """What the mini histograms draw: bucket counts over edges, or the top categories."""
    charts = []
    for column in (baseline.statistics or {}).get("columns") or []:
        numeric = column.get("numeric") or {}
        frequencies = (column.get("categorical") or {}).get("frequencies") or {}
        if column.get("kind") == "numeric" and numeric.get("edges"):
            charts.append(
                {
                    "name": column.get("name"),
                    "kind": "numeric",
                    "edges": numeric["edges"],
                    "counts": numeric.get("counts") or [],
                }
            )
        else:
            top = sorted(frequencies.items(), key=lambda kv: (-kv[1], kv[0]))[:8]
            charts.append(
                {
                    "name": column.get("name"),
                    "kind": "categorical",
                    "labels": [k for k, _ in top],
                    "counts": [v for _, v in top],
                }
            )
    return charts


@login_required
def baseline_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A baseline's statistics, its editable constraints and, with a model, the model's
    quality, bias and SHAP importance on the baseline's data."""
    baseline = selectors.access_baseline(request.user, pk)
    enter_project(request, baseline.project_id)
    constraints = baseline.constraints or {}
    quality = baseline.quality or {}
    bias_report = (baseline.bias or {}).get("report") or {}
    importance = (baseline.attributions or {}).get("global_importance") or []
    serves = baseline.serves()
    return render(
        request,
        "monitor/baseline_detail.html",
        {
            "section": SECTION,
            "project": baseline.project,
            "baseline": baseline,
            "running": baseline.status in ("Pending", "InProgress"),
            "columns": _baseline_columns(baseline),
            "charts": _chart_columns(baseline),
            "constraints_text": json.dumps(constraints, indent=2),
            "checks": _checks(constraints),
            "features": _feature_constraints(constraints),
            "quality": quality,
            "quality_rows": quality_rows(quality.get("metrics") or {}),
            "bias": bias_matrix(bias_report.get("post_training_bias") or []),
            "importance": importance,
            "has_model": bool(quality.get("metrics") or bias_report or importance),
            "schedules": baseline.schedules.select_related("endpoint").order_by("name")[:50],
            "serves": [
                {"value": v, "label": label, "ok": serves[v]} for v, label in MonitorType.choices
            ],
            "api": reverse("api-monitoring-baseline-detail", args=[baseline.pk]),
            "can_write": can_write(request.user, baseline.project_id),
        },
    )


# --------------------------------------------------------------------------- schedules


@login_required
def schedule_new(request: HttpRequest) -> HttpResponse:
    """The form posts to the API from the page; ``?endpoint=<id>`` preselects the endpoint
    (the endpoint page's Monitor button), ``?baseline=<id>`` the baseline."""
    project = page_project(request)
    if project is None:
        return _no_project(request)
    endpoints = selectors.project_endpoints(project)
    baselines = selectors.completed_baselines(project)
    wanted = {key: request.GET.get(key, "") for key in ("endpoint", "baseline")}
    config = {
        "project": project.pk,
        "api": reverse("api-monitoring-schedule-list"),
        "detail": _template("monitoring-schedule-detail"),
        "endpoints": [{"id": e.pk, "label": e.name, "status": e.status} for e in endpoints],
        "baselines": [
            {
                "id": b.pk,
                "label": f"{b.name} · {b.model_package}" if b.model_package else b.name,
                "serves": {str(k): v for k, v in b.serves().items()},
            }
            for b in baselines
        ],
        "types": [
            {"value": v, "label": str(label), "help": TYPE_HELP[MonitorType(v)]}
            for v, label in MonitorType.choices
        ],
        "aliases": SCHEDULE_ALIASES,
        "windows": {k: default_window_hours(cron) for k, cron in SCHEDULE_ALIASES.items()},
        "selected": {k: int(v) if v.isdigit() else None for k, v in wanted.items()},
    }
    return render(
        request,
        "monitor/schedule_new.html",
        {
            "section": SECTION,
            "project": project,
            "config": config,
            "can_write": can_write(request.user, project.pk),
        },
    )


def trend_series(trend: list[dict[str, Any]]) -> dict[str, Any]:
    """Score names (the most telling first) and the executions' points, for the chart."""
    names: dict[str, float] = {}
    for row in trend:
        for name, value in (row.get("scores") or {}).items():
            if isinstance(value, int | float):
                names[name] = max(names.get(name, 0.0), abs(float(value)))
    # Overall scores first, then the rest by the largest value seen (the most drifted).
    overall = [n for n in ("share_drifted", "ndcg", "accuracy", "f1", "auc", "rmse") if n in names]
    rest = sorted((n for n in names if n not in overall), key=lambda n: (-names[n], n))
    return {
        "names": overall + rest,
        "shown": (overall + rest)[:TREND_TRACES],
        "points": [
            {
                "id": row["id"],
                "at": row["created_at"],
                "status": row["status"],
                "scores": row.get("scores") or {},
            }
            for row in trend
        ],
    }


@login_required
def schedule_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A schedule: when it runs and on what, its actions, the trend of its scores across
    executions and their history."""
    schedule = selectors.access_schedule(request.user, pk)
    enter_project(request, schedule.project_id)
    # The history table needs no report: leave the large documents in the database.
    executions = selectors.execution_list(request.user, schedule_id=schedule.pk).defer(
        "report", "scores"
    )
    trend = trend_series(selectors.execution_trend(schedule))
    return render(
        request,
        "monitor/schedule_detail.html",
        {
            "section": SECTION,
            "project": schedule.project,
            "schedule": schedule,
            "page": paginate(request, executions),
            "trend": trend,
            "trace_limit": TREND_TRACES,
            "api": reverse("api-monitoring-schedule-detail", args=[schedule.pk]),
            "run_now_api": reverse("api-monitoring-schedule-run-now", args=[schedule.pk]),
            "execution_url": _template("monitoring-execution-detail"),
            "can_write": can_write(request.user, schedule.project_id),
        },
    )


# --------------------------------------------------------------------------- executions


def _drift_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The drift table's columns: drifted first, then by how far each moved (PSI)."""
    columns = list((report.get("drift") or {}).get("columns") or [])
    return sorted(columns, key=lambda c: (not c.get("drifted"), -(c.get("psi") or 0.0)))


def _drift_table(columns: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each column's row as shown, with the raw numbers the client-side sort reads."""
    from monitor.engine.drift import P_VALUE_METHODS

    rows = []
    for c in columns:
        threshold = c.get("threshold")
        below = c.get("method") in P_VALUE_METHODS
        rows.append(
            {
                **c,
                "statistic_text": fmt(c.get("statistic")),
                "p_value_text": fmt(c.get("p_value")),
                "psi_text": fmt(c.get("psi")),
                "threshold_text": ""
                if threshold is None
                else f"{'p <' if below else '>'} {fmt(threshold)}",
            }
        )
    return rows


def _report_context(execution: MonitoringExecution) -> dict[str, Any]:
    report = execution.report or {}
    kind = execution.schedule.monitor_type
    context: dict[str, Any] = {"report": report, "note": report.get("note", "")}
    if kind == MonitorType.DATA_QUALITY:
        drift = report.get("drift") or {}
        rows = _drift_table(_drift_rows(report))
        context.update(
            drift=drift,
            drift_rows=rows,
            share_text=fmt(drift.get("share_drifted")),
            share_threshold_text=fmt(drift.get("share_threshold")),
        )
    elif kind == MonitorType.MODEL_QUALITY:
        metrics = report.get("metrics") or {}
        context.update(
            quality_rows=quality_rows(metrics, report.get("baseline_metrics") or {}),
            estimated=bool(metrics.get("estimated")),
            confusion=metrics.get("confusion_matrix") or None,
        )
    elif kind == MonitorType.BIAS_DRIFT:
        current = (report.get("bias") or {}).get("post_training_bias") or []
        before = (report.get("baseline_bias") or {}).get("post_training_bias") or []
        # The largest moves first: those are what the reader came for.
        rows = sorted(bias_rows(current, before), key=lambda r: -r["magnitude"])
        context.update(bias=rows, threshold=report.get("threshold"))
    else:
        context.update(attribution=report.get("attribution") or {})
    return context


@login_required
def execution_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """An execution's report: what was violated, what drifted and by how much, and the two
    ways back into the lifecycle (label the rows, train again)."""
    execution = selectors.access_execution(request.user, pk)
    enter_project(request, execution.project_id)
    schedule = execution.schedule
    report = execution.report or {}
    trend = trend_series(selectors.execution_trend(schedule))
    charts = {
        "kind": schedule.monitor_type,
        "drift": [
            {
                "name": c.get("name"),
                "kind": c.get("kind"),
                "drifted": bool(c.get("drifted")),
                "histogram": c.get("histogram") or {},
            }
            for c in _drift_rows(report)
        ],
        "confusion": ((report.get("metrics") or {}).get("confusion_matrix") or None),
        "current_importance": report.get("current_importance") or [],
        "baseline_importance": report.get("baseline_importance") or [],
        "trend": trend["points"],
        "execution": execution.pk,
    }
    return render(
        request,
        "monitor/execution_detail.html",
        {
            "section": SECTION,
            "project": execution.project,
            "execution": execution,
            "schedule": schedule,
            "running": execution.status in RUNNING,
            "violations": [
                {**v, "value_text": fmt(v.get("value")), "threshold_text": fmt(v.get("threshold"))}
                for v in execution.violations or []
            ],
            "charts": charts,
            "api": reverse("api-monitoring-execution-detail", args=[execution.pk]),
            "label_api": reverse("api-monitoring-execution-label", args=[execution.pk]),
            "retrain_api": reverse("api-monitoring-execution-retrain", args=[execution.pk]),
            "labeling_url": _template("labeling-job-detail"),
            "labeling_job": execution.labeling_job,
            "truth_api": reverse("api-endpoint-ground-truth", args=[schedule.endpoint_id]),
            "training_url": _template("training-job-detail"),
            "can_write": can_write(request.user, execution.project_id),
            **_report_context(execution),
        },
    )


urlpatterns: list[URLPattern] = [
    path("monitoring/", monitoring_home, name="monitoring-home"),
    path("monitoring/baselines/new/", baseline_new, name="monitoring-baseline-new"),
    path("monitoring/baselines/<int:pk>/", baseline_detail, name="monitoring-baseline-detail"),
    path("monitoring/schedules/new/", schedule_new, name="monitoring-schedule-new"),
    path("monitoring/schedules/<int:pk>/", schedule_detail, name="monitoring-schedule-detail"),
    path("monitoring/executions/<int:pk>/", execution_detail, name="monitoring-execution-detail"),
    *clarify_views.urlpatterns,
]
