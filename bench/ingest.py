"""Ingestion: a large CSV through the real upload path, against pandas in the same run.

Sextant: POST the file to ``/api/v1/datasets/`` (streamed from disk with ``sendfile``, never
read into this process), then wait until the dataset is Ready. Timing covers the whole path a
user waits for: the HTTP upload, the web process storing and sniffing the file, the broker hop
and the worker converting CSV to Parquet; it ends at the ingestion job's ``finished_at``. The
profile job that starts after Ready is timed separately from its own job timestamps. Peak
memory of the web and worker process trees is sampled with psutil every 50 ms; the peaks are
taken over the window each phase's timestamps bound.

Baseline: ``pandas.read_csv(path).to_parquet(out)`` in a child process, so its memory is
measured alone (psutil samples, and the child's own high-water mark).
"""

from __future__ import annotations

import datetime as dt
import http.client
import inspect
import json
import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from bench.report import Machine, mib, now_utc, table, write_section
from bench.stack import Backend, LiveStudio, MemorySampler, TreePeak, live_studio
from studio.engine.ingest import ingest_tabular
from studio.launcher import ROOT

TARGET_SPEEDUP = 2.5
TARGET_RSS = 300 * 2**20
GENERATE_CHUNK_ROWS = 500_000
# The two columns pandas is known to get wrong: it turns ints with gaps into floats and
# leaves ISO dates as text unless told otherwise.
WATCHED_COLUMNS = ("customer_id", "signup_date", "event_time")


# --------------------------------------------------------------------------- the data

_WORDS = (
    "alpha beta gamma delta order parcel late early fast slow blue green red customer "
    "support refund great poor quality box damaged arrived week day call email again thanks "
    "price cheap expensive size small large fit colour wrong right store online return "
    "exchange happy unhappy service team answer question problem solved open closed"
).split()
_CATEGORIES = [
    "books", "garden", "toys", "music", "sports", "kitchen", "health", "beauty",
    "tools", "grocery", "auto", "pets",
]  # fmt: skip
_COUNTRIES = [
    "FR", "DE", "ES", "IT", "GB", "US", "CA", "BR", "MX", "JP", "KR", "IN", "CN", "AU", "NZ",
    "ZA", "NG", "EG", "SE", "NO", "FI", "DK", "PL", "NL", "BE", "CH", "AT", "PT", "IE", "AR",
]  # fmt: skip
_STATUSES = ["new", "paid", "shipped", "delivered", "returned", "cancelled"]


def _sentences(rng: np.random.Generator, n: int) -> pa.Array:
    """``n`` distinct-ish sentences of 3–9 words (no commas or quotes: the CSV is unquoted)."""
    words = np.asarray(_WORDS)
    lengths = rng.integers(3, 10, n)
    picks = words[rng.integers(0, len(words), int(lengths.sum()))]
    out, start = [], 0
    for length in lengths.tolist():
        out.append(" ".join(picks[start : start + length]))
        start += length
    return pa.array(out, pa.string())


def _chunk(rng: np.random.Generator, start: int, n: int, comments: pa.Array) -> pa.Table:
    epoch = np.datetime64("2015-01-01")
    seconds = epoch + rng.integers(0, 10 * 365 * 86400, n).astype("timedelta64[s]")
    return pa.table(
        {
            "id": pa.array(np.arange(start, start + n, dtype=np.int64)),
            # ~5% gaps: pandas makes this float64; we must keep int64.
            "customer_id": pa.array(rng.integers(1, 5_000_000, n), mask=rng.random(n) < 0.05),
            "amount": pa.array(np.round(rng.gamma(2.0, 50.0, n), 2)),
            "discount": pa.array(np.round(rng.random(n) * 0.3, 3), mask=rng.random(n) < 0.10),
            "category": pa.array(np.asarray(_CATEGORIES)[rng.integers(0, len(_CATEGORIES), n)]),
            "country": pa.array(np.asarray(_COUNTRIES)[rng.integers(0, len(_COUNTRIES), n)]),
            "comment": comments.take(pa.array(rng.integers(0, len(comments), n))),
            "signup_date": pa.array(
                (epoch + rng.integers(0, 3650, n).astype("timedelta64[D]")).astype("datetime64[D]")
            ),
            "event_time": pc.strftime(pa.array(seconds), format="%Y-%m-%dT%H:%M:%S"),
            "is_active": pa.array(rng.random(n) < 0.7),
            "quantity": pa.array(rng.integers(1, 20, n)),
            "status": pa.array(np.asarray(_STATUSES)[rng.integers(0, len(_STATUSES), n)]),
        }
    )


def generate_csv(path: Path, rows: int, *, seed: int = 42) -> int:
    """Write ``rows`` rows × 12 mixed columns to ``path`` chunk by chunk; returns its size."""
    rng = np.random.default_rng(seed)
    comments = _sentences(rng, 50_000)
    options = pacsv.WriteOptions(quoting_style="none")
    writer: pacsv.CSVWriter | None = None
    try:
        for start in range(0, rows, GENERATE_CHUNK_ROWS):
            chunk = _chunk(rng, start, min(GENERATE_CHUNK_ROWS, rows - start), comments)
            if writer is None:
                writer = pacsv.CSVWriter(str(path), chunk.schema, write_options=options)
            writer.write_table(chunk)
    finally:
        if writer is not None:
            writer.close()
    return path.stat().st_size


# --------------------------------------------------------------------------- upload


def upload_file(studio: LiveStudio, path: Path, name: str) -> dict[str, Any]:
    """POST ``path`` as multipart/form-data, sending the file with sendfile (zero copy)."""
    boundary = uuid.uuid4().hex
    head = "".join(
        [
            f'--{boundary}\r\nContent-Disposition: form-data; name="project"\r\n\r\n'
            f"{studio.project}\r\n",
            f'--{boundary}\r\nContent-Disposition: form-data; name="name"\r\n\r\n{name}\r\n',
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="{path.name}"\r\nContent-Type: text/csv\r\n\r\n',
        ]
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    url = urlparse(studio.url)
    conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=3600)
    try:
        conn.putrequest("POST", "/api/v1/datasets/")
        conn.putheader("Authorization", f"Token {studio.token}")
        conn.putheader("Content-Type", f"multipart/form-data; boundary={boundary}")
        conn.putheader("Content-Length", str(len(head) + path.stat().st_size + len(tail)))
        conn.endheaders()
        conn.send(head)
        assert conn.sock is not None
        with path.open("rb") as f:
            conn.sock.sendfile(f)
        conn.send(tail)
        response = conn.getresponse()
        body = response.read()
    finally:
        conn.close()
    if response.status != 201:
        raise RuntimeError(f"upload failed: {response.status} {body[:500]!r}")
    return dict(json.loads(body))


FINISHED = ("Completed", "Failed", "Stopped")


def iso_time(value: str) -> float:
    return dt.datetime.fromisoformat(value).timestamp()


def _seconds_between(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    return iso_time(end) - iso_time(start)


# --------------------------------------------------------------------------- measurements


@dataclass
class SextantRun:
    seconds: float  # upload start -> dataset Ready (what the user waits for)
    upload_seconds: float  # the POST, until its 201
    ingest_job_seconds: float | None  # the ingestion job, started -> finished
    queue_wait_seconds: float | None  # ingestion job created -> started
    profile_seconds: float | None  # the profile job that follows, started -> finished
    web: TreePeak
    worker: TreePeak
    web_idle: TreePeak  # before the upload: what the processes weigh at rest
    worker_idle: TreePeak
    profile_worker: TreePeak  # worker peak while profiling (after Ready, not timed)
    columns: list[dict[str, Any]]
    num_rows: int
    parquet_bytes: int


def measure_sextant(studio: LiveStudio, path: Path) -> SextantRun:
    """Upload → Ready, timed from the client's clock to the studio's own timestamps.

    Ready is the ingestion job's ``finished_at`` (a few milliseconds after the dataset turns
    Ready, in the same run). Reading it from the studio lets the client look only twice a
    second: a request every 50 ms would take CPU from the worker on a small machine.
    """
    with MemorySampler({"web": studio.pid("web"), "worker": studio.pid("worker")}) as sampler:
        time.sleep(1.0)
        t0 = time.time()
        created = upload_file(studio, path, name="bench")
        t_uploaded = time.time()
        dataset_id = created["id"]
        while True:
            dataset = studio.api("GET", f"/api/v1/datasets/{dataset_id}/").json()
            if dataset["status"] == "Ready" and dataset["profile_job"] is not None:
                break
            if dataset["status"] == "Failed":
                raise RuntimeError(f"ingestion failed: {dataset['failure_reason']}")
            studio.check_alive()
            time.sleep(0.5)
        # The dataset turns Ready a moment before its job records finished_at.
        ingest = studio.wait_job(
            dataset["ingest_job"], lambda j: j["finished_at"] is not None, timeout=60, poll=0.1
        )
        # Profiling runs after Ready; it is not part of the timed path, but we watch it.
        profile = studio.wait_job(
            dataset["profile_job"], lambda j: j["status"] in FINISHED, timeout=3600, poll=0.5
        )
    t_ready = iso_time(ingest["finished_at"])
    parquet = studio.var / "storage" / f"datasets/{studio.project}/{dataset_id}/data.parquet"
    return SextantRun(
        seconds=t_ready - t0,
        upload_seconds=t_uploaded - t0,
        ingest_job_seconds=_seconds_between(ingest["started_at"], ingest["finished_at"]),
        queue_wait_seconds=_seconds_between(ingest["created_at"], ingest["started_at"]),
        profile_seconds=_seconds_between(profile["started_at"], profile["finished_at"]),
        web=sampler.peak("web", t0, t_ready),
        worker=sampler.peak("worker", t0, t_ready),
        web_idle=sampler.peak("web", 0.0, t0),
        worker_idle=sampler.peak("worker", 0.0, t0),
        profile_worker=sampler.peak(
            "worker", iso_time(profile["started_at"]), iso_time(profile["finished_at"])
        ),
        columns=list(dataset["columns"]),
        num_rows=int(dataset["num_rows"]),
        parquet_bytes=parquet.stat().st_size if parquet.exists() else 0,
    )


# The children report their own high-water mark (VmHWM): the kernel resets it at exec, while
# ru_maxrss from wait4 keeps the size of this process at fork time and would overstate them.
HWM = """
def hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
"""
PANDAS_SCRIPT = (
    HWM
    + """
import json, sys, time
import pandas as pd
before = hwm()
t0 = time.perf_counter()
df = pd.read_csv(sys.argv[1])
t1 = time.perf_counter()
df.to_parquet(sys.argv[2])
t2 = time.perf_counter()
print(json.dumps({"read": t1 - t0, "total": t2 - t0, "rows": len(df), "before": before,
                  "hwm": hwm(), "dtypes": {c: str(t) for c, t in df.dtypes.items()}}))
"""
)


@dataclass
class PandasRun:
    seconds: float  # read_csv + to_parquet, timed inside the child (imports excluded)
    read_seconds: float
    peak: TreePeak  # sampled
    hwm: int  # bytes: the child's own high-water mark, interpreter and imports included
    imports_rss: int  # bytes: the same, before read_csv started
    dtypes: dict[str, str]
    parquet_bytes: int


def measure_pandas(path: Path, out: Path) -> PandasRun:
    proc = subprocess.Popen(
        [sys.executable, "-c", PANDAS_SCRIPT, str(path), str(out)], stdout=subprocess.PIPE
    )
    with MemorySampler({"pandas": proc.pid}) as sampler:
        stdout, _ = proc.communicate()
    peak = sampler.peak("pandas")
    if proc.returncode != 0:
        raise RuntimeError(f"the pandas baseline failed with exit status {proc.returncode}")
    result = json.loads(stdout.decode().strip().splitlines()[-1])
    return PandasRun(
        seconds=float(result["total"]),
        read_seconds=float(result["read"]),
        peak=peak,
        hwm=int(result["hwm"]),
        imports_rss=int(result["before"]),
        dtypes=dict(result["dtypes"]),
        parquet_bytes=out.stat().st_size,
    )


# The least work any conversion on this stack must do: pyarrow's multithreaded reader
# parsing the whole file and pyarrow writing it as Parquet, with no upload, no checks and
# no bound on memory. Its CPU time (every thread's) divided by the cores is the shortest
# wall time that work can take on this machine.
FLOOR_SCRIPT = """
import json, os, sys, time
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
wall, cpu = time.perf_counter(), time.process_time()
table = pacsv.read_csv(sys.argv[1])
read_wall, read_cpu = time.perf_counter() - wall, time.process_time() - cpu
pq.write_table(table, sys.argv[2])
print(json.dumps({"read_wall": read_wall, "read_cpu": read_cpu,
                  "wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu,
                  "cores": os.cpu_count()}))
"""


@dataclass
class FloorRun:
    read_wall: float  # the parse alone, wall clock
    read_cpu: float  # the parse alone, CPU seconds of every thread
    wall: float  # parse + write, wall clock
    cpu: float  # parse + write, CPU seconds
    cores: int

    @property
    def bound(self) -> float:
        """The shortest wall time the parse and the write can take on these cores."""
        return self.cpu / self.cores


def measure_floor(path: Path, out: Path, runs: int = 2) -> FloorRun:
    """The least CPU of ``runs`` pyarrow ``read_csv`` → ``write_table`` passes over the
    whole file, each in a fresh child (imports excluded)."""
    best: FloorRun | None = None
    for _ in range(runs):
        result = subprocess.run(
            [sys.executable, "-c", FLOOR_SCRIPT, str(path), str(out)],
            capture_output=True,
            text=True,
            check=True,
        )
        run = FloorRun(**json.loads(result.stdout.strip().splitlines()[-1]))
        if best is None or run.cpu < best.cpu:
            best = run
    out.unlink(missing_ok=True)
    assert best is not None
    return best


ENGINE_SCRIPT = (
    HWM
    + """
import json, sys, time
from pathlib import Path
import pyarrow as pa
import pyarrow.parquet as pq
from studio.engine.ingest import ingest_tabular
before = hwm()
t0 = time.perf_counter()
ingest_tabular(Path(sys.argv[1]), "csv", Path(sys.argv[2]), block_size=int(sys.argv[3]))
seconds = time.perf_counter() - t0
peak = hwm()
meta = pq.ParquetFile(sys.argv[2]).metadata
print(json.dumps({"seconds": seconds, "before": before, "hwm": peak,
                  "row_groups": meta.num_row_groups,
                  "pool": pa.default_memory_pool().backend_name}))
"""
)


def engine_variants() -> list[tuple[int, str]]:
    """(block size, Arrow memory pool or "" for pyarrow's default) to try the engine with.

    The product's default block size comes first, then the alternatives, then the default
    with the system allocator instead of pyarrow's.
    """
    default = product_block_size()
    sizes = [default, *(s for s in (8 << 20, 2 << 20, 1 << 20) if s != default)]
    return [(size, "") for size in sizes] + [(default, "system")]


def product_block_size() -> int:
    return int(inspect.signature(ingest_tabular).parameters["block_size"].default)


@dataclass
class EngineRun:
    block_size: int
    pool: str
    seconds: float
    hwm: int  # bytes: the child's high-water mark, interpreter and imports included
    imports_rss: int  # bytes: the same, measured before the conversion started
    row_groups: int
    parquet_bytes: int


def measure_engine(path: Path, out: Path, block_size: int, pool: str) -> EngineRun:
    """``ingest_tabular`` alone in a child process (no Django): its time and peak memory."""
    env = dict(os.environ)
    env.pop("ARROW_DEFAULT_MEMORY_POOL", None)
    if pool:
        env["ARROW_DEFAULT_MEMORY_POOL"] = pool
    proc = subprocess.Popen(
        [sys.executable, "-c", ENGINE_SCRIPT, str(path), str(out), str(block_size)],
        stdout=subprocess.PIPE,
        cwd=ROOT,
        env=env,
    )
    stdout, _ = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"ingest_tabular failed with exit status {proc.returncode}")
    result = json.loads(stdout.decode().strip().splitlines()[-1])
    size = out.stat().st_size
    out.unlink()
    return EngineRun(
        block_size=block_size,
        pool=str(result["pool"]),
        seconds=float(result["seconds"]),
        hwm=int(result["hwm"]),
        imports_rss=int(result["before"]),
        row_groups=int(result["row_groups"]),
        parquet_bytes=size,
    )


# --------------------------------------------------------------------------- the report


def _met(ok: bool) -> str:
    return "met" if ok else "**missed**"


def _opt_s(value: float | None) -> str:
    return f"{value:.2f} s" if value is not None else "—"


@dataclass
class IngestResults:
    rows: int
    size: int
    load_before: tuple[float, float, float]
    sextant: SextantRun
    pandas: PandasRun
    engine: list[EngineRun]
    floor: FloorRun


def render(machine: Machine, backend: Backend, r: IngestResults) -> str:
    sx, pd_run = r.sextant, r.pandas
    ratio = pd_run.seconds / sx.seconds
    speed = table(
        ["", "Sextant (upload → Ready)", "pandas read_csv → to_parquet", "pandas / Sextant"],
        [
            ["wall time", f"{sx.seconds:.2f} s", f"{pd_run.seconds:.2f} s", f"{ratio:.2f}×"],
            ["throughput", f"{r.size / 2**20 / sx.seconds:,.0f} MiB/s",
             f"{r.size / 2**20 / pd_run.seconds:,.0f} MiB/s", ""],
            ["Parquet written", mib(sx.parquet_bytes), mib(pd_run.parquet_bytes), ""],
        ],
    )  # fmt: skip
    steps = table(
        ["step", "time"],
        [
            ["Sextant: HTTP upload, until the API answers 201", f"{sx.upload_seconds:.2f} s"],
            ["Sextant: ingestion job created → started", _opt_s(sx.queue_wait_seconds)],
            ["Sextant: ingestion job, started → finished", _opt_s(sx.ingest_job_seconds)],
            ["Sextant: profile job after Ready (not in the wall time)",
             _opt_s(sx.profile_seconds)],
            ["pandas: read_csv", f"{pd_run.read_seconds:.2f} s"],
            ["pandas: to_parquet", f"{pd_run.seconds - pd_run.read_seconds:.2f} s"],
            ["pyarrow alone: `read_csv` of the whole file (wall / CPU of all threads)",
             f"{r.floor.read_wall:.2f} s / {r.floor.read_cpu:.2f} s"],
            ["pyarrow alone: `read_csv` → `write_table` (wall / CPU of all threads)",
             f"{r.floor.wall:.2f} s / {r.floor.cpu:.2f} s"],
            [f"floor: that CPU time ÷ {r.floor.cores} cores", f"{r.floor.bound:.2f} s"],
        ],
    )  # fmt: skip
    memory = table(
        ["process tree", "peak RSS (sum)", "peak PSS (sum)", "largest process", "at rest RSS/PSS"],
        [
            ["Sextant web (uvicorn)", mib(sx.web.rss_sum), mib(sx.web.pss_sum),
             mib(sx.web.rss_max_one), f"{mib(sx.web_idle.rss_sum)} / {mib(sx.web_idle.pss_sum)}"],
            ["Sextant worker (main + 1 pool child)", mib(sx.worker.rss_sum),
             mib(sx.worker.pss_sum), mib(sx.worker.rss_max_one),
             f"{mib(sx.worker_idle.rss_sum)} / {mib(sx.worker_idle.pss_sum)}"],
            ["Sextant worker while profiling", mib(sx.profile_worker.rss_sum),
             mib(sx.profile_worker.pss_sum), mib(sx.profile_worker.rss_max_one), ""],
            ["pandas child", mib(pd_run.peak.rss_sum), mib(pd_run.peak.pss_sum),
             f"VmHWM {mib(pd_run.hwm)}", ""],
        ],
    )  # fmt: skip
    default = product_block_size()
    engine = table(
        ["block size", "Arrow pool", "time", "peak RSS", "of which imports", "row groups",
         "Parquet"],
        [
            [mib(e.block_size) + (" (default)" if e.block_size == default else ""), e.pool,
             f"{e.seconds:.2f} s", mib(e.hwm),
             mib(e.imports_rss), f"{e.row_groups:,}", mib(e.parquet_bytes)]
            for e in r.engine
        ],
    )  # fmt: skip
    schema = {c["name"]: c["dtype"] for c in sx.columns}
    types = table(
        ["column", "Sextant (Parquet)", "pandas dtype"],
        [
            [f"**{name}**" if name in WATCHED_COLUMNS else name, schema.get(name, "?"),
             pd_run.dtypes.get(name, "?")]
            for name in schema
        ],
    )  # fmt: skip
    load = ", ".join(f"{x:.2f}" for x in r.load_before)
    fast_ok = ratio >= TARGET_SPEEDUP
    web_ok = sx.web.rss_sum <= TARGET_RSS
    worker_ok = sx.worker.rss_sum <= TARGET_RSS
    worker_pss_ok = sx.worker.pss_sum <= TARGET_RSS
    floor_ratio = pd_run.seconds / r.floor.bound
    floor_words = (
        f"The floor (pyarrow's parse and write alone, their CPU time spread over "
        f"{r.floor.cores} cores) is {floor_ratio:.2f}× faster than pandas, "
        + (
            f"so no conversion built on pyarrow can reach {TARGET_SPEEDUP:g}× here;"
            if floor_ratio < TARGET_SPEEDUP
            else f"so {TARGET_SPEEDUP:g}× is within the stack's reach here;"
        )
    )
    return f"""
## Ingestion: CSV upload → Parquet, against pandas

Measured {now_utc()} on {machine.markdown()} (load average before the run: {load}).
Sextant: {backend.label}, uvicorn + one Celery worker (prefork, concurrency 1, queues
default,cpu), scratch storage on the same disk as the CSV, CSV blocks of
{mib(product_block_size())} (`ingest_tabular`'s default). pandas: `pd.read_csv(path)
.to_parquet(out)` in a child process, timed inside it (imports excluded). Sextant's time
ends at the ingestion job's `finished_at`, read from the API (the client looks twice a
second, so that its requests take no CPU from the worker).

Data: {r.rows:,} rows × 12 columns (ints, ints with ~5% gaps, floats, floats with gaps,
short categories, free text, ISO dates, ISO timestamps, booleans), {mib(r.size)} of CSV, in
the page cache for both. {sx.num_rows:,} rows ingested.

{speed}

{steps}

Peak memory, sampled every 50 ms. RSS summed over a process and its children counts twice
the pages a forked pool child shares with its parent; PSS shares them out.

{memory}

`ingest_tabular` alone (no web, no Django), in a child process, by block size and Arrow
memory pool; peak RSS is the child's high-water mark (VmHWM), interpreter and imports
included:

{engine}

Column types (the ones pandas gets wrong in bold):

{types}

Targets: ≥ {TARGET_SPEEDUP:g}× faster than pandas: {_met(fast_ok)} ({ratio:.2f}×). {floor_words}
web peak RSS ≤ 300 MiB: {_met(web_ok)} ({mib(sx.web.rss_sum)});
worker peak RSS ≤ 300 MiB: {_met(worker_ok)} summing RSS ({mib(sx.worker.rss_sum)}),
{_met(worker_pss_ok)} summing PSS ({mib(sx.worker.pss_sum)}).
"""


def run(
    *, backend: Backend, scratch: Path, rows: int, out: Path | None, machine: Machine
) -> IngestResults:
    csv_path = scratch / f"bench-{rows}.csv"
    print(f"[ingest] generating {rows:,} rows into {csv_path} …", flush=True)
    t = time.perf_counter()
    size = generate_csv(csv_path, rows)
    print(f"[ingest] {mib(size)} written in {time.perf_counter() - t:.1f} s (not timed)")
    load = os.getloadavg()
    try:
        print(f"[ingest] Sextant: upload → Ready on {backend.label} …", flush=True)
        with live_studio(backend, scratch) as studio:
            sx = measure_sextant(studio, csv_path)
        print(f"[ingest] Sextant {sx.seconds:.2f} s; pandas baseline …", flush=True)
        pd_run = measure_pandas(csv_path, scratch / "pandas.parquet")
        (scratch / "pandas.parquet").unlink(missing_ok=True)
        print(f"[ingest] pandas {pd_run.seconds:.2f} s; the floor …", flush=True)
        floor = measure_floor(csv_path, scratch / "floor.parquet")
        print(f"[ingest] floor {floor}; the engine alone …", flush=True)
        engine = []
        for block_size, pool in engine_variants():
            engine.append(measure_engine(csv_path, scratch / "engine.parquet", block_size, pool))
            print(f"[ingest]   {engine[-1]}", flush=True)
    finally:
        csv_path.unlink(missing_ok=True)
    results = IngestResults(rows, size, load, sx, pd_run, engine, floor)
    section = render(machine, backend, results)
    print(section)
    if out is not None:
        write_section(out, "ingest", section)
    return results
