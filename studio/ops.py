"""What the ops console shows: workers and queues as the database and the broker see them.

Two views of the same fleet are kept side by side on purpose. The ``Worker`` table is what
workers last wrote in their heartbeat; the Celery ping is what answers right now. A worker
that heartbeats but does not answer (or the reverse) is exactly what an operator needs to see.
Every broker call is bounded and may fail: the console must render when the broker is down.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, Sum
from django.utils import timezone

from studio.celery import app as celery_app
from studio.choices import ACTIVE_JOB_STATUSES, JobStatus, Queue
from studio.models import Dataset, Job, Worker

log = logging.getLogger(__name__)

PING_TIMEOUT_SECONDS = 1.0


@dataclass(frozen=True)
class WorkerRow:
    """A worker as its heartbeat describes it, and whether it answered the live ping."""

    hostname: str
    queues: list[str]
    gpus: int
    gpu_names: list[str]
    concurrency: int
    pid: int
    started_at: datetime
    last_seen: datetime
    online: bool
    answered: bool | None  # None: the ping itself got no reply from anyone


@dataclass(frozen=True)
class QueueRow:
    """One queue: who consumes it, how much waits in the broker and in the database."""

    name: str
    workers_online: int
    gpus: int
    pending_jobs: int
    active_jobs: int
    broker_depth: int | None  # None: the broker could not be asked
    consumers_answering: list[str] | None = None


@dataclass(frozen=True)
class OpsSnapshot:
    workers: list[WorkerRow]
    queues: list[QueueRow]
    ping_replied: bool
    ping_hosts: list[str]
    broker_reachable: bool
    storage_bytes: int
    dataset_count: int
    job_status_counts: dict[str, int] = field(default_factory=dict)


def celery_active_queues(timeout: float = PING_TIMEOUT_SECONDS) -> dict[str, list[str]] | None:
    """``{hostname: [queue, …]}`` from the workers that answer now; None when nobody does."""
    try:
        replies: Any = celery_app.control.inspect(timeout=timeout).active_queues()
    except Exception:  # the broker is down or refuses broadcasts: say so, don't crash
        log.warning("Celery inspect failed", exc_info=True)
        return None
    if not replies:
        return None
    return {
        str(host): sorted(str(q.get("name", "")) for q in (queues or []) if isinstance(q, dict))
        for host, queues in replies.items()
    }


def broker_queue_depths(names: list[str]) -> dict[str, int | None]:
    """Messages waiting in each broker queue; None for a queue the broker would not report."""
    depths: dict[str, int | None] = dict.fromkeys(names)
    try:
        with celery_app.connection_for_read() as conn:
            # Bounded: kombu's default is to retry a dead broker forever.
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0.2, timeout=2)
            channel = conn.default_channel
            for name in names:
                try:
                    depths[name] = int(
                        channel.queue_declare(queue=name, passive=True).message_count
                    )
                except Exception:  # a queue nobody declared yet, or a broker quirk
                    depths[name] = None
    except Exception:
        log.warning("Cannot reach the broker for queue depths", exc_info=True)
    return depths


def _stale_cutoff() -> datetime:
    return timezone.now() - timedelta(seconds=settings.SEXTANT_WORKER_STALE_SECONDS)


def snapshot(*, ping: bool = True) -> OpsSnapshot:
    """Everything the console shows, gathered in one go."""
    cutoff = _stale_cutoff()
    answering = celery_active_queues() if ping else None
    workers = [
        WorkerRow(
            hostname=w.hostname,
            queues=list(w.queues or []),
            gpus=w.gpus,
            gpu_names=list(w.gpu_names or []),
            concurrency=w.concurrency,
            pid=w.pid,
            started_at=w.started_at,
            last_seen=w.last_seen,
            online=w.last_seen >= cutoff,
            answered=None if answering is None else w.hostname in answering,
        )
        for w in Worker.objects.order_by("hostname")
    ]

    by_queue = {
        (row["queue"], row["status"]): row["n"]
        for row in Job.objects.filter(status__in=ACTIVE_JOB_STATUSES)
        .values("queue", "status")
        .annotate(n=Count("id"))
        .order_by()
    }
    names = list(Queue.values)
    depths = broker_queue_depths(names)
    queues = []
    for name in names:
        online = [w for w in workers if w.online and name in w.queues]
        queues.append(
            QueueRow(
                name=name,
                workers_online=len(online),
                gpus=sum(w.gpus for w in online),
                pending_jobs=by_queue.get((name, JobStatus.PENDING), 0),
                active_jobs=sum(
                    n for (q, s), n in by_queue.items() if q == name and s != JobStatus.PENDING
                ),
                broker_depth=depths.get(name),
                consumers_answering=(
                    None
                    if answering is None
                    else sorted(h for h, qs in answering.items() if name in qs)
                ),
            )
        )

    totals = Dataset.objects.aggregate(bytes=Sum("source_bytes"), n=Count("id"))
    status_counts = {
        row["status"]: row["n"]
        for row in Job.objects.values("status").annotate(n=Count("id")).order_by()
    }
    return OpsSnapshot(
        workers=workers,
        queues=queues,
        ping_replied=answering is not None,
        ping_hosts=sorted(answering or {}),
        broker_reachable=any(d is not None for d in depths.values()),
        storage_bytes=int(totals["bytes"] or 0),
        dataset_count=int(totals["n"] or 0),
        job_status_counts=status_counts,
    )
