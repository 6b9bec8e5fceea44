"""Training pages: the list of training jobs, the new-job form (also "clone and edit"), and a
training job's page with its live metric charts."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.db.models import Count, Max, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from studio import selectors as studio_selectors
from studio.choices import ACTIVE_JOB_STATUSES, DatasetStatus
from studio.models import Dataset, Project
from studio.navigation import enter_project, page_project
from studio.selectors import can_write
from training import selectors
from training.models import Run, RunMetric, TrainingJob
from training.services import CHANNELS, INSTANCE_TYPES

SECTION = "training-job-list"
#: Metrics shown in the list, the first one a job has.
HEADLINE = (
    "validation:auc",
    "validation:accuracy",
    "validation:rmse",
    "train:auc",
    "train:accuracy",
    "train:rmse",
    "train:msd",
    "train:explained_variance_ratio",
    "train:score_mean",
)


def _headline(training: TrainingJob) -> tuple[str, float] | None:
    for name in HEADLINE:
        if name in (training.final_metrics or {}):
            return name, float(training.final_metrics[name])
    return None


@login_required
def training_job_list(request: HttpRequest) -> HttpResponse:
    project = page_project(request)
    if project is None:
        return render(request, "studio/no_project.html", {"section": SECTION})
    q = request.GET.get("q", "").strip()[:200]
    jobs = selectors.training_job_list(request.user, project_id=project.pk)
    if q:
        jobs = jobs.filter(name__icontains=q)
    rows = [{"t": t, "headline": _headline(t)} for t in jobs[:200]]
    return render(
        request,
        "training/training_job_list.html",
        {
            "section": SECTION,
            "project": project,
            "rows": rows,
            "q": q,
            "can_write": can_write(request.user, project.pk),
            "has_datasets": Dataset.objects.filter(
                project=project, status=DatasetStatus.READY
            ).exists(),
        },
    )


def _datasets(project: Project) -> list[dict[str, Any]]:
    qs = Dataset.objects.filter(project=project, status=DatasetStatus.READY)
    return [
        {
            "id": d.pk,
            "label": f"{d.name} v{d.version} · {d.num_rows:,} rows",
            "columns": [c["name"] for c in d.columns or []],
        }
        for d in qs.order_by("name", "-version")[:500]
    ]


@login_required
def training_job_new(request: HttpRequest) -> HttpResponse:
    """The form posts to the API from the page (errors shown beside their fields); with
    ``?from=<id>`` it starts as a copy of that job ("clone and edit"), with ``?dataset=<id>``
    with that dataset as its train channel (the dataset page's Train button)."""
    from training.engine import algorithms
    from training.engine.debugger import DEFAULT_RULES, RULES

    project = page_project(request)
    if project is None:
        return render(request, "studio/no_project.html", {"section": SECTION})
    source = None
    if request.GET.get("from"):
        source = selectors.access_training_job(request.user, request.GET["from"])
    initial: dict[str, Any] = {"name": "", "algorithm": "xgboost", "channels": {}}
    if source is not None and source.project_id == project.pk:
        initial = {
            "name": f"{source.name} (copy)",
            "algorithm": source.algorithm,
            "channels": source.channels,
            "target": source.target,
            "problem_type": source.problem_type,
            "hyperparameters": {k: v for k, v in source.hyperparameters.items() if v is not None},
            "instance_type": source.instance_type,
            "max_runtime_seconds": source.max_runtime_seconds,
            "debugger_rules": source.debugger_rules,
        }
    datasets = _datasets(project)
    wanted = request.GET.get("dataset", "")
    if source is None and any(str(d["id"]) == wanted for d in datasets):
        initial["channels"] = {"train": int(wanted)}
    config = {
        "project": project.pk,
        "api": reverse("api-training-job-list"),
        "detail": reverse("training-job-detail", args=[0]).replace("/0/", "/{id}/"),
        "algorithms": [a.to_dict() for a in algorithms()],
        "instanceTypes": [t.to_dict() for t in INSTANCE_TYPES.values()],
        "channels": list(CHANNELS),
        "datasets": datasets,
        "initial": initial,
        "rules": [r.to_dict() for r in RULES.values()],
        "defaultRules": list(DEFAULT_RULES),
    }
    return render(
        request,
        "training/training_job_new.html",
        {
            "section": SECTION,
            "project": project,
            "config": config,
            "can_write": can_write(request.user, project.pk),
            "source": source,
        },
    )


@login_required
def training_job_detail(request: HttpRequest, pk: int) -> HttpResponse:
    from training.engine.debugger import ISSUES

    training = selectors.access_training_job(request.user, pk)
    enter_project(request, training.project_id)
    job = training.job
    series = studio_selectors.job_metric_series(job)
    datasets = {d.pk: d for d in Dataset.objects.filter(pk__in=training.channels.values())}
    lineage = [
        {"channel": name, "dataset": datasets.get(dataset_id), "id": dataset_id}
        for name, dataset_id in training.channels.items()
    ]
    by_channel: dict[str, dict[str, float]] = {}
    for name, value in sorted((training.final_metrics or {}).items()):
        channel, _, metric = name.partition(":")
        by_channel.setdefault(metric, {})[channel] = value
    channels_seen = [c for c in CHANNELS if any(c in v for v in by_channel.values())]
    logs = list(job.logs.order_by("-id")[:500])[::-1]
    importance = (training.result or {}).get("feature_importance") or {}
    rules = selectors.training_job_rules(training, series)
    context = {
        "section": SECTION,
        "training": training,
        "job": job,
        "can_write": can_write(request.user, training.project_id),
        "active_statuses": list(ACTIVE_JOB_STATUSES),
        "lineage": lineage,
        "metric_rows": [
            {"metric": m, "values": [values.get(c) for c in channels_seen]}
            for m, values in by_channel.items()
        ],
        "metric_channels": channels_seen,
        "hyperparameters": sorted(training.hyperparameters.items()),
        "problem_words": str((training.result or {}).get("problem_type") or "").replace("_", " "),
        "series": {n: [[s, v] for s, v in p] for n, p in series.items()},
        "importance": importance,
        "rules": rules,
        "issue_count": sum(r["status"] == ISSUES for r in rules),
        "has_series": bool(series),
        "logs": logs,
        "total_logs": job.logs.count(),
        "last_log_id": logs[-1].pk if logs else 0,
    }
    return render(request, "training/training_job_detail.html", context)


EXPERIMENTS = "experiment-list"
#: Points a compare chart draws per run and metric at most (the series is downsampled).
COMPARE_POINTS = 500
MAX_COMPARE = 50


@login_required
def experiment_list(request: HttpRequest) -> HttpResponse:
    project = page_project(request)
    if project is None:
        return render(request, "studio/no_project.html", {"section": EXPERIMENTS})
    experiments = (
        selectors.experiment_list(request.user, project_id=project.pk)
        .annotate(
            counted=Count("runs", filter=Q(runs__deleted=False)), last=Max("runs__start_time")
        )
        .order_by("-last", "name")
    )
    return render(
        request,
        "training/experiment_list.html",
        {"section": EXPERIMENTS, "project": project, "experiments": experiments[:500]},
    )


def _run_row(run: Run) -> dict[str, Any]:
    return {
        "id": run.pk,
        "name": run.name or run.uuid[:8],
        "status": run.status,
        "start": run.start_time,
        "seconds": (run.end_time - run.start_time) / 1000 if run.end_time else None,
        "params": run.params,
        "metrics": {k: m["value"] for k, m in run.metrics.items()},
        "training_job": run.training_job_id,
        "experiment": run.experiment.name,
    }


@login_required
def experiment_detail(request: HttpRequest, pk: int) -> HttpResponse:
    experiment = selectors.access_experiment(request.user, pk)
    enter_project(request, experiment.project_id)
    runs = [
        _run_row(r) for r in selectors.run_list(request.user, experiment_ids=[experiment.pk])[:2000]
    ]
    return render(
        request,
        "training/experiment_detail.html",
        {
            "section": EXPERIMENTS,
            "experiment": experiment,
            "runs": runs,
            "compare_url": reverse("experiment-compare"),
            "run_url": reverse("run-detail", args=[0]).replace("/0/", "/{id}/"),
            "job_url": reverse("training-job-detail", args=[0]).replace("/0/", "/{id}/"),
        },
    )


@login_required
def experiment_compare(request: HttpRequest) -> HttpResponse:
    """2–50 runs side by side: a chart per metric with a curve per run (downsampled on the
    server), parallel coordinates of parameters against a metric, a scatter of any two."""
    try:
        ids = [int(x) for x in request.GET.get("runs", "").split(",") if x.strip()]
    except ValueError:
        ids = []
    ids = list(dict.fromkeys(ids))[:MAX_COMPARE]
    runs = [selectors.access_run(request.user, i) for i in ids]
    if runs:
        enter_project(request, runs[0].project_id)
    keys = sorted({k for r in runs for k in r.metrics})
    series: dict[str, dict[str, list[list[float]]]] = {}
    points = RunMetric.objects.filter(run__in=runs).order_by("run_id", "key", "step", "id")
    grouped: dict[tuple[int, str], list[tuple[int, float, int]]] = {}
    for run_id, key, step, value, stamp in points.values_list(
        "run_id", "key", "step", "value", "timestamp"
    ):
        grouped.setdefault((run_id, key), []).append((step, value, stamp))
    names = {r.pk: r.name or r.uuid[:8] for r in runs}
    for (run_id, key), rows in grouped.items():
        if len(rows) < 2:
            continue  # a single value is a number, not a curve
        kept = selectors.downsample(rows, COMPARE_POINTS)
        series.setdefault(key, {})[f"{names[run_id]} #{run_id}"] = [[s, v] for s, v, _ in kept]
    return render(
        request,
        "training/experiment_compare.html",
        {
            "section": EXPERIMENTS,
            "runs": [_run_row(r) for r in runs],
            "series": series,
            "keys": keys,
            "too_few": len(runs) < 2,
        },
    )


@login_required
def run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A run: its parameters and metrics, its curves per step, and for a classifier trained
    by a job, the confusion matrix, ROC and precision-recall curves, feature importances."""
    run = selectors.access_run(request.user, pk)
    enter_project(request, run.project_id)
    series: dict[str, list[list[float]]] = {}
    for key in sorted(run.metrics):
        rows = selectors.metric_history(run, key, max_points=COMPARE_POINTS)
        if len(rows) > 1:
            series[key] = [[s, v] for s, v, _ in rows]
    result = run.training_job.result if run.training_job else {}
    return render(
        request,
        "training/run_detail.html",
        {
            "section": EXPERIMENTS,
            "run": run,
            "params": sorted(run.params.items()),
            "metrics": sorted((k, m["value"], m["step"]) for k, m in run.metrics.items()),
            "charts": {
                "series": series,
                "curves": (result or {}).get("curves") or {},
                "importance": (result or {}).get("feature_importance") or {},
            },
        },
    )
