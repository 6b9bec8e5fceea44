"""A model server: one process, one instance of a variant, answering the router's frames.

``python -m endpoints.engine.server MANIFEST`` reads a JSON manifest::

    {"models": {"churn": {"path": ".../model.tar.gz", "version": "3"}},
     "multi_model": false, "memory_budget_mb": 1024, "memory_limit_mb": 4096,
     "host": "127.0.0.1", "port": 0, "address_file": ".../address"}

``memory_limit_mb`` caps the process's address space before any model is unpickled (a model
is code): a model that would take more fails with ``MemoryError`` instead of taking the
machine's memory.

A single-model server loads its model before it listens, so a model that cannot load fails
the start (the reason on stderr) rather than the first request. A multi-model server loads a
model on its first request and keeps the loaded ones in an LRU under the memory budget,
evicting the least recently used to make room; an evicted model reloads when asked again.

Once listening it writes ``host port`` to the address file (atomically), which is how the
process that started it learns it is ready. It runs with no database, no secret and no
storage credentials: a model is code, and only the model files given to it are read.

Requests that arrive together (one read of the socket, or several connections ready in the
same turn of the event loop) are decoded one by one, predicted together per model, and
answered in order.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import resource
import signal
import sys
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from endpoints.engine import protocol
from endpoints.engine.payloads import JSON, PayloadError
from endpoints.engine.predictor import Predictor, Request


@dataclass
class Stats:
    requests: int = 0
    errors: int = 0
    batches: int = 0
    loads: int = 0
    evictions: int = 0
    started: float = field(default_factory=time.time)

    def to_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "errors": self.errors,
            "batches": self.batches,
            "loads": self.loads,
            "evictions": self.evictions,
            "uptime_seconds": round(time.time() - self.started, 3),
        }


class ModelStore:
    """The models this server may answer for, loaded on demand within a memory budget."""

    def __init__(
        self, models: dict[str, dict[str, Any]], *, budget_bytes: int, stats: Stats
    ) -> None:
        self.models = models
        self.budget = budget_bytes
        self.stats = stats
        self.loaded: OrderedDict[str, tuple[Predictor, int]] = OrderedDict()

    @property
    def used(self) -> int:
        return sum(size for _, size in self.loaded.values())

    def get(self, name: str) -> Predictor:
        entry = self.loaded.get(name)
        if entry is not None:
            self.loaded.move_to_end(name)
            return entry[0]
        spec = self.models.get(name)
        if spec is None:
            raise PayloadError(
                f"This endpoint has no model {name!r}.",
                status=404,
                code="model_not_found",
                field="X-Target-Model",
            )
        return self._load(name, spec)

    def _load(self, name: str, spec: dict[str, Any]) -> Predictor:
        path = Path(spec["path"])
        # What a model costs in memory is what loading it adds to the process (at least
        # its file's size, which is compressed).
        before = _rss()
        predictor = Predictor.load(
            path, name=name, version=str(spec.get("version", "1")), pipeline=spec.get("pipeline")
        )
        size = max(_rss() - before, path.stat().st_size)
        while self.loaded and self.used + size > self.budget:
            self.loaded.popitem(last=False)
            self.stats.evictions += 1
            gc.collect()
        self.loaded[name] = (predictor, size)
        self.stats.loads += 1
        return predictor

    def describe(self) -> dict[str, Any]:
        return {
            "loaded": list(self.loaded),
            "memory_used_bytes": self.used,
            "memory_budget_bytes": self.budget,
        }


def _rss() -> int:
    try:
        import psutil

        return int(psutil.Process().memory_info().rss)
    except Exception:  # a size estimate only
        return 0


class Server:
    """The frames of every connection, answered a turn of the event loop at a time."""

    def __init__(self, store: ModelStore, *, default_model: str | None) -> None:
        self.store = store
        self.default = default_model
        self.stats = store.stats
        self.pending: list[tuple[Connection, dict[str, Any], bytes]] = []
        self.scheduled = False
        self.loop: asyncio.AbstractEventLoop | None = None

    def enqueue(self, conn: Connection, head: dict[str, Any], body: bytes) -> None:
        self.pending.append((conn, head, body))
        if not self.scheduled:
            self.scheduled = True
            assert self.loop is not None
            self.loop.call_soon(self.flush)

    def flush(self) -> None:
        self.scheduled = False
        batch, self.pending = self.pending, []
        answers: list[bytes | None] = [None] * len(batch)
        # Decoded predictions waiting for their model: model → [(slot, predictor, request)].
        groups: dict[str, list[tuple[int, Predictor, Request]]] = {}
        for slot, (_, head, body) in enumerate(batch):
            op = head.get("op")
            try:
                if op == protocol.PING:
                    answers[slot] = self._ping()
                    continue
                name = head.get("model") or self.default
                if not name:
                    raise PayloadError(
                        "This is a multi-model endpoint: name the model in X-Target-Model.",
                        code="model_required",
                        field="X-Target-Model",
                    )
                predictor = self.store.get(name)
                if op == protocol.META:
                    answers[slot] = protocol.response_frame(
                        200, JSON, json.dumps(predictor.metadata(head.get("as"))).encode()
                    )
                    continue
                if op == protocol.INFER:
                    request = predictor.decode_v2(body, head.get("as"))
                elif op == protocol.INVOKE:
                    request = predictor.decode(head.get("ct", ""), body, head.get("accept", ""))
                else:
                    raise PayloadError(f"Unknown operation {op!r}.", code="bad_operation")
                groups.setdefault(name, []).append((slot, predictor, request))
            except PayloadError as exc:
                answers[slot] = self._error(exc.status, exc.code, exc.message, exc.field)
            except Exception as exc:  # a model that fails to load, say
                answers[slot] = self._error(500, "model_error", f"{type(exc).__name__}: {exc}")
        for items in groups.values():
            predictor = items[0][1]
            try:
                outputs = predictor.predict([request for _, _, request in items])
                self.stats.batches += 1
                for (slot, _, request), out in zip(items, outputs, strict=True):
                    ctype, data = predictor.encode(request, out)
                    answers[slot] = protocol.response_frame(200, ctype, data)
            except Exception as exc:  # the model raised on these rows
                message = f"The model could not predict: {type(exc).__name__}: {exc}"
                for slot, _, _ in items:
                    answers[slot] = self._error(422, "prediction_failed", message)
        self.stats.requests += len(batch)
        # One write per connection for the whole batch, its answers in request order.
        replies: dict[Connection, list[bytes]] = {}
        for (conn, _, _), answer in zip(batch, answers, strict=True):
            assert answer is not None
            replies.setdefault(conn, []).append(answer)
        for conn, parts in replies.items():
            conn.send(parts[0] if len(parts) == 1 else b"".join(parts))

    def _ping(self) -> bytes:
        body = {"status": "ok", "pid": os.getpid(), **self.stats.to_dict(), **self.store.describe()}
        return protocol.response_frame(200, JSON, json.dumps(body).encode())

    def _error(self, status: int, code: str, message: str, field: str | None = None) -> bytes:
        self.stats.errors += 1
        return protocol.response_frame(status, JSON, protocol.error_body(code, message, field))


class Connection(asyncio.Protocol):
    def __init__(self, server: Server) -> None:
        self.server = server
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but behave as one.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        for head, body in protocol.take_requests(self.buffer):
            self.server.enqueue(self, head, body)

    def send(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None


async def serve(manifest: dict[str, Any]) -> None:
    stats = Stats()
    models: dict[str, dict[str, Any]] = manifest["models"]
    budget = int(float(manifest.get("memory_budget_mb", 1024)) * 1024 * 1024)
    store = ModelStore(models, budget_bytes=budget, stats=stats)
    multi = bool(manifest.get("multi_model"))
    default = None if multi else next(iter(models))
    if default is not None:
        store.get(default)  # a model that cannot load fails the start, with its reason
    server = Server(store, default_model=default)
    loop = asyncio.get_running_loop()
    server.loop = loop
    listener = await loop.create_server(
        lambda: Connection(server),
        manifest.get("host", "127.0.0.1"),
        int(manifest.get("port", 0)),
        reuse_address=True,
    )
    host, port = listener.sockets[0].getsockname()[:2]
    address_file = manifest.get("address_file")
    if address_file:
        tmp = Path(f"{address_file}.tmp")
        tmp.write_text(f"{host} {port}\n")
        os.replace(tmp, address_file)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"Serving {', '.join(models) if multi else default} on {host}:{port}", flush=True)
    await stop.wait()
    listener.close()
    await listener.wait_closed()


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m endpoints.engine.server MANIFEST", file=sys.stderr)
        return 2
    manifest = json.loads(Path(argv[0]).read_text())
    limit = manifest.get("memory_limit_mb")
    if limit:
        size = int(limit) * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (size, size))
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover - uvicorn[standard] brings it
        pass
    try:
        asyncio.run(serve(manifest))
    except Exception as exc:  # the reason goes to the log the host reads
        print(
            f"The model server could not start: {type(exc).__name__}: {exc}",
            file=sys.stderr,
            flush=True,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
