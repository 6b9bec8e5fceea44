"""Model Monitor and Clarify: baselines, monitoring schedules, their executions and alerts,
ground-truth uploads, and Clarify jobs.

Invariants:
- A baseline's ``statistics`` and ``constraints`` are computed once, by its job, and then
  only changed by people (``monitoring_baseline_update``); every execution compares against
  them and never re-reads the baseline's dataset.
- A schedule fires at most once per ``next_run_at``: the tick that moves it on claims it with
  a conditional UPDATE, so two beat ticks (or two beats) never start the same execution twice.
- An execution's ``violations`` and ``report`` are written once, by the run that finished it.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class BaselineStatus(models.TextChoices):
    PENDING = "Pending"
    IN_PROGRESS = "InProgress"
    COMPLETED = "Completed"
    FAILED = "Failed"


class MonitorType(models.TextChoices):
    DATA_QUALITY = "data_quality", "Data quality"
    MODEL_QUALITY = "model_quality", "Model quality"
    BIAS_DRIFT = "bias_drift", "Bias drift"
    FEATURE_ATTRIBUTION_DRIFT = "feature_attribution_drift", "Feature attribution drift"


class ScheduleStatus(models.TextChoices):
    SCHEDULED = "Scheduled"
    STOPPED = "Stopped"


class ExecutionStatus(models.TextChoices):
    """SageMaker's monitoring execution statuses."""

    PENDING = "Pending"
    IN_PROGRESS = "InProgress"
    COMPLETED = "Completed"
    COMPLETED_WITH_VIOLATIONS = "CompletedWithViolations"
    FAILED = "Failed"
    STOPPED = "Stopped"


class MonitoringBaseline(models.Model):
    """What normal looks like: per-column statistics of a dataset and the constraints
    suggested from them (both editable), and, with a model and a label, the model's quality
    and bias on that dataset."""

    project = models.ForeignKey(
        "studio.Project", on_delete=models.CASCADE, related_name="monitoring_baselines"
    )
    name = models.CharField(max_length=200)
    dataset = models.ForeignKey(
        "studio.Dataset", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The dataset as it was: the baseline still reads after the dataset is deleted.
    dataset_label = models.CharField(max_length=260, blank=True, default="")
    model_package = models.ForeignKey(
        "registry.ModelPackage",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    label = models.CharField(max_length=200, blank=True, default="")
    status = models.CharField(
        max_length=16, choices=BaselineStatus.choices, default=BaselineStatus.PENDING
    )
    job = models.ForeignKey(
        "studio.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    statistics = models.JSONField(default=dict, blank=True)
    constraints = models.JSONField(default=dict, blank=True)
    # {"metrics": {...}, "source": "dataset" | "model_package"} when a model is given.
    quality = models.JSONField(default=dict, blank=True)
    # Bias of the model on the dataset and its SHAP importance (for the drift monitors).
    bias = models.JSONField(default=dict, blank=True)
    attributions = models.JSONField(default=dict, blank=True)
    edited_at = models.DateTimeField(null=True, blank=True)
    failure_reason = models.TextField(blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["project", "-created_at"], name="baseline_recent")]

    def __str__(self) -> str:
        return self.name

    def serves(self) -> dict[str, bool]:
        """Which monitor types can compare with this baseline: each needs its part."""
        return {
            MonitorType.DATA_QUALITY: bool((self.statistics or {}).get("columns")),
            MonitorType.MODEL_QUALITY: bool((self.quality or {}).get("metrics")),
            MonitorType.BIAS_DRIFT: bool((self.bias or {}).get("report")),
            MonitorType.FEATURE_ATTRIBUTION_DRIFT: bool(
                (self.attributions or {}).get("global_importance")
            ),
        }


class MonitoringSchedule(models.Model):
    """One monitor of one endpoint, run on a cron schedule by beat (or now, on request)."""

    project = models.ForeignKey(
        "studio.Project", on_delete=models.CASCADE, related_name="monitoring_schedules"
    )
    name = models.CharField(max_length=120)
    endpoint = models.ForeignKey(
        "endpoints.Endpoint", on_delete=models.CASCADE, related_name="monitoring_schedules"
    )
    baseline = models.ForeignKey(
        MonitoringBaseline, on_delete=models.PROTECT, related_name="schedules"
    )
    monitor_type = models.CharField(max_length=32, choices=MonitorType.choices)
    # As given ("hourly", "daily" or a cron string) and as the five cron fields it means.
    schedule = models.CharField(max_length=120)
    cron = models.CharField(max_length=120)
    status = models.CharField(
        max_length=16, choices=ScheduleStatus.choices, default=ScheduleStatus.SCHEDULED
    )
    # Captured traffic of the last ``window_hours`` is what each execution looks at.
    window_hours = models.FloatField(default=1.0)
    # Per monitor type: bias facets and label, quality tolerance, attribution threshold…
    config = models.JSONField(default=dict, blank=True)
    alert_emails = models.JSONField(default=list, blank=True)
    webhook_url = models.CharField(max_length=500, blank=True, default="")
    next_run_at = models.DateTimeField(null=True, blank=True, db_index=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["project", "-created_at"], name="schedule_recent")]

    def __str__(self) -> str:
        return self.name


class MonitoringExecution(models.Model):
    """One run of a schedule over a window of captured traffic."""

    schedule = models.ForeignKey(
        MonitoringSchedule, on_delete=models.CASCADE, related_name="executions"
    )
    project = models.ForeignKey("studio.Project", on_delete=models.CASCADE, related_name="+")
    job = models.OneToOneField(
        "studio.Job",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="monitoring_execution",
    )
    status = models.CharField(
        max_length=32, choices=ExecutionStatus.choices, default=ExecutionStatus.PENDING
    )
    trigger = models.CharField(max_length=16, default="schedule")  # "schedule" | "manual"
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    num_rows = models.PositiveIntegerField(default=0)
    violations = models.JSONField(default=list, blank=True)
    report = models.JSONField(default=dict, blank=True)
    # The scores a trend chart follows across executions: {"drift:age": 0.12, "accuracy": …}.
    scores = models.JSONField(default=dict, blank=True)
    failure_reason = models.TextField(blank=True, default="")
    # The labeling job over this window's captured rows, once someone asked for one.
    labeling_job = models.ForeignKey(
        "labeling.LabelingJob",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["schedule", "-created_at"], name="execution_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.schedule} #{self.pk}"


class MonitoringAlert(models.Model):
    """Violations people are told about: shown in the studio until read, and sent by e-mail
    and webhook where the schedule asks."""

    project = models.ForeignKey("studio.Project", on_delete=models.CASCADE, related_name="+")
    schedule = models.ForeignKey(
        MonitoringSchedule, on_delete=models.CASCADE, related_name="alerts"
    )
    execution = models.OneToOneField(
        MonitoringExecution, on_delete=models.CASCADE, related_name="alert"
    )
    num_violations = models.PositiveIntegerField(default=0)
    summary = models.TextField()
    # {"email": "sent" | "error: …" | "none", "webhook": …}
    deliveries = models.JSONField(default=dict, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["project", "-created_at"], name="alert_recent")]

    def __str__(self) -> str:
        return self.summary


class GroundTruthUpload(models.Model):
    """Labels that arrived after the predictions, keyed by the captured event id; the rows
    live in storage as Parquet (``key``)."""

    endpoint = models.ForeignKey(
        "endpoints.Endpoint", on_delete=models.CASCADE, related_name="ground_truth_uploads"
    )
    key = models.CharField(max_length=500)
    rows = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.endpoint_id}: {self.rows} labels"


class ClarifyJob(models.Model):
    """Bias metrics of a dataset (and of a model's predictions on it) and SHAP explanations."""

    project = models.ForeignKey(
        "studio.Project", on_delete=models.CASCADE, related_name="clarify_jobs"
    )
    job = models.OneToOneField("studio.Job", on_delete=models.CASCADE, related_name="clarify")
    name = models.CharField(max_length=120)
    dataset = models.ForeignKey(
        "studio.Dataset", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    dataset_label = models.CharField(max_length=260, blank=True, default="")
    label = models.CharField(max_length=200)
    positive_label_values = models.JSONField(default=list)
    facets = models.JSONField(default=list)
    group_variable = models.CharField(max_length=200, blank=True, default="")
    model_package = models.ForeignKey(
        "registry.ModelPackage",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    methods = models.JSONField(default=list)
    # SHAP settings: rows explained, background clusters.
    options = models.JSONField(default=dict, blank=True)
    report = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["project", "-created_at"], name="clarify_recent")]

    def __str__(self) -> str:
        return self.name
