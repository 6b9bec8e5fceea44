"""Sending a job to its queue, once the transaction that created it has committed.

Services never import tasks: a job is sent by the task's registered *name*, so the app that
submits a job does not depend on the worker code that runs it.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from studio.celery import app as celery_app
from studio.choices import Queue
from studio.models import Job, Worker

RUN_JOB_TASK = "studio.run_job"


def workers_online(queue: str) -> list[Worker]:
    cutoff = timezone.now() - timedelta(seconds=settings.SEXTANT_WORKER_STALE_SECONDS)
    return [w for w in Worker.objects.filter(last_seen__gte=cutoff) if queue in (w.queues or [])]


def gpu_workers_online() -> int:
    return sum(1 for w in workers_online(Queue.GPU) if w.gpus > 0)


def send_task(name: str, args: list[object], queue: str) -> None:
    """Send the task named ``name``, or run it here and now where jobs run inline (tests and
    notebooks need no broker or worker). Nothing reads a task's return value."""
    if settings.SEXTANT_RUN_JOBS_INLINE:
        celery_app.tasks[name].apply(args=args)
    else:
        celery_app.send_task(name, args=args, queue=queue, ignore_result=True)


def dispatch(job_id: int, queue: str) -> None:
    # The job row is the result of a run.
    send_task(RUN_JOB_TASK, [job_id], queue)


def dispatch_on_commit(job: Job) -> None:
    job_id, queue = job.pk, job.queue
    transaction.on_commit(lambda: dispatch(job_id, queue))


def send_task_on_commit(name: str, *args: object, queue: str = Queue.DEFAULT) -> None:
    """Send the task named ``name`` once the transaction commits: how services start small
    follow-up work (alerts) without importing tasks."""
    transaction.on_commit(lambda: send_task(name, list(args), queue))
