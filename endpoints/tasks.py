"""Celery entry points of the endpoints app: thin, idempotent."""

from __future__ import annotations

from celery import shared_task

from endpoints.services import endpoints_autoscale, servers_rehome


@shared_task(name="endpoints.maintain", ignore_result=True)
def maintain() -> dict[str, int]:
    """Beat's pass every few seconds: model servers of a dead host start elsewhere, and
    autoscaled variants follow their load."""
    return {"rehomed": servers_rehome(), "autoscaled": endpoints_autoscale()}
