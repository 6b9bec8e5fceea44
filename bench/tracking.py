"""Experiment tracking: 100,000 metric points through ``log-batch``, and the compare page of
50 runs × 1,000 steps, on a live studio of each backend.

- **Logging**: one run; 100 ``POST /api/v1/runs/<id>/log-batch/`` of 1,000 points each
  (two metrics × 500 steps), one after the other, from one HTTP client; the time is the
  whole loop. Baseline: the same requests' HTTP round trip to a no-op route
  (``GET /api/v1/experiments/<id>/``), to show what the server itself adds per batch.
- **Compare page**: 50 runs of 1,000 steps of one metric; ``GET /experiments/compare/``
  with the 50 runs by a logged-in browser session, after a warm-up: median of 10, the
  whole HTTP request (the curves downsampled on the server to 500 points each).

Targets: logging under 5 s; the compare page under 1 s.
"""

from __future__ import annotations

import re
import statistics
import time
from pathlib import Path
from typing import Any

import requests

from bench.report import Machine, now_utc, table, write_section
from bench.stack import backend_named, live_studio

POINTS = 100_000
BATCH = 1_000
RUNS = 50
STEPS = 1_000


def _login(url: str) -> requests.Session:
    session = requests.Session()
    page = session.get(f"{url}/login/", timeout=30)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    assert token is not None, "no CSRF token on the login page"
    done = session.post(
        f"{url}/login/",
        data={
            "username": "bench",
            "password": "bench-password-123",
            "csrfmiddlewaretoken": token.group(1),
        },
        headers={"Referer": f"{url}/login/"},
        timeout=30,
    )
    assert done.ok and "/login/" not in done.url, "the bench user could not log in"
    return session


def measure(studio: Any) -> dict[str, Any]:
    experiment = studio.api(
        "POST", "/api/v1/experiments/", json={"project": studio.project, "name": "bench"}
    ).json()
    run = studio.api("POST", "/api/v1/runs/", json={"experiment": experiment["id"]}).json()
    batches = []
    for b in range(POINTS // BATCH):
        steps = range(b * BATCH // 2, (b + 1) * BATCH // 2)
        batches.append(
            [{"key": "loss", "value": 1.0 / (s + 1), "step": s} for s in steps]
            + [{"key": "accuracy", "value": 1 - 1.0 / (s + 2), "step": s} for s in steps]
        )
    noop = f"/api/v1/experiments/{experiment['id']}/"
    started = time.perf_counter()
    for _ in batches:
        studio.api("GET", noop)
    round_trips = time.perf_counter() - started
    started = time.perf_counter()
    for batch in batches:
        studio.api("POST", f"/api/v1/runs/{run['id']}/log-batch/", json={"metrics": batch})
    logging = time.perf_counter() - started
    stored = studio.api("GET", f"/api/v1/runs/{run['id']}/metrics/?key=loss").json()
    assert len(stored["points"]) == POINTS // 2, len(stored["points"])

    ids = []
    for i in range(RUNS):
        made = studio.api(
            "POST",
            "/api/v1/runs/",
            json={"experiment": experiment["id"], "name": f"run {i}", "params": {"lr": i / 100}},
        ).json()
        points = [{"key": "loss", "value": (i + 1) / (s + 1), "step": s} for s in range(STEPS)]
        studio.api("POST", f"/api/v1/runs/{made['id']}/log-batch/", json={"metrics": points})
        ids.append(made["id"])
    session = _login(studio.url)
    url = f"{studio.url}/experiments/compare/?runs={','.join(map(str, ids))}"
    first = session.get(url, timeout=60)
    assert first.ok and "compare-series" in first.text, first.status_code
    times = []
    for _ in range(10):
        started = time.perf_counter()
        response = session.get(url, timeout=60)
        times.append(time.perf_counter() - started)
        assert response.ok
    return {
        "logging": logging,
        "round_trips": round_trips,
        "compare_p50": statistics.median(times),
        "compare_max": max(times),
        "page_bytes": len(first.content),
    }


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
        print(f"[tracking] {name} …", flush=True)
        with backend_named(name, database_url, redis_url) as backend:
            with live_studio(backend, scratch) as studio:
                results[backend.label] = measure(studio)
        print(f"[tracking] {name}: {results[backend.label]}", flush=True)
    body = render(machine, results)
    print(body)
    if out is not None:
        write_section(out, "tracking", body)


def render(machine: Machine, results: dict[str, dict[str, Any]]) -> str:
    lines, verdicts = [], []
    for label, r in results.items():
        lines.append(
            (
                label,
                f"{r['logging']:.2f} s",
                f"{r['round_trips']:.2f} s",
                f"{r['compare_p50'] * 1000:.0f} ms",
                f"{r['compare_max'] * 1000:.0f} ms",
                f"{r['page_bytes'] / 1024:.0f} KiB",
            )
        )
        verdicts.append(
            f"{label}: logging {r['logging']:.2f} s against < 5 s: "
            f"{'met' if r['logging'] < 5 else '**missed**'}; compare page "
            f"{r['compare_p50'] * 1000:.0f} ms against < 1 s: "
            f"{'met' if r['compare_p50'] < 1 else '**missed**'}."
        )
    header = [
        "backend",
        "100,000 points (100 log-batch)",
        "100 no-op round trips",
        "compare p50",
        "compare max",
        "page size",
    ]
    return f"""## Experiment tracking: metric logging and the compare page

Measured {now_utc()} on {machine.markdown()}.
A live studio per backend (uvicorn + one Celery worker). Logging: one run, 100
`log-batch` requests of 1,000 points (two metrics × 500 steps) one after the other from
one HTTP client; beside it, 100 requests to a route that does nothing much, for the HTTP
round trip alone. Compare page: 50 runs × 1,000 steps of one metric, the whole HTTP request
of a logged-in session, median of 10 after a warm-up (each curve downsampled to 500
points on the server).

{table(header, lines)}

{chr(10).join(verdicts)}
"""
