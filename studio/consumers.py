"""Websockets: ``/ws/jobs/<id>/`` streams a job's status, progress and new log lines.

The consumer sends what changed since it last looked: it reads the job when nudged through
the channel layer (workers nudge on every flush) and on a timer, so it stays correct with the
in-memory layer of the embedded mode, where a worker's nudge cannot reach the web process.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import Http404

from studio import events, selectors
from studio.models import Job


class JobConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        self.job_id = int(self.scope["url_route"]["kwargs"]["job_id"])
        try:
            await database_sync_to_async(selectors.access_job)(user, self.job_id)
        except (Http404, PermissionDenied):
            await self.close(code=4404)
            return
        self.last_log_id = 0
        self.last_state: dict[str, Any] = {}
        self.group = events.job_group(self.job_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self.push()
        # Polling is the safety net; with Redis the nudges make updates near-instant.
        in_memory = "InMemory" in settings.CHANNEL_LAYERS["default"]["BACKEND"]
        self.poller = asyncio.ensure_future(self.poll(1.0 if in_memory else 5.0))

    async def disconnect(self, code: int) -> None:
        poller = getattr(self, "poller", None)
        if poller is not None:
            poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await poller
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def poll(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            await self.push()

    async def job_changed(self, event: dict[str, Any]) -> None:
        await self.push()

    async def push(self) -> None:
        state, lines = await database_sync_to_async(self._read)()
        if state is None:
            await self.close(code=4404)
            return
        if state != self.last_state or lines:
            self.last_state = state
            await self.send_json({"type": "job", "job": state, "logs": lines})

    def _read(self) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        job = Job.objects.filter(pk=self.job_id).first()
        if job is None:
            return None, []
        logs = selectors.job_logs(job, after=self.last_log_id, limit=500)
        if logs:
            self.last_log_id = logs[-1].pk
        state = {
            "id": job.pk,
            "status": job.status,
            "progress": job.progress,
            "failure_reason": job.failure_reason,
            "pending_reason": job.pending_reason,
            "attempts": job.attempts,
            "worker": job.worker,
            "started_at": job.started_at.isoformat() if job.started_at else None,
            "finished_at": job.finished_at.isoformat() if job.finished_at else None,
            "outputs": job.outputs,
        }
        lines = [
            {
                "id": line.pk,
                "level": line.level,
                "message": line.message,
                "created_at": line.created_at.isoformat(),
            }
            for line in logs
        ]
        return state, lines
