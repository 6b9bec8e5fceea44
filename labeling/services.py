"""Labeling writes: jobs and teams, review, and the results of the model's rounds and of the
finishing pass. The task queue that labelers work through is :mod:`labeling.queue`.

A job moves through phases while InProgress: people label the open items; once none is
left, a model round labels what it can and opens the next batch (automated labeling), or
the finishing pass consolidates the whole job and writes its output. A conditional UPDATE
of the phase makes exactly one caller start each step.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterable, Sequence
from typing import Any, Final

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from labeling.engine.shapes import (
    IMAGE_TASKS,
    LABEL_KINDS,
    TEXT_TASKS,
    LabelError,
    check_label,
)
from labeling.models import (
    Assignment,
    AssignmentStatus,
    Consolidation,
    ItemState,
    LabelingItem,
    LabelingJob,
    LabelingJobStatus,
    LabelingTeam,
    LabelSource,
    Phase,
    TaskType,
)
from studio.choices import DatasetStatus, Role
from studio.errors import ConflictError, ServiceError
from studio.models import Dataset, Membership, Project
from studio.services import job_submit

logger = logging.getLogger(__name__)

SETUP_JOB_KIND: Final = "labeling.setup"
AUTOLABEL_JOB_KIND: Final = "labeling.autolabel"
FINISH_JOB_KIND: Final = "labeling.finish"
WORKER_ROLES: Final = frozenset({Role.OWNER, Role.SCIENTIST, Role.LABELER})
# Automated labeling is Ground Truth's for these (single-label classification and boxes).
AUTO_LABEL_KINDS: Final = frozenset(
    {TaskType.TEXT_CLASSIFICATION, TaskType.IMAGE_CLASSIFICATION, TaskType.BOUNDING_BOX}
)
MAX_LABELS: Final = 200
MAX_WORKERS_PER_ITEM: Final = 5


# --- teams ------------------------------------------------------------------------------
def _check_members(project: Project, usernames: Sequence[str]) -> list[Any]:
    users = []
    for username in usernames:
        membership = (
            Membership.objects.select_related("user")
            .filter(project=project, user__username=username)
            .first()
        )
        if membership is None:
            raise ServiceError(
                "invalid", f"{username!r} is not a member of this project.", field="members"
            )
        users.append(membership.user)
    return users


@transaction.atomic
def labeling_team_create(
    *, project: Project, name: str, members: Sequence[str] = (), description: str = ""
) -> LabelingTeam:
    name = name.strip()
    if not name:
        raise ServiceError("invalid", "A team needs a name.", field="name")
    if LabelingTeam.objects.filter(project=project, name=name).exists():
        raise ConflictError("conflict", f"A team named {name!r} exists already.", field="name")
    users = _check_members(project, members)
    team = LabelingTeam.objects.create(project=project, name=name, description=description)
    team.members.set(users)
    return team


@transaction.atomic
def labeling_team_update(
    *, team: LabelingTeam, members: Sequence[str] | None = None, description: str | None = None
) -> LabelingTeam:
    if members is not None:
        team.members.set(_check_members(team.project, members))
    if description is not None:
        team.description = description
        team.save(update_fields=["description"])
    return team


def labeling_team_delete(*, team: LabelingTeam) -> None:
    team.delete()


# --- jobs -------------------------------------------------------------------------------
def _identifier(name: str) -> str:
    out = "".join(c if c.isalnum() else "_" for c in name.strip().lower()).strip("_")
    return (out or "label")[:100]


def _check_labels(labels: Any) -> list[str]:
    if not isinstance(labels, list) or not labels:
        raise ServiceError("invalid", "labels is a non-empty list of class names.", field="labels")
    if len(labels) > MAX_LABELS:
        raise ServiceError("invalid", f"At most {MAX_LABELS} labels.", field="labels")
    out = []
    for label in labels:
        if not isinstance(label, str) or not label.strip() or len(label) > 200:
            raise ServiceError(
                "invalid", "Each label is a name of 1–200 characters.", field="labels"
            )
        out.append(label.strip())
    if len(set(out)) != len(out):
        raise ServiceError("invalid", "A label is listed twice.", field="labels")
    return out


def _column_names(dataset: Dataset) -> list[str]:
    return [str(c.get("name")) for c in dataset.columns or []]


def _check_column(dataset: Dataset, column: str, field: str) -> str:
    if column not in _column_names(dataset):
        raise ServiceError(
            "invalid",
            f"The dataset has no column {column!r}; it has {', '.join(_column_names(dataset))}.",
            field=field,
        )
    return column


def labeling_job_create(
    *,
    project: Project,
    user: Any,
    name: str,
    dataset: Dataset,
    task_type: str,
    labels: Any,
    data_column: str = "",
    verifies: str = "",
    sequence_column: str = "",
    pre_annotation_column: str = "",
    pre_annotations: list[tuple[int | None, Any, str | None]] | None = None,
    workers_per_item: int | None = None,
    instructions: str = "",
    time_limit_seconds: int = 300,
    show_previous_answers: bool = False,
    consolidation: str = Consolidation.DAWID_SKENE,
    gold_items: Any = None,
    auto_labeling: dict[str, Any] | None = None,
    label_attribute: str = "",
    teams: Sequence[str] = (),
) -> LabelingJob:
    """Check a labeling job's spec, create it Initializing and start the job that turns the
    dataset's rows into items (the job then goes InProgress).

    ``pre_annotations`` are (row or None, label, the item's text or None): imported labels
    are matched to items by row, or else by their text."""
    name = name.strip()
    if not name or len(name) > 120:
        raise ServiceError(
            "invalid", "A labeling job needs a name of 1–120 characters.", field="name"
        )
    if task_type not in TaskType.values:
        raise ServiceError(
            "invalid",
            f"Unknown task_type {task_type!r}; one of {', '.join(TaskType.values)}.",
            field="task_type",
        )
    if dataset.project_id != project.pk:
        raise ServiceError("invalid", "The dataset belongs to another project.", field="dataset")
    if dataset.status != DatasetStatus.READY:
        raise ServiceError(
            "invalid", f"The dataset is {dataset.status}, not Ready.", field="dataset"
        )
    labels = _check_labels(labels)
    kind = task_type
    if task_type == TaskType.VERIFICATION:
        if verifies not in LABEL_KINDS:
            raise ServiceError(
                "invalid",
                "A verification job names the kind of label it reviews in verifies: "
                + ", ".join(sorted(LABEL_KINDS))
                + ".",
                field="verifies",
            )
        if not pre_annotation_column and not pre_annotations:
            raise ServiceError(
                "invalid",
                "A verification job reviews existing labels: give pre_annotation_column or "
                "pre_annotations.",
                field="pre_annotation_column",
            )
        kind = verifies
    elif verifies:
        raise ServiceError("invalid", "verifies is only for verification jobs.", field="verifies")
    images = dataset.is_images
    if (kind in IMAGE_TASKS or kind == TaskType.VIDEO_TRACKING) and not images:
        raise ServiceError(
            "invalid", f"A {kind} job labels images: choose a dataset of images.", field="dataset"
        )
    if kind in TEXT_TASKS and images:
        raise ServiceError(
            "invalid", f"A {kind} job labels text: choose a tabular dataset.", field="dataset"
        )
    data_column = data_column or ("image" if images else "")
    if not data_column:
        raise ServiceError("invalid", "Name the column that holds the text.", field="data_column")
    _check_column(dataset, data_column, "data_column")
    if kind == TaskType.VIDEO_TRACKING:
        sequence_column = sequence_column or "label"
        _check_column(dataset, sequence_column, "sequence_column")
    elif sequence_column:
        raise ServiceError(
            "invalid", "sequence_column is only for video tracking.", field="sequence_column"
        )
    if pre_annotation_column:
        _check_column(dataset, pre_annotation_column, "pre_annotation_column")
    default_workers = 5 if kind == TaskType.BOUNDING_BOX else 3
    workers = default_workers if workers_per_item is None else workers_per_item
    if not isinstance(workers, int) or not 1 <= workers <= MAX_WORKERS_PER_ITEM:
        raise ServiceError(
            "invalid", f"workers_per_item is 1 to {MAX_WORKERS_PER_ITEM}.", field="workers_per_item"
        )
    if not 30 <= time_limit_seconds <= 8 * 3600:
        raise ServiceError(
            "invalid", "time_limit_seconds is 30 to 28,800 (8 hours).", field="time_limit_seconds"
        )
    if consolidation not in Consolidation.values:
        raise ServiceError(
            "invalid",
            f"consolidation is one of {', '.join(Consolidation.values)}.",
            field="consolidation",
        )
    auto = dict(auto_labeling or {})
    unknown = set(auto) - {"enabled", "target_accuracy"}
    if unknown:
        raise ServiceError(
            "invalid",
            f"auto_labeling takes enabled and target_accuracy, not {sorted(unknown)[0]}.",
            field="auto_labeling",
        )
    auto_enabled = bool(auto.get("enabled", False))
    target = auto.get("target_accuracy", 0.95)
    if isinstance(target, bool) or not isinstance(target, int | float) or not 0.5 <= target < 1:
        raise ServiceError(
            "invalid",
            "target_accuracy is a number from 0.5 to just under 1.",
            field="auto_labeling",
        )
    if auto_enabled and task_type not in AUTO_LABEL_KINDS:
        raise ServiceError(
            "invalid",
            "Automated labeling is for single-label text or image classification and boxes.",
            field="auto_labeling",
        )
    gold = _check_gold(gold_items, kind, labels)
    label_attribute = (label_attribute or _identifier(name)).strip()
    if not label_attribute.replace("_", "").replace("-", "").isalnum():
        raise ServiceError(
            "invalid", "label_attribute is letters, digits, '_' or '-'.", field="label_attribute"
        )
    if label_attribute in _column_names(dataset):
        raise ServiceError(
            "invalid",
            f"The dataset has a column {label_attribute!r} already; choose another "
            "label_attribute.",
            field="label_attribute",
        )
    checked_pre = []
    for row, value, match in pre_annotations or []:
        try:
            checked_pre.append((row, check_label(kind, value, labels=labels), match))
        except LabelError as exc:
            raise ServiceError(
                "invalid", f"Pre-annotation of row {row}: {exc.message}", field="pre_annotations"
            )
    team_objs = []
    for team_name in teams:
        team = LabelingTeam.objects.filter(project=project, name=team_name).first()
        if team is None:
            raise ServiceError("invalid", f"No team named {team_name!r}.", field="teams")
        team_objs.append(team)
    with transaction.atomic():
        if LabelingJob.objects.filter(project=project, name=name).exists():
            raise ConflictError(
                "conflict", f"A labeling job named {name!r} exists already.", field="name"
            )
        job = LabelingJob.objects.create(
            project=project,
            name=name,
            dataset=dataset,
            task_type=task_type,
            verifies=verifies,
            data_column=data_column,
            sequence_column=sequence_column,
            pre_annotation_column=pre_annotation_column,
            labels=labels,
            label_attribute=label_attribute,
            workers_per_item=workers,
            instructions=instructions,
            time_limit_seconds=time_limit_seconds,
            show_previous_answers=show_previous_answers,
            consolidation=consolidation,
            auto_labeling=auto_enabled,
            target_accuracy=float(target),
            created_by=user,
        )
        job.teams.set(team_objs)
        job.setup_job = job_submit(
            project=project,
            kind=SETUP_JOB_KIND,
            owner=user,
            name=f"Set up labeling job {name}",
            inputs={"dataset": dataset.pk},
            parameters={
                "labeling_job": job.pk,
                "gold": [[row, value] for row, value in gold.items()],
                "pre_annotations": [list(entry) for entry in checked_pre],
            },
        )
        job.save(update_fields=["setup_job"])
    return job


def _check_gold(gold_items: Any, kind: str, labels: list[str]) -> dict[int, Any]:
    """``[{"row", "label"}]`` or ``{row: label}`` → ``{row: checked label}``."""
    if gold_items in (None, [], {}):
        return {}
    pairs: Iterable[tuple[Any, Any]]
    if isinstance(gold_items, dict):
        pairs = gold_items.items()
    elif isinstance(gold_items, list):
        try:
            pairs = [(g["row"], g["label"]) for g in gold_items]
        except (TypeError, KeyError):
            raise ServiceError(
                "invalid", 'gold_items is a list of {"row", "label"}.', field="gold_items"
            )
    else:
        raise ServiceError(
            "invalid", 'gold_items is a list of {"row", "label"}.', field="gold_items"
        )
    out = {}
    for row, value in pairs:
        try:
            index = int(row)
        except (TypeError, ValueError):
            raise ServiceError(
                "invalid", f"Gold row {row!r} is not a row number.", field="gold_items"
            )
        try:
            out[index] = check_label(kind, value, labels=labels)
        except LabelError as exc:
            raise ServiceError("invalid", f"Gold row {index}: {exc.message}", field="gold_items")
    return out


def auto_labeling_seed(job: LabelingJob) -> int:
    """The seed of a job's automated labeling: it picks the validation sample and drives each
    round (round ``r`` uses ``seed + r``). The job's id: one job's rounds are reproducible,
    and two jobs on the same data draw different samples."""
    return int(job.pk)


def labeling_items_create(
    *, job: LabelingJob, items: list[dict[str, Any]], seed: int | None = None
) -> int:
    """Store the job's items (from its setup run) and put it InProgress. Idempotent: a rerun
    after a crash starts from an empty item table for the job.

    ``items`` are ``{"row", "data", "pre_annotation"?, "gold_label"?}``. With automated
    labeling, a random validation sample and a first training batch of the same size go to
    people first; the rest waits for the model.
    """
    from labeling.engine.autolabel import validation_sample_size

    rng = random.Random(auto_labeling_seed(job) if seed is None else seed)
    n = len(items)
    first: set[int] = set()
    validation: set[int] = set()
    if job.auto_labeling and n:
        size = validation_sample_size(n)
        order = list(range(n))
        rng.shuffle(order)
        validation = set(order[:size])
        first = set(order[size : 2 * size])
    with transaction.atomic():
        locked = LabelingJob.objects.select_for_update(no_key=True).get(pk=job.pk)
        if locked.status != LabelingJobStatus.INITIALIZING:
            return locked.items_total
        LabelingItem.objects.filter(job=locked).delete()
        rows = []
        for i, item in enumerate(items):
            gold = item.get("gold_label") is not None
            held = locked.auto_labeling and i not in validation and i not in first and not gold
            rows.append(
                LabelingItem(
                    job=locked,
                    row=item["row"],
                    data=item["data"],
                    pre_annotation=item.get("pre_annotation"),
                    gold_label=item.get("gold_label"),
                    is_validation=i in validation,
                    state=ItemState.HELD if held else ItemState.OPEN,
                    priority=0 if (i in validation or gold or not locked.auto_labeling) else 1,
                    needed=locked.workers_per_item,
                )
            )
        LabelingItem.objects.bulk_create(rows, batch_size=2000)
        if n >= 10_000 and connection.vendor == "postgresql":
            # The queue's plan depends on fresh statistics; autovacuum would take a while.
            with connection.cursor() as cursor:
                cursor.execute(f"ANALYZE {LabelingItem._meta.db_table}")
        locked.items_total = n
        locked.status = LabelingJobStatus.IN_PROGRESS
        locked.phase = Phase.HUMANS
        locked.save(update_fields=["items_total", "status", "phase", "updated_at"])
    if n == 0:
        labeling_job_advance(job_id=job.pk)
    return n


def labeling_job_fail(*, job_id: int, reason: str) -> None:
    LabelingJob.objects.filter(
        pk=job_id, status__in=[LabelingJobStatus.INITIALIZING, LabelingJobStatus.IN_PROGRESS]
    ).update(
        status=LabelingJobStatus.FAILED, failure_reason=reason[:2000], updated_at=timezone.now()
    )
    _release_open_assignments(job_id)


def _release_open_assignments(job_id: int) -> None:
    Assignment.objects.filter(job_id=job_id, status=AssignmentStatus.ASSIGNED).update(
        status=AssignmentStatus.RELEASED
    )


@transaction.atomic
def labeling_job_stop(*, job: LabelingJob) -> LabelingJob:
    """Stop handing out tasks; what was labeled so far stays and is consolidated."""
    locked = LabelingJob.objects.select_for_update(no_key=True).get(pk=job.pk)
    if not locked.is_active:
        raise ConflictError("conflict", f"The job is {locked.status}; there is nothing to stop.")
    locked.status = LabelingJobStatus.STOPPING
    locked.save(update_fields=["status", "updated_at"])
    _release_open_assignments(locked.pk)
    LabelingItem.objects.filter(job=locked, state=ItemState.OPEN).update(taken=F("submitted"))
    _submit_finish(locked)
    return locked


def _submit_finish(job: LabelingJob) -> None:
    job_submit(
        project=job.project,
        kind=FINISH_JOB_KIND,
        owner=job.created_by,
        name=f"Consolidate and output {job.name}",
        parameters={"labeling_job": job.pk},
    )


def labeling_item_review(
    *, job: LabelingJob, item: LabelingItem, comment: str = "", workers: int = 1
) -> LabelingItem:
    """Send a completed item back to people for review and correction: ``workers`` more
    labelers see it with its current label and answers; their answers replace the label."""
    if not 1 <= workers <= MAX_WORKERS_PER_ITEM:
        raise ServiceError("invalid", f"workers is 1 to {MAX_WORKERS_PER_ITEM}.", field="workers")
    with transaction.atomic():
        locked_job = LabelingJob.objects.select_for_update(no_key=True).get(pk=job.pk)
        locked = LabelingItem.objects.select_for_update(no_key=True).get(pk=item.pk)
        if locked.state != ItemState.DONE:
            raise ConflictError("conflict", "Only a completed item can be sent back for review.")
        if locked_job.status not in (LabelingJobStatus.IN_PROGRESS, LabelingJobStatus.COMPLETED):
            raise ConflictError("conflict", f"The job is {locked_job.status}.")
        locked.state = ItemState.OPEN
        locked.needed = locked.submitted + workers
        locked.taken = locked.submitted
        locked.priority = -1  # reviews go first
        locked.review_comment = comment
        locked.save(update_fields=["state", "needed", "taken", "priority", "review_comment"])
        if locked_job.status == LabelingJobStatus.COMPLETED or locked_job.phase != Phase.HUMANS:
            locked_job.status = LabelingJobStatus.IN_PROGRESS
            locked_job.phase = Phase.HUMANS
            locked_job.completed_at = None
            locked_job.save(update_fields=["status", "phase", "completed_at", "updated_at"])
    return locked


# --- phases: people, the model, the output ----------------------------------------------
def labeling_job_advance(*, job_id: int) -> str | None:
    """Once no item waits for people: another model round if items wait for the model, else
    the finishing pass. A conditional UPDATE makes exactly one caller start it."""
    if LabelingItem.objects.filter(job_id=job_id, state=ItemState.OPEN).exists():
        return None
    held = LabelingItem.objects.filter(job_id=job_id, state=ItemState.HELD).exists()
    phase = Phase.MODEL if held else Phase.FINISHING
    moved = LabelingJob.objects.filter(
        pk=job_id, status=LabelingJobStatus.IN_PROGRESS, phase=Phase.HUMANS
    ).update(phase=phase, updated_at=timezone.now())
    if not moved:
        return None
    job = LabelingJob.objects.select_related("project", "created_by").get(pk=job_id)
    if phase == Phase.MODEL:
        job_submit(
            project=job.project,
            kind=AUTOLABEL_JOB_KIND,
            owner=job.created_by,
            name=f"Auto-label {job.name} (round {len(job.auto_rounds) + 1})",
            parameters={"labeling_job": job.pk, "round": len(job.auto_rounds) + 1},
        )
    else:
        _submit_finish(job)
    return str(phase)


def labeling_auto_round_store(
    *,
    job_id: int,
    round_number: int,
    auto: Sequence[tuple[int, Any, float]],
    next_for_humans: Sequence[int],
    summary: dict[str, Any],
) -> None:
    """Store one model round: ``auto`` items (id, label, confidence) are done, the
    ``next_for_humans`` items join the queue; then the job goes on. Idempotent per round."""
    now = timezone.now()
    with transaction.atomic():
        job = LabelingJob.objects.select_for_update(no_key=True).get(pk=job_id)
        if job.phase != Phase.MODEL or len(job.auto_rounds) >= round_number:
            return
        for item_id, label, confidence in auto:
            LabelingItem.objects.filter(pk=item_id, state=ItemState.HELD).update(
                state=ItemState.DONE,
                label=label,
                confidence=confidence,
                source=LabelSource.AUTO,
                completed_at=now,
            )
        LabelingItem.objects.filter(pk__in=list(next_for_humans), state=ItemState.HELD).update(
            state=ItemState.OPEN, priority=round_number + 1
        )
        job.auto_rounds = [
            *job.auto_rounds,
            {**summary, "round": round_number, "at": now.isoformat()},
        ]
        job.phase = Phase.HUMANS
        job.save(update_fields=["auto_rounds", "phase", "updated_at"])
    labeling_job_advance(job_id=job_id)


def labeling_model_failed(*, job_id: int, reason: str) -> None:
    """A model round that failed sends every waiting item to people instead."""
    with transaction.atomic():
        job = LabelingJob.objects.select_for_update(no_key=True).get(pk=job_id)
        if job.phase != Phase.MODEL:
            return
        LabelingItem.objects.filter(job=job, state=ItemState.HELD).update(
            state=ItemState.OPEN, priority=len(job.auto_rounds) + 2
        )
        job.auto_rounds = [
            *job.auto_rounds,
            {
                "round": len(job.auto_rounds) + 1,
                "failed": reason[:500],
                "at": timezone.now().isoformat(),
            },
        ]
        job.phase = Phase.HUMANS
        job.save(update_fields=["auto_rounds", "phase", "updated_at"])
    labeling_job_advance(job_id=job_id)


def labeling_labels_store(
    *, job_id: int, labels: Sequence[tuple[int, Any, float]], worker_stats: dict[str, Any]
) -> None:
    """The whole-job consolidation's labels (human items) and the workers' quality."""
    with transaction.atomic():
        for item_id, label, confidence in labels:
            LabelingItem.objects.filter(
                pk=item_id, state=ItemState.DONE, source=LabelSource.HUMAN
            ).update(label=label, confidence=confidence)
        LabelingJob.objects.filter(pk=job_id).update(worker_stats=worker_stats)


def labeling_job_complete(*, job_id: int, output_dataset: Dataset | None) -> None:
    """The end of the finishing pass: Completed (or Stopped, if people stopped it)."""
    now = timezone.now()
    with transaction.atomic():
        job = LabelingJob.objects.select_for_update(no_key=True).get(pk=job_id)
        if job.status == LabelingJobStatus.STOPPING:
            job.status = LabelingJobStatus.STOPPED
        elif job.status == LabelingJobStatus.IN_PROGRESS:
            job.status = LabelingJobStatus.COMPLETED
        else:
            return
        job.phase = Phase.HUMANS
        job.output_dataset = output_dataset
        job.completed_at = now
        job.save(update_fields=["status", "phase", "output_dataset", "completed_at", "updated_at"])
