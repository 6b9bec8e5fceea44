"""The HTTP side of the ASGI application: Django's handler, with one thread hop per request.

Django's own ASGI handler runs a middleware chain in async mode; every middleware that is
not natively async (most of them, ours included) then crosses from the event loop to a
thread and back for its ``process_request`` and again for its ``process_response``. That is
some twenty hops a request, several milliseconds on two busy cores, for views that are all
synchronous anyway. Here the chain is loaded in sync mode and the whole of it runs in one
``sync_to_async`` call.

Big data never passes through the web process whole, and never sits on its disk twice:

- A large request body (an upload) is received at most 8 MiB ahead of the view reading
  it, instead of being spooled to a temporary file before the view runs, so the multipart
  parser's upload handler writes the file once, while the rest arrives.
- Streaming responses with a synchronous iterator (``FileResponse`` downloads of datasets
  and artifacts) are sent part by part: Django's handler would first read the whole
  iterator into memory.
"""

from __future__ import annotations

import asyncio
import io
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import django
from asgiref.sync import sync_to_async
from django.conf import settings
from django.core import signals
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.http import FileResponse, HttpRequest, HttpResponseBase
from django.urls import set_script_prefix

Receive = Callable[[], Awaitable[dict[str, Any]]]

_DONE = object()

# Blocks of a streamed file: large enough that a thread hop per block costs nothing.
STREAM_BLOCK = 1024 * 1024
# How much of an upload's body is received ahead of the request's thread.
READ_AHEAD = 8 * 1024 * 1024


def _next_part(iterator: Iterator[bytes]) -> Any:
    return next(iterator, _DONE)


async def _parts(response: Any) -> AsyncIterator[bytes]:
    """The parts of a streaming response, read in a worker thread one at a time."""
    if response.is_async:
        async for part in response.streaming_content:
            yield part
        return
    iterator = iter(response.streaming_content)
    while True:
        part = await sync_to_async(_next_part, thread_sensitive=False)(iterator)
        if part is _DONE:
            return
        yield part


class StreamingBody:
    """Stand-in for a streaming response in ``send_response``: parts pulled one at a time."""

    def __init__(self, response: Any) -> None:
        self.response = response

    def __getattr__(self, name: str) -> Any:
        return getattr(self.response, name)

    def __aiter__(self) -> AsyncIterator[bytes]:
        return _parts(self.response)


class ReceivedBody(io.RawIOBase):
    """A request body read from the ASGI connection, from the request's thread, on demand.

    A task on the event loop receives the body ahead of the reader, up to ``ahead`` bytes,
    so the network and the request's thread (parsing, writing the upload to disk) work at
    the same time instead of taking turns: the server stops reading the socket while nobody
    receives. Memory stays at about ``ahead`` bytes whatever the body's size.
    """

    def __init__(
        self, receive: Receive, loop: asyncio.AbstractEventLoop, ahead: int = READ_AHEAD
    ) -> None:
        self._receive = receive
        self._loop = loop
        self._ahead = ahead
        self._buffer = bytearray()
        self._more = True
        self._error: BaseException | None = None
        self._ready = threading.Condition()
        self._room = asyncio.Event()
        # The reader is blocked on more than the buffer holds (a whole body read at once):
        # receive past ``ahead`` then, or both sides would wait for each other.
        self._waiting = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start receiving; called on the event loop before the request's thread reads."""
        self._task = self._loop.create_task(self._pump())

    async def _pump(self) -> None:
        try:
            while True:
                while len(self._buffer) >= self._ahead and not self._waiting:
                    self._room.clear()
                    await self._room.wait()
                message = await self._receive()
                with self._ready:
                    if message["type"] == "http.disconnect":
                        # An OSError: Django turns it into UnreadablePostError for the parser.
                        self._error = ConnectionResetError(
                            "The client went away while sending the body."
                        )
                    else:
                        self._buffer += message.get("body", b"")
                        self._more = message.get("more_body", False)
                    self._ready.notify_all()
                    if self._error is not None or not self._more:
                        return
        except BaseException as exc:  # cancelled, or the server failed: wake the reader
            with self._ready:
                if self._error is None:
                    self._error = ConnectionResetError("The request body could not be read.")
                self._ready.notify_all()
            if not isinstance(exc, Exception):
                raise

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        size = -1 if size is None else size
        with self._ready:
            while self._more and self._error is None and (size < 0 or len(self._buffer) < size):
                if not self._waiting:
                    self._waiting = True
                    self._loop.call_soon_threadsafe(self._room.set)
                self._ready.wait()
            self._waiting = False
            if self._error is not None and (size < 0 or len(self._buffer) < size):
                raise self._error
            was_full = len(self._buffer) >= self._ahead
            if size < 0 or size >= len(self._buffer):
                data = bytes(self._buffer)
                self._buffer.clear()
            else:
                with memoryview(self._buffer) as view:
                    data = bytes(view[:size])
                del self._buffer[:size]  # O(1): a bytearray drops its head without moving
            # Wake the receiving task only if it stopped for room and now has some.
            wake = was_full and self._more and len(self._buffer) < self._ahead
        if wake:
            self._loop.call_soon_threadsafe(self._room.set)
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def stop(self) -> None:
        """Stop receiving (on the event loop), whether or not the body was read whole."""
        if self._task is not None and not self._task.done():
            self._task.cancel()


def _content_length(scope: dict[str, Any]) -> int:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return 0
    return 0


class SyncChainASGIHandler(ASGIHandler):
    async def handle(self, scope: dict[str, Any], receive: Receive, send: Any) -> None:
        if _content_length(scope) <= settings.FILE_UPLOAD_MAX_MEMORY_SIZE:
            await super().handle(scope, receive, send)
            return
        # Django's own path, less the spooling of the body and the task listening for a
        # disconnect (the body's reader is the one receiving now, and sees it).
        body = ReceivedBody(receive, asyncio.get_running_loop())
        body.start()
        try:
            set_script_prefix(get_script_prefix(scope))
            await signals.request_started.asend(sender=self.__class__, scope=scope)
            request, error_response = self.create_request(scope, body)
            if request is None:
                await self.send_response(error_response, send)
                await sync_to_async(error_response.close)()
                return
            response = await self.run_get_response(request)
            try:
                await self.send_response(response, send)
            finally:
                await sync_to_async(response.close)()
        finally:
            body.stop()
            body.close()

    def load_middleware(self, is_async: bool = False) -> None:
        super().load_middleware(is_async=False)

    async def get_response_async(self, request: HttpRequest) -> HttpResponseBase:
        response: HttpResponseBase = await sync_to_async(self.get_response, thread_sensitive=True)(
            request
        )
        return response

    async def run_get_response(self, request: HttpRequest) -> HttpResponseBase:
        response = await super().run_get_response(request)
        if isinstance(response, FileResponse):
            response.block_size = STREAM_BLOCK
        return response

    async def send_response(self, response: Any, send: Any) -> None:
        if getattr(response, "streaming", False) and not response.is_async:
            response = StreamingBody(response)
        await super().send_response(response, send)


def get_asgi_application() -> SyncChainASGIHandler:
    """Like :func:`django.core.asgi.get_asgi_application`, with the handler above."""
    django.setup(set_prefix=False)
    return SyncChainASGIHandler()
