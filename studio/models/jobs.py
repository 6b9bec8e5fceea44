"""Jobs: every unit of compute, whatever app it belongs to.

Status flows ``Pending → Starting → Running → Completed | Failed`` and, when stopped,
``… → Stopping → Stopped``. Transitions are conditional UPDATEs made by
:mod:`studio.jobs` (never by assigning ``status`` and saving), so two workers, a reaper and a
person pressing Stop can never each believe they own the same job. ``attempts`` counts
claims; a run may only finish the job while ``attempts`` still equals its own claim.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from studio.choices import FINISHED_JOB_STATUSES, JobStatus, LogLevel, Queue


class Job(models.Model):
    project = models.ForeignKey("studio.Project", on_delete=models.CASCADE, related_name="jobs")
    kind = models.CharField(max_length=64)
    name = models.CharField(max_length=200, blank=True, default="")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.PENDING)
    queue = models.CharField(max_length=16, choices=Queue.choices, default=Queue.DEFAULT)
    # {"instance_type", "instance_count", "max_runtime_seconds", "allow_cpu_fallback"}
    resources = models.JSONField(default=dict, blank=True)
    parameters = models.JSONField(default=dict, blank=True)
    # References to datasets and artifacts: {"dataset": 12} / {"datasets": [...]}
    inputs = models.JSONField(default=dict, blank=True)
    outputs = models.JSONField(default=dict, blank=True)
    failure_reason = models.TextField(blank=True, default="")
    # Why a Pending job is not running yet ("no GPU worker is online"), shown in the UI.
    pending_reason = models.CharField(max_length=300, blank=True, default="")
    progress = models.FloatField(default=0.0)
    attempts = models.PositiveIntegerField(default=0)
    max_attempts = models.PositiveIntegerField(default=3)
    cancel_requested = models.BooleanField(default=False)
    worker = models.CharField(max_length=255, blank=True, default="")
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["project", "-created_at"], name="job_project_recent"),
            models.Index(fields=["status", "lease_expires_at"], name="job_status_lease"),
            models.Index(fields=["-created_at"], name="job_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk}"

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED_JOB_STATUSES

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at is None:
            return None
        end = self.finished_at or self.updated_at
        return max(0.0, (end - self.started_at).total_seconds())

    @property
    def progress_percent(self) -> int:
        return round(100 * self.progress)


class JobLog(models.Model):
    """One append-only log line; ``id`` orders lines and lets clients ask for what is new."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="logs")
    created_at = models.DateTimeField()
    level = models.CharField(max_length=8, choices=LogLevel.choices, default=LogLevel.INFO)
    message = models.TextField()

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["job", "id"], name="joblog_job_id")]

    def __str__(self) -> str:
        return self.message[:80]


class JobMetric(models.Model):
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="metrics")
    name = models.CharField(max_length=120)
    step = models.BigIntegerField(default=0)
    value = models.FloatField()
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["job", "name", "step"], name="jobmetric_series")]

    def __str__(self) -> str:
        return f"{self.name}[{self.step}]={self.value}"


class Artifact(models.Model):
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="artifacts")
    name = models.CharField(max_length=255)
    storage_key = models.CharField(max_length=500)
    size = models.BigIntegerField(default=0)
    content_type = models.CharField(max_length=120, default="application/octet-stream")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["job", "name"], name="artifact_unique_name")]

    def __str__(self) -> str:
        return self.name


class Worker(models.Model):
    """A Celery worker as it last reported itself (heartbeat every few seconds)."""

    hostname = models.CharField(max_length=255, unique=True)
    queues = models.JSONField(default=list)
    gpus = models.PositiveIntegerField(default=0)
    gpu_names = models.JSONField(default=list, blank=True)
    pid = models.PositiveIntegerField(default=0)
    concurrency = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField()
    last_seen = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["hostname"]

    def __str__(self) -> str:
        return self.hostname
