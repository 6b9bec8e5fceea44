"""Labeling jobs (Ground Truth): items of a dataset, handed out to labelers as assignments,
their answers consolidated into one label per item with a confidence.

Invariants (they hold under any concurrency; :mod:`labeling.services` keeps them):
- An item is handed to ``needed`` **distinct** workers: ``(item, worker)`` is unique among
  assignments, so a worker never gets the same item twice, even after skipping it or letting
  it expire.
- ``taken`` counts an item's live assignments plus its submitted ones and never exceeds
  ``needed``; an assignment that expires or is skipped gives its slot back.
- An assignment is submitted at most once; a second submit of the same label is a no-op.
- An item is ``done`` once ``submitted == needed`` (human) or a model labeled it (auto); its
  ``label``, ``confidence`` and ``source`` are then set.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class TaskType(models.TextChoices):
    TEXT_CLASSIFICATION = "text_classification", "Text classification"
    TEXT_MULTILABEL = "text_multilabel", "Text classification (multi-label)"
    NER = "ner", "Named entities (spans)"
    IMAGE_CLASSIFICATION = "image_classification", "Image classification"
    IMAGE_MULTILABEL = "image_multilabel", "Image classification (multi-label)"
    BOUNDING_BOX = "bounding_box", "Bounding boxes"
    SEMANTIC_SEGMENTATION = "semantic_segmentation", "Semantic segmentation"
    VIDEO_TRACKING = "video_tracking", "Video object tracking"
    VERIFICATION = "verification", "Label verification"


class LabelingJobStatus(models.TextChoices):
    """Ground Truth's LabelingJobStatus."""

    INITIALIZING = "Initializing"
    IN_PROGRESS = "InProgress"
    COMPLETED = "Completed"
    FAILED = "Failed"
    STOPPING = "Stopping"
    STOPPED = "Stopped"


class Phase(models.TextChoices):
    """What an InProgress job waits for: people, the auto-labeling model, or its output."""

    HUMANS = "humans"
    MODEL = "model"
    FINISHING = "finishing"


class Consolidation(models.TextChoices):
    DAWID_SKENE = "dawid_skene", "Dawid–Skene"
    MAJORITY_VOTE = "majority_vote", "Majority vote"


class ItemState(models.TextChoices):
    HELD = "held"  # waiting for the auto-labeling model; not in the human queue
    OPEN = "open"  # in the human queue
    DONE = "done"


class LabelSource(models.TextChoices):
    HUMAN = "human"
    AUTO = "auto"


class AssignmentStatus(models.TextChoices):
    ASSIGNED = "assigned"
    SUBMITTED = "submitted"
    SKIPPED = "skipped"
    EXPIRED = "expired"
    RELEASED = "released"  # the job stopped, or the model labeled the item meanwhile


class LabelingTeam(models.Model):
    """A named group of a project's members that jobs can be given to."""

    project = models.ForeignKey(
        "studio.Project", on_delete=models.CASCADE, related_name="labeling_teams"
    )
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True, default="")
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="labeling_teams")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="labeling_team_unique_name")
        ]
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class LabelingJob(models.Model):
    project = models.ForeignKey(
        "studio.Project", on_delete=models.CASCADE, related_name="labeling_jobs"
    )
    name = models.CharField(max_length=120)
    dataset = models.ForeignKey(
        "studio.Dataset", null=True, on_delete=models.SET_NULL, related_name="labeling_jobs"
    )
    task_type = models.CharField(max_length=32, choices=TaskType.choices)
    # For a verification job: the kind of label it reviews (its items' pre-annotations).
    verifies = models.CharField(max_length=32, blank=True, default="", choices=TaskType.choices)
    data_column = models.CharField(max_length=200)
    # Video tracking: the column whose value groups frames into one sequence (one item).
    sequence_column = models.CharField(max_length=200, blank=True, default="")
    pre_annotation_column = models.CharField(max_length=200, blank=True, default="")
    labels = models.JSONField(default=list)
    label_attribute = models.CharField(max_length=120)
    workers_per_item = models.PositiveSmallIntegerField(default=3)
    instructions = models.TextField(blank=True, default="")
    time_limit_seconds = models.PositiveIntegerField(default=300)
    show_previous_answers = models.BooleanField(default=False)
    consolidation = models.CharField(
        max_length=20, choices=Consolidation.choices, default=Consolidation.DAWID_SKENE
    )
    auto_labeling = models.BooleanField(default=False)
    target_accuracy = models.FloatField(default=0.95)
    teams = models.ManyToManyField(LabelingTeam, blank=True, related_name="jobs")

    status = models.CharField(
        max_length=16, choices=LabelingJobStatus.choices, default=LabelingJobStatus.INITIALIZING
    )
    phase = models.CharField(max_length=16, choices=Phase.choices, default=Phase.HUMANS)
    failure_reason = models.TextField(blank=True, default="")
    items_total = models.PositiveIntegerField(default=0)
    # Automated labeling: one entry per model round (threshold, estimated accuracy, counts).
    auto_rounds = models.JSONField(default=list, blank=True)
    # Worker quality from the last whole-job consolidation: {username: {...}}.
    worker_stats = models.JSONField(default=dict, blank=True)
    output_dataset = models.ForeignKey(
        "studio.Dataset", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    setup_job = models.ForeignKey(
        "studio.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="labeling_job_unique_name")
        ]
        indexes = [models.Index(fields=["project", "-created_at"], name="labeling_job_recent")]
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.name

    @property
    def label_kind(self) -> str:
        """The shape of a label: the job's own task type, or what a verification reviews."""
        return self.verifies if self.task_type == TaskType.VERIFICATION else self.task_type

    @property
    def is_active(self) -> bool:
        return self.status in (LabelingJobStatus.INITIALIZING, LabelingJobStatus.IN_PROGRESS)


class LabelingItem(models.Model):
    job = models.ForeignKey(LabelingJob, on_delete=models.CASCADE, related_name="items")
    row = models.PositiveIntegerField()  # the first source row of the item in the dataset
    data = models.JSONField()  # {"text"} | {"image", "width", "height"} | {"frames": [...]}
    pre_annotation = models.JSONField(null=True, blank=True)
    gold_label = models.JSONField(null=True, blank=True)
    is_validation = models.BooleanField(default=False)  # held out to judge the auto-labeler

    state = models.CharField(max_length=8, choices=ItemState.choices, default=ItemState.OPEN)
    priority = models.IntegerField(default=0)  # lower is handed out first
    needed = models.PositiveSmallIntegerField()
    taken = models.PositiveSmallIntegerField(default=0)
    submitted = models.PositiveSmallIntegerField(default=0)

    label = models.JSONField(null=True, blank=True)
    confidence = models.FloatField(null=True, blank=True)
    source = models.CharField(max_length=8, blank=True, default="", choices=LabelSource.choices)
    review_comment = models.TextField(blank=True, default="")
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["job", "row"], name="labeling_item_unique_row"),
            models.CheckConstraint(
                condition=Q(taken__lte=models.F("needed")), name="labeling_item_taken_lte_needed"
            ),
        ]
        indexes = [
            # The queue: one index scan in priority order over the open items only.
            models.Index(
                fields=["job", "priority", "id"],
                name="labeling_item_queue",
                condition=Q(state="open"),
            ),
            models.Index(fields=["job", "state"], name="labeling_item_state"),
            models.Index(fields=["job", "confidence"], name="labeling_item_confidence"),
        ]
        ordering = ["job_id", "row"]

    def __str__(self) -> str:
        return f"item {self.row} of {self.job_id}"


class Assignment(models.Model):
    job = models.ForeignKey(LabelingJob, on_delete=models.CASCADE, related_name="assignments")
    item = models.ForeignKey(LabelingItem, on_delete=models.CASCADE, related_name="assignments")
    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="labeling_assignments"
    )
    status = models.CharField(
        max_length=10, choices=AssignmentStatus.choices, default=AssignmentStatus.ASSIGNED
    )
    is_review = models.BooleanField(default=False)
    label = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    submitted_at = models.DateTimeField(null=True, blank=True)
    seconds = models.FloatField(null=True, blank=True)  # time from hand-out to submit

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["item", "worker"], name="assignment_once_per_worker")
        ]
        indexes = [
            models.Index(fields=["worker", "job", "status"], name="assignment_worker"),
            models.Index(fields=["job", "status", "expires_at"], name="assignment_expiry"),
            # Beat's pass over every job: only the tasks out with labelers, by deadline.
            models.Index(
                fields=["expires_at"], name="assignment_live", condition=Q(status="assigned")
            ),
            models.Index(fields=["job", "submitted_at"], name="assignment_submitted"),
        ]
        ordering = ["id"]

    def __str__(self) -> str:
        return f"assignment {self.pk} ({self.status})"
