"""What a runner sees of its job: parameters, a work folder, and ways to report.

Log lines and metric points are buffered and written in batches (one INSERT per flush, not
per line); progress is written at most once a second. A runner checks for cancellation at
its own checkpoints — every ``progress()`` call is one — and :class:`JobCancelled` unwinds it.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import timezone

from studio.choices import LogLevel
from studio.models import Job, JobLog, JobMetric

logger = logging.getLogger("studio.jobs")


class JobCancelled(Exception):
    """Raised inside a runner when its job must stop (Stop pressed, lease lost, time out)."""

    def __init__(self, reason: str = "Stopped on request.", *, failed: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        # A time-out ends Failed; a Stop ends Stopped.
        self.failed = failed


class JobFailed(Exception):
    """Raised by a runner to fail its job with a message meant for people (no traceback)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class _Buffer:
    logs: list[JobLog] = field(default_factory=list)
    metrics: list[JobMetric] = field(default_factory=list)
    progress: float | None = None


class JobContext:
    """The handle a runner gets for one attempt of one job."""

    FLUSH_SECONDS = 1.0

    def __init__(self, job: Job, attempt: int) -> None:
        self.job = job
        self.job_id: int = job.pk
        self.attempt = attempt
        self.project_id: int = job.project_id
        self.parameters: dict[str, Any] = dict(job.parameters or {})
        self.inputs: dict[str, Any] = dict(job.inputs or {})
        self._lock = threading.Lock()
        self._buffer = _Buffer()
        self._last_flush = 0.0
        self._cancel = threading.Event()
        self._cancel_reason = ""
        self._cancel_failed = False
        self._workdir: Path | None = None
        max_runtime = (job.resources or {}).get("max_runtime_seconds")
        self.max_runtime = float(max_runtime) if max_runtime else None
        self._deadline = time.monotonic() + self.max_runtime if self.max_runtime else None

    # --- reporting ---------------------------------------------------------------------
    def log(self, message: str, level: str = LogLevel.INFO) -> None:
        message = message.replace("\x00", "\ufffd")  # PostgreSQL's text holds no NUL
        logger.log(
            logging.ERROR if level == LogLevel.ERROR else logging.INFO,
            "job %s: %s",
            self.job_id,
            message,
        )
        with self._lock:
            self._buffer.logs.append(
                JobLog(job_id=self.job_id, created_at=timezone.now(), level=level, message=message)
            )
        self._maybe_flush()

    def metric(self, name: str, value: float, step: int = 0) -> None:
        with self._lock:
            self._buffer.metrics.append(
                JobMetric(
                    job_id=self.job_id,
                    name=name,
                    step=step,
                    value=float(value),
                    created_at=timezone.now(),
                )
            )
        self._maybe_flush()

    def progress(self, fraction: float) -> None:
        """Report progress (0–1); also a cancellation checkpoint."""
        with self._lock:
            self._buffer.progress = min(1.0, max(0.0, float(fraction)))
        self.check_cancelled()
        self._maybe_flush()

    def check_deadline(self) -> None:
        if self._deadline is not None and time.monotonic() > self._deadline:
            self.request_cancel(
                f"The job ran past its max_runtime_seconds ({self.max_runtime:g} s).", failed=True
            )

    def check_cancelled(self) -> None:
        self.check_deadline()
        if self._cancel.is_set():
            raise JobCancelled(self._cancel_reason, failed=self._cancel_failed)

    def request_cancel(self, reason: str, *, failed: bool = False) -> None:
        if not self._cancel.is_set():
            self._cancel_reason = reason
            self._cancel_failed = failed
            self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    # --- files -------------------------------------------------------------------------
    @property
    def workdir(self) -> Path:
        """A private scratch folder for this attempt, removed when the attempt ends."""
        if self._workdir is None:
            path = Path(settings.VAR_DIR) / "work" / f"job-{self.job_id}-{self.attempt}"
            shutil.rmtree(path, ignore_errors=True)
            path.mkdir(parents=True)
            self._workdir = path
        return self._workdir

    def cleanup(self) -> None:
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)

    # --- flushing ----------------------------------------------------------------------
    def _maybe_flush(self) -> None:
        if time.monotonic() - self._last_flush >= self.FLUSH_SECONDS:
            self.flush()

    def flush(self) -> bool:
        """Write buffered lines, points and progress; True if anything was written."""
        with self._lock:
            buffer, self._buffer = self._buffer, _Buffer()
            self._last_flush = time.monotonic()
        wrote = False
        if buffer.logs:
            JobLog.objects.bulk_create(buffer.logs)
            wrote = True
        if buffer.metrics:
            JobMetric.objects.bulk_create(buffer.metrics)
            wrote = True
        if buffer.progress is not None:
            Job.objects.filter(pk=self.job_id, attempts=self.attempt).update(
                progress=buffer.progress, updated_at=timezone.now()
            )
            wrote = True
        return wrote

    def started_at(self) -> datetime | None:
        return self.job.started_at
