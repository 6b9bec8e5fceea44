"""Celery entry points of the labeling app: thin, idempotent."""

from __future__ import annotations

from celery import shared_task

from labeling.queue import labeling_job_maintain


@shared_task(name="labeling.maintain", ignore_result=True)
def maintain() -> dict[str, int]:
    """Beat's pass: expired assignments go back to the queue, drained jobs move on."""
    return labeling_job_maintain()
