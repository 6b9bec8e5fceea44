"""A worker reports itself in the database every few seconds.

The rows say which queues have a live worker (a GPU job with no GPU worker online stays
Pending and says why) and feed the ops console even when the broker cannot broadcast.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone

from studio.engine.gpu import detect_gpus
from studio.models import Worker

logger = logging.getLogger("studio.workers")

_stop = threading.Event()
_thread: threading.Thread | None = None


def check_gpu_queue(queues: list[str]) -> list[str]:
    """A worker asked to consume ``gpu`` must have CUDA; returns the GPU names."""
    gpus = detect_gpus()
    if "gpu" in queues and not gpus:
        raise RuntimeError(
            "This worker was started for the 'gpu' queue but no CUDA device is visible "
            "(nvidia-smi found none). Start it on a machine with a GPU, or drop 'gpu' from -Q."
        )
    return gpus


def _queues_of(consumer: Any) -> list[str]:
    try:
        return sorted(q.name for q in consumer.task_consumer.queues)
    except AttributeError:
        return sorted(consumer.app.amqp.queues.keys())


def start_heartbeat(consumer: Any) -> None:
    global _thread
    hostname = str(getattr(consumer, "hostname", "") or "worker")
    queues = _queues_of(consumer)
    gpus = check_gpu_queue(queues) if "gpu" in queues else []
    concurrency = int(getattr(getattr(consumer, "pool", None), "limit", 0) or 0)
    started = timezone.now()

    def report() -> None:
        Worker.objects.update_or_create(
            hostname=hostname,
            defaults={
                "queues": queues,
                "gpus": len(gpus),
                "gpu_names": gpus,
                "pid": os.getpid(),
                "concurrency": concurrency,
                "started_at": started,
                "last_seen": timezone.now(),
            },
        )

    def loop() -> None:
        interval = settings.SEXTANT_WORKER_STALE_SECONDS / 3
        try:
            while True:
                try:
                    report()
                except Exception:
                    logger.warning("worker heartbeat failed", exc_info=True)
                if _stop.wait(interval):
                    break
            Worker.objects.filter(hostname=hostname).delete()
        finally:
            connection.close()

    _stop.clear()
    _thread = threading.Thread(target=loop, name="worker-heartbeat", daemon=True)
    _thread.start()
    logger.info("worker %s consuming %s with %d GPU(s)", hostname, ",".join(queues), len(gpus))


def stop_heartbeat() -> None:
    _stop.set()
    if _thread is not None:
        _thread.join(timeout=5)
