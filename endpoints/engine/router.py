"""The router's side of serving: which variant and which instance answer a request.

A :class:`Route` is an endpoint as the router sees it: its variants with their weights and
their instances' addresses, its shadow, its capture rate. It is built from the endpoint's
configuration once per change, never per request. Choosing a variant is one random draw
and a bisection over the cumulative weights; choosing an instance takes the one with the
fewest requests in flight.

An :class:`Upstream` is one model server: one TCP connection, pipelined, reused by every
request and every version of the route that names the same address, so a new
configuration that keeps an instance keeps its warm connection.
"""

from __future__ import annotations

import asyncio
import bisect
import itertools
import random
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, cast

from endpoints.engine import protocol

#: How long the router waits for a model server's answer.
TIMEOUT_SECONDS = 60.0


class UpstreamError(Exception):
    """The model server could not be reached, or went away before answering."""


class UpstreamConnection(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiting: deque[asyncio.Future[tuple[int, str, bytes]]] = deque()
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but behave as one.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        for answer in protocol.take_responses(self.buffer):
            future = self.waiting.popleft()
            if not future.done():  # one that timed out still takes its answer off the wire
                future.set_result(answer)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.transport = None
        while self.waiting:
            future = self.waiting.popleft()
            if not future.done():
                future.set_exception(UpstreamError("The model server closed the connection."))

    def send(self, frame: bytes) -> asyncio.Future[tuple[int, str, bytes]]:
        assert self.transport is not None
        future: asyncio.Future[tuple[int, str, bytes]] = asyncio.get_running_loop().create_future()
        self.waiting.append(future)
        self.transport.write(frame)
        return future


class Upstream:
    """One model server, reached over one pipelined connection (opened on first use)."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self.in_flight = 0
        self.conn: UpstreamConnection | None = None
        self.opening: asyncio.Future[UpstreamConnection] | None = None

    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.port

    async def _connection(self) -> UpstreamConnection:
        conn = self.conn
        if conn is not None and not conn.closed:
            return conn
        if self.opening is not None:  # requests arriving while it opens wait for the same one
            return await asyncio.shield(self.opening)
        loop = asyncio.get_running_loop()
        self.opening = loop.create_future()
        try:
            _, made = await loop.create_connection(UpstreamConnection, self.host, self.port)
        except OSError as exc:
            error = UpstreamError(
                f"The model server at {self.host}:{self.port} is not "
                f"answering ({exc.strerror or exc})."
            )
            self.opening.set_exception(error)
            self.opening.exception()  # retrieved: nobody else may be waiting
            self.opening = None
            raise error from None
        self.conn = made
        self.opening.set_result(made)
        self.opening = None
        return made

    async def call(self, frame: bytes, timeout: float = TIMEOUT_SECONDS) -> tuple[int, str, bytes]:
        conn = await self._connection()
        self.in_flight += 1
        try:
            return await asyncio.wait_for(conn.send(frame), timeout)
        except TimeoutError:
            raise UpstreamError(f"The model server took more than {timeout:g} s.") from None
        finally:
            self.in_flight -= 1

    def close(self) -> None:
        if self.conn is not None and self.conn.transport is not None:
            self.conn.transport.close()
        self.conn = None


@dataclass
class VariantStats:
    """What happened to a variant's requests since the last :meth:`take`."""

    count: int = 0
    client_errors: int = 0
    server_errors: int = 0
    latencies: list[float] = field(default_factory=list)
    # The sum of the requests' times: over the interval's length, the mean in flight.
    busy_seconds: float = 0.0

    #: The most latencies kept per interval (a uniform sample past that).
    KEEP = 2000

    def observe(self, status: int, seconds: float) -> None:
        self.count += 1
        self.busy_seconds += seconds
        if 400 <= status < 500:
            self.client_errors += 1
        elif status >= 500:
            self.server_errors += 1
        if len(self.latencies) < self.KEEP:
            self.latencies.append(seconds)
        else:  # reservoir sampling keeps the sample uniform over the interval
            slot = random.randrange(self.count)
            if slot < self.KEEP:
                self.latencies[slot] = seconds

    def take(self) -> VariantStats:
        taken = VariantStats(
            self.count, self.client_errors, self.server_errors, self.latencies, self.busy_seconds
        )
        self.count = self.client_errors = self.server_errors = 0
        self.latencies = []
        self.busy_seconds = 0.0
        return taken


@dataclass
class Variant:
    name: str
    weight: float
    upstreams: list[Upstream]
    stats: VariantStats = field(default_factory=VariantStats)
    _turn: itertools.count[int] = field(default_factory=itertools.count)

    def pick(self, exclude: set[tuple[str, int]] | None = None) -> Upstream | None:
        """The instance with the fewest requests in flight (in turn among equals)."""
        choices = [u for u in self.upstreams if not exclude or u.address not in exclude]
        if not choices:
            return None
        start = next(self._turn) % len(choices)
        best = choices[start]
        for u in itertools.chain(choices[start:], choices[:start]):
            if u.in_flight < best.in_flight:
                best = u
        return best


@dataclass
class Route:
    """An endpoint as the router serves it (immutable once built: a change builds anew)."""

    endpoint_id: int
    name: str
    project_id: int
    generation: int
    variants: list[Variant]
    shadow: Variant | None = None
    capture_percent: float = 0.0
    multi_model: bool = False
    models: frozenset[str] = frozenset()
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._cumulative = list(itertools.accumulate(max(0.0, v.weight) for v in self.variants))
        self._by_name = {v.name: v for v in self.variants}
        if self.shadow is not None:
            self._by_name.setdefault(self.shadow.name, self.shadow)

    def variant(self, name: str) -> Variant | None:
        return self._by_name.get(name)

    def choose(self) -> Variant:
        """A variant drawn by weight."""
        total = self._cumulative[-1] if self._cumulative else 0.0
        if total <= 0:
            return self.variants[0]
        return self.variants[bisect.bisect_right(self._cumulative, random.random() * total)]

    def upstreams(self) -> list[Upstream]:
        found = [u for v in self.variants for u in v.upstreams]
        if self.shadow is not None:
            found += self.shadow.upstreams
        return found


async def call_variant(
    variant: Variant, frame: bytes, *, timeout: float = TIMEOUT_SECONDS
) -> tuple[int, str, bytes]:
    """The answer of one of the variant's instances; an instance that cannot be reached is
    skipped for the next (every request to a model is safe to send again)."""
    tried: set[tuple[str, int]] = set()
    last: UpstreamError | None = None
    started = time.perf_counter()
    while True:
        upstream = variant.pick(tried)
        if upstream is None:
            break
        try:
            status, ctype, body = await upstream.call(frame, timeout)
        except UpstreamError as exc:
            last = exc
            tried.add(upstream.address)
            continue
        variant.stats.observe(status, time.perf_counter() - started)
        return status, ctype, body
    variant.stats.observe(503, time.perf_counter() - started)
    raise last or UpstreamError(f"Variant {variant.name!r} has no instance running.")
