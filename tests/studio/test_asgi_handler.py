"""The ASGI handler runs a request's synchronous work in one hop and streams files in parts."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import SyncToAsync
from channels.testing import HttpCommunicator
from django.http import StreamingHttpResponse
from rest_framework.authtoken.models import Token

from studio.asgi import application
from studio.handlers import SyncChainASGIHandler

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


async def test_an_api_request_crosses_to_a_thread_only_a_few_times(owner, project, monkeypatch):
    token = await asyncio.to_thread(lambda: Token.objects.create(user=owner).key)
    hops = []
    original = SyncToAsync.__call__

    async def counting(self, *args, **kwargs):
        hops.append(getattr(self.func, "__qualname__", repr(self.func)))
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(SyncToAsync, "__call__", counting)
    comm = HttpCommunicator(
        application,
        "GET",
        f"/api/v1/projects/{project.pk}/",
        headers=[(b"host", b"testserver"), (b"authorization", f"Token {token}".encode())],
    )
    response = await comm.get_response(timeout=10)
    assert response["status"] == 200, response["body"]
    assert b'"name"' in response["body"]
    # Signals on the way in and out, and the whole middleware chain with the view as one:
    # Django's async chain would cross once or twice per middleware.
    assert len(hops) <= 4, hops
    assert sum("get_response" in h for h in hops) == 1, hops


async def test_a_streamed_file_is_sent_part_by_part_not_read_whole_first():
    consumed = []

    def parts():
        for i in range(5):
            consumed.append(i)
            yield f"part-{i};".encode()

    sent = []

    async def send(message):
        # How many parts had been read when each body message left.
        sent.append((message, len(consumed)))

    handler = SyncChainASGIHandler()
    await handler.send_response(StreamingHttpResponse(parts()), send)

    assert sent[0][0]["type"] == "http.response.start"
    bodies = [(m, n) for m, n in sent if m["type"] == "http.response.body" and m.get("body")]
    assert b"".join(m["body"] for m, _ in bodies) == b"".join(
        f"part-{i};".encode() for i in range(5)
    )
    assert [n for _, n in bodies] == [1, 2, 3, 4, 5]
    assert sent[-1][0] == {"type": "http.response.body"}
