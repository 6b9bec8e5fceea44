"""The core models: projects and membership, datasets, jobs and workers."""

from studio.models.datasets import Dataset
from studio.models.jobs import Artifact, Job, JobLog, JobMetric, Worker
from studio.models.projects import Membership, Project

__all__ = [
    "Artifact",
    "Dataset",
    "Job",
    "JobLog",
    "JobMetric",
    "Membership",
    "Project",
    "Worker",
]
