"""The Job framework: claiming, finishing, stopping, retrying, leases and the reaper."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from studio import services
from studio.jobs.execution import claim, execute, finish, reap_stale_jobs
from studio.models import Job, JobLog, Worker

pytestmark = pytest.mark.django_db


def submit(project, owner, kind="diagnostic.sleep", **params):
    return services.job_submit(project=project, kind=kind, owner=owner, parameters=params)


def test_a_job_runs_to_completion_with_progress_logs_and_metrics(project, owner, on_commit):
    with on_commit(execute=True):
        job = submit(project, owner, seconds=0.2)
    job.refresh_from_db()
    assert job.status == "Completed"
    assert job.progress == 1.0
    assert job.attempts == 1
    assert job.outputs == {"slept": 0.2}
    assert job.started_at and job.finished_at
    assert job.metrics.filter(name="elapsed_seconds").exists()
    messages = list(job.logs.values_list("message", flat=True))
    assert messages[0].startswith("Started on")
    assert messages[-1] == "Job completed."


def test_a_failing_runner_ends_failed_with_its_reason(project, owner, on_commit):
    with on_commit(execute=True):
        job = submit(project, owner, seconds=0.05, fail="disk on fire")
    job.refresh_from_db()
    assert job.status == "Failed"
    assert job.failure_reason == "disk on fire"


def test_an_unknown_kind_is_refused_at_submit(project, owner):
    from studio.errors import ServiceError

    with pytest.raises(ServiceError):
        submit(project, owner, kind="nope")


def test_a_job_is_claimed_once_and_a_duplicate_delivery_does_nothing(project, owner):
    job = submit(project, owner)
    assert claim(job.pk, worker="w1") is not None
    assert claim(job.pk, worker="w2") is None
    job.refresh_from_db()
    assert (job.status, job.worker, job.attempts) == ("Starting", "w1", 1)


def test_a_stale_attempt_cannot_finish_a_job_it_no_longer_owns(project, owner):
    job = submit(project, owner)
    first = claim(job.pk, worker="w1")
    Job.objects.filter(pk=job.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    second = claim(job.pk, worker="w2")
    assert first is not None and second is not None
    assert finish(first, 1, "Completed") is False
    assert finish(second, 2, "Completed") is True
    job.refresh_from_db()
    assert (job.status, job.worker) == ("Completed", "w2")


def test_stopping_a_pending_job_stops_it_at_once(project, owner):
    job = submit(project, owner)
    services.job_stop(job=job, user=owner)
    job.refresh_from_db()
    assert job.status == "Stopped"
    execute(job.pk, worker="w1")  # the queued message arrives later: nothing runs
    job.refresh_from_db()
    assert job.status == "Stopped"
    assert job.attempts == 0


def test_stopping_a_running_job_sets_stopping_and_the_run_ends_stopped(project, owner):
    job = submit(project, owner, seconds=0.5)
    claim(job.pk, worker="w1")
    Job.objects.filter(pk=job.pk).update(status="Running")
    services.job_stop(job=job, user=owner)
    job.refresh_from_db()
    assert job.status == "Stopping"
    assert job.cancel_requested


def test_a_cancel_request_stops_the_runner_at_its_next_checkpoint(project, owner, monkeypatch):
    import studio.jobs.execution as execution

    job = submit(project, owner, seconds=5)
    claim_as_usual = execution.claim

    def claim_then_stop(job_id, *, worker):
        # Stop is pressed right after the claim; the first heartbeat sees it.
        claimed = claim_as_usual(job_id, worker=worker)
        Job.objects.filter(pk=job_id).update(cancel_requested=True, status="Stopping")
        return claimed

    monkeypatch.setattr(execution, "claim", claim_then_stop)
    execute(job.pk, worker="w1")
    job.refresh_from_db()
    assert job.status == "Stopped"
    assert job.outputs == {}


def test_max_runtime_fails_the_job(project, owner):
    job = services.job_submit(
        project=project,
        kind="diagnostic.sleep",
        owner=owner,
        parameters={"seconds": 3},
        resources={"max_runtime_seconds": 0.0001},
    )
    execute(job.pk, worker="w1")
    job.refresh_from_db()
    assert job.status == "Failed"
    assert "max_runtime_seconds" in job.failure_reason


def test_the_reaper_requeues_a_job_whose_worker_died(project, owner, on_commit):
    job = submit(project, owner, seconds=0.05)
    claim(job.pk, worker="dead-worker")
    Job.objects.filter(pk=job.pk).update(
        status="Running", lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    with on_commit(execute=True):
        assert reap_stale_jobs() == 1
    job.refresh_from_db()
    assert job.status == "Completed"  # re-dispatched and run again (inline here)
    assert job.attempts == 2
    assert JobLog.objects.filter(job=job, message__contains="stopped responding").exists()


def test_the_reaper_fails_a_job_past_its_attempt_cap(project, owner):
    job = submit(project, owner)
    Job.objects.filter(pk=job.pk).update(
        status="Running",
        attempts=3,
        max_attempts=3,
        worker="w9",
        lease_expires_at=timezone.now() - timedelta(seconds=1),
    )
    assert reap_stale_jobs() == 1
    job.refresh_from_db()
    assert job.status == "Failed"
    assert "gave up after 3 attempt" in job.failure_reason


def test_a_redelivered_job_past_its_attempt_cap_fails_instead_of_running(project, owner):
    job = submit(project, owner)
    Job.objects.filter(pk=job.pk).update(attempts=3, max_attempts=3)
    execute(job.pk, worker="w1")
    job.refresh_from_db()
    assert job.status == "Failed"
    assert job.failure_reason.startswith("Gave up")
    assert job.attempts == 3


def test_retry_runs_a_failed_job_again(project, owner, on_commit):
    with on_commit(execute=True):
        job = submit(project, owner, seconds=0.01, fail="once")
    job.refresh_from_db()
    assert job.status == "Failed"
    Job.objects.filter(pk=job.pk).update(parameters={"seconds": 0.01})
    with on_commit(execute=True):
        services.job_retry(job=job, user=owner)
    job.refresh_from_db()
    assert job.status == "Completed"


def test_a_gpu_job_waits_with_a_reason_when_no_gpu_worker_is_online(
    project, owner, on_commit, monkeypatch
):
    sent = []
    monkeypatch.setattr(
        "studio.jobs.dispatch.dispatch", lambda job_id, queue: sent.append((job_id, queue))
    )
    with on_commit(execute=True):
        job = services.job_submit(
            project=project, kind="diagnostic.sleep", owner=owner, queue="gpu"
        )
    assert job.status == "Pending"
    assert "GPU" in job.pending_reason
    assert sent == [(job.pk, "gpu")]


def test_a_gpu_job_may_fall_back_to_cpu_when_allowed(project, owner):
    job = services.job_submit(
        project=project,
        kind="diagnostic.sleep",
        owner=owner,
        queue="gpu",
        resources={"allow_cpu_fallback": True},
    )
    assert job.queue == "cpu"
    assert job.pending_reason == ""


def test_a_gpu_job_has_no_pending_reason_when_a_gpu_worker_is_online(project, owner):
    Worker.objects.create(
        hostname="gpu@box",
        queues=["gpu"],
        gpus=1,
        started_at=timezone.now(),
        last_seen=timezone.now(),
    )
    job = services.job_submit(project=project, kind="diagnostic.sleep", owner=owner, queue="gpu")
    assert job.queue == "gpu"
    assert job.pending_reason == ""
