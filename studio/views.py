"""HTML pages of the core: home, projects, datasets, jobs and the ops console.

Views stay thin. They fetch through ``selectors.access_*`` (a stranger gets a 404, a role
that may not see the page a 403 — labelers only ever use the labeling portal), write through
``services.*``, and turn a ``ServiceError`` into a message next to the field it is about.
htmx requests get the partial they ask for from the same view.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import Resolver404, resolve, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRefresh

from studio import ops, selectors, services, storage
from studio.choices import ACTIVE_JOB_STATUSES, DatasetStatus, JobStatus, Role
from studio.errors import ServiceError
from studio.forms import DatasetUploadForm, MemberForm, ProjectForm, TestJobForm
from studio.models import Dataset, Job, Membership, Project
from studio.navigation import SESSION_KEY, current_project, enter_project
from studio.panels import panels
from studio.tables import paginate, sort_header, sort_queryset

LOG_TAIL = 500
PREVIEW_ROWS = 100


class LoginView(auth_views.LoginView):
    template_name = "registration/login.html"
    redirect_authenticated_user = True


class LogoutView(auth_views.LogoutView):
    """POST only (Django's default): a link or a prefetch must never sign anyone out."""


# --- helpers --------------------------------------------------------------------------
def _project_for(request: HttpRequest, *, write: bool = False) -> Project | None:
    """The session's current project, checked like any other access (labelers get 403)."""
    project, _ = current_project(request)
    if project is None:
        return None
    return selectors.access_project(request.user, project.pk, write=write)


def _safe_next(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback


def _no_project(request: HttpRequest, section: str) -> HttpResponse:
    return render(request, "studio/no_project.html", {"section": section, "form": ProjectForm()})


def _fmt_number(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value != 0 and (abs(value) >= 1e12 or abs(value) < 1e-3):
            return f"{value:.3e}"
        if abs(value) >= 1000:
            return f"{value:,.1f}".removesuffix(".0")
        return f"{value:.4g}"
    return str(value)


def _cell(value: Any) -> tuple[str, str]:
    """A preview cell: its text and its CSS class (nulls greyed, numbers right-aligned)."""
    if value is None:
        return "null", "is-null"
    if isinstance(value, bool):
        return str(value).lower(), ""
    if isinstance(value, int):
        return str(value), "is-num"
    if isinstance(value, float):
        return repr(round(value, 6)), "is-num"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False), ""
    return str(value), ""


def _column_cards(profile: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Per-column cards of the Columns tab, numbers formatted for reading."""
    cards = []
    for index, col in enumerate((profile or {}).get("columns", [])):
        kind = col.get("kind", "text")
        count = int(col.get("count") or 0)
        stats = [
            ("Distinct", _fmt_number(col.get("distinct")) + ("≈" if col.get("approximate") else ""))
        ]
        if kind in ("numeric", "datetime"):
            stats += [("Min", _fmt_number(col.get("min"))), ("Max", _fmt_number(col.get("max")))]
        if kind == "numeric":
            stats += [("Mean", _fmt_number(col.get("mean"))), ("Std", _fmt_number(col.get("std")))]
        stats.append(("Present", _fmt_number(count - int(col.get("missing") or 0))))
        top = col.get("top_values") or []
        top_max = max((int(v.get("count") or 0) for v in top), default=0) or 1
        cards.append(
            {
                "index": index,
                "name": col.get("name", ""),
                "dtype": col.get("dtype", ""),
                "kind": kind,
                "missing": int(col.get("missing") or 0),
                "missing_pct": float(col.get("missing_pct") or 0.0),
                "stats": stats,
                "chart": bool(col.get("histogram")) and kind in ("numeric", "datetime"),
                "top_values": [
                    {
                        "value": "null" if v.get("value") is None else str(v.get("value")),
                        "count": int(v.get("count") or 0),
                        "width": round(100 * int(v.get("count") or 0) / top_max, 1),
                    }
                    for v in top[:6]
                ],
            }
        )
    return cards


def _linked_refs(refs: dict[str, Any], project_id: int) -> list[dict[str, Any]]:
    """Rows of a job's inputs/outputs where every id that names a dataset or job is a link."""
    kinds = {"dataset": Dataset, "datasets": Dataset, "job": Job, "jobs": Job}
    rows = []
    for key, value in refs.items():
        model = kinds.get(key)
        ids = value if isinstance(value, list) else [value]
        if model is None or not all(isinstance(i, int) for i in ids):
            rows.append({"key": key, "text": _display_value(value), "links": []})
            continue
        found = {o.pk: o for o in model.objects.filter(pk__in=ids, project_id=project_id)}
        url_name = "dataset-detail" if model is Dataset else "job-detail"
        links = [
            {"url": reverse(url_name, args=[i]), "label": str(found[i]), "id": i}
            if i in found
            else {"url": None, "label": f"#{i} (deleted)", "id": i}
            for i in ids
        ]
        rows.append({"key": key, "text": "", "links": links})
    return rows


def _display_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, indent=None)


# --- home and projects ----------------------------------------------------------------
@login_required
def home(request: HttpRequest) -> HttpResponse:
    roles = set(Membership.objects.filter(user=request.user).values_list("role", flat=True))
    if roles == {Role.LABELER}:
        # Labelers work in the labeling portal; nothing of the studio is theirs to see.
        return redirect(reverse("portal"))
    project = _project_for(request)
    if project is None:
        return render(request, "studio/home_empty.html", {"section": "home", "form": ProjectForm()})
    user = request.user
    summary = selectors.project_summary(user, project)
    datasets, jobs = summary["datasets"], summary["jobs"]
    has_dataset, profiled, first_ready = (
        summary["has_dataset"],
        summary["profiled"],
        summary["first_ready"],
    )
    steps = [
        {
            "title": "Upload a dataset",
            "text": "A CSV, TSV, Parquet, JSON Lines file or a ZIP of images.",
            "done": has_dataset,
            "url": reverse("dataset-upload"),
            "action": "Upload a dataset",
        },
        {
            "title": "Profile it",
            "text": "Column types, missing values, distributions and top values.",
            "done": profiled is not None,
            "url": (reverse("dataset-detail", args=[first_ready.pk]) + "#columns")
            if first_ready
            else None,
            "action": "Open the profile",
        },
        {
            "title": "Train a model",
            "text": "A built-in algorithm or your own script on a dataset, with live metrics.",
            "done": jobs.filter(kind__startswith="training.", status=JobStatus.COMPLETED).exists(),
            "url": reverse("training-job-new") if has_dataset else None,
            "action": "New training job",
        },
    ]
    # The first step not done yet is the one to do now.
    current = next((s for s in steps if not s["done"]), None)
    for step in steps:
        step["current"] = step is current
    context = {
        "section": "home",
        "project": project,
        "dataset_count": summary["dataset_count"],
        "total_rows": summary["total_rows"],
        "storage_bytes": summary["storage_bytes"],
        "active_jobs": summary["active_jobs"],
        "waiting_jobs": summary["waiting_jobs"],
        "failed_count": summary["failed_count"],
        "recent_jobs": jobs[:8],
        "recent_datasets": datasets[:5],
        "failed_jobs": jobs.filter(status=JobStatus.FAILED)[:5],
        "steps": steps,
        "steps_done": sum(1 for s in steps if s["done"]),
        "show_steps": any(not s["done"] for s in steps),
        "member_count": project.memberships.count(),
        "can_write": selectors.membership_of(user, project.pk).can_write,  # type: ignore[union-attr]
        "panels": panels("home", request, project),
    }
    return render(request, "studio/home.html", context)


@login_required
def project_list(request: HttpRequest) -> HttpResponse:
    _, mine = current_project(request)
    roles = {p.pk: p.my_role for p in mine}  # type: ignore[attr-defined]
    projects = (
        selectors.project_list(request.user)
        .annotate(
            n_members=Count("memberships", distinct=True),
            n_datasets=Count("datasets", distinct=True),
        )
        .select_related("created_by")
    )
    rows = [{"project": p, "role": roles.get(p.pk, "")} for p in projects]
    return render(request, "studio/project_list.html", {"section": "projects", "rows": rows})


@login_required
def project_create(request: HttpRequest) -> HttpResponse:
    form = ProjectForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            project = services.project_create(user=request.user, **form.cleaned_data)
        except ServiceError as exc:
            form.add_service_error(exc)
        else:
            request.session[SESSION_KEY] = project.pk
            messages.success(
                request, f"Project “{project.name}” created. You are working in it now."
            )
            return redirect("home")
    return render(request, "studio/project_form.html", {"section": "projects", "form": form})


@login_required
def project_detail(request: HttpRequest, pk: int) -> HttpResponse:
    project = selectors.access_project(request.user, pk)
    membership = selectors.membership_of(request.user, project.pk)
    form = MemberForm(request.POST or None)
    if request.method == "POST":
        project = selectors.access_project(request.user, pk, admin=True)
        if form.is_valid():
            try:
                added = services.project_member_add(project=project, **form.cleaned_data)
            except ServiceError as exc:
                form.add_service_error(exc)
            else:
                messages.success(
                    request, f"{added.user.get_username()} is now {added.role} of {project.name}."
                )
                return redirect("project-detail", pk=project.pk)
    members = project.memberships.select_related("user").order_by("user__username")
    current, _ = current_project(request)
    context = {
        "section": "projects",
        "project": project,
        "members": members,
        "form": form,
        "can_admin": membership is not None and membership.can_admin,
        "is_current": current is not None and current.pk == project.pk,
        "dataset_count": selectors.dataset_list(
            request.user, project=project, latest_only=True
        ).count(),
        "job_count": selectors.job_list(request.user, project=project).count(),
    }
    return render(request, "studio/project_detail.html", context)


# Detail pages belong to one project: after a switch, go to the list of the same section.
SWITCH_LANDING = {
    "dataset-detail": "dataset-list",
    "job-detail": "job-list",
    "project-detail": "home",
    "dataset-upload": "dataset-upload",
}


@login_required
@require_POST
def project_switch(request: HttpRequest, pk: int) -> HttpResponse:
    project = selectors.access_project(request.user, pk, any_member=True)
    request.session[SESSION_KEY] = project.pk
    target = _safe_next(request, reverse("home"))
    try:
        url_name = resolve(target.split("?", 1)[0]).url_name
    except Resolver404:
        url_name = None
    if url_name in SWITCH_LANDING:
        target = reverse(SWITCH_LANDING[url_name])
    return HttpResponseRedirect(target)


# --- datasets -------------------------------------------------------------------------
DATASET_SORTS = {
    "name": "name",
    "version": "version",
    "status": "status",
    "format": "format",
    "rows": "num_rows",
    "size": "source_bytes",
    "created": "created_at",
}


@login_required
def dataset_list(request: HttpRequest) -> HttpResponse:
    project = _project_for(request)
    if project is None:
        return _no_project(request, "dataset-list")
    q = request.GET.get("q", "").strip()[:200]
    qs = selectors.dataset_list(request.user, project=project, latest_only=True, search=q)
    qs, sort = sort_queryset(request, qs, DATASET_SORTS, "-created")
    page = paginate(request, qs)
    headers = [
        sort_header(request, sort, "name", "Name"),
        sort_header(request, sort, "version", "Version", num=True, first_desc=True),
        sort_header(request, sort, "status", "Status"),
        sort_header(request, sort, "format", "Format"),
        sort_header(request, sort, "rows", "Rows × columns", num=True, first_desc=True),
        sort_header(request, sort, "size", "Size", num=True, first_desc=True),
        sort_header(request, sort, "created", "Created", first_desc=True),
    ]
    context = {
        "section": "dataset-list",
        "project": project,
        "page": page,
        "headers": headers,
        "q": q,
        "can_write": selectors.membership_of(request.user, project.pk).can_write,  # type: ignore[union-attr]
        "total": page.paginator.count,
    }
    if request.htmx:
        return render(request, "studio/partials/dataset_table.html", context)
    return render(request, "studio/dataset_list.html", context)


@login_required
def dataset_upload(request: HttpRequest) -> HttpResponse:
    project = _project_for(request, write=True)
    if project is None:
        return _no_project(request, "dataset-list")
    form = DatasetUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            dataset = services.dataset_upload(
                project=project,
                user=request.user,
                upload=form.cleaned_data["file"],
                name=form.cleaned_data["name"],
            )
        except ServiceError as exc:
            form.add_service_error(exc)
        else:
            messages.success(request, f"Uploaded {dataset.source_filename}: ingesting now.")
            return redirect("dataset-detail", pk=dataset.pk)
    context = {
        "section": "dataset-list",
        "project": project,
        "form": form,
        "api_url": request.build_absolute_uri(reverse("api-dataset-list")),
        "max_upload_bytes": settings.SEXTANT_MAX_UPLOAD_BYTES,
    }
    return render(request, "studio/dataset_upload.html", context)


@login_required
def dataset_detail(request: HttpRequest, pk: int) -> HttpResponse:
    from studio.engine.ingest import preview_parquet

    dataset = selectors.access_dataset(request.user, pk)
    part = request.GET.get("part")
    if request.htmx and part == "ingest":
        # Poll while Pending; once it is not, the whole page must change: reload it.
        if dataset.status != DatasetStatus.PENDING:
            return HttpResponseClientRefresh()
        return render(request, "studio/partials/ingest_progress.html", {"dataset": dataset})
    if request.htmx and part == "profile":
        job = dataset.profile_job
        if dataset.profile is not None or job is None or job.is_finished:
            return HttpResponseClientRefresh()
        return render(request, "studio/partials/profile_progress.html", {"dataset": dataset})

    enter_project(request, dataset.project_id)
    membership = selectors.membership_of(request.user, dataset.project_id)
    columns: list[dict[str, str]] = []
    rows: list[list[tuple[str, str]]] = []
    preview_error = ""
    if dataset.status == DatasetStatus.READY and dataset.data_key:
        try:
            with storage.open_local(dataset.data_key) as path:
                names, raw_rows = preview_parquet(path, limit=PREVIEW_ROWS)
        except Exception as exc:  # a missing or unreadable file must not take the page down
            preview_error = f"The data file cannot be read: {exc}"
        else:
            dtypes = {c["name"]: c["dtype"] for c in dataset.columns or []}
            columns = [{"name": n, "dtype": dtypes.get(n, "")} for n in names]
            rows = [[_cell(v) for v in row] for row in raw_rows]
    profile_job = dataset.profile_job
    context = {
        "section": "dataset-list",
        "dataset": dataset,
        "versions": selectors.dataset_versions(dataset),
        "can_write": membership is not None and membership.can_write,
        "preview_columns": columns,
        "preview_rows": rows,
        "preview_error": preview_error,
        "cards": _column_cards(dataset.profile),
        "profile_columns": (dataset.profile or {}).get("columns", []),
        "profile_job": profile_job,
        "profile_running": profile_job is not None
        and not profile_job.is_finished
        and dataset.profile is None,
        "ingest_job": dataset.ingest_job,
        "download_url": reverse("api-dataset-download", args=[dataset.pk]),
    }
    return render(request, "studio/dataset_detail.html", context)


@login_required
@require_POST
def dataset_profile(request: HttpRequest, pk: int) -> HttpResponse:
    dataset = selectors.access_dataset(request.user, pk, write=True)
    try:
        job = services.dataset_profile_start(dataset=dataset, user=request.user)
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Profiling in job #{job.pk}.")
    return HttpResponseRedirect(reverse("dataset-detail", args=[dataset.pk]) + "#columns")


# --- jobs -----------------------------------------------------------------------------
JOB_SORTS = {
    "id": "id",
    "name": "name",
    "status": "status",
    "queue": "queue",
    "created": "created_at",
    "owner": "owner__username",
}


@login_required
def job_list(request: HttpRequest) -> HttpResponse:
    everything = request.GET.get("scope") == "all" and request.user.is_staff
    project = None if everything else _project_for(request)
    if project is None and not everything:
        return _no_project(request, "job-list")
    base = selectors.job_list(request.user, project=project)
    status = request.GET.get("status", "")
    status = status if status in JobStatus.values else ""
    kinds = sorted(base.values_list("kind", flat=True).order_by().distinct())
    kind = request.GET.get("kind", "")
    kind = kind if kind in kinds else ""
    status_counts = dict(
        base.filter(**({"kind": kind} if kind else {}))
        .values_list("status")
        .annotate(n=Count("id"))
        .order_by()
    )
    qs = base.filter(**{k: v for k, v in {"status": status, "kind": kind}.items() if v})
    qs, sort = sort_queryset(request, qs, JOB_SORTS, "-created")
    page = paginate(request, qs)

    def status_url(value: str) -> str:
        params = request.GET.copy()
        params.pop("page", None)
        params.pop("status", None)
        if value:
            params["status"] = value
        return f"?{params.urlencode()}"

    chips = [{"label": "All", "value": "", "n": sum(status_counts.values()), "url": status_url("")}]
    chips += [
        {"label": s, "value": s, "n": status_counts.get(s, 0), "url": status_url(s)}
        for s in JobStatus.values
        if status_counts.get(s) or s == status
    ]
    headers = [
        sort_header(request, sort, "id", "Job", first_desc=True),
        sort_header(request, sort, "status", "Status"),
        {"label": "Progress", "url": None},
        sort_header(request, sort, "queue", "Queue"),
        sort_header(request, sort, "owner", "Owner"),
        sort_header(request, sort, "created", "Created", first_desc=True),
        {"label": "Duration", "url": None, "num": True},
    ]
    context = {
        "section": "job-list",
        "project": project,
        "everything": everything,
        "page": page,
        "headers": headers,
        "chips": chips,
        "status": status,
        "kind": kind,
        "kinds": kinds,
        "total": page.paginator.count,
        "can_write": project is not None
        and selectors.membership_of(request.user, project.pk).can_write,  # type: ignore[union-attr]
    }
    if request.htmx:
        return render(request, "studio/partials/job_table.html", context)
    return render(request, "studio/job_list.html", context)


@login_required
def job_detail(request: HttpRequest, pk: int) -> HttpResponse:
    job = selectors.access_job(request.user, pk)
    enter_project(request, job.project_id)
    membership = selectors.membership_of(request.user, job.project_id)
    can_write = request.user.is_staff or (membership is not None and membership.can_write)
    total_logs = job.logs.count()
    logs = list(job.logs.order_by("-id")[:LOG_TAIL])[::-1]
    series = selectors.job_metric_series(job)
    metrics = [
        {
            "name": name,
            "points": points,
            "last": points[-1][1],
            "min": min(v for _, v in points),
            "max": max(v for _, v in points),
        }
        for name, points in series.items()
    ]
    context = {
        "section": "job-list",
        "job": job,
        "can_write": can_write,
        "can_stop": can_write and job.status in ACTIVE_JOB_STATUSES,
        "can_retry": can_write and job.status in (JobStatus.FAILED, JobStatus.STOPPED),
        "logs": logs,
        "logs_truncated": total_logs > len(logs),
        "total_logs": total_logs,
        "last_log_id": logs[-1].pk if logs else 0,
        "metrics": metrics,
        "metric_data": {m["name"]: [[s, v] for s, v in m["points"]] for m in metrics},
        "inputs": _linked_refs(job.inputs or {}, job.project_id),
        "outputs": _linked_refs(job.outputs or {}, job.project_id),
        "parameters": [(k, _display_value(v)) for k, v in (job.parameters or {}).items()],
        "resources": [(k, _display_value(v)) for k, v in (job.resources or {}).items()],
        "active_statuses": list(ACTIVE_JOB_STATUSES),
    }
    return render(request, "studio/job_detail.html", context)


def _job_action(
    request: HttpRequest, pk: int, action: Callable[..., Job], done: Callable[[Job], str]
) -> HttpResponse:
    job = selectors.access_job(request.user, pk, write=True)
    try:
        job = action(job=job, user=request.user)
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, done(job))
    return HttpResponseRedirect(_safe_next(request, reverse("job-detail", args=[job.pk])))


@login_required
@require_POST
def job_stop(request: HttpRequest, pk: int) -> HttpResponse:
    return _job_action(
        request, pk, services.job_stop, lambda job: f"Job #{job.pk} is {job.status.lower()}."
    )


@login_required
@require_POST
def job_retry(request: HttpRequest, pk: int) -> HttpResponse:
    return _job_action(
        request, pk, services.job_retry, lambda job: f"Job #{job.pk} will run again."
    )


# --- ops ------------------------------------------------------------------------------
@login_required
def ops_console(request: HttpRequest) -> HttpResponse:
    if not request.user.is_staff:
        raise PermissionDenied("The ops console is for staff.")
    if request.method == "POST":
        return _ops_test_job(request)
    everything = selectors.job_list(request.user)
    context = {
        "section": "ops",
        "snap": ops.snapshot(),
        "active_jobs": everything.filter(status__in=ACTIVE_JOB_STATUSES)[:50],
        "failed_jobs": everything.filter(status=JobStatus.FAILED)[:25],
        "test_form": TestJobForm(),
        "stale_seconds": settings.SEXTANT_WORKER_STALE_SECONDS,
        "panels": panels("ops", request, None),
    }
    return render(request, "studio/ops.html", context)


def _ops_test_job(request: HttpRequest) -> HttpResponse:
    form = TestJobForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a diagnostic job kind.")
        return redirect("ops")
    current, _ = current_project(request)
    project = current or Project.objects.order_by("id").first()
    if project is None:
        messages.error(request, "Create a project first: test jobs run inside one.")
        return redirect("ops")
    kind = form.cleaned_data["kind"]
    job = services.job_submit(
        project=project,
        kind=kind,
        owner=request.user,
        name=f"Ops check ({kind})",
        parameters={"seconds": 10} if kind == "diagnostic.sleep" else {},
    )
    messages.success(request, f"Test job #{job.pk} sent to the {job.queue} queue.")
    return redirect("job-detail", pk=job.pk)
