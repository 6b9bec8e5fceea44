"""Nudges to websocket listeners: "job N changed, come and read it".

Messages carry no state; consumers read the job from the database when nudged (and on a
timer), so a lost nudge delays an update and never corrupts one.
"""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

logger = logging.getLogger("studio.events")


def job_group(job_id: int) -> str:
    return f"job.{job_id}"


def job_changed(job_id: int) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(job_group(job_id), {"type": "job.changed"})
    except Exception:  # a dead channel layer must never fail the job itself
        logger.warning("could not notify listeners of job %s", job_id, exc_info=True)
