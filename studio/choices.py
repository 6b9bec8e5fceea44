"""Enumerations shared by the core models and the API."""

from __future__ import annotations

from django.db import models


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    SCIENTIST = "scientist", "Scientist"
    LABELER = "labeler", "Labeler"
    VIEWER = "viewer", "Viewer"


class JobStatus(models.TextChoices):
    PENDING = "Pending"
    STARTING = "Starting"
    RUNNING = "Running"
    COMPLETED = "Completed"
    FAILED = "Failed"
    STOPPING = "Stopping"
    STOPPED = "Stopped"


ACTIVE_JOB_STATUSES = (JobStatus.PENDING, JobStatus.STARTING, JobStatus.RUNNING, JobStatus.STOPPING)
FINISHED_JOB_STATUSES = (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.STOPPED)


class Queue(models.TextChoices):
    DEFAULT = "default"
    CPU = "cpu"
    GPU = "gpu"


class DatasetStatus(models.TextChoices):
    PENDING = "Pending"
    READY = "Ready"
    FAILED = "Failed"


class DatasetFormat(models.TextChoices):
    CSV = "csv", "CSV"
    TSV = "tsv", "TSV"
    PARQUET = "parquet", "Parquet"
    JSONL = "jsonl", "JSON Lines"
    IMAGES = "images", "Images (ZIP)"


class LogLevel(models.TextChoices):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"
