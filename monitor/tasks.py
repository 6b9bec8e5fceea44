"""Celery entry points of the monitor: thin, idempotent."""

from __future__ import annotations

from celery import shared_task

from monitor.alerts import alert_send
from monitor.services import schedules_tick


@shared_task(name="monitor.tick", ignore_result=True)
def tick() -> int:
    """Beat's pass: start an execution for every schedule whose fire time has come."""
    return schedules_tick()


@shared_task(name="monitor.notify", ignore_result=True)
def notify(alert_id: int) -> dict[str, str]:
    """E-mail and webhook of one alert."""
    return alert_send(alert_id)
