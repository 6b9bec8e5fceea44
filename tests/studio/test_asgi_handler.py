"""The ASGI handler runs a request's synchronous work in one hop, receives an upload's body
ahead of the request's thread within a bound, and streams files in parts."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from asgiref.sync import SyncToAsync
from asgiref.testing import ApplicationCommunicator
from channels.db import database_sync_to_async
from channels.testing import HttpCommunicator
from django.http import StreamingHttpResponse
from rest_framework.authtoken.models import Token

from studio.asgi import application
from studio.handlers import ReceivedBody, SyncChainASGIHandler
from studio.models import Dataset

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


async def test_an_api_request_crosses_to_a_thread_only_a_few_times(owner, project, monkeypatch):
    token = await database_sync_to_async(lambda: Token.objects.create(user=owner).key)()
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


def multipart(fields: dict[str, str], filename: str, content: bytes) -> tuple[bytes, str]:
    boundary = "sextant-test-boundary"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: text/csv\r\n\r\n".encode()
        + content
        + b"\r\n"
    )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def upload_scope(token: str, body: bytes, content_type: str) -> dict:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/v1/datasets/",
        "raw_path": b"/api/v1/datasets/",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            (b"authorization", f"Token {token}".encode()),
            (b"content-type", content_type.encode()),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }


def big_csv(rows: int = 400_000) -> bytes:
    lines = ["id,value,label"] + [f"{i},{i * 0.5},label-{i % 7}" for i in range(rows)]
    return ("\n".join(lines) + "\n").encode()


def temp_upload_bytes(folder) -> int:
    return sum(p.stat().st_size for p in folder.iterdir() if p.is_file())


async def test_a_large_upload_is_written_while_it_arrives(owner, project, settings):
    token = await database_sync_to_async(lambda: Token.objects.create(user=owner).key)()
    content = big_csv()
    assert len(content) > 3 * settings.FILE_UPLOAD_MAX_MEMORY_SIZE
    body, content_type = multipart({"project": str(project.pk), "name": "big"}, "big.csv", content)
    comm = ApplicationCommunicator(application, upload_scope(token, body, content_type))
    step = 64 * 1024
    half = len(body) // 2
    for offset in range(0, half, step):
        await comm.send_input(
            {
                "type": "http.request",
                "body": body[offset : min(offset + step, half)],
                "more_body": True,
            }
        )
    # With half the body sent, the upload's temp file already holds most of that half:
    # nothing waited for the whole body to be spooled first.
    temp_dir = Path(settings.FILE_UPLOAD_TEMP_DIR)
    for _ in range(200):
        if temp_upload_bytes(temp_dir) > half // 2:
            break
        await asyncio.sleep(0.025)
    assert temp_upload_bytes(temp_dir) > half // 2
    for offset in range(half, len(body), step):
        chunk = body[offset : offset + step]
        await comm.send_input(
            {"type": "http.request", "body": chunk, "more_body": offset + step < len(body)}
        )
    start = await comm.receive_output(timeout=20)
    assert start["status"] == 201
    response = await comm.receive_output(timeout=5)
    assert b'"name":"big"' in response["body"].replace(b" ", b"")
    dataset = await database_sync_to_async(
        lambda: Dataset.objects.get(project=project, name="big")
    )()
    assert dataset.source_bytes == len(content)


async def test_a_client_leaving_mid_upload_leaves_no_dataset(owner, project, settings):
    token = await database_sync_to_async(lambda: Token.objects.create(user=owner).key)()
    body, content_type = multipart(
        {"project": str(project.pk), "name": "gone"}, "gone.csv", big_csv()
    )
    comm = ApplicationCommunicator(application, upload_scope(token, body, content_type))
    await comm.send_input(
        {"type": "http.request", "body": body[: len(body) // 2], "more_body": True}
    )
    await comm.send_input({"type": "http.disconnect"})
    start = await comm.receive_output(timeout=20)
    assert start["status"] >= 400
    await comm.wait(timeout=5)
    assert not await database_sync_to_async(lambda: Dataset.objects.filter(name="gone").exists())()


class Sender:
    """An ASGI ``receive`` over a list of messages, counting how many were taken."""

    def __init__(self, messages: list[dict]) -> None:
        self.messages = list(messages)
        self.taken = 0
        self.more = asyncio.Event()
        self.more.set()

    async def receive(self) -> dict:
        await self.more.wait()
        if not self.messages:
            await asyncio.Event().wait()  # a silent client
        self.taken += 1
        return self.messages.pop(0)


def body_messages(data: bytes, step: int = 64 * 1024) -> list[dict]:
    return [
        {"type": "http.request", "body": data[i : i + step], "more_body": i + step < len(data)}
        for i in range(0, len(data), step)
    ]


@pytest.mark.django_db(transaction=False)
async def test_a_body_is_received_ahead_of_its_reader_but_only_so_far():
    data = bytes(range(256)) * (3 * 4096 * 4)  # 3 MiB
    sender = Sender(body_messages(data))
    body = ReceivedBody(sender.receive, asyncio.get_running_loop(), ahead=1 << 20)
    body.start()
    # Nobody reads yet: the pump stops once about `ahead` bytes wait.
    for _ in range(100):
        await asyncio.sleep(0.005)
    assert sender.taken == 16  # 1 MiB in 64 KiB messages, of 48
    parts = []
    while chunk := await asyncio.to_thread(body.read, 300_000):
        parts.append(chunk)
    assert b"".join(parts) == data
    body.stop()


@pytest.mark.django_db(transaction=False)
async def test_a_body_read_whole_is_not_held_back_by_the_read_ahead_bound():
    data = b"x" * (5 << 20)
    sender = Sender(body_messages(data))
    body = ReceivedBody(sender.receive, asyncio.get_running_loop(), ahead=1 << 20)
    body.start()
    assert await asyncio.wait_for(asyncio.to_thread(body.read), timeout=10) == data
    body.stop()


@pytest.mark.django_db(transaction=False)
async def test_a_client_leaving_wakes_the_reader_with_an_error():
    data = b"y" * (1 << 20)
    sender = Sender([*body_messages(data)[:4], {"type": "http.disconnect"}])
    body = ReceivedBody(sender.receive, asyncio.get_running_loop(), ahead=8 << 20)
    body.start()
    assert len(await asyncio.to_thread(body.read, 128 * 1024)) == 128 * 1024
    with pytest.raises(ConnectionResetError):
        await asyncio.wait_for(asyncio.to_thread(body.read, 1 << 20), timeout=10)
    body.stop()


@pytest.mark.django_db(transaction=False)
async def test_stopping_a_body_nobody_finished_reading_wakes_its_reader():
    sender = Sender(body_messages(b"z" * (256 * 1024))[:2])  # and then silence
    sender.messages[-1]["more_body"] = True
    body = ReceivedBody(sender.receive, asyncio.get_running_loop())
    body.start()
    reader = asyncio.ensure_future(asyncio.to_thread(body.read, 1 << 20))
    await asyncio.sleep(0.05)
    body.stop()
    with pytest.raises(ConnectionResetError):
        await asyncio.wait_for(reader, timeout=10)
