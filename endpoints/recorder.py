"""What the router saw, written down off the hot path: per-variant metrics and captured data.

Once a second, from the router's event loop, the per-variant counters of every route are
taken (invocations, errors, latencies) and the captured events handed over; the database
rows and the capture files are then written from the serving database thread, so a request
never waits for storage. Each router process writes its own metric rows; the dashboard sums
them.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings
from django.utils import timezone

from endpoints.engine.capture import CaptureBuffer, file_name, now
from endpoints.engine.router import Route, VariantStats
from endpoints.models import EndpointMetric
from studio import storage

logger = logging.getLogger("endpoints.recorder")

INTERVAL_SECONDS = 1.0
#: How long per-second metric rows are kept.
KEEP_SECONDS = 24 * 3600


def summarize(stats: VariantStats, seconds: float) -> dict[str, Any]:
    """A metric row's numbers from one interval's counters."""
    latencies = np.asarray(stats.latencies, dtype=np.float64) * 1000.0
    return {
        "invocations": stats.count,
        "client_errors": stats.client_errors,
        "server_errors": stats.server_errors,
        "p50_ms": float(np.percentile(latencies, 50)) if latencies.size else None,
        "p99_ms": float(np.percentile(latencies, 99)) if latencies.size else None,
        "mean_ms": float(latencies.mean()) if latencies.size else None,
        # Little's law: the mean number of requests in flight over the interval.
        "concurrency": float(stats.busy_seconds / seconds) if seconds > 0 else 0.0,
    }


def write_metrics(rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    EndpointMetric.objects.bulk_create([EndpointMetric(**row) for row in rows])


def prune_metrics() -> None:
    cutoff = timezone.now() - timezone.timedelta(seconds=KEEP_SECONDS)
    EndpointMetric.objects.filter(time__lt=cutoff).delete()


def write_captures(grouped: dict[str, list[str]]) -> None:
    """One JSON Lines file per partition and flush (files are never appended to: storage
    may be an object store)."""
    when = now()
    folder = Path(settings.VAR_DIR) / "tmp"
    folder.mkdir(parents=True, exist_ok=True)
    for partition, lines in grouped.items():
        with tempfile.NamedTemporaryFile("w", suffix=".jsonl", dir=folder, delete=False) as out:
            out.write("\n".join(lines) + "\n")
        storage.put_file(f"{partition}/{file_name(when)}", Path(out.name), move=True)


class Recorder:
    """The router's once-a-second writer."""

    def __init__(self) -> None:
        self.capture = CaptureBuffer()
        self.task: asyncio.Task[None] | None = None
        self.last = time.monotonic()
        self.last_prune = 0.0

    def ensure_started(self, routes: Any, run_in_db: Any) -> None:
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self.loop(routes, run_in_db))

    async def loop(self, routes: Any, run_in_db: Any) -> None:
        while True:
            await asyncio.sleep(INTERVAL_SECONDS)
            try:
                await self.flush(routes.routes.values(), run_in_db)
            except Exception:  # a storage hiccup must not stop recording
                logger.exception("Could not record endpoint metrics or captures")

    async def flush(self, routes: Any, run_in_db: Any) -> None:
        moment = time.monotonic()
        seconds, self.last = moment - self.last, moment
        stamp = timezone.now().replace(microsecond=0)
        rows = []
        for route in list(routes):
            assert isinstance(route, Route)
            variants = list(route.variants)
            if route.shadow is not None:
                variants.append(route.shadow)
            for variant in variants:
                if variant.stats.count == 0:
                    continue
                taken = variant.stats.take()
                rows.append(
                    {
                        "endpoint_id": route.endpoint_id,
                        "variant": variant.name,
                        "shadow": variant is route.shadow,
                        "time": stamp,
                        "seconds": seconds,
                        **summarize(taken, seconds),
                    }
                )
        grouped = self.capture.take()
        prune = moment - self.last_prune > 600
        if prune:
            self.last_prune = moment

        def write() -> None:
            write_metrics(rows)
            if prune:
                prune_metrics()

        if rows or prune:
            await run_in_db(write)
        if grouped:
            # Storage may be remote and slow: its own thread, so that route refreshes and
            # token checks (the database thread's work) never wait behind it.
            await asyncio.get_running_loop().run_in_executor(_storage, write_captures, grouped)


_storage = ThreadPoolExecutor(max_workers=1, thread_name_prefix="serving-capture")
recorder = Recorder()
