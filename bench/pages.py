"""Page times on PostgreSQL: the home dashboard, the job list and the jobs API, full of rows.

A scratch PostgreSQL database is migrated and filled with one project, one user, 10,000 jobs
(mixed kinds and statuses over 30 days, a few log lines each) and 50 datasets (most of them
Ready and profiled, with a real profile computed from generated data). A logged-in Django
test ``Client`` then requests each page after a warm-up; the time is the whole Django stack
in-process (middleware, view, queries, template), without the HTTP server. One extra
request per page runs under ``CaptureQueriesContext`` to count its queries and find the
slowest ones.

The filling and measuring run in a child process (``python -m bench.pages --child``) so that
Django is configured there, for the scratch database only.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.report import Machine, Summary, now_utc, table, write_section
from bench.stack import prepare_database, services_backend, studio_env
from studio.launcher import ROOT

JOBS = 10_000
DATASETS = 50
LOG_LINES_PER_JOB = 3
WARMUP = 10
REQUESTS = 100
TARGET_P50 = 0.100
PAGES = (("home dashboard", "/"), ("job list", "/jobs/"), ("jobs API", "/api/v1/jobs/?project="))


# --------------------------------------------------------------------------- in the child


def _fill(project_id: int, username: str, scratch: Path) -> dict[str, int]:
    """10,000 jobs with log lines and 50 datasets in the benchmark's project."""
    import datetime as dt
    import random

    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.utils import timezone

    from bench.ingest import generate_csv
    from studio.engine.ingest import ingest_tabular
    from studio.engine.profile import profile_parquet
    from studio.models import Dataset, Job, JobLog

    rng = random.Random(7)
    user = get_user_model().objects.get(username=username)
    now = timezone.now()

    # A real profile (12 columns) computed once from generated data, stored on most datasets.
    csv, parquet = scratch / "profile.csv", scratch / "profile.parquet"
    generate_csv(csv, 20_000)
    result = ingest_tabular(csv, "csv", parquet)
    profile = profile_parquet(parquet).to_dict()
    columns = [{"name": c.name, "dtype": c.dtype, "nullable": c.nullable} for c in result.columns]
    csv.unlink()
    parquet.unlink()

    datasets = []
    for i in range(DATASETS):
        ready = i % 10 != 9
        datasets.append(
            Dataset(
                project_id=project_id,
                name=f"dataset-{i // 2}",  # pairs of versions of the same name
                version=i % 2 + 1,
                status="Ready" if ready else "Failed",
                format="csv",
                source_key=f"datasets/{project_id}/{i}/source.csv",
                source_filename=f"dataset-{i // 2}.csv",
                source_bytes=rng.randint(10_000, 2_000_000_000),
                data_key=f"datasets/{project_id}/{i}/data.parquet",
                num_rows=rng.randint(1_000, 10_000_000) if ready else None,
                columns=columns if ready else [],
                profile=profile if ready else None,
                failure_reason="" if ready else "Line 12 has 3 fields where the header has 12.",
                created_by=user,
            )
        )
    Dataset.objects.bulk_create(datasets)

    kinds = [
        ("dataset_ingest", "cpu", 0.3),
        ("dataset_profile", "cpu", 0.3),
        ("diagnostic.noop", "default", 0.2),
        ("diagnostic.sleep", "cpu", 0.2),
    ]
    statuses = [
        ("Completed", 0.75),
        ("Failed", 0.10),
        ("Stopped", 0.05),
        ("Running", 0.04),
        ("Pending", 0.06),
    ]
    jobs = []
    for i in range(JOBS):
        kind, queue, _ = rng.choices(kinds, weights=[k[2] for k in kinds])[0]
        status = rng.choices([s for s, _ in statuses], weights=[w for _, w in statuses])[0]
        created = now - dt.timedelta(seconds=(JOBS - i) * 258)  # the same as the UPDATE below
        started = (
            created + dt.timedelta(seconds=rng.uniform(0.01, 3)) if status != "Pending" else None
        )
        finished = (
            started + dt.timedelta(seconds=rng.uniform(0.1, 600))
            if started and status in ("Completed", "Failed", "Stopped")
            else None
        )
        jobs.append(
            Job(
                project_id=project_id,
                kind=kind,
                name=f"{kind} #{i}",
                owner=user,
                status=status,
                queue=queue,
                inputs={"dataset": rng.randint(1, DATASETS)} if kind.startswith("dataset") else {},
                parameters={"seconds": 2} if kind == "diagnostic.sleep" else {},
                outputs={"num_rows": 1000} if status == "Completed" else {},
                failure_reason="ValueError: boom" if status == "Failed" else "",
                progress=1.0 if status == "Completed" else rng.random(),
                attempts=0 if status == "Pending" else 1,
                worker="" if status == "Pending" else "worker-default-cpu@bench",
                heartbeat_at=finished or started,
                started_at=started,
                finished_at=finished,
            )
        )
    created_jobs = Job.objects.bulk_create(jobs, batch_size=2000)
    # created_at is auto_now_add: spread it over the last 30 days after the fact.
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE studio_job SET created_at = %s - (%s - id) * interval '258 seconds'",
            [now, created_jobs[-1].pk + 1],
        )
        cursor.execute("UPDATE studio_job SET updated_at = COALESCE(finished_at, created_at)")
    logs = [
        JobLog(job=job, created_at=now, level="info", message=f"Step {n} of job {job.pk}.")
        for job in created_jobs
        for n in range(LOG_LINES_PER_JOB)
    ]
    JobLog.objects.bulk_create(logs, batch_size=5000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return {"jobs": len(created_jobs), "datasets": len(datasets), "logs": len(logs)}


def _measure(project_id: int, username: str) -> dict[str, Any]:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    client.force_login(get_user_model().objects.get(username=username))
    results: dict[str, Any] = {}
    for label, path in PAGES:
        url = f"{path}{project_id}" if path.endswith("=") else path
        for _ in range(WARMUP):
            response = client.get(url)
            if response.status_code != 200:
                raise RuntimeError(f"GET {url} -> {response.status_code}")
        times = []
        for _ in range(REQUESTS):
            t0 = time.perf_counter()
            response = client.get(url)
            times.append(time.perf_counter() - t0)
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        slowest = sorted(queries.captured_queries, key=lambda q: -float(q["time"]))[:3]
        body = response.content
        results[label] = {
            "url": url,
            "times": times,
            "queries": len(queries.captured_queries),
            "query_seconds": sum(float(q["time"]) for q in queries.captured_queries),
            "slowest": [{"time": float(q["time"]), "sql": q["sql"][:300]} for q in slowest],
            "bytes": len(body),
            "todo": b"todo" in body.lower() and len(body) < 2000,
        }
    return results


def child_main() -> None:
    import django

    django.setup()
    project_id, username = int(os.environ["BENCH_PROJECT"]), os.environ["BENCH_USER"]
    t0 = time.perf_counter()
    filled = _fill(project_id, username, Path(os.environ["SEXTANT_VAR_DIR"]))
    fill_seconds = time.perf_counter() - t0
    print(json.dumps({"filled": filled, "fill_seconds": fill_seconds, "pages": _measure(
        project_id, username
    )}))  # fmt: skip


# --------------------------------------------------------------------------- in the parent


@dataclass
class PageResult:
    label: str
    url: str
    summary: Summary
    queries: int
    query_seconds: float
    slowest: list[dict[str, Any]]
    size: int
    todo: bool


def _verdict(p: PageResult) -> str:
    if p.todo:
        return "not built yet"
    return "met" if p.summary.p50 < TARGET_P50 else "**missed**"


def render(machine: Machine, pages: list[PageResult], filled: dict[str, int], load: str) -> str:
    rows = [
        [
            p.label,
            f"`{p.url}`",
            f"{p.summary.p50 * 1000:.1f}",
            f"{p.summary.p99 * 1000:.1f}",
            str(p.queries),
            f"{p.query_seconds * 1000:.1f}",
            f"{p.size / 1024:,.0f} KiB",
            _verdict(p),
        ]
        for p in pages
    ]
    slow = [
        [p.label, f"{q['time'] * 1000:.1f}", f"`{q['sql'][:140]}…`"]
        for p in pages
        for q in p.slowest[:2]
    ]
    main = table(
        ["page", "URL", "p50 ms", "p99 ms", "queries", "SQL ms", "size", "p50 < 100 ms"], rows
    )
    return f"""
## Pages on PostgreSQL: home, job list, jobs API

Measured {now_utc()} on {machine.markdown()} (load average before the run: {load}).
A scratch PostgreSQL database holding one project with {filled["jobs"]:,} jobs (mixed kinds
and statuses over 30 days, {filled["logs"]:,} log lines) and {filled["datasets"]} datasets
(most Ready with a real 12-column profile). A logged-in Django test client, in-process (no
HTTP server), {WARMUP} warm-up requests then {REQUESTS} timed ones per page. Queries are
counted on one more request with `CaptureQueriesContext` (SQL ms: their total time).

{main}

Slowest queries of each page (one request):

{table(["page", "ms", "SQL"], slow)}
"""


def run(
    *, database_url: str, redis_url: str, scratch: Path, out: Path | None, machine: Machine
) -> list[PageResult]:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    with services_backend(database_url, redis_url) as backend:
        var = scratch / f"pages-{uuid.uuid4().hex[:6]}"
        var.mkdir(parents=True)
        # The test client sends Host: testserver.
        env = studio_env(backend, var, {"ALLOWED_HOSTS": "testserver"})
        setup = prepare_database(env)
        env.update({"BENCH_PROJECT": str(setup["project"]), "BENCH_USER": "bench"})
        print(f"[pages] filling {JOBS:,} jobs and {DATASETS} datasets, then timing …", flush=True)
        out_text = subprocess.run(
            [sys.executable, "-m", "bench.pages", "--child"],
            env=env,
            cwd=ROOT,
            check=True,
            stdout=subprocess.PIPE,
            text=True,
        ).stdout
    data = json.loads(out_text.strip().splitlines()[-1])
    print(f"[pages] filled in {data['fill_seconds']:.1f} s")
    pages = [
        PageResult(
            label=label,
            url=r["url"],
            summary=Summary.of(r["times"]),
            queries=int(r["queries"]),
            query_seconds=float(r["query_seconds"]),
            slowest=list(r["slowest"]),
            size=int(r["bytes"]),
            todo=bool(r["todo"]),
        )
        for label, r in data["pages"].items()
    ]
    section = render(machine, pages, data["filled"], load)
    print(section)
    if out is not None:
        write_section(out, "pages", section)
    return pages


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="The pages benchmark's child process.")
    parser.add_argument("--child", action="store_true", required=True)
    parser.parse_args()
    child_main()
