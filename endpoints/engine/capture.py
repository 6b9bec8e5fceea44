"""Data capture: a sample of an endpoint's requests and answers, as JSON Lines for Model
Monitor.

One line per captured invocation::

    {"event_id": "…", "inference_id": "…" | null, "time": "2026-12-06T21:04:05.123456Z",
     "endpoint": "churn", "variant": "A", "shadow": false, "status": 200,
     "latency_ms": 0.84,
     "input": {"content_type": "text/csv", "encoding": "CSV", "data": "1.0,2.0\\n"},
     "output": {"content_type": "text/csv", "encoding": "CSV", "data": "yes\\n"}}

Files are partitioned by endpoint, variant and hour —
``data-capture/<endpoint>/<variant>/YYYY/MM/DD/HH/<time>-<id>.jsonl`` — so a monitoring job
reads the hours it needs and nothing else. A shadow's answer is a line of its own under the
shadow's name, with the live request's ``event_id``.

:class:`CaptureBuffer` collects lines on the hot path (an append) and hands them over in
batches; writing them is the caller's business, off the hot path.
"""

from __future__ import annotations

import base64
import json
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

PREFIX = "data-capture"
TEXT_TYPES = {"text/csv": "CSV", "application/json": "JSON", "text/plain": "TEXT"}


def payload(content_type: str, data: bytes) -> dict[str, Any]:
    """A body as a capture line holds it: text as text, anything else in base64."""
    kind = content_type.split(";", 1)[0].strip().lower()
    encoding = TEXT_TYPES.get(kind)
    if encoding is not None:
        try:
            return {"content_type": kind, "encoding": encoding, "data": data.decode("utf-8")}
        except UnicodeDecodeError:
            pass
    return {
        "content_type": kind or "application/octet-stream",
        "encoding": "BASE64",
        "data": base64.b64encode(data).decode(),
    }


def new_event_id() -> str:
    return uuid.uuid4().hex


@dataclass
class Event:
    """One captured invocation, kept as bytes until it is written."""

    event_id: str
    time: datetime
    endpoint: str
    variant: str
    status: int
    latency_ms: float
    input_type: str
    input_data: bytes
    output_type: str
    output_data: bytes
    shadow: bool = False
    inference_id: str | None = None

    def line(self) -> str:
        return json.dumps(
            {
                "event_id": self.event_id,
                "inference_id": self.inference_id,
                "time": self.time.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                "endpoint": self.endpoint,
                "variant": self.variant,
                "shadow": self.shadow,
                "status": self.status,
                "latency_ms": round(self.latency_ms, 3),
                "input": payload(self.input_type, self.input_data),
                "output": payload(self.output_type, self.output_data),
            },
            separators=(",", ":"),
        )

    def partition(self) -> str:
        return partition_key(self.endpoint, self.variant, self.time)


def partition_key(endpoint: str, variant: str, when: datetime) -> str:
    """The folder of one endpoint's variant's hour of captures."""
    return f"{PREFIX}/{endpoint}/{variant}/{when:%Y/%m/%d/%H}"


def file_name(when: datetime) -> str:
    return f"{when:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:12]}.jsonl"


def now() -> datetime:
    return datetime.now(UTC)


@dataclass
class CaptureBuffer:
    """Captured events waiting to be written, grouped by partition when taken."""

    max_events: int = 100_000
    events: list[Event] = field(default_factory=list)
    dropped: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, event: Event) -> None:
        if len(self.events) >= self.max_events:
            # The writer cannot keep up: drop rather than grow without bound (and say so).
            self.dropped += 1
            return
        self.events.append(event)

    def take(self) -> dict[str, list[str]]:
        """The waiting events as JSON lines per partition, and the buffer emptied."""
        with self._lock:
            events, self.events = self.events, []
        grouped: dict[str, list[str]] = {}
        for event in events:
            grouped.setdefault(event.partition(), []).append(event.line())
        return grouped
