"""Training jobs (a built-in algorithm or a user's script trained on datasets by a studio
Job), and experiments: runs with their parameters, tags and metric series, logged by
training jobs themselves or from anywhere through the API (MLflow's client included)."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class TrainingJob(models.Model):
    """What was asked (algorithm, channels, target, hyperparameters, instance) and what came
    out (the final metrics, the model artifact); the Job runs it and holds its status."""

    project = models.ForeignKey(
        "studio.Project", on_delete=models.CASCADE, related_name="training_jobs"
    )
    job = models.OneToOneField("studio.Job", on_delete=models.CASCADE, related_name="training")
    name = models.CharField(max_length=120)
    algorithm = models.CharField(max_length=64)
    # Channel name → dataset id: train (required), validation, test.
    channels = models.JSONField(default=dict)
    target = models.CharField(max_length=255, blank=True, default="")
    # As asked ("auto" to infer it); the problem solved is in `result`.
    problem_type = models.CharField(max_length=40, default="auto")
    hyperparameters = models.JSONField(default=dict)  # checked, defaults filled in
    instance_type = models.CharField(max_length=40, default="cpu.small")
    instance_count = models.PositiveIntegerField(default=1)
    max_runtime_seconds = models.PositiveIntegerField(default=86_400)
    # A user's script (algorithm "script"): its stored source, entry point, and how its
    # metrics are read from its output ([{"name", "regex"}]).
    source_key = models.CharField(max_length=500, blank=True, default="")
    entry_point = models.CharField(max_length=255, blank=True, default="")
    metric_definitions = models.JSONField(default=list, blank=True)
    # Debugger rules as asked ([{"name", "params", "action"}]) and as they stand
    # ([{…, "status", "message"}]).
    debugger_rules = models.JSONField(default=list, blank=True)
    rule_statuses = models.JSONField(default=list, blank=True)
    # What the rules read besides the metric series (debugger.Values.summary): tensors'
    # statistics, class counts, tree depths, importances as training went.
    debug_values = models.JSONField(default=dict, blank=True)
    final_metrics = models.JSONField(default=dict, blank=True)
    # problem type, classes, rows per channel, feature importance, timings.
    result = models.JSONField(default=dict, blank=True)
    model_artifact_key = models.CharField(max_length=500, blank=True, default="")
    model_artifact_size = models.BigIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["project", "-created_at"], name="training_recent")]

    def __str__(self) -> str:
        return self.name


class Experiment(models.Model):
    """A named group of runs in a project (MLflow's experiment)."""

    project = models.ForeignKey(
        "studio.Project", on_delete=models.CASCADE, related_name="experiments"
    )
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    tags = models.JSONField(default=dict, blank=True)
    deleted = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="experiment_unique_name")
        ]

    def __str__(self) -> str:
        return self.name


class RunStatus(models.TextChoices):
    """MLflow's run statuses."""

    RUNNING = "RUNNING"
    SCHEDULED = "SCHEDULED"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    KILLED = "KILLED"


class Run(models.Model):
    """One run: its parameters (fixed once logged), tags, latest metric values, and where
    it came from (a training job, or a client)."""

    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="runs")
    project = models.ForeignKey("studio.Project", on_delete=models.CASCADE, related_name="+")
    uuid = models.CharField(max_length=32, unique=True)  # MLflow's run_id
    name = models.CharField(max_length=250, blank=True, default="")
    status = models.CharField(max_length=12, choices=RunStatus.choices, default=RunStatus.RUNNING)
    start_time = models.BigIntegerField(default=0)  # milliseconds since 1970, as MLflow
    end_time = models.BigIntegerField(null=True, blank=True)
    params = models.JSONField(default=dict, blank=True)
    tags = models.JSONField(default=dict, blank=True)
    # Latest value of each metric: {key: {"value", "step", "timestamp"}}.
    metrics = models.JSONField(default=dict, blank=True)
    # Lineage: the datasets it read ([{"channel", "dataset", "name", "version"}]).
    inputs = models.JSONField(default=list, blank=True)
    training_job = models.OneToOneField(
        TrainingJob, null=True, blank=True, on_delete=models.SET_NULL, related_name="run"
    )
    deleted = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-start_time", "-id"]
        indexes = [models.Index(fields=["experiment", "-start_time"], name="run_recent")]

    def __str__(self) -> str:
        return self.name or self.uuid


class RunMetric(models.Model):
    """One point of a run's metric series."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="points")
    key = models.CharField(max_length=250)
    value = models.FloatField()
    step = models.BigIntegerField(default=0)
    timestamp = models.BigIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["run", "key", "step"], name="run_metric_series")]

    def __str__(self) -> str:
        return f"{self.key}@{self.step}={self.value:g}"
