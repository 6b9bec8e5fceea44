"""A bare Celery application, without Django: the peer of the dispatch-latency benchmark.

Its one task appends ``<token> <time.time()>`` to a file as soon as it runs, so the sender
can tell when a message it published started running, with no result backend and without
depending on any log line. The worker is started with ``celery -A bench.celery_peer worker``
and takes its broker from the environment (``BENCH_PEER_BROKER`` and, as JSON,
``BENCH_PEER_TRANSPORT``); the sender builds its own app with :func:`make_app`.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from celery import Celery
from kombu.transport import TRANSPORT_ALIASES

QUEUE = "bench"
STAMP_TASK = "bench.stamp"


def _register_embedded_transport() -> None:
    """Make ``sextantfs://`` resolve to the studio's transport without importing ``studio``.

    Importing anything from the ``studio`` package loads its Django-configured Celery app
    (and its worker signal handlers), which a bare peer must not have; ``studio/broker.py``
    itself imports only kombu, so it is loaded from its file under a name of its own.
    """
    if "sextantfs" in TRANSPORT_ALIASES:  # the sender's process, where studio is loaded
        return
    name = "bench_embedded_broker"
    spec = importlib.util.spec_from_file_location(
        name, Path(__file__).resolve().parent.parent / "studio" / "broker.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    TRANSPORT_ALIASES["sextantfs"] = f"{name}:Transport"


_register_embedded_transport()


def make_app(broker: str, transport_options: dict[str, Any]) -> Celery:
    """A Celery app configured like the studio's where it matters for latency."""
    app = Celery("bench_peer", broker=broker)
    app.conf.update(
        broker_transport_options=transport_options,
        broker_connection_retry_on_startup=True,
        task_default_queue=QUEUE,
        task_ignore_result=True,
        task_acks_late=True,
        task_serializer="json",
        accept_content=["json"],
        worker_prefetch_multiplier=1,
        worker_hijack_root_logger=False,
    )

    @app.task(name=STAMP_TASK)  # type: ignore[untyped-decorator]
    def stamp(path: str, token: str) -> None:
        now = time.time()
        with open(path, "a") as f:
            f.write(f"{token} {now!r}\n")

    return app


app = make_app(
    os.environ.get("BENCH_PEER_BROKER", "memory://"),
    json.loads(os.environ.get("BENCH_PEER_TRANSPORT", "{}")),
)
