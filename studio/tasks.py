"""Celery entry points: thin, keyed on the job id, idempotent."""

from __future__ import annotations

from celery import shared_task
from celery.signals import worker_ready, worker_shutdown

from studio import workers
from studio.jobs.execution import execute, reap_stale_jobs


@shared_task(name="studio.run_job", bind=True, acks_late=True, reject_on_worker_lost=True)
def run_job(self, job_id: int) -> None:  # type: ignore[no-untyped-def]
    execute(int(job_id), worker=self.request.hostname or "worker")


@shared_task(name="studio.reap_jobs", ignore_result=True)
def reap_jobs() -> int:
    return reap_stale_jobs()


@shared_task(name="studio.noop")
def noop() -> None:
    """Used by benchmarks to measure the bare Celery round trip."""


@worker_ready.connect
def _worker_ready(sender, **kwargs):  # type: ignore[no-untyped-def]
    workers.start_heartbeat(sender)


@worker_shutdown.connect
def _worker_shutdown(sender, **kwargs):  # type: ignore[no-untyped-def]
    workers.stop_heartbeat()
