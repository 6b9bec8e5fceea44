"""Real-time endpoints, the model servers behind them, and the hosts that run those.

An endpoint's ``config`` is what serves now; a create or an update puts the new one in
``pending_config`` and a deploy job brings its model servers up, then swaps it in and bumps
``generation`` in one transaction. Routers notice the change (``updated_at``) and rebuild
their route; model servers the new generation no longer uses get a ``retire_at`` a few
seconds on, so requests already routed to them still get their answer.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from endpoints.choices import EndpointStatus, ServerStatus


class Endpoint(models.Model):
    project = models.ForeignKey("studio.Project", on_delete=models.CASCADE, related_name="+")
    # The name in /invocations/<name>: unique across the studio, as URLs are.
    name = models.CharField(max_length=63, unique=True)
    status = models.CharField(
        max_length=16, choices=EndpointStatus.choices, default=EndpointStatus.CREATING
    )
    failure_reason = models.TextField(blank=True, default="")
    # What serves: {"variants": [...], "shadow": {...} | None, "data_capture": {"percent"}}.
    config = models.JSONField(default=dict, blank=True)
    # What a running deploy brings up (None when none runs).
    pending_config = models.JSONField(null=True, blank=True)
    generation = models.PositiveIntegerField(default=0)
    # Autoscaling per variant: {"A": {"desired", "concurrency", "reason", "changed_at"}}.
    scaling = models.JSONField(default=dict, blank=True)
    job = models.ForeignKey(
        "studio.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["project", "-created_at"], name="endpoint_recent")]

    def __str__(self) -> str:
        return self.name


class ModelHost(models.Model):
    """A machine's ``model_host`` process: it starts, watches and stops model servers."""

    name = models.CharField(max_length=200, unique=True)
    # Where routers reach the servers it starts.
    address = models.CharField(max_length=200)
    pid = models.PositiveIntegerField(default=0)
    heartbeat_at = models.DateTimeField()
    started_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ModelServer(models.Model):
    """One instance of a variant: a model-server process on a host."""

    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="servers")
    variant = models.CharField(max_length=63)
    # The generation that first used it; reused by later ones while its spec is the same.
    generation = models.PositiveIntegerField(default=0)
    # What it serves (models, memory budget), and its hash to match it across updates.
    spec = models.JSONField(default=dict)
    spec_hash = models.CharField(max_length=64)
    host = models.ForeignKey(
        ModelHost, null=True, blank=True, on_delete=models.SET_NULL, related_name="servers"
    )
    port = models.PositiveIntegerField(default=0)
    pid = models.PositiveIntegerField(default=0)
    status = models.CharField(
        max_length=16, choices=ServerStatus.choices, default=ServerStatus.PENDING
    )
    restarts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")
    # Set when no live generation uses it: the host stops it after this time.
    retire_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["endpoint_id", "variant", "id"]
        indexes = [models.Index(fields=["host", "status"], name="server_host_status")]

    def __str__(self) -> str:
        return f"{self.endpoint_id}/{self.variant}#{self.pk}"


class EndpointMetric(models.Model):
    """One router process's counts for one variant over about a second (the dashboard sums
    the processes' rows)."""

    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="metrics")
    variant = models.CharField(max_length=63)
    shadow = models.BooleanField(default=False)
    time = models.DateTimeField()
    seconds = models.FloatField(default=1.0)  # the interval the counts cover
    invocations = models.PositiveIntegerField(default=0)
    client_errors = models.PositiveIntegerField(default=0)  # 4xx: bad payloads
    server_errors = models.PositiveIntegerField(default=0)  # 5xx: no instance, model failed
    p50_ms = models.FloatField(null=True)
    p99_ms = models.FloatField(null=True)
    mean_ms = models.FloatField(null=True)
    concurrency = models.FloatField(default=0.0)  # mean requests in flight

    class Meta:
        ordering = ["time", "id"]
        indexes = [models.Index(fields=["endpoint", "time"], name="endpoint_metric_time")]

    def __str__(self) -> str:
        return f"{self.endpoint_id}/{self.variant}@{self.time:%H:%M:%S}"


class TransformJob(models.Model):
    """A batch transform: a model package scores every row of a dataset, and the predictions
    (with the input columns asked for) become a new dataset. The Job runs it and holds its
    status, progress and log; ``rows_done`` counts the rows scored so far."""

    project = models.ForeignKey(
        "studio.Project", on_delete=models.CASCADE, related_name="transform_jobs"
    )
    job = models.OneToOneField("studio.Job", on_delete=models.CASCADE, related_name="transform")
    name = models.CharField(max_length=120)
    # RESTRICT (PROTECT that still lets a whole project go): a package cannot be deleted
    # while a transform names it, so every predictions dataset keeps the model that made it.
    model_package = models.ForeignKey(
        "registry.ModelPackage", on_delete=models.RESTRICT, related_name="transform_jobs"
    )
    # Datasets can be deleted from under a finished transform: the transform stays readable.
    dataset = models.ForeignKey(
        "studio.Dataset", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Input columns copied next to the predictions, in this order; ["*"] for all of them.
    join_input = models.JSONField(default=list, blank=True)
    output_name = models.CharField(max_length=200)
    output_dataset = models.ForeignKey(
        "studio.Dataset", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    batch_rows = models.PositiveIntegerField(default=10_000)
    instance_count = models.PositiveIntegerField(default=1)
    rows_total = models.BigIntegerField(default=0)  # the input's rows when it was submitted
    rows_done = models.BigIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["project", "-created_at"], name="transform_recent")]

    def __str__(self) -> str:
        return self.name
