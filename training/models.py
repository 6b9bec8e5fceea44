"""Training jobs: an algorithm (built in, for now) trained on datasets by a studio Job."""

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
