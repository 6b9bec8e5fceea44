"""``/ws/jobs/<id>/`` streams a job's state and log lines to members, and to no one else."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser

from studio import services
from studio.asgi import application
from studio.events import job_changed
from studio.models import JobLog
from studio.routing import websocket_urlpatterns

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


def communicator(user, job_id):
    app = URLRouter(websocket_urlpatterns)
    comm = WebsocketCommunicator(app, f"/ws/jobs/{job_id}/")
    comm.scope["user"] = user
    return comm


@pytest.fixture
def job(project, owner, monkeypatch):
    # The job stays Pending: no worker here, and nothing runs it inline.
    monkeypatch.setattr("studio.jobs.dispatch.dispatch", lambda job_id, queue: None)
    return services.job_submit(project=project, kind="diagnostic.sleep", owner=owner)


async def test_a_member_receives_the_job_state_and_new_lines(owner, job):
    comm = communicator(owner, job.pk)
    connected, _ = await comm.connect()
    assert connected
    first = await comm.receive_json_from(timeout=5)
    assert first["job"]["status"] == "Pending"
    await database_sync_to_async(JobLog.objects.create)(
        job=job, created_at=job.created_at, message="hello from the worker"
    )
    await database_sync_to_async(job_changed)(job.pk)
    update = await comm.receive_json_from(timeout=5)
    assert [line["message"] for line in update["logs"]] == ["hello from the worker"]
    await comm.disconnect()


async def test_a_stranger_and_anonymous_are_refused(outsider, job):
    for user in (outsider, AnonymousUser()):
        comm = communicator(user, job.pk)
        connected, _ = await comm.connect()
        assert not connected


async def test_websockets_check_the_origin():
    comm = WebsocketCommunicator(
        application, "/ws/jobs/1/", headers=[(b"origin", b"http://evil.example")]
    )
    connected, _ = await comm.connect()
    assert not connected
