"""Datasets: uploaded files converted to Parquet, versioned by name within a project.

Invariant: a dataset row is Ready only once its Parquet file (or image manifest) is complete
in storage; while Pending its ``data_key`` names nothing readable.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from studio.choices import DatasetFormat, DatasetStatus


class Dataset(models.Model):
    project = models.ForeignKey("studio.Project", on_delete=models.CASCADE, related_name="datasets")
    name = models.CharField(max_length=200)
    version = models.PositiveIntegerField(default=1)
    status = models.CharField(
        max_length=16, choices=DatasetStatus.choices, default=DatasetStatus.PENDING
    )
    format = models.CharField(max_length=16, choices=DatasetFormat.choices)
    # The uploaded file is kept as it came, for download and re-ingestion.
    source_key = models.CharField(max_length=500, blank=True, default="")
    source_filename = models.CharField(max_length=255, blank=True, default="")
    source_bytes = models.BigIntegerField(default=0)
    # Parquet data (tabular) or the image manifest (images), once Ready.
    data_key = models.CharField(max_length=500, blank=True, default="")
    num_rows = models.BigIntegerField(null=True, blank=True)
    columns = models.JSONField(default=list, blank=True)
    profile = models.JSONField(null=True, blank=True)
    failure_reason = models.TextField(blank=True, default="")
    ingest_job = models.ForeignKey(
        "studio.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    profile_job = models.ForeignKey(
        "studio.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["project", "name", "version"], name="dataset_unique_version"
            )
        ]
        indexes = [models.Index(fields=["project", "-created_at"], name="dataset_recent")]
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"

    @property
    def num_columns(self) -> int:
        return len(self.columns or [])

    @property
    def is_images(self) -> bool:
        return self.format == DatasetFormat.IMAGES
