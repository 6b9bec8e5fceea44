"""The studio's labeling pages for a project's scientists: the jobs, the new-job form (it
posts to the API from the page), and a job's live dashboard. Labelers work in the portal:
these pages answer them 403 (the lists) or 404 (a job), as the selectors decide."""

from __future__ import annotations

from collections import Counter
from typing import Any, Final

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import F, FloatField, Value
from django.db.models.functions import Cast, Coalesce, Greatest
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_POST

from labeling import selectors, services
from labeling.exports import EXPORT_FORMATS
from labeling.markup import render_instructions
from labeling.models import (
    Consolidation,
    ItemState,
    LabelingJob,
    LabelingJobStatus,
    LabelingTeam,
    TaskType,
)
from studio.choices import DatasetStatus
from studio.errors import ServiceError
from studio.models import Dataset, Project
from studio.navigation import enter_project, page_project
from studio.selectors import access_dataset, can_write
from studio.tables import paginate, sort_header, sort_queryset

SECTION: Final = "labeling-job-list"
POLL_SECONDS: Final = 3
JOB_SORTS: Final = {
    "name": "name",
    "task": "task_type",
    "dataset": "dataset__name",
    "status": "status",
    "progress": "done_ratio",
    "workers": "workers_per_item",
    "created": "created_at",
}
# One line each on the new-job form: what a labeler does, and on what data.
TASK_HELP: Final = {
    TaskType.TEXT_CLASSIFICATION: "One class per text: sentiment, topic, intent, spam.",
    TaskType.TEXT_MULTILABEL: "Any number of classes per text (tags).",
    TaskType.NER: "Highlight spans of text and tag each one with a class.",
    TaskType.IMAGE_CLASSIFICATION: "One class per image.",
    TaskType.IMAGE_MULTILABEL: "Any number of classes per image.",
    TaskType.BOUNDING_BOX: "Draw a box around every object and name its class.",
    TaskType.SEMANTIC_SEGMENTATION: "Outline regions with polygons or a brush, by class.",
    TaskType.VIDEO_TRACKING: "Follow objects with boxes across the frames of a sequence.",
    TaskType.VERIFICATION: "Review existing labels (a model's, another job's): accept or adjust.",
}
IMAGE_KINDS: Final = frozenset(
    {
        TaskType.IMAGE_CLASSIFICATION,
        TaskType.IMAGE_MULTILABEL,
        TaskType.BOUNDING_BOX,
        TaskType.SEMANTIC_SEGMENTATION,
        TaskType.VIDEO_TRACKING,
    }
)
COCO_KINDS: Final = frozenset({TaskType.BOUNDING_BOX, TaskType.SEMANTIC_SEGMENTATION})
EXPORT_LABELS: Final = {
    "manifest": ("Output manifest", "Ground Truth JSON Lines"),
    "csv": ("CSV", "one row per item"),
    "coco": ("COCO", "boxes and masks"),
    "label_studio": ("Label Studio", "tasks JSON"),
}


def _no_project(request: HttpRequest) -> HttpResponse:
    return render(request, "studio/no_project.html", {"section": SECTION})


@login_required
def labeling_job_list(request: HttpRequest) -> HttpResponse:
    project = page_project(request)
    if project is None:
        return _no_project(request)
    q = request.GET.get("q", "").strip()[:200]
    qs = selectors.labeling_job_list(request.user, project_id=project.pk, search=q).annotate(
        done_ratio=Cast(F("items_done"), FloatField())
        / Greatest(Coalesce(F("items_total"), Value(0)), Value(1))
    )
    qs, sort = sort_queryset(request, qs, JOB_SORTS, "-created")
    page = paginate(request, qs)
    rows = [
        {
            "job": job,
            "progress": selectors.progress_shares(job.items_done, job.items_auto, job.items_total),
            "muted": job.status in (LabelingJobStatus.FAILED, LabelingJobStatus.STOPPED),
        }
        for job in page.object_list
    ]
    headers = [
        sort_header(request, sort, "name", "Name"),
        sort_header(request, sort, "task", "Task type"),
        sort_header(request, sort, "dataset", "Dataset"),
        sort_header(request, sort, "status", "Status"),
        sort_header(request, sort, "progress", "Progress", first_desc=True),
        sort_header(request, sort, "workers", "Workers", num=True, first_desc=True),
        sort_header(request, sort, "created", "Created", first_desc=True),
    ]
    context = {
        "section": SECTION,
        "project": project,
        "page": page,
        "rows": rows,
        "headers": headers,
        "q": q,
        "total": page.paginator.count,
        "can_write": can_write(request.user, project.pk),
    }
    if request.htmx:
        return render(request, "labeling/partials/job_table.html", context)
    return render(request, "labeling/job_list.html", context)


def _datasets(project: Project) -> list[dict[str, Any]]:
    qs = Dataset.objects.filter(project=project, status=DatasetStatus.READY)
    return [
        {
            "id": d.pk,
            "label": f"{d.name} v{d.version} · {d.num_rows or 0:,} "
            + ("images" if d.is_images else "rows"),
            "images": d.is_images,
            "columns": [
                {"name": str(c.get("name")), "dtype": str(c.get("dtype", ""))}
                for c in d.columns or []
            ],
        }
        for d in qs.order_by("name", "-version")[:500]
    ]


def _task_types() -> list[dict[str, Any]]:
    return [
        {
            "value": value,
            "label": str(label),
            "help": TASK_HELP[TaskType(value)],
            "images": value in IMAGE_KINDS,
            "workers": 5 if value == TaskType.BOUNDING_BOX else 3,
            "auto": value in services.AUTO_LABEL_KINDS,
        }
        for value, label in TaskType.choices
    ]


@login_required
def labeling_job_new(request: HttpRequest) -> HttpResponse:
    """The form posts to the API from the page; errors show beside their fields.
    ``?dataset=<id>`` preselects a dataset (the dataset page's Label action). An htmx POST
    of ``instructions`` answers their preview, rendered as labelers will see them."""
    project = page_project(request)
    if project is None:
        return _no_project(request)
    if request.method == "POST":
        if not request.htmx:
            return HttpResponseNotAllowed(["GET"])
        return HttpResponse(render_instructions(request.POST.get("instructions", "")[:100_000]))
    selected = None
    wanted = request.GET.get("dataset", "")
    if wanted.isdigit():
        dataset = access_dataset(request.user, wanted)
        if dataset.project_id == project.pk:
            selected = dataset.pk
    config = {
        "project": project.pk,
        "api": reverse("api-labeling-job-list"),
        "detail": reverse("labeling-job-detail", args=[0]).replace("/0/", "/{id}/"),
        "datasets": _datasets(project),
        "selected": selected,
        "taskTypes": _task_types(),
        "teams": list(
            LabelingTeam.objects.filter(project=project)
            .order_by("name")
            .values_list("name", flat=True)
        ),
        "consolidations": [{"value": v, "label": str(label)} for v, label in Consolidation.choices],
    }
    return render(
        request,
        "labeling/job_new.html",
        {
            "section": SECTION,
            "project": project,
            "config": config,
            "can_write": can_write(request.user, project.pk),
        },
    )


def _exports(job: LabelingJob) -> list[dict[str, str]]:
    base = reverse("api-labeling-job-export", args=[job.pk])
    return [
        {
            "format": fmt,
            "label": EXPORT_LABELS[fmt][0],
            "hint": EXPORT_LABELS[fmt][1],
            "url": f"{base}?format={fmt}",
        }
        for fmt in EXPORT_FORMATS
        if fmt != "coco" or job.label_kind in COCO_KINDS
    ]


def _share(value: float | None) -> float | None:
    return None if value is None else round(100.0 * value, 1)


def label_text(label: Any) -> str:
    """A label in a few words: a class, classes, ``3 · car, person`` for shapes, a verdict."""
    if label is None:
        return "—"
    if isinstance(label, str):
        return label
    if isinstance(label, dict):
        if "verdict" in label:
            adjusted = label.get("label")
            return "accepted" if adjusted is None else f"adjusted: {label_text(adjusted)}"
        return str(label.get("label", "…"))
    if isinstance(label, list):
        if not label:
            return "none"
        if all(isinstance(v, str) for v in label):
            return ", ".join(label)
        names = sorted({str(v.get("label")) for v in label if isinstance(v, dict)})
        return f"{len(label)} · {', '.join(names)}"
    return str(label)


def _votes(answers: list[Any]) -> list[dict[str, Any]]:
    counts = Counter(label_text(a) for a in answers)
    return [{"label": name, "n": n} for name, n in counts.most_common()]


def _eta(remaining_answers: int, per_hour: int) -> str:
    if remaining_answers <= 0:
        return "nothing left for people"
    if per_hour <= 0:
        return "no answers in the last hour"
    hours = remaining_answers / per_hour
    if hours < 1:
        return f"about {max(1, round(hours * 60))} min at this pace"
    return f"about {hours:.1f} h at this pace"


def _dashboard(job: LabelingJob, stats: dict[str, Any]) -> dict[str, Any]:
    """The dashboard's first drawing; dashboard.js redraws the same from the stats API."""
    progress = stats["progress"]
    auto = stats["auto_labeling"]
    rounds = []
    for r in auto["rounds"]:
        at = parse_datetime(r["at"]) if isinstance(r.get("at"), str) else None
        rounds.append({**r, "estimated_pct": _share(r.get("estimated_accuracy")), "at_dt": at})
    remaining = progress["open"] + progress["held"]
    most = max((w["answers"] for w in stats["leaderboard"]), default=0) or 1
    return {
        "bar": selectors.progress_shares(progress["done"], progress["auto"], progress["total"]),
        "agreement_pct": _share(stats["agreement"]),
        "remaining": remaining,
        "eta": _eta(remaining * job.workers_per_item, stats["labels_per_hour"]),
        "leaders": [
            {
                **w,
                "answers_pct": round(100.0 * w["answers"] / most, 1),
                "agreement_pct": _share(w.get("agreement")),
                "gold_pct": _share(w.get("gold_accuracy")),
            }
            for w in stats["leaderboard"]
        ],
        "disputed": [
            {
                **d,
                "label_text": label_text(d["label"]),
                "confidence_pct": _share(d["confidence"]) or 0.0,
                "votes": _votes(d.get("answers", [])),
            }
            for d in stats["most_disputed"]
        ],
        "auto": {
            "estimated_pct": _share(auto["estimated_accuracy"]),
            "target_pct": _share(auto["target_accuracy"]),
        },
        "rounds": rounds,
    }


@login_required
def labeling_job_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The job's dashboard: progress (human vs auto), pace, agreement, classes, workers,
    the most disputed items; the items; the spec. Its numbers refresh from the stats API."""
    job = selectors.access_labeling_job(request.user, pk)
    enter_project(request, job.project_id)
    stats = selectors.job_stats(job)
    finished = job.status in (
        LabelingJobStatus.COMPLETED,
        LabelingJobStatus.FAILED,
        LabelingJobStatus.STOPPED,
    )
    context = {
        "section": SECTION,
        "job": job,
        "project": job.project,
        "stats": stats,
        **_dashboard(job, stats),
        "finished": finished,
        "poll_ms": POLL_SECONDS * 1000,
        "can_write": can_write(request.user, job.project_id),
        "exports": _exports(job),
        "instructions_html": render_instructions(job.instructions),
        "teams": [t.name for t in job.teams.all()],
        "images": job.label_kind in IMAGE_KINDS,
        "item_states": ItemState.values,
        "task_help": TASK_HELP.get(TaskType(job.task_type), ""),
        "kind_label": TaskType(job.label_kind).label if job.label_kind else "",
    }
    return render(request, "labeling/job_detail.html", context)


@login_required
@require_POST
def labeling_job_stop(request: HttpRequest, pk: int) -> HttpResponse:
    job = selectors.access_labeling_job(request.user, pk, write=True)
    try:
        services.labeling_job_stop(job=job)
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request, f"Stopping {job.name}: the labels so far are consolidated into its output."
        )
    return redirect("labeling-job-detail", pk=job.pk)


@login_required
@require_POST
def labeling_item_review(request: HttpRequest, pk: int, item_pk: int) -> HttpResponse:
    """Send a labeled item back to people (the dashboard's disputed items)."""
    job = selectors.access_labeling_job(request.user, pk, write=True)
    item = selectors.access_assignment_item(request.user, job, item_pk)
    try:
        workers = int(request.POST.get("workers") or 1)
    except ValueError:
        workers = 1
    try:
        services.labeling_item_review(
            job=job, item=item, comment=request.POST.get("comment", "")[:5000], workers=workers
        )
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            f"Item {item.row} is back in the queue: {workers} more labeler"
            f"{'s' if workers != 1 else ''} will review its label.",
        )
    return redirect(reverse("labeling-job-detail", args=[job.pk]))


@login_required
def labeling_teams(request: HttpRequest) -> HttpResponse:
    """The project's labeling teams: who is in each, and (for scientists) a form to make one,
    change its members or remove it."""
    project = page_project(request)
    if project is None:
        return _no_project(request)
    writable = can_write(request.user, project.pk)
    error: ServiceError | None = None
    if request.method == "POST":
        if not writable:
            raise PermissionDenied("Your role may not change the project's teams.")
        action = request.POST.get("action", "create")
        members = request.POST.getlist("members")
        try:
            if action == "create":
                team = services.labeling_team_create(
                    project=project,
                    name=request.POST.get("name", ""),
                    members=members,
                    description=request.POST.get("description", ""),
                )
                messages.success(request, f"Team {team.name} created.")
            else:
                team = selectors.access_labeling_team(
                    request.user, request.POST.get("team"), write=True
                )
                if action == "delete":
                    services.labeling_team_delete(team=team)
                    messages.success(request, f"Team {team.name} removed.")
                else:
                    services.labeling_team_update(team=team, members=members)
                    messages.success(request, f"Team {team.name} updated.")
        except ServiceError as exc:
            error = exc
        else:
            return redirect("labeling-teams")
    teams = selectors.labeling_team_list(request.user, project_id=project.pk)
    people = project.memberships.select_related("user").order_by("user__username")
    context = {
        "section": SECTION,
        "project": project,
        "teams": [{"team": t, "members": {u.pk for u in t.members.all()}} for t in teams],
        "people": people,
        "can_write": writable,
        "error": error,
        "posted": request.POST if error else None,
    }
    return render(request, "labeling/teams.html", context, status=400 if error else 200)
