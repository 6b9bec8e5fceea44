"""Registry pages: the model groups of a project, a group's versions, a package's page (its
model card, lineage and approval history) and the form that registers a model."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRefresh

from registry import selectors, services
from registry.forms import ModelCardForm, ModelUploadForm, parse_columns
from registry.models import MODEL_CARD_FIELDS, ModelPackage, PackageStatus
from studio import selectors as studio_selectors
from studio.choices import JobStatus
from studio.errors import ServiceError
from studio.navigation import enter_project, page_project
from studio.selectors import can_write
from training.models import TrainingJob
from training.selectors import access_training_job

SECTION = "model-group-list"
CARD_LABELS = {
    "intended_use": "Intended use",
    "out_of_scope": "Out of scope",
    "training_data": "Training data",
    "evaluation": "Evaluation",
    "caveats": "Caveats and limitations",
    "ethical_considerations": "Ethical considerations",
}
CARD_HINTS = {
    "intended_use": "Who should use it, for what decisions.",
    "out_of_scope": "Uses it was not made or checked for.",
    "training_data": "What it learned from; its period and population.",
    "evaluation": "How it was measured, on what data, against what bar.",
    "caveats": "Known weaknesses, drift to watch, failure modes.",
    "ethical_considerations": "People affected, fairness checks, risks.",
}
#: The metric a version table shows, the first one a package has.
HEADLINE = (
    "validation:auc",
    "validation:accuracy",
    "validation:rmse",
    "test:auc",
    "test:accuracy",
    "test:rmse",
    "train:auc",
    "train:accuracy",
    "train:rmse",
)


def _headline(package: ModelPackage) -> tuple[str, float] | None:
    for name in HEADLINE:
        if name in (package.metrics or {}):
            return name, float(package.metrics[name])
    return None


@login_required
def model_group_list(request: HttpRequest) -> HttpResponse:
    project = page_project(request)
    if project is None:
        return render(request, "studio/no_project.html", {"section": SECTION})
    q = request.GET.get("q", "").strip()[:200]
    groups = selectors.model_package_group_list(request.user, project_id=project.pk)
    if q:
        groups = groups.filter(name__icontains=q)
    return render(
        request,
        "registry/model_group_list.html",
        {
            "section": SECTION,
            "project": project,
            "groups": groups.order_by("-updated_at", "name")[:500],
            "q": q,
            "can_write": can_write(request.user, project.pk),
        },
    )


@login_required
def model_group_detail(request: HttpRequest, pk: int) -> HttpResponse:
    group = selectors.access_model_package_group(request.user, pk)
    enter_project(request, group.project_id)
    rows = [{"p": p, "headline": _headline(p)} for p in selectors.group_versions(group)[:500]]
    approved = next((r["p"] for r in rows if r["p"].approval_status == "Approved"), None)
    return render(
        request,
        "registry/model_group_detail.html",
        {
            "section": SECTION,
            "group": group,
            "rows": rows,
            "latest_approved": approved,
            "can_write": can_write(request.user, group.project_id),
        },
    )


def _metric_table(metrics: dict[str, Any]) -> tuple[list[str], list[dict[str, Any]]]:
    """``channel:metric`` values as one row per metric and a column per channel."""
    by_metric: dict[str, dict[str, float]] = {}
    for name, value in sorted(metrics.items()):
        channel, _, metric = name.rpartition(":")
        by_metric.setdefault(metric, {})[channel or "value"] = value
    order = {"train": 0, "validation": 1, "test": 2}
    seen = {c for v in by_metric.values() for c in v}
    channels = sorted(seen, key=lambda c: (order.get(c, 3), c))
    rows = [{"metric": m, "values": [v.get(c) for c in channels]} for m, v in by_metric.items()]
    return channels, rows


@login_required
def model_package_detail(request: HttpRequest, pk: int) -> HttpResponse:
    package = selectors.access_model_package(request.user, pk)
    waiting = package.status in (PackageStatus.PENDING, PackageStatus.IN_PROGRESS)
    if request.htmx and request.GET.get("part") == "status":
        # Poll while the upload is checked; once it is not, the whole page changes: reload.
        if not waiting:
            return HttpResponseClientRefresh()
        return render(request, "registry/partials/validation.html", {"package": package})
    enter_project(request, package.project_id)
    metadata = package.metadata or {}
    channels, metric_rows = _metric_table(package.metrics or {})
    card = package.model_card or {}
    form = ModelCardForm(initial={"description": package.description, **card})
    context = {
        "section": SECTION,
        "package": package,
        "group": package.group,
        "waiting": waiting,
        "can_write": can_write(request.user, package.project_id),
        "can_approve": selectors.can_approve(request.user, package),
        "card": [
            {"key": k, "label": CARD_LABELS[k], "hint": CARD_HINTS[k], "text": card.get(k, "")}
            for k in MODEL_CARD_FIELDS
        ],
        "card_form": form,
        "metric_channels": channels,
        "metric_rows": metric_rows,
        "schema": package.input_schema,
        "classes": package.classes,
        "problem_words": package.problem_type.replace("_", " "),
        "framework": sorted((metadata.get("framework") or {}).items()),
        "hyperparameters": sorted(
            (k, v) for k, v in (metadata.get("hyperparameters") or {}).items() if v is not None
        ),
        "lineage": selectors.package_lineage(package),
        "history": list(selectors.approval_history(package)),
        "deploy_reason": selectors.package_deployable(package),
        "versions": list(
            selectors.group_versions(package.group).values_list("pk", "version")[:200]
        ),
    }
    return render(request, "registry/model_package_detail.html", context)


def _back(request: HttpRequest, package: ModelPackage) -> HttpResponseRedirect:
    return HttpResponseRedirect(reverse("model-package-detail", args=[package.pk]))


def _decide(request: HttpRequest, pk: int, approve: bool) -> HttpResponse:
    package = selectors.access_model_package(request.user, pk, write=True)
    decide = services.model_package_approve if approve else services.model_package_reject
    try:
        comment = request.POST.get("comment", "")
        package = decide(package=package, user=request.user, comment=comment)
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{package} is {package.get_approval_status_display().lower()}.")
    return _back(request, package)


@login_required
@require_POST
def model_package_approve(request: HttpRequest, pk: int) -> HttpResponse:
    return _decide(request, pk, approve=True)


@login_required
@require_POST
def model_package_reject(request: HttpRequest, pk: int) -> HttpResponse:
    return _decide(request, pk, approve=False)


@login_required
@require_POST
def model_package_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """Save the model card and description (writers)."""
    package = selectors.access_model_package(request.user, pk, write=True)
    form = ModelCardForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.model_package_update(
                package=package,
                description=data["description"],
                model_card={k: data[k] for k in MODEL_CARD_FIELDS},
            )
        except ServiceError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, "Saved the model card.")
    return _back(request, package)


def _register_from_job(request: HttpRequest) -> HttpResponse:
    """The Register button of a training job's page: back to it with the reason if refused."""
    training = access_training_job(request.user, request.POST.get("training_job"))
    project = studio_selectors.access_project(request.user, training.project_id, write=True)
    try:
        package = services.model_package_create(
            project=project,
            user=request.user,
            group=request.POST.get("group", ""),
            training_job=training,
            description=request.POST.get("description", ""),
        )
    except ServiceError as exc:
        messages.error(request, exc.message)
        return redirect("training-job-detail", pk=training.pk)
    messages.success(request, f"Registered {package}: it waits for an owner's approval.")
    return redirect("model-package-detail", pk=package.pk)


@login_required
def model_package_register(request: HttpRequest) -> HttpResponse:
    """Register a model: upload one (the form), or post a training job's id (its page's
    Register button, or the list of completed jobs here)."""
    if request.method == "POST" and "training_job" in request.POST:
        return _register_from_job(request)
    project = page_project(request, write=True)
    if project is None:
        return render(request, "studio/no_project.html", {"section": SECTION})
    initial_group = request.GET.get("group", "")[:200]  # "Register a version" of a group
    form = ModelUploadForm(
        request.POST or None, request.FILES or None, initial={"group": initial_group}
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            package = services.model_package_create(
                project=project,
                user=request.user,
                group=data["group"],
                artifact=data["artifact"],
                input_schema=parse_columns(data["input_schema"]),
                problem_type=data["problem_type"] or None,
                classes=data["classes"] or None,
                description=data["description"],
            )
        except ServiceError as exc:
            form.add_service_error(exc)
        else:
            messages.success(request, f"Uploaded {package}: checking the model now.")
            return redirect("model-package-detail", pk=package.pk)
    jobs = (
        TrainingJob.objects.filter(project=project, job__status=JobStatus.COMPLETED)
        .exclude(model_artifact_key="")
        .order_by("-created_at")[:200]
    )
    return render(
        request,
        "registry/model_package_register.html",
        {
            "section": SECTION,
            "project": project,
            "form": form,
            "training_jobs": jobs,
            "initial_group": initial_group,
            "groups": selectors.model_package_group_list(
                request.user, project_id=project.pk
            ).values_list("name", flat=True),
            "api_url": request.build_absolute_uri(reverse("api-model-package-list")),
        },
    )
