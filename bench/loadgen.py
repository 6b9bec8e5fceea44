"""A small HTTP/1.1 load generator: keep-alive connections, a fixed concurrency, every answer
kept (status, latency, the headers asked for).

The serving benchmarks drive endpoints with it from a process of their own, and the
end-to-end tests use it to send thousands of requests in seconds. It speaks just enough
HTTP for that: ``Content-Length`` bodies (no chunked encoding), one request at a time per
connection.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

T = TypeVar("T")


@dataclass
class Answer:
    status: int
    seconds: float
    headers: dict[str, str]
    body: bytes


@dataclass
class Load:
    """What one run sent and got back."""

    answers: list[Answer] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # connections that failed
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return len(self.answers) / self.seconds if self.seconds else 0.0

    def latencies_ms(self) -> list[float]:
        return sorted(a.seconds * 1000.0 for a in self.answers)

    def percentile_ms(self, q: float) -> float:
        values = self.latencies_ms()
        if not values:
            return float("nan")
        return values[min(len(values) - 1, round(q / 100.0 * (len(values) - 1)))]


class Connection:
    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, raw: bytes) -> tuple[int, dict[str, str], bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        body = await self.reader.readexactly(int(headers.get("content-length", "0")))
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status, headers, body

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


def build_request(url: str, body: bytes, headers: dict[str, str], method: str = "POST") -> bytes:
    parts = urlsplit(url)
    lines = [f"{method} {parts.path or '/'} HTTP/1.1", f"Host: {parts.netloc}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def run_load(
    url: str,
    bodies: Callable[[int], tuple[bytes, dict[str, str]]],
    *,
    total: int | None = None,
    concurrency: int = 8,
    until: Callable[[], bool] | None = None,
    keep_body: bool = True,
) -> Load:
    """Send requests to ``url``: ``total`` of them, or until ``until()`` says stop.

    ``bodies(i)`` gives the i-th request's body and headers."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    load = Load()
    counter = iter(range(10**12))
    started = time.perf_counter()

    async def worker() -> None:
        conn = Connection(host, port)
        try:
            while True:
                i = next(counter)
                if total is not None and i >= total:
                    return
                if until is not None and until():
                    return
                body, headers = bodies(i)
                raw = build_request(url, body, headers)
                t0 = time.perf_counter()
                try:
                    status, got, answer = await conn.request(raw)
                except (OSError, asyncio.IncompleteReadError) as exc:
                    load.errors.append(f"{type(exc).__name__}: {exc}")
                    conn.close()
                    continue
                load.answers.append(
                    Answer(status, time.perf_counter() - t0, got, answer if keep_body else b"")
                )
        finally:
            conn.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    load.seconds = time.perf_counter() - started
    return load


def run_sync(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` to its end from synchronous code, on a thread of its own: the
    caller's thread may already run an event loop (a test session driving a browser does)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()
