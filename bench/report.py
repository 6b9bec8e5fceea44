"""What every benchmark shares in its output: the machine, statistics, tables, the report file.

Each benchmark owns one section of ``docs/benchmarks.md``, delimited by HTML comments, so a
new run replaces its own section and leaves the introduction and the other sections alone.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np
import psutil

INTRO = """\
# Benchmarks

Figures measured by the `bench/` package. Benchmarks are not tests: they start real
processes, take minutes, and each compares Sextant with a peer measured in the same run, on
the same machine, under the same load. Every section below says when and on what it ran.

## Running them

```sh
make bench                                   # all three, 10M-row ingestion (~5 minutes)
make bench BENCH_ARGS="--only ingest --rows 1000000"
make bench BENCH_ARGS="--only dispatch --jobs 200"
.venv/bin/python -m bench --help
```

Each run replaces its own section of this file (between `<!-- bench:… -->` markers) and keeps
the rest. `--no-write` only prints. Ingestion and dispatch need nothing installed; the
PostgreSQL + Redis parts use `--database-url` (a server where scratch databases may be
created and dropped, default `postgres://postgres@127.0.0.1:5432/test`) and `--redis-url` (a
database number that is flushed, default `redis://127.0.0.1:6379/13`). Scratch files go to
the system temp dir (`--scratch` to choose, on the disk you want to measure) and are removed.

## What each one measures

- **Ingestion** (`bench/ingest.py`): a generated CSV (12 mixed columns, ~115 bytes a row)
  uploaded through the real API (`POST /api/v1/datasets/`, streamed with `sendfile`) to a
  studio running uvicorn + one Celery worker, until the dataset is Ready; peak memory of the
  web and worker process trees sampled every 50 ms. Peer: `pandas.read_csv(path)
  .to_parquet(out)` in a child process. Also `ingest_tabular` alone by block size and Arrow
  memory pool, and the column types each side produces. Targets: ≥ 2.5× faster than
  pandas; ≤ 300 MiB peak for the web process and for the worker, whatever the file size.
- **Dispatch latency** (`bench/dispatch.py`): `POST /api/v1/jobs/` of a `diagnostic.noop`
  job → its `started_at`, 200 jobs one at a time after 10 warm-up ones, on the embedded
  backend (SQLite + the filesystem broker) and on PostgreSQL + Redis. Peer: a bare Celery
  app without Django (`bench/celery_peer.py`) on the same broker, `send_task` → its task
  starting, with its own prefork worker. Targets: p50 < 10 ms on Redis, < 60 ms on the
  embedded broker.
- **Pages** (`bench/pages.py`): PostgreSQL only, a project with 10,000 jobs and 50 datasets;
  the home dashboard, the job list and the jobs API through a logged-in Django test client,
  with SQL query counts. Target: p50 < 100 ms.

## Conditions

Times are wall-clock. Sextant and its peer run one after the other, so background load on a
shared machine can favour either side: each section records the load average before it ran
(on 2 cores, anything near 1 means another process held a core). Re-run before quoting a
figure. Files are in the page cache for both sides of a comparison.
"""


@dataclass(frozen=True)
class Machine:
    cpu: str
    cores: int
    ram_gib: float
    versions: dict[str, str]

    def markdown(self) -> str:
        libs = ", ".join(f"{name} {version}" for name, version in self.versions.items())
        return f"{self.cpu}, {self.cores} cores, {self.ram_gib:.0f} GiB RAM; {libs}"


def machine() -> Machine:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {"Python": platform.python_version()}
    for dist in ("pandas", "pyarrow", "Django", "celery"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = "absent"
    return Machine(
        cpu=cpu,
        cores=os.cpu_count() or 0,
        ram_gib=psutil.virtual_memory().total / 2**30,
        versions=versions,
    )


def now_utc() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


# --------------------------------------------------------------------------- statistics


@dataclass(frozen=True)
class Summary:
    """Percentiles of a sample, in the sample's own unit."""

    n: int
    p50: float
    p90: float
    p99: float
    max: float
    mean: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Summary:
        if not values:
            raise ValueError("no values to summarise")
        a = np.asarray(values, dtype=float)
        p50, p90, p99 = np.percentile(a, [50, 90, 99])
        return cls(n=len(a), p50=p50, p90=p90, p99=p99, max=float(a.max()), mean=float(a.mean()))


def mib(n_bytes: float) -> str:
    return f"{n_bytes / 2**20:,.0f} MiB"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


# --------------------------------------------------------------------------- tables


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table, also readable as plain text on a terminal."""
    cells = [[str(h) for h in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(cells[0]), rule, *(line(r) for r in cells[1:])])


# --------------------------------------------------------------------------- report file


def write_section(out: Path, key: str, body: str) -> None:
    """Put ``body`` into ``out`` between the markers of section ``key``, replacing it."""
    start, end = f"<!-- bench:{key}:start -->", f"<!-- bench:{key}:end -->"
    block = f"{start}\n{body.strip()}\n{end}"
    text = out.read_text() if out.exists() else INTRO
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _: block, text)
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, out)
