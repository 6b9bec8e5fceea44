"""Running one attempt of a job inside a worker, and recovering jobs whose worker died.

Invariants:
- A job is claimed with a conditional UPDATE from Pending (or from a run whose lease has
  expired); zero rows changed means someone else owns it and this delivery does nothing.
- Only the attempt that claimed a job may move it on (every UPDATE filters on ``attempts``).
- Recovery never waits for the broker to redeliver: the reaper re-queues or fails any job
  whose lease is past, within LEASE + REAPER_INTERVAL seconds.
"""

from __future__ import annotations

import logging
import threading
import traceback
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from studio import events
from studio.choices import JobStatus, LogLevel
from studio.jobs.context import JobCancelled, JobContext, JobFailed
from studio.jobs.dispatch import dispatch_on_commit
from studio.jobs.registry import get_runner
from studio.models import Job, JobLog

logger = logging.getLogger("studio.jobs")

RUNNING_STATUSES = (JobStatus.STARTING, JobStatus.RUNNING, JobStatus.STOPPING)


def _lease_deadline() -> Any:
    return timezone.now() + timedelta(seconds=settings.SEXTANT_JOB_LEASE_SECONDS)


def _log(job_id: int, message: str, level: str = LogLevel.INFO) -> None:
    JobLog.objects.create(job_id=job_id, created_at=timezone.now(), level=level, message=message)


def claim(job_id: int, *, worker: str) -> Job | None:
    """Take ownership of a job for one attempt, or return None if it is not ours to run."""
    now = timezone.now()
    claimable = Q(status=JobStatus.PENDING) | Q(
        status__in=(JobStatus.STARTING, JobStatus.RUNNING), lease_expires_at__lt=now
    )
    changed = Job.objects.filter(
        claimable, pk=job_id, cancel_requested=False, attempts__lt=F("max_attempts")
    ).update(
        status=JobStatus.STARTING,
        attempts=F("attempts") + 1,
        worker=worker,
        heartbeat_at=now,
        lease_expires_at=_lease_deadline(),
        pending_reason="",
        # A job has started once a worker holds it; a retry keeps the first start.
        started_at=Coalesce(F("started_at"), Value(now)),
        updated_at=now,
    )
    if changed == 1:
        return Job.objects.get(pk=job_id)
    # Earlier attempts all died with their worker (a crash, or out of memory): running it
    # again would only kill another worker.
    gave_up = Job.objects.filter(claimable, pk=job_id, attempts__gte=F("max_attempts")).update(
        status=JobStatus.FAILED,
        finished_at=now,
        updated_at=now,
        lease_expires_at=None,
        failure_reason=(
            "Gave up: every attempt ended with its worker lost (it may have run out of "
            "memory or crashed)."
        ),
    )
    if gave_up:
        job = Job.objects.get(pk=job_id)
        _log(job_id, f"Job failed. {job.failure_reason}", LogLevel.ERROR)
        after_finish(job)
    return None


def finish(
    job: Job,
    attempt: int,
    status: str,
    *,
    outputs: dict[str, Any] | None = None,
    reason: str = "",
) -> bool:
    """End an attempt's job; False if the attempt no longer owns it."""
    now = timezone.now()
    fields: dict[str, Any] = {
        "status": status,
        "finished_at": now,
        "updated_at": now,
        "lease_expires_at": None,
        "failure_reason": reason,
    }
    if status == JobStatus.COMPLETED:
        fields["progress"] = 1.0
        fields["outputs"] = outputs or {}
    changed = Job.objects.filter(pk=job.pk, attempts=attempt, status__in=RUNNING_STATUSES).update(
        **fields
    )
    if changed:
        job.refresh_from_db()
        _log(
            job.pk,
            f"Job {status.lower()}." + (f" {reason}" if reason else ""),
            LogLevel.ERROR if status == JobStatus.FAILED else LogLevel.INFO,
        )
        after_finish(job)
    return bool(changed)


def after_finish(job: Job) -> None:
    """Run the kind's on_finish hook and tell listeners; never raises."""
    spec = get_runner(job.kind)
    if spec is not None and spec.on_finish is not None:
        try:
            spec.on_finish(job)
        except Exception:
            logger.exception("on_finish hook of job %s failed", job.pk)
    events.job_changed(job.pk)


class Heartbeat:
    """Renews the lease, flushes buffered output and notices Stop requests, off-thread.

    The thread matters for runners that spend minutes inside one library call: the lease
    must not expire while they are busy and healthy.
    """

    def __init__(self, ctx: JobContext, *, threaded: bool = True) -> None:
        self.ctx = ctx
        self.threaded = threaded
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Heartbeat:
        if self.threaded:
            self._thread = threading.Thread(
                target=self._loop, name=f"heartbeat-{self.ctx.job_id}", daemon=True
            )
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _loop(self) -> None:
        interval = settings.SEXTANT_JOB_HEARTBEAT_SECONDS
        next_beat = 0.0
        try:
            while not self._stop.wait(JobContext.FLUSH_SECONDS):
                wrote = self.ctx.flush()
                next_beat -= JobContext.FLUSH_SECONDS
                if next_beat <= 0:
                    self.beat()
                    next_beat = interval
                if wrote:
                    events.job_changed(self.ctx.job_id)
        except Exception:
            logger.exception("heartbeat of job %s failed", self.ctx.job_id)
        finally:
            connection.close()

    def beat(self) -> None:
        now = timezone.now()
        ctx = self.ctx
        changed = Job.objects.filter(
            pk=ctx.job_id, attempts=ctx.attempt, status__in=RUNNING_STATUSES
        ).update(heartbeat_at=now, lease_expires_at=_lease_deadline())
        if not changed:
            ctx.request_cancel("This attempt lost its lease; another attempt owns the job now.")
            return
        if Job.objects.filter(pk=ctx.job_id, cancel_requested=True).exists():
            ctx.request_cancel("Stopped on request.")
        # A runner stuck in one long call never reaches a checkpoint: check time here too.
        ctx.check_deadline()


def execute(job_id: int, *, worker: str) -> None:
    """Claim and run one attempt of a job; the Celery task and inline mode both call this."""
    job = claim(job_id, worker=worker)
    if job is None:
        logger.info("job %s is not claimable; this delivery does nothing", job_id)
        return
    attempt = job.attempts
    spec = get_runner(job.kind)
    if spec is None:
        finish(
            job, attempt, JobStatus.FAILED, reason=f"No runner is registered for kind {job.kind!r}."
        )
        return
    now = timezone.now()
    Job.objects.filter(pk=job.pk, attempts=attempt).update(status=JobStatus.RUNNING, updated_at=now)
    job.refresh_from_db()
    ctx = JobContext(job, attempt)
    if attempt > 1:
        ctx.log(f"Attempt {attempt} of {job.max_attempts} on {worker}.")
    else:
        ctx.log(f"Started on {worker}.")
    events.job_changed(job.pk)
    inline = settings.SEXTANT_RUN_JOBS_INLINE
    status, reason, outputs = JobStatus.COMPLETED, "", None
    with Heartbeat(ctx, threaded=not inline) as heartbeat:
        try:
            if inline:
                heartbeat.beat()
                ctx.check_cancelled()
            outputs = spec.run(ctx) or {}
        except JobFailed as failure:
            status, reason = JobStatus.FAILED, failure.reason
        except JobCancelled as stop:
            status = JobStatus.FAILED if stop.failed else JobStatus.STOPPED
            reason = stop.reason
        except Exception as exc:
            status = JobStatus.FAILED
            reason = f"{type(exc).__name__}: {exc}"
            ctx.log(traceback.format_exc(limit=20), LogLevel.ERROR)
    try:
        ctx.flush()
    finally:
        ctx.cleanup()
    finish(job, attempt, status, outputs=outputs, reason=reason)


def reap_stale_jobs(*, limit: int = 200) -> int:
    """Re-queue or fail jobs whose lease ran out (their worker died); returns how many."""
    now = timezone.now()
    stale = list(
        Job.objects.filter(status__in=RUNNING_STATUSES, lease_expires_at__lt=now)
        .order_by("lease_expires_at")
        .values_list("pk", flat=True)[:limit]
    )
    reaped = 0
    for job_id in stale:
        with transaction.atomic():
            job = Job.objects.select_for_update().filter(pk=job_id).first()
            if job is None or job.status not in RUNNING_STATUSES:
                continue
            if job.lease_expires_at is None or job.lease_expires_at >= now:
                continue
            last = job.heartbeat_at.isoformat(timespec="seconds") if job.heartbeat_at else "never"
            if job.status == JobStatus.STOPPING or job.cancel_requested:
                end_status, reason = JobStatus.STOPPED, "Stopped (its worker stopped responding)."
            elif job.attempts >= job.max_attempts:
                end_status = JobStatus.FAILED
                reason = (
                    f"The worker running this job ({job.worker or 'unknown'}) stopped "
                    f"responding (last heartbeat {last}); gave up after {job.attempts} "
                    f"attempt(s)."
                )
            else:
                end_status, reason = JobStatus.PENDING, ""
            if end_status == JobStatus.PENDING:
                Job.objects.filter(pk=job.pk).update(
                    status=JobStatus.PENDING,
                    lease_expires_at=None,
                    pending_reason=(
                        f"Re-queued: worker {job.worker or 'unknown'} stopped responding "
                        f"(last heartbeat {last})."
                    ),
                    updated_at=now,
                )
                _log(
                    job.pk, f"Worker {job.worker} stopped responding; re-queued.", LogLevel.WARNING
                )
                dispatch_on_commit(job)
            else:
                finish(job, job.attempts, end_status, reason=reason)
            reaped += 1
        events.job_changed(job_id)
    return reaped
