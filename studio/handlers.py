"""The HTTP side of the ASGI application: Django's handler, with one thread hop per request.

Django's own ASGI handler runs a middleware chain in async mode; every middleware that is
not natively async (most of them, ours included) then crosses from the event loop to a
thread and back for its ``process_request`` and again for its ``process_response``. That is
some twenty hops a request, several milliseconds on two busy cores, for views that are all
synchronous anyway. Here the chain is loaded in sync mode and the whole of it runs in one
``sync_to_async`` call.

Streaming responses with a synchronous iterator (``FileResponse`` downloads of datasets and
artifacts) are also sent chunk by chunk: Django's handler would first read the whole
iterator into memory, and a dataset must never pass through the web process whole.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import django
from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIHandler
from django.http import FileResponse, HttpRequest, HttpResponseBase

_DONE = object()

# Blocks of a streamed file: large enough that a thread hop per block costs nothing.
STREAM_BLOCK = 1024 * 1024


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


class SyncChainASGIHandler(ASGIHandler):
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
