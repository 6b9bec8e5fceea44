"""Celery entry points of the endpoints app: thin, idempotent."""

from __future__ import annotations

from celery import shared_task

from endpoints.services import endpoints_autoscale


@shared_task(name="endpoints.autoscale", ignore_result=True)
def autoscale() -> int:
    """One autoscaling pass (beat runs it every few seconds)."""
    return endpoints_autoscale()
