"""The labeling task queue under load: 100 labelers at once on a 100,000-item job.

A live studio (uvicorn + a worker) of each backend; a text-classification job of 100,000
items with 3 workers per item; 100 labelers, each with its own token and keep-alive
connection, loop ``POST next-task`` → ``POST submit``. Two runs:

- **paced**: each labeler thinks for a random 0.5–1.5 s between answers, as people do —
  the latency a labeler feels with 100 colleagues at work;
- **flat out**: no thinking at all — the queue's throughput (labels per second) and the
  latency under that saturation.

Target (PostgreSQL): p99 under 50 ms for next-task and submit with 100 labelers at work.
The embedded backend (SQLite) is measured the same way as the baseline.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.loadgen import Connection, build_request, run_sync
from bench.report import Machine, now_utc, table, write_section
from bench.stack import ROOT, backend_named, live_studio

ITEMS = 100_000
LABELERS = 100
PER_ITEM = 3
SECONDS = 30.0
LABELS = ["positive", "negative", "neutral"]

USERS_SCRIPT = """
import json, os
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
from studio import services
from studio.models import Project
project = Project.objects.get(pk=int(os.environ["BENCH_PROJECT"]))
tokens = []
for i in range(int(os.environ["BENCH_LABELERS"])):
    user = get_user_model().objects.create_user(f"labeler{i:03d}", password="x-bench-123")
    services.project_member_add(project=project, username=user.username, role="labeler")
    tokens.append(Token.objects.create(user=user).key)
print(json.dumps(tokens))
"""


def _csv(path: Path, n: int) -> Path:
    rng = random.Random(7)
    words = ["good", "bad", "fine", "great", "awful", "okay", "love", "hate", "meh", "superb"]
    with path.open("w") as f:
        f.write("id,text\n")
        for i in range(n):
            f.write(f"{i},{' '.join(rng.choice(words) for _ in range(12))}\n")
    return path


def _prepare(studio: Any, scratch: Path) -> tuple[int, list[str]]:
    source = _csv(scratch / "reviews.csv", ITEMS)
    with source.open("rb") as f:
        dataset = studio.api(
            "POST",
            "/api/v1/datasets/",
            data={"project": studio.project},
            files={"file": ("reviews.csv", f)},
            timeout=300,
        ).json()
    _wait(studio, f"/api/v1/datasets/{dataset['id']}/", lambda d: d["status"] == "Ready")
    job = studio.api(
        "POST",
        "/api/v1/labeling-jobs/",
        json={
            "project": studio.project,
            "name": "bench",
            "dataset": dataset["id"],
            "task_type": "text_classification",
            "data_column": "text",
            "labels": LABELS,
            "workers_per_item": PER_ITEM,
            "consolidation": "majority_vote",
        },
    ).json()
    started = time.monotonic()
    _wait(studio, f"/api/v1/labeling-jobs/{job['id']}/", lambda j: j["status"] == "InProgress")
    print(f"[labeling] {ITEMS:,} items set up in {time.monotonic() - started:.1f} s", flush=True)
    out = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", USERS_SCRIPT],
        env={**studio.env, "BENCH_PROJECT": str(studio.project), "BENCH_LABELERS": str(LABELERS)},
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return int(job["id"]), list(json.loads(out.strip().splitlines()[-1]))


def _wait(studio: Any, path: str, done: Any, timeout: float = 600.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        body = studio.api("GET", path).json()
        if done(body):
            return
        if body.get("status") == "Failed":
            raise RuntimeError(f"{path} failed: {body.get('failure_reason')}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} not done in {timeout:g} s: {body}")
        studio.check_alive()
        time.sleep(0.5)


async def _labelers(
    url: str, job_id: int, tokens: list[str], *, seconds: float, think: tuple[float, float]
) -> dict[str, Any]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    timings: dict[str, list[float]] = {"next": [], "submit": []}
    errors: list[str] = []
    labels = 0
    stop_at = time.perf_counter() + seconds

    async def one(i: int, token: str) -> None:
        nonlocal labels
        rng = random.Random(i)
        conn = Connection(host, port)
        headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
        await asyncio.sleep(rng.uniform(0, think[1]))  # people do not start in step
        try:
            while time.perf_counter() < stop_at:
                t0 = time.perf_counter()
                status, _, body = await conn.request(
                    build_request(f"{url}/api/v1/labeling-jobs/{job_id}/next-task/", b"", headers)
                )
                timings["next"].append(time.perf_counter() - t0)
                if status == 204:
                    return
                if status != 200:
                    errors.append(f"next-task {status}: {body[:120]!r}")
                    return
                task = json.loads(body)
                if think[1]:
                    await asyncio.sleep(rng.uniform(*think))
                payload = json.dumps({"label": rng.choice(LABELS)}).encode()
                t0 = time.perf_counter()
                status, _, body = await conn.request(
                    build_request(
                        f"{url}/api/v1/assignments/{task['assignment']}/submit/", payload, headers
                    )
                )
                timings["submit"].append(time.perf_counter() - t0)
                if status != 200:
                    errors.append(f"submit {status}: {body[:120]!r}")
                    return
                labels += 1
        finally:
            conn.close()

    started = time.perf_counter()
    await asyncio.gather(*(one(i, t) for i, t in enumerate(tokens)))
    elapsed = time.perf_counter() - started

    def pct(values: list[float], q: float) -> float:
        values = sorted(values)
        return (
            values[min(len(values) - 1, round(q / 100 * (len(values) - 1)))] * 1000
            if values
            else float("nan")
        )

    return {
        "labels": labels,
        "seconds": elapsed,
        "labels_per_s": labels / elapsed,
        "next_p50": pct(timings["next"], 50),
        "next_p99": pct(timings["next"], 99),
        "submit_p50": pct(timings["submit"], 50),
        "submit_p99": pct(timings["submit"], 99),
        "errors": errors[:5],
        "error_count": len(errors),
    }


def measure(studio: Any, scratch: Path) -> dict[str, Any]:
    job_id, tokens = _prepare(studio, scratch)
    # A short warm-up: connections, caches and the query plans of every process.
    run_sync(_labelers(studio.url, job_id, tokens[:10], seconds=3.0, think=(0.0, 0.0)))
    paced = run_sync(_labelers(studio.url, job_id, tokens, seconds=SECONDS, think=(0.5, 1.5)))
    print(f"[labeling] paced: {paced}", flush=True)
    flat = run_sync(_labelers(studio.url, job_id, tokens, seconds=SECONDS, think=(0.0, 0.0)))
    print(f"[labeling] flat out: {flat}", flush=True)
    return {"paced": paced, "flat": flat}


def run(
    *,
    scratch: Path,
    out: Path | None,
    machine: Machine,
    backends: list[str],
    database_url: str,
    redis_url: str,
) -> None:
    results = {}
    for name in backends:
        print(f"[labeling] {name} …", flush=True)
        with backend_named(name, database_url, redis_url) as backend:
            with live_studio(backend, scratch) as studio:
                results[backend.label] = measure(studio, scratch)
    body = render(machine, results)
    print(body)
    if out is not None:
        write_section(out, "labeling-queue", body)


def render(machine: Machine, results: dict[str, dict[str, Any]]) -> str:
    rows = []
    for label, r in results.items():
        for mode, name in (("paced", "paced (0.5–1.5 s thinking)"), ("flat", "flat out")):
            m = r[mode]
            rows.append(
                (
                    label,
                    name,
                    f"{m['next_p50']:.1f} / {m['next_p99']:.1f} ms",
                    f"{m['submit_p50']:.1f} / {m['submit_p99']:.1f} ms",
                    f"{m['labels_per_s']:.0f}",
                    str(m["error_count"]),
                )
            )
    lines = [
        "## Labeling task queue",
        "",
        f"Measured {now_utc()} on {machine.markdown()}; 1-minute load average "
        f"{os.getloadavg()[0]:.2f} before the first run.",
        "",
        f"A text-classification job of {ITEMS:,} items × {PER_ITEM} workers per item; "
        f"{LABELERS} labelers at once over the REST API, each on its own keep-alive "
        f"connection, looping next-task → submit for {SECONDS:.0f} s. The studio is one "
        "uvicorn process and one worker, as `make run` starts it; the load generator runs "
        "on the same 2 cores. *Paced*: each labeler thinks 0.5–1.5 s between answers, as "
        "people do — the latency a labeler feels; *flat out*: no thinking — the queue's "
        "throughput, with every request queued behind 99 others.",
        "",
        table(
            (
                "backend",
                "labelers",
                "next-task p50 / p99",
                "submit p50 / p99",
                "labels/s",
                "errors",
            ),
            rows,
        ),
        "",
    ]
    for label, r in results.items():
        p99 = max(r["paced"]["next_p99"], r["paced"]["submit_p99"])
        if label.startswith("PostgreSQL"):
            verdict = "met" if p99 < 50 else "not met"
            lines.append(
                f"- {label}: p99 with 100 labelers at work {p99:.1f} ms — target < 50 ms {verdict}."
            )
        else:
            lines.append(
                f"- {label} (the embedded default, no target): p99 with 100 labelers at "
                f"work {p99:.1f} ms; SQLite takes one writer at a time."
            )
    if len(results) == 2:
        (a, ra), (b, rb) = results.items()
        lines.append(
            f"- Flat-out throughput, {b} vs {a}: "
            f"{rb['flat']['labels_per_s'] / max(ra['flat']['labels_per_s'], 1e-9):.2f}×."
        )
    lines += ["", 'Reproduce: `make bench BENCH_ARGS="--only labeling"`.', ""]
    return "\n".join(lines)
