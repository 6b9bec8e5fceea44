"""Labeling reads shared by pages, the portal and the API, with their permission checks.

Two audiences: the project's scientists read whole jobs (``access_labeling_job``), while a
labeler reaches only the jobs they work on and their own tasks (``access_job_as_worker``).
A stranger gets a 404 either way; a labeler asking for a scientist's view gets a 404 too, so
nothing of a job they do not work on is revealed.
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import timedelta
from typing import Any, Final

from django.db.models import Avg, Count, Exists, F, OuterRef, Q, QuerySet
from django.db.models.functions import TruncHour
from django.http import Http404
from django.utils import timezone

from labeling.consolidation import similarity
from labeling.models import (
    Assignment,
    AssignmentStatus,
    ItemState,
    LabelingItem,
    LabelingJob,
    LabelingJobStatus,
    LabelingTeam,
    LabelSource,
)
from studio.choices import Role
from studio.models import Membership
from studio.models.projects import READ_ROLES
from studio.selectors import check_role, membership_of, readable_project_ids

# How long a worker's right to a job is remembered by a process: the next-task hot path then
# makes no permission query. A removed labeler keeps access at most this long (as long as an
# API token is remembered by the hot path); a stopped job hands out nothing at once anyway.
WORKER_CACHE_SECONDS: Final = 30.0
_worker_cache: dict[tuple[int, int], tuple[float, LabelingJob | None]] = {}


def _get(qs: QuerySet[Any], pk: Any, what: str) -> Any:
    try:
        return qs.get(pk=int(pk))
    except (TypeError, ValueError, qs.model.DoesNotExist):
        raise Http404(f"No such {what}.")


def access_labeling_job(user: Any, job_id: Any, *, write: bool = False) -> LabelingJob:
    """A job as its project's readers see it (labelers get a 404: they use the portal)."""
    job = _get(
        LabelingJob.objects.select_related("project", "dataset", "created_by", "output_dataset"),
        job_id,
        "labeling job",
    )
    membership = membership_of(user, job.project_id)
    if membership is not None and membership.role == Role.LABELER:
        raise Http404("No such labeling job.")
    check_role(membership, write=write, what="labeling job")
    return job


def access_job_as_worker(user: Any, job_id: Any) -> LabelingJob:
    """A job the user may label (cached briefly per process), else a 404."""
    try:
        pk = int(job_id)
    except (TypeError, ValueError):
        raise Http404("No such labeling job.")
    key = (int(user.pk), pk)
    now = time.monotonic()
    hit = _worker_cache.get(key)
    if hit is not None and now - hit[0] < WORKER_CACHE_SECONDS:
        job = hit[1]
    else:
        job = worker_jobs(user).filter(pk=pk).select_related("project").first()
        if len(_worker_cache) > 10_000:
            _worker_cache.clear()
        _worker_cache[key] = (now, job)
    if job is None:
        raise Http404("No such labeling job.")
    return job


def forget_worker_cache() -> None:
    _worker_cache.clear()


def worker_jobs(user: Any) -> QuerySet[LabelingJob]:
    """The jobs the user may label: a labeler's, of their teams if the job names teams;
    every job of the projects where they are an owner or a scientist."""
    if not getattr(user, "is_authenticated", False):
        return LabelingJob.objects.none()
    labeler_projects = Membership.objects.filter(user=user, role=Role.LABELER).values("project_id")
    other_projects = Membership.objects.filter(
        user=user, role__in=[Role.OWNER, Role.SCIENTIST]
    ).values("project_id")
    in_team = LabelingTeam.objects.filter(jobs=OuterRef("pk"), members=user)
    any_team = LabelingTeam.objects.filter(jobs=OuterRef("pk"))
    return LabelingJob.objects.filter(
        Q(project_id__in=other_projects)
        | (Q(project_id__in=labeler_projects) & (Exists(in_team) | ~Exists(any_team)))
    ).order_by("-created_at", "-id")


def worker_job_summaries(user: Any) -> list[dict[str, Any]]:
    """The portal's list: the active jobs the user may label, each with its items still open
    and the user's own submitted answers (two grouped queries, whatever the job count)."""
    jobs = list(
        worker_jobs(user).filter(status__in=active_statuses()).select_related("project")[:200]
    )
    ids = [job.pk for job in jobs]
    remaining = dict(
        LabelingItem.objects.filter(job_id__in=ids, state=ItemState.OPEN)
        .values("job_id")
        .annotate(n=Count("id"))
        .order_by()
        .values_list("job_id", "n")
    )
    answers = dict(
        Assignment.objects.filter(job_id__in=ids, worker=user, status=AssignmentStatus.SUBMITTED)
        .values("job_id")
        .annotate(n=Count("id"))
        .order_by()
        .values_list("job_id", "n")
    )
    return [
        {"job": job, "remaining": remaining.get(job.pk, 0), "answers": answers.get(job.pk, 0)}
        for job in jobs
    ]


def access_assignment_item(user: Any, job: LabelingJob, item_id: Any) -> LabelingItem:
    """An item of the job that the user may see: any item for the project's readers, only
    the items of their own assignments for a labeler."""
    item = _get(LabelingItem.objects.filter(job=job), item_id, "item")
    membership = membership_of(user, job.project_id)
    if membership is not None and membership.role in READ_ROLES:
        return item
    if Assignment.objects.filter(item=item, worker=user).exists():
        return item
    raise Http404("No such item.")


def access_labeling_team(user: Any, team_id: Any, *, write: bool = False) -> LabelingTeam:
    team = _get(LabelingTeam.objects.select_related("project"), team_id, "team")
    membership = membership_of(user, team.project_id)
    if membership is not None and membership.role == Role.LABELER:
        raise Http404("No such team.")
    check_role(membership, write=write, what="team")
    return team


def labeling_job_list(
    user: Any, *, project_id: Any = None, status: str | None = None, search: str = ""
) -> QuerySet[LabelingJob]:
    qs = LabelingJob.objects.select_related("project", "dataset", "created_by").filter(
        project_id__in=readable_project_ids(user)
    )
    if project_id is not None:
        qs = qs.filter(project_id=project_id)
    if status:
        qs = qs.filter(status=status)
    if search:
        qs = qs.filter(name__icontains=search)
    return qs.annotate(
        items_done=Count("items", filter=Q(items__state=ItemState.DONE)),
        items_auto=Count(
            "items", filter=Q(items__state=ItemState.DONE, items__source=LabelSource.AUTO)
        ),
    ).order_by("-created_at", "-id")


def labeling_team_list(user: Any, *, project_id: Any = None) -> QuerySet[LabelingTeam]:
    qs = LabelingTeam.objects.filter(project_id__in=readable_project_ids(user)).prefetch_related(
        "members"
    )
    if project_id is not None:
        qs = qs.filter(project_id=project_id)
    return qs.order_by("project_id", "name")


def job_progress(job: LabelingJob) -> dict[str, int]:
    """Items by state and source, in one grouped query."""
    counts = {ItemState.HELD: 0, ItemState.OPEN: 0, "human": 0, "auto": 0}
    rows = (
        LabelingItem.objects.filter(job=job)
        .values("state", "source")
        .annotate(n=Count("id"))
        .order_by()
    )
    for row in rows:
        if row["state"] == ItemState.DONE:
            counts["auto" if row["source"] == LabelSource.AUTO else "human"] += row["n"]
        else:
            counts[row["state"]] += row["n"]
    total = job.items_total or sum(counts.values())
    done = counts["human"] + counts["auto"]
    return {
        "total": total,
        "done": done,
        "human": counts["human"],
        "auto": counts["auto"],
        "open": counts[ItemState.OPEN],
        "held": counts[ItemState.HELD],
    }


def progress_shares(done: int, auto: int, total: int) -> dict[str, Any]:
    """A progress bar's numbers: items labeled by people and by the model, as counts and
    percentages of ``total``."""

    def pct(part: int) -> float:
        return round(100.0 * part / total, 1) if total else 0.0

    return {
        "total": total,
        "done": done,
        "human": done - auto,
        "auto": auto,
        "human_pct": pct(done - auto),
        "auto_pct": pct(auto),
        "done_pct": pct(done),
    }


def job_stats(job: LabelingJob, *, disputed: int = 10, hours: int = 24) -> dict[str, Any]:
    """Everything the job's dashboard shows: progress, labels per hour, agreement, the
    class distribution, the worker leaderboard and the most disputed items."""
    progress = job_progress(job)
    submitted = Assignment.objects.filter(job=job, status=AssignmentStatus.SUBMITTED)
    since = timezone.now() - timedelta(hours=hours)
    per_hour = list(
        submitted.filter(submitted_at__gte=since)
        .annotate(hour=TruncHour("submitted_at"))
        .values("hour")
        .annotate(n=Count("id"))
        .order_by("hour")
    )
    last_hour = submitted.filter(submitted_at__gte=timezone.now() - timedelta(hours=1)).count()
    done = LabelingItem.objects.filter(job=job, state=ItemState.DONE)
    agreement = done.filter(source=LabelSource.HUMAN).aggregate(a=Avg("confidence"))["a"]
    distribution = _class_distribution(job, done)
    leaders = list(
        submitted.values("worker__username")
        .annotate(answers=Count("id"), seconds=Avg("seconds"))
        .order_by("-answers", "worker__username")[:20]
    )
    # The finishing pass's whole-job quality when there is one, else a live estimate.
    quality = job.worker_stats or _live_quality(job, submitted)
    leaderboard = [
        {
            "worker": row["worker__username"],
            "answers": row["answers"],
            "mean_seconds": None if row["seconds"] is None else round(row["seconds"], 1),
            **{k: v for k, v in quality.get(row["worker__username"], {}).items() if k != "answers"},
        }
        for row in leaders
    ]
    disputed_items = list(
        # Unanimous items (confidence 1) are not disputed, however low the list runs.
        done.filter(source=LabelSource.HUMAN, confidence__lt=1.0)
        .order_by("confidence", "id")
        .only("id", "row", "label", "confidence", "data")[:disputed]
    )
    answers = item_annotations([item.pk for item in disputed_items])
    most_disputed = [
        {
            "item_id": item.pk,
            "row": item.row,
            "label": item.label,
            "confidence": item.confidence,
            "text": str(item.data.get("text") or "")[:300],
            "has_image": "image" in item.data or "frames" in item.data,
            "answers": [a["label"] for a in answers[item.pk]],
        }
        for item in disputed_items
    ]
    auto_rounds = job.auto_rounds or []
    estimated = next(
        (
            r.get("estimated_accuracy")
            for r in reversed(auto_rounds)
            if r.get("estimated_accuracy") is not None
        ),
        None,
    )
    return {
        "status": job.status,
        "phase": job.phase,
        "progress": progress,
        "labels_per_hour": last_hour,
        "per_hour": [{"hour": r["hour"].isoformat(), "answers": r["n"]} for r in per_hour],
        "agreement": None if agreement is None else round(float(agreement), 4),
        "class_distribution": distribution,
        "leaderboard": leaderboard,
        "most_disputed": most_disputed,
        "auto_labeling": {
            "enabled": job.auto_labeling,
            "target_accuracy": job.target_accuracy,
            "estimated_accuracy": estimated,
            "rounds": auto_rounds,
        },
        "active_workers": submitted.filter(submitted_at__gte=timezone.now() - timedelta(minutes=15))
        .values("worker_id")
        .distinct()
        .count(),
    }


def _live_quality(job: LabelingJob, submitted: QuerySet[Assignment]) -> dict[str, Any]:
    """Each worker's agreement with the items' labels so far, and accuracy on gold items,
    for single-label jobs (where an answer either is the label or is not)."""
    if job.label_kind not in ("text_classification", "image_classification"):
        return {}
    on_done = Q(item__state=ItemState.DONE, item__source=LabelSource.HUMAN)
    on_gold = Q(item__gold_label__isnull=False)
    rows = submitted.values("worker__username").annotate(
        done=Count("id", filter=on_done),
        agreed=Count("id", filter=on_done & Q(label=F("item__label"))),
        gold=Count("id", filter=on_done & on_gold),
        gold_right=Count("id", filter=on_done & on_gold & Q(label=F("item__gold_label"))),
    )
    return {
        row["worker__username"]: {
            "agreement": row["agreed"] / row["done"] if row["done"] else None,
            "gold_accuracy": row["gold_right"] / row["gold"] if row["gold"] else None,
        }
        for row in rows.order_by()
    }


def _class_distribution(job: LabelingJob, done: QuerySet[LabelingItem]) -> list[dict[str, Any]]:
    """How often each class was given: items for classification, shapes for the others."""
    counter: Counter[str] = Counter()
    labels = job.labels
    # Labels of classification jobs are short strings: a grouped query does it in SQL.
    if job.label_kind in ("text_classification", "image_classification"):
        for row in done.values("label").annotate(n=Count("id")).order_by():
            counter[str(row["label"])] += row["n"]
    else:
        for value in done.values_list("label", flat=True).iterator(chunk_size=2000):
            for name in _names_in(value):
                counter[name] += 1
    return [{"label": name, "count": counter.get(name, 0)} for name in labels]


def _names_in(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return _names_in(value.get("label"))
    if isinstance(value, list):
        out = []
        for v in value:
            if isinstance(v, str):
                out.append(v)
            elif isinstance(v, dict) and isinstance(v.get("label"), str):
                out.append(v["label"])
        return out
    return []


def job_labels(job: LabelingJob, *, item_ids: list[int] | None = None) -> QuerySet[LabelingItem]:
    qs = LabelingItem.objects.filter(job=job, state=ItemState.DONE).order_by("row")
    if item_ids is not None:
        qs = qs.filter(pk__in=item_ids)
    return qs


def item_annotations(item_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """Every submitted answer of these items, by item, oldest first."""
    out: dict[int, list[dict[str, Any]]] = {i: [] for i in item_ids}
    rows = (
        Assignment.objects.filter(item_id__in=item_ids, status=AssignmentStatus.SUBMITTED)
        .order_by("submitted_at", "id")
        .values("item_id", "worker__username", "label", "submitted_at", "is_review", "seconds")
    )
    for row in rows:
        out[row["item_id"]].append(
            {
                "worker": row["worker__username"],
                "label": row["label"],
                "submitted_at": row["submitted_at"].isoformat() if row["submitted_at"] else None,
                "review": row["is_review"],
                "seconds": row["seconds"],
            }
        )
    return out


def worker_stats(user: Any, job: LabelingJob) -> dict[str, Any]:
    """A labeler's own numbers in a job: answers, today's, median time, agreement so far."""
    mine = Assignment.objects.filter(job=job, worker=user, status=AssignmentStatus.SUBMITTED)
    today = timezone.now() - timedelta(hours=24)
    agreed = mine.filter(item__state=ItemState.DONE, item__source=LabelSource.HUMAN)
    # How close each answer came to the final label: equality for classes, matched spans
    # and boxes (a final box carries a confidence, so == would never hold); none for masks
    # and tracks, which have no simple measure.
    scores = []
    for a in agreed.values("label", "item__label", "item__pre_annotation")[:2000]:
        answer = a["label"]
        if isinstance(answer, dict) and "verdict" in answer:
            accepted = answer["verdict"] == "accept"
            answer = a["item__pre_annotation"] if accepted else answer.get("label")
        score = similarity(job.label_kind, answer, a["item__label"])
        if score is not None:
            scores.append(score)
    return {
        "answers": mine.count(),
        "last_24h": mine.filter(submitted_at__gte=today).count(),
        "mean_seconds": mine.aggregate(s=Avg("seconds"))["s"],
        "agreement": (sum(scores) / len(scores)) if scores else None,
        "remaining": LabelingItem.objects.filter(job=job, state=ItemState.OPEN).count(),
    }


def previous_answers(item: LabelingItem, *, exclude_worker: Any) -> list[Any]:
    return list(
        Assignment.objects.filter(item=item, status=AssignmentStatus.SUBMITTED)
        .exclude(worker=exclude_worker)
        .order_by("submitted_at")
        .values_list("label", flat=True)
    )


def active_statuses() -> tuple[str, ...]:
    return (LabelingJobStatus.INITIALIZING, LabelingJobStatus.IN_PROGRESS)
