"""Dispatch latency: from ``POST /api/v1/jobs/`` to the job's runner starting in a worker.

For each backend a scratch studio runs (uvicorn + one prefork worker, concurrency 1). After
a warm-up, jobs of kind ``diagnostic.noop`` are submitted one at a time; a job's latency is
its ``started_at`` (written by the worker once it has claimed the job, read from the API)
minus ``time.time()`` taken right before the POST. The client does not look at the job
until 40 ms after the POST, so its polling requests stay out of the measured window, and
submits the next job only once the previous one has finished.

Peer, on the same broker, with the studio stopped: a bare Celery application (no Django,
:mod:`bench.celery_peer`) and its own prefork worker of concurrency 1. Its task writes
``time.time()`` to a file as it starts; latency = that time − ``time.time()`` just before
``send_task``. This is the floor any Celery-based dispatch pays on that broker.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.celery_peer import QUEUE, STAMP_TASK, make_app
from bench.report import Machine, Summary, now_utc, table, write_section
from bench.stack import Backend, LiveStudio, backend_named, live_studio
from studio.launcher import BIN, Stack

WARMUP = 10
# The client's first look at a job, after the POST: later than almost every start, so that
# its requests do not compete with the path being measured.
FIRST_LOOK = 0.040
# A random pause between two jobs, up to one polling interval of the embedded broker, so that
# submissions do not fall into step with the worker's polling (which would bias the figures).
JITTER = 0.020
TARGET_P50 = {"services": 0.010, "embedded": 0.060}
FINISHED = ("Completed", "Failed", "Stopped")


def iso_time(value: str) -> float:
    return dt.datetime.fromisoformat(value).timestamp()


# --------------------------------------------------------------------------- the API path


@dataclass(frozen=True)
class JobTiming:
    latency: float  # started_at - t0: the measured figure
    created: float  # t0 -> the job row's created_at (in the web process, before commit)
    response: float  # t0 -> the API's 201 received by the client (after the publish)


def submit_and_time(studio: LiveStudio) -> JobTiming:
    body: dict[str, Any] = {"project": studio.project, "kind": "diagnostic.noop"}
    t0 = time.time()
    response = studio.session.post(f"{studio.url}/api/v1/jobs/", json=body, timeout=30)
    t_response = time.time()
    if response.status_code != 201:
        raise RuntimeError(f"POST /api/v1/jobs/ -> {response.status_code}: {response.text}")
    time.sleep(max(0.0, t0 + FIRST_LOOK - time.time()))
    job = studio.wait_job(response.json()["id"], lambda j: j["status"] in FINISHED, poll=0.025)
    if job["status"] != "Completed" or not job["started_at"]:
        raise RuntimeError(f"the no-op job did not complete: {job}")
    return JobTiming(
        latency=iso_time(job["started_at"]) - t0,
        created=iso_time(job["created_at"]) - t0,
        response=t_response - t0,
    )


# --------------------------------------------------------------------------- bare Celery


class StampFile:
    """The file the peer's task appends ``<token> <time>`` lines to; read as it grows."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.touch()
        self.offset = 0
        self.stamps: dict[str, float] = {}

    def wait(self, token: str, *, timeout: float, poll: float = 0.0005) -> float:
        deadline = time.monotonic() + timeout
        while token not in self.stamps:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the peer's task for {token} did not run in {timeout:g} s")
            time.sleep(poll)
            with self.path.open("rb") as f:
                f.seek(self.offset)
                data = f.read()
            complete = data[: data.rfind(b"\n") + 1]
            self.offset += len(complete)
            for line in complete.decode().splitlines():
                key, _, stamp = line.partition(" ")
                self.stamps[key] = float(stamp)
        return self.stamps[token]


def _peer_broker(backend: Backend, folder: Path) -> tuple[str, dict[str, Any]]:
    """The peer's broker: the same kind and settings as the studio's, in its own place."""
    if backend.name == "services":
        return backend.env["REDIS_URL"], {"visibility_timeout": 3600}
    folders = {k: folder / k for k in ("queue", "processed", "control")}
    for path in folders.values():
        path.mkdir(parents=True, exist_ok=True)
    return "sextantfs://", {
        "data_folder_in": str(folders["queue"]),
        "data_folder_out": str(folders["queue"]),
        "processed_folder": str(folders["processed"]),
        "control_folder": str(folders["control"]),
        "store_processed": False,
        "polling_interval": float(os.environ.get("SEXTANT_BROKER_POLLING", "0.02")),
    }


def bare_celery(backend: Backend, scratch: Path, n: int) -> list[float]:
    """Latencies of ``n`` sequential send_task → task start, after a warm-up."""
    folder = scratch / f"peer-{backend.name}-{uuid.uuid4().hex[:6]}"
    folder.mkdir(parents=True)
    broker, options = _peer_broker(backend, folder)
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env.update(
        {
            "BENCH_PEER_BROKER": broker,
            "BENCH_PEER_TRANSPORT": json.dumps(options),
            "PYTHONUNBUFFERED": "1",
        }
    )
    argv = [
        str(BIN / "celery"),
        "-A",
        "bench.celery_peer",
        "worker",
        "-Q",
        QUEUE,
        "--pool",
        "prefork",
        "--concurrency",
        "1",
        "--loglevel",
        "WARNING",
        "-n",
        f"peer-{uuid.uuid4().hex[:6]}@%h",
    ]
    stack = Stack(env=env, log_dir=folder / "logs")
    app = make_app(broker, options)
    stamps = StampFile(folder / "stamps.txt")
    rng = random.Random(1)
    latencies = []
    try:
        stack.start("peer", argv)
        for i in range(WARMUP + n):
            token = uuid.uuid4().hex
            t0 = time.time()
            app.send_task(STAMP_TASK, args=[str(stamps.path), token], queue=QUEUE)
            # The first message also waits for the worker to start.
            started = stamps.wait(token, timeout=60 if i == 0 else 30)
            if i >= WARMUP:
                latencies.append(started - t0)
            if stack.dead():
                raise RuntimeError(f"the peer worker died; see {folder / 'logs'}")
            # Let the task finish and ack before the next one, then a random pause.
            time.sleep(0.005 + rng.uniform(0, JITTER))
    finally:
        stack.stop()
        app.close()
    return latencies


# --------------------------------------------------------------------------- one backend


@dataclass
class BackendResult:
    backend: Backend
    broker: str
    jobs: list[JobTiming]
    bare: list[float]
    load_before: tuple[float, float, float]


def measure_backend(
    backend: Backend, scratch: Path, jobs: int, *, extra_env: dict[str, str] | None = None
) -> BackendResult:
    load = os.getloadavg()
    with live_studio(backend, scratch, extra_env=extra_env) as studio:
        print(f"[dispatch] {backend.label}: {WARMUP} warm-up jobs, then {jobs} …", flush=True)
        rng = random.Random(1)
        timings = []
        for i in range(WARMUP + jobs):
            timing = submit_and_time(studio)
            if i >= WARMUP:
                timings.append(timing)
            time.sleep(rng.uniform(0, JITTER))
        polling = float(studio.env.get("SEXTANT_BROKER_POLLING", "0.02"))
    print(f"[dispatch] {backend.label}: bare Celery, {jobs} tasks …", flush=True)
    bare = bare_celery(backend, scratch, jobs)
    broker = "Redis" if backend.name == "services" else f"filesystem, {polling * 1000:g} ms polling"
    return BackendResult(backend, broker, timings, bare, load)


# --------------------------------------------------------------------------- the report


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def _row(label: str, values: list[float], *extra: str) -> list[str]:
    s = Summary.of(values)
    return [label, _ms(s.p50), _ms(s.p90), _ms(s.p99), _ms(s.max), *extra]


def render(machine: Machine, results: list[BackendResult], jobs: int) -> str:
    latency_rows = []
    steps_rows = []
    verdicts = []
    for r in results:
        name = r.backend.label
        api = Summary.of([j.latency for j in r.jobs])
        bare = Summary.of(r.bare)
        ratio = f"{api.p50 / bare.p50:.1f}×"
        latency_rows += [
            _row(f"{name}: API → runner start", [j.latency for j in r.jobs], ratio),
            _row(f"{name}: bare Celery send → task start", r.bare, "1.0×"),
        ]
        created = Summary.of([j.created for j in r.jobs]).p50
        response = Summary.of([j.response for j in r.jobs]).p50
        steps_rows.append(
            [name, r.broker, _ms(created), _ms(response), _ms(api.p50 - response), _ms(api.p50)]
        )
        target = TARGET_P50[r.backend.name]
        verdicts.append(
            f"{name}: p50 {_ms(api.p50)} ms against < {target * 1000:g} ms: "
            + ("met" if api.p50 < target else "**missed**")
        )
    loads = "; ".join(
        f"{r.backend.name} {', '.join(f'{x:.2f}' for x in r.load_before)}" for r in results
    )
    latency = table(["path", "p50 ms", "p90 ms", "p99 ms", "max ms", "p50 vs bare"], latency_rows)
    steps = table(
        ["backend", "broker", "row created", "201 at client", "201 → runner start", "total"],
        steps_rows,
    )
    return f"""
## Dispatch latency: API → runner start, against bare Celery

Measured {now_utc()} on {machine.markdown()} (load average before each backend: {loads}).
Each backend: a scratch studio (uvicorn + one Celery worker, prefork, concurrency 1, queues
default,cpu), {WARMUP} warm-up jobs, then {jobs} `diagnostic.noop` jobs one after the other.
Latency = the job's `started_at` − `time.time()` just before `POST /api/v1/jobs/`. Bare
Celery: a Celery app without Django on the same broker (same kind and polling, its own
queue), a prefork worker of concurrency 1, {jobs} tasks after {WARMUP}: `send_task` → the
task's first line.

{latency}

Where the API path's time goes (medians, ms after the client's t0). The job row is one
INSERT, committed on its own; the task is published right after it, before the response is
built; "201 → runner start" is the broker hop plus the worker's claim (one UPDATE, which
stamps `started_at`), and it overlaps the response's way back to the client, so it can be
negative.

{steps}

Targets: {"; ".join(verdicts)}.
"""


def run(
    *,
    backends: list[str],
    database_url: str,
    redis_url: str,
    scratch: Path,
    jobs: int,
    out: Path | None,
    machine: Machine,
) -> list[BackendResult]:
    results = []
    for name in backends:
        with backend_named(name, database_url, redis_url) as backend:
            results.append(measure_backend(backend, scratch, jobs))
    section = render(machine, results, jobs)
    print(section)
    if out is not None:
        write_section(out, "dispatch", section)
    return results
