"""The task queue: next task, submit, skip and expiry — the labelers' hot path.

It keeps the invariants of :mod:`labeling.models` under any concurrency:
- Handing out is one indexed query for the first open item with a free slot that this worker
  has never had (``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL), then a conditional
  ``UPDATE … SET taken = taken + 1 WHERE taken < needed`` and an INSERT that the unique
  ``(item, worker)`` constraint guards. The conditional UPDATE and the constraint alone keep
  the invariants where there is no row locking (SQLite): a lost race just tries the next item.
- Submitting locks the assignment and then its item, so an item's answers are counted once
  and it is consolidated exactly when its last answer arrives.
- Nothing here counts over the whole job per request; progress is read by the dashboard.
- On PostgreSQL the common cases of taking and submitting a task run as single statements
  (:mod:`labeling.queue_sql`); the ORM path keeps the same rules for every backend.
- Row locks are ``FOR NO KEY UPDATE``: inserting an assignment takes a key-share lock on its
  item and job (the foreign keys), which a plain ``FOR UPDATE`` would make wait.
"""

from __future__ import annotations

import time
from contextlib import nullcontext
from datetime import timedelta
from typing import Any, Final

from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, F, OuterRef
from django.http import Http404
from django.utils import timezone

from labeling import queue_sql
from labeling.consolidation import consolidate_item, geometry_of
from labeling.engine.shapes import LabelError, check_label, check_verdict
from labeling.models import (
    Assignment,
    AssignmentStatus,
    ItemState,
    LabelingItem,
    LabelingJob,
    LabelingJobStatus,
    LabelSource,
    Phase,
    TaskType,
)
from labeling.services import labeling_job_advance
from studio.errors import ConflictError, ServiceError

# Candidates tried when a concurrent labeler takes the same item first (SQLite only loses
# such races; PostgreSQL skips rows another transaction holds).
_CLAIM_TRIES: Final = 8


def next_task(*, job: LabelingJob, worker: Any) -> Assignment | None:
    """The worker's current task in this job, else a new one; None when nothing is left for
    them. ``job`` may be a cached copy: only its id, time limit and workers per item are read,
    and its status is checked by the query itself. Expired assignments are reclaimed here
    when the queue looks empty (and by beat's pass in any case)."""
    now = timezone.now()
    if connection.vendor == "postgresql":
        return _next_task_postgresql(job, worker, now)
    current = (
        Assignment.objects.filter(
            worker=worker, job_id=job.pk, status=AssignmentStatus.ASSIGNED, expires_at__gt=now
        )
        .select_related("item")
        .first()
    )
    if current is not None:
        return current
    assignment = _claim(job, worker, now)
    if assignment is None and assignments_expire(job_id=job.pk):
        assignment = _claim(job, worker, now)
    return assignment


def _next_task_postgresql(job: LabelingJob, worker: Any, now: Any) -> Assignment | None:
    """The same as the ORM path, in one statement per attempt (see :mod:`queue_sql`)."""
    expires = now + timedelta(seconds=job.time_limit_seconds)
    reclaimed = False
    for attempt in range(_CLAIM_TRIES):
        try:
            # The statement is atomic by itself; inside a caller's transaction it needs a
            # savepoint, so that a lost race does not abort the caller's work.
            with transaction.atomic() if connection.in_atomic_block else nullcontext():
                assignment = queue_sql.claim(
                    job_id=job.pk,
                    worker_id=worker.pk,
                    workers_per_item=job.workers_per_item,
                    now=now,
                    expires=expires,
                )
        except IntegrityError:
            continue  # this worker took the same item from another tab at the same moment
        if assignment is not None:
            return assignment
        if queue_sql.candidates_exist(job_id=job.pk, worker_id=worker.pk):
            # Every free item was locked by someone's transaction for a moment.
            time.sleep(0.002 * (attempt + 1))
            continue
        if reclaimed or not assignments_expire(job_id=job.pk):
            return None
        reclaimed = True
    return None


def _claim(job: LabelingJob, worker: Any, now: Any) -> Assignment | None:
    had = Assignment.objects.filter(item_id=OuterRef("pk"), worker=worker)
    skip: list[int] = []
    for _ in range(_CLAIM_TRIES):
        with transaction.atomic():
            qs = (
                LabelingItem.objects.filter(
                    job_id=job.pk, state=ItemState.OPEN, job__status=LabelingJobStatus.IN_PROGRESS
                )
                .filter(taken__lt=F("needed"))
                .exclude(Exists(had))
                .order_by("priority", "id")
            )
            if skip:
                qs = qs.exclude(pk__in=skip)
            item = (
                qs.select_for_update(skip_locked=True, no_key=True, of=("self",))
                .only("id", "job_id", "data", "pre_annotation", "needed", "taken")
                .first()
            )
            if item is None:
                return None
            claimed = LabelingItem.objects.filter(
                pk=item.pk, state=ItemState.OPEN, taken__lt=F("needed")
            ).update(taken=F("taken") + 1)
            if claimed:
                try:
                    with transaction.atomic():
                        assignment = Assignment.objects.create(
                            job_id=job.pk,
                            item=item,
                            worker=worker,
                            is_review=bool(item.needed > job.workers_per_item),
                            created_at=now,
                            expires_at=now + timedelta(seconds=job.time_limit_seconds),
                        )
                except IntegrityError:
                    # This worker took the item in another tab meanwhile: give the slot back.
                    LabelingItem.objects.filter(pk=item.pk).update(taken=F("taken") - 1)
                    skip.append(item.pk)
                    continue
                return assignment
        skip.append(item.pk)
    return None


def assignments_expire(*, job_id: int | None = None) -> int:
    """Give the slots of assignments past their time limit back to the queue."""
    now = timezone.now()
    # Unordered, so that the partial index of live assignments answers it.
    qs = Assignment.objects.filter(status=AssignmentStatus.ASSIGNED, expires_at__lte=now).order_by()
    if job_id is not None:
        qs = qs.filter(job_id=job_id)
    expired = 0
    with transaction.atomic():
        rows = list(
            qs.select_for_update(skip_locked=True, no_key=True, of=("self",)).values_list(
                "pk", "item_id"
            )[:5000]
        )
        for pk, item_id in rows:
            if Assignment.objects.filter(pk=pk, status=AssignmentStatus.ASSIGNED).update(
                status=AssignmentStatus.EXPIRED
            ):
                LabelingItem.objects.filter(pk=item_id, taken__gt=0).update(taken=F("taken") - 1)
                expired += 1
    return expired


def _own_assignment(assignment_id: int, worker: Any) -> Assignment:
    assignment = (
        Assignment.objects.select_for_update(no_key=True, of=("self",))
        .select_related("job")
        .filter(pk=assignment_id, worker=worker)
        .first()
    )
    if assignment is None:
        raise Http404("No such assignment.")
    return assignment


def _check_answer(task_type: str, verifies: str, labels: list[str], label: Any, data: Any) -> Any:
    geometry = geometry_of(data)
    try:
        if task_type == TaskType.VERIFICATION:
            return check_verdict(verifies, label, labels=labels, geometry=geometry)
        return check_label(task_type, label, labels=labels, geometry=geometry)
    except LabelError as exc:
        raise ServiceError("invalid", exc.message, field="label")


# What a submission is checked against never changes once a job exists: remember it.
_answer_specs: dict[int, tuple[str, str, list[str]]] = {}


def _answer_spec(job_id: int) -> tuple[str, str, list[str]]:
    spec = _answer_specs.get(job_id)
    if spec is None:
        job = LabelingJob.objects.only("task_type", "verifies", "labels").get(pk=job_id)
        spec = (job.task_type, job.verifies, list(job.labels))
        if len(_answer_specs) > 10_000:
            _answer_specs.clear()
        _answer_specs[job_id] = spec
    return spec


class _Raced(Exception):
    """The assignment or its item changed between the read and the write."""


def _submit_postgresql(assignment_id: int, worker: Any, label: Any) -> Assignment | None:
    """The common case — an assigned task of an open item — in a read and one statement;
    None leaves every other case to the ORM path (which also answers 404 and 409)."""
    row = queue_sql.read(assignment_id=assignment_id, worker_id=worker.pk)
    if row is None or row["status"] != AssignmentStatus.ASSIGNED:
        return None
    if row["item_state"] != ItemState.OPEN:
        return None
    checked = _check_answer(*_answer_spec(row["job_id"]), label, row["data"])
    now = timezone.now()
    try:
        with transaction.atomic():
            counts = queue_sql.submit(
                assignment_id=assignment_id, worker_id=worker.pk, label=checked, now=now
            )
            if counts is None:
                raise _Raced
    except _Raced:
        return None
    submitted, needed = counts
    if submitted >= needed:
        _complete_item(row["item_id"], row["job_id"])
    return Assignment(
        pk=assignment_id,
        job_id=row["job_id"],
        item_id=row["item_id"],
        worker=worker,
        status=AssignmentStatus.SUBMITTED,
        label=checked,
        submitted_at=now,
    )


def _complete_item(item_id: int, job_id: int) -> None:
    """Consolidate an item whose last answer just arrived (once, under its row lock)."""
    task_type, verifies, labels = _answer_spec(job_id)
    job = LabelingJob(pk=job_id, task_type=task_type, verifies=verifies, labels=labels)
    with transaction.atomic():
        item = LabelingItem.objects.select_for_update(no_key=True).get(pk=item_id)
        if item.state != ItemState.OPEN or item.submitted < item.needed:
            return
        _consolidate(job, item, timezone.now())
        item.save(update_fields=["state", "label", "confidence", "source", "completed_at"])
        transaction.on_commit(lambda: _advance_if_drained(job_id))


def assignment_submit(*, assignment_id: int, worker: Any, label: Any) -> Assignment:
    """Store the worker's answer once; the item is consolidated when its last answer arrives.

    Submitting the same label again returns the stored assignment unchanged (a retried
    request); a different label for a submitted assignment is a conflict.
    """
    if connection.vendor == "postgresql":
        done = _submit_postgresql(assignment_id, worker, label)
        if done is not None:
            return done
    with transaction.atomic():
        assignment = _own_assignment(assignment_id, worker)
        job = assignment.job
        item = LabelingItem.objects.select_for_update(no_key=True).get(pk=assignment.item_id)
        checked = _check_answer(job.task_type, job.verifies, job.labels, label, item.data)
        if assignment.status == AssignmentStatus.SUBMITTED:
            if assignment.label != checked:
                raise ConflictError(
                    "already_submitted", "This assignment was submitted with another label."
                )
            return assignment
        if assignment.status in (AssignmentStatus.SKIPPED, AssignmentStatus.RELEASED):
            raise ConflictError(
                f"assignment_{assignment.status}",
                f"This assignment was {assignment.status}; take the next task.",
            )
        now = timezone.now()
        if assignment.status == AssignmentStatus.EXPIRED:
            # Its slot went back to the queue; the answer still counts if one is free.
            if item.state != ItemState.OPEN or item.taken >= item.needed:
                raise ConflictError(
                    "assignment_expired", "The time limit passed and the item went to others."
                )
            item.taken += 1
        elif item.state == ItemState.DONE:
            raise ConflictError("assignment_released", "The item was labeled meanwhile.")
        assignment.status = AssignmentStatus.SUBMITTED
        assignment.label = checked
        assignment.submitted_at = now
        assignment.seconds = (now - assignment.created_at).total_seconds()
        assignment.save(update_fields=["status", "label", "submitted_at", "seconds"])
        item.submitted += 1
        fields = ["taken", "submitted"]
        if item.submitted >= item.needed:
            _consolidate(job, item, now)
            fields += ["state", "label", "confidence", "source", "completed_at"]
        item.save(update_fields=fields)
        if item.state == ItemState.DONE:
            job_id = job.pk
            transaction.on_commit(lambda: _advance_if_drained(job_id))
    return assignment


def _consolidate(job: LabelingJob, item: LabelingItem, now: Any) -> None:
    """Set the item's label from its answers (called under the item's row lock)."""
    answers = list(
        Assignment.objects.filter(item=item, status=AssignmentStatus.SUBMITTED)
        .order_by("submitted_at", "id")
        .values("label", "is_review")
    )
    reviews = [a["label"] for a in answers if a["is_review"]]
    labels = reviews or [a["label"] for a in answers]
    label, confidence = consolidate_item(job, item, labels)
    if item.gold_label is not None:
        label, confidence = item.gold_label, 1.0
    item.state = ItemState.DONE
    item.label = label
    item.confidence = confidence
    item.source = LabelSource.HUMAN
    item.completed_at = now


def _advance_if_drained(job_id: int) -> None:
    if not LabelingItem.objects.filter(job_id=job_id, state=ItemState.OPEN).exists():
        labeling_job_advance(job_id=job_id)


def assignment_skip(*, assignment_id: int, worker: Any) -> Assignment:
    """The worker passes on this item: its slot goes back to others, never to them again."""
    with transaction.atomic():
        assignment = _own_assignment(assignment_id, worker)
        if assignment.status == AssignmentStatus.SKIPPED:
            return assignment
        if assignment.status != AssignmentStatus.ASSIGNED:
            raise ConflictError(
                f"assignment_{assignment.status}", f"This assignment was {assignment.status}."
            )
        assignment.status = AssignmentStatus.SKIPPED
        assignment.save(update_fields=["status"])
        LabelingItem.objects.filter(pk=assignment.item_id, taken__gt=0).update(taken=F("taken") - 1)
    return assignment


def labeling_job_maintain() -> dict[str, int]:
    """Beat's pass: expired assignments go back to the queue; drained jobs move on."""
    expired = assignments_expire()
    advanced = 0
    stuck = LabelingJob.objects.filter(
        status=LabelingJobStatus.IN_PROGRESS, phase=Phase.HUMANS
    ).filter(~Exists(LabelingItem.objects.filter(job_id=OuterRef("pk"), state=ItemState.OPEN)))
    for job_id in stuck.values_list("pk", flat=True)[:100]:
        if labeling_job_advance(job_id=job_id):
            advanced += 1
    return {"expired": expired, "advanced": advanced}
