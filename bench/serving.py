"""Real-time inference: one-row latency and throughput of an endpoint, against the model's
own ``predict_proba`` and against MLflow's model server on the same model, in the same run.

- **Models**: a 100-round XGBoost classifier trained through the studio's API (the built-in
  ``xgboost`` algorithm) on a generated 20-feature table, so the endpoint serves the
  studio's own archive; and a scikit-learn pipeline (``StandardScaler`` +
  ``LogisticRegression``, fitted on arrays) uploaded as a joblib file with its input schema.
  Both approved and deployed on endpoints of one instance each; one more endpoint serves the
  XGBoost package as two variants at 50/50, for the cost of the A/B router.
- **Load**: :mod:`bench.loadgen`'s connections driven from a child process of its own (on
  uvloop), so its CPU is not the server's: keep-alive HTTP/1.1 on loopback, opened 20 ms
  apart and kept from the warm-up through the measured time, one CSV row per request (rows
  drawn in turn from 1,000 held-out rows, the same sequence for every server). For each
  concurrency a warm-up, then a fixed time; p50 and p99 over every answer of that time.
- **In process** (the floor): the same archives loaded in the benchmark process, the raw
  model call on one row: XGBoost's ``predict_proba`` on a float32 row, the pipeline's
  ``predict_proba`` on a float64 row; and, for where the time goes, the model server's own
  work per request (:class:`endpoints.engine.predictor.Predictor`: parse the CSV body,
  predict, write the CSV answer) without any I/O.
- **MLflow**: a virtual environment of its own (``var/bench/mlflow-venv``, made on first use
  with pip: the full ``mlflow`` package, and the xgboost and scikit-learn versions the
  models were saved with). The same fitted models are saved in MLflow's format there (the
  pipeline's joblib file, the booster's JSON from the archive), then served by
  ``mlflow models serve --env-manager local`` with its default single worker and with
  ``-w 2``. It reads CSV with a header row; nothing else differs in the requests.

Every server gets one thread for the model (``OMP_NUM_THREADS=1``, as the studio's model
servers have), so the comparison is of servers, not of thread counts. Where the CPU goes is
measured too: each process's CPU time over a measurement, per request.

Targets (the issue's): p50 over in-process ``predict_proba`` ≤ 1 ms at concurrency 1;
at concurrency 8, ≥ 10× MLflow's default server's throughput and ≥ 4× MLflow with two
workers; the A/B router ≤ 0.1 ms on p50.
"""

from __future__ import annotations

import csv
import io
import json
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tarfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, redirect_stderr, suppress
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.peers import ensure_venv

ROOT = Path(__file__).resolve().parent.parent

ROWS = 10_000
HELD_OUT = 1_000
FEATURES = [f"f{i}" for i in range(20)]
TARGET = "label"
ROUNDS = 100
CONCURRENCIES = (1, 8, 32)
WARMUP_SECONDS = 2.0
MEASURE_SECONDS = 8.0
# The A/B cost is a difference of a few hundredths of a millisecond: both endpoints are
# measured in alternation, several short rounds each, so drift in the machine's load
# falls on both sides alike.
AB_ROUNDS = 6
AB_SECONDS = 3.0
FLOOR_CALLS = 5_000
CHECK_ROWS = 50
STAGGER_SECONDS = 0.02

TARGET_OVERHEAD_MS = 1.0
TARGET_VS_MLFLOW = 10.0
TARGET_VS_MLFLOW_W2 = 4.0
TARGET_AB_MS = 0.1

# mlflow 3.18.0 needs an mlflow-tracing 3.18.0 that the package index does not have.
MLFLOW_VERSION = "3.17.2"
MLFLOW_VENV = ROOT / "var" / "bench" / "mlflow-venv"
MLFLOW_PYTHON = MLFLOW_VENV / "bin" / "python"

QUIET_LOAD = 1.0
QUIET_PATIENCE_SECONDS = 300.0

SEXTANT = "Sextant"
MLFLOW = "MLflow (1 worker)"
MLFLOW_W2 = "MLflow -w 2"
IN_PROCESS = "in process: predict_proba"
IN_PROCESS_PREDICTOR = "in process: the server's predictor"


# --------------------------------------------------------------------------- results


@dataclass
class Point:
    """One server under one load: latencies in ms, requests per second, CPU per request."""

    server: str
    concurrency: int | None
    p50: float
    p99: float
    rate: float
    n: int
    errors: int = 0
    cpu_ms: dict[str, float] = field(default_factory=dict)
    variants: dict[str, int] = field(default_factory=dict)
    busy: dict[str, int] = field(default_factory=dict)  # processes with ≥ 10% of the CPU


@dataclass
class ModelResult:
    name: str
    points: list[Point] = field(default_factory=list)
    agree: str = ""  # whether every side gave the same answers on the check rows

    def get(self, server: str, concurrency: int | None = None) -> Point | None:
        for p in self.points:
            if p.server == server and (concurrency is None or p.concurrency == concurrency):
                return p
        return None


@dataclass
class ABResult:
    """p50s (ms) per round: the single-variant endpoint, the 50/50 one, and the 50/50 one
    with every request pinned to variant A (the same routing code, one model server)."""

    single_p50: list[float] = field(default_factory=list)
    ab_p50: list[float] = field(default_factory=list)
    pinned_p50: list[float] = field(default_factory=list)
    variants: dict[str, int] = field(default_factory=dict)
    choose_us: dict[int, float] = field(default_factory=dict)  # Route.choose by variant count

    @property
    def cost_ms(self) -> float:
        return statistics.median(self.ab_p50) - statistics.median(self.single_p50)

    @property
    def pinned_cost_ms(self) -> float:
        return statistics.median(self.pinned_p50) - statistics.median(self.single_p50)


def route_choice_us() -> dict[int, float]:
    """What drawing a variant costs the router, in µs: ``Route.choose`` with one variant and
    with two at 50/50 (the best of several timings of 100,000 draws)."""
    import timeit

    from endpoints.engine.router import Route, Variant

    out = {}
    for count in (1, 2):
        route = Route(
            endpoint_id=1,
            name="bench",
            project_id=1,
            generation=1,
            variants=[Variant(f"v{i}", 1.0, []) for i in range(count)],
        )
        best = min(timeit.repeat(route.choose, number=100_000, repeat=5))
        out[count] = best / 100_000 * 1e6
    return out


# --------------------------------------------------------------------------- data


def make_data(seed: int = 7) -> tuple[Any, Any, Any]:
    """Training rows (features and 0/1 label) and held-out rows for the requests."""
    import numpy as np
    from sklearn.datasets import make_classification

    x, y = make_classification(
        ROWS + HELD_OUT,
        n_features=len(FEATURES),
        n_informative=10,
        n_redundant=4,
        random_state=seed,
    )
    # Rounded as a client would send them, so every side parses the very same numbers.
    x = np.round(x, 6)
    return x[:ROWS], y[:ROWS].astype("int64"), x[ROWS:]


def csv_line(row: Sequence[float]) -> str:
    return ",".join(f"{v:.6f}" for v in row) + "\n"


def training_csv(x: Any, y: Any) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*FEATURES, TARGET])
    for row, label in zip(x, y, strict=True):
        writer.writerow([f"{v:.6f}" for v in row] + [int(label)])
    return out.getvalue().encode()


# --------------------------------------------------------------------------- load child


def load_child() -> None:
    """Drive one server at one concurrency: a warm-up, then a measured time, on the same
    keep-alive connections (:class:`bench.loadgen.Connection`).

    The connections open one after the other, ``STAGGER_SECONDS`` apart, as a client's pool
    fills: opened all at once, every one of them lands on whichever worker of a
    multi-process server (``mlflow models serve -w 2``) accepts first. Reads its plan as
    JSON on stdin, prints one ``RESULT {json}`` line."""
    import asyncio

    from bench.loadgen import Connection, build_request

    spec = json.loads(sys.stdin.read())
    url: str = spec["url"]
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", int(parts.port or 80)
    raws = [build_request(url, b.encode(), spec["headers"]) for b in spec["bodies"]]
    concurrency = int(spec["concurrency"])
    warmup, seconds = float(spec["warmup"]), float(spec["seconds"])

    async def drive() -> dict[str, Any]:
        started = time.perf_counter()
        start, end = started + warmup, started + warmup + seconds
        latencies: list[float] = []
        statuses: Counter[int] = Counter()
        variants: Counter[str] = Counter()
        counts = {"sent": 0, "errors": 0}

        async def worker(k: int) -> None:
            await asyncio.sleep(k * STAGGER_SECONDS)
            conn = Connection(host, port)
            i = k
            try:
                while True:
                    t0 = time.perf_counter()
                    if t0 >= end:
                        return
                    raw = raws[i % len(raws)]
                    i += concurrency
                    counts["sent"] += 1
                    try:
                        status, headers, _ = await conn.request(raw)
                    except (OSError, asyncio.IncompleteReadError):
                        counts["errors"] += 1
                        conn.close()
                        continue
                    t1 = time.perf_counter()
                    if t0 >= start and t1 <= end:  # sent and answered inside the window
                        latencies.append((t1 - t0) * 1000.0)
                        statuses[status] += 1
                        variants[headers.get("x-invoked-variant", "")] += 1
            finally:
                conn.close()

        await asyncio.gather(*(worker(k) for k in range(concurrency)))
        usage = resource.getrusage(resource.RUSAGE_SELF)
        ordered = sorted(latencies)

        def pct(q: float) -> float:
            return ordered[min(len(ordered) - 1, round(q / 100.0 * (len(ordered) - 1)))]

        return {
            "p50": pct(50) if ordered else float("nan"),
            "p99": pct(99) if ordered else float("nan"),
            "rate": len(ordered) / seconds,
            "n": len(ordered),
            "sent": counts["sent"],
            "errors": counts["errors"] + sum(c for s, c in statuses.items() if s != 200),
            "statuses": {str(k): v for k, v in statuses.items()},
            "variants": {k: v for k, v in variants.items() if k},
            "cpu": usage.ru_utime + usage.ru_stime,
        }

    try:  # the cheaper event loop: the load generator's CPU is the servers' loss on 2 cores
        import uvloop

        result = uvloop.run(drive())
    except ImportError:
        result = asyncio.run(drive())
    print("RESULT " + json.dumps(result), flush=True)


def process_cpu(pids: Sequence[int]) -> dict[int, float]:
    """CPU seconds (user + system) used so far by each of these processes and their
    descendants, by pid."""
    import psutil

    used: dict[int, float] = {}
    for pid in pids:
        try:
            root = psutil.Process(pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            continue
        for proc in procs:
            if proc.pid in used:
                continue
            with suppress(psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                t = proc.cpu_times()
                used[proc.pid] = t.user + t.system
    return used


def drive(
    server: str,
    url: str,
    headers: dict[str, str],
    bodies: list[str],
    concurrency: int,
    watch: dict[str, list[int]],
    *,
    warmup: float | None = None,
    seconds: float | None = None,
) -> Point:
    """One measurement, the load from a fresh child process; ``watch`` names the server's
    processes whose CPU is counted per request."""
    warmup = WARMUP_SECONDS if warmup is None else warmup
    seconds = MEASURE_SECONDS if seconds is None else seconds
    spec = {
        "url": url,
        "headers": headers,
        "bodies": bodies,
        "concurrency": concurrency,
        "warmup": warmup,
        "seconds": seconds,
    }
    code = "from bench.serving import load_child; load_child()"
    before = {name: process_cpu(pids) for name, pids in watch.items()}
    result = subprocess.run(
        [sys.executable, "-c", code],
        input=json.dumps(spec),
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=warmup + seconds + 120,
        check=False,
    )
    after = {name: process_cpu(pids) for name, pids in watch.items()}
    lines = [x for x in result.stdout.splitlines() if x.startswith("RESULT ")]
    if result.returncode != 0 or not lines:
        raise RuntimeError(f"the load generator failed:\n{result.stderr[-3000:]}")
    got = json.loads(lines[-1][len("RESULT ") :])
    sent = max(1, int(got["sent"]))
    cpu: dict[str, float] = {}
    busy: dict[str, int] = {}
    for name in watch:
        spent = {pid: t - before[name].get(pid, 0.0) for pid, t in after[name].items()}
        total = sum(spent.values())
        cpu[name] = total * 1000.0 / sent
        # Processes that did a real share of the work: one, for a multi-worker server whose
        # connections all went to the same worker.
        busy[name] = sum(1 for t in spent.values() if total > 0 and t >= 0.1 * total)
    cpu["load generator"] = float(got["cpu"]) * 1000.0 / sent
    point = Point(
        server,
        concurrency,
        float(got["p50"]),
        float(got["p99"]),
        float(got["rate"]),
        int(got["n"]),
        int(got["errors"]),
        cpu,
        dict(got["variants"]),
        busy,
    )
    print(
        f"[serving]   {server:<20} c={concurrency:<3} p50 {point.p50:7.3f} ms  "
        f"p99 {point.p99:7.3f} ms  {point.rate:8.0f} req/s  errors {point.errors}  "
        f"cpu/req {', '.join(f'{k} {v:.3f}' for k, v in cpu.items())} ms  busy {busy}",
        flush=True,
    )
    return point


# --------------------------------------------------------------------------- in process


def time_calls(call: Callable[[int], object], calls: int | None = None) -> tuple[float, float]:
    """p50 and p99 in ms of ``call(i)`` over ``calls`` calls, after a warm-up."""
    import numpy as np

    calls = FLOOR_CALLS if calls is None else calls

    for i in range(200):
        call(i)
    times = []
    for i in range(calls):
        t0 = time.perf_counter()
        call(i)
        times.append(time.perf_counter() - t0)
    p50, p99 = np.percentile(np.asarray(times) * 1000.0, [50, 99])
    return float(p50), float(p99)


def in_process(archive: Path, held_out: Any, kind: str) -> tuple[list[Point], list[str]]:
    """The raw model call on one row, and the model server's own work on one request body;
    also the labels of the check rows (as the endpoint answers them)."""
    import numpy as np

    from endpoints.engine.predictor import Predictor
    from training.engine.artifact import load

    model = load(archive)
    if kind == "xgboost":
        estimator = model.pipeline[-1]
        estimator.set_params(n_jobs=1)  # one thread, as a model server has
        rows32 = [np.asarray(r, dtype=np.float32).reshape(1, -1) for r in held_out]

        def raw(i: int) -> object:
            return estimator.predict_proba(rows32[i % len(rows32)])
    else:
        pipeline = model.pipeline
        rows = [np.asarray(r, dtype=np.float64).reshape(1, -1) for r in held_out]

        def raw(i: int) -> object:
            return pipeline.predict_proba(rows[i % len(rows)])

    predictor = Predictor(model, name=kind)
    bodies = [csv_line(r).encode() for r in held_out]

    def served(i: int) -> object:
        request = predictor.decode("text/csv", bodies[i % len(bodies)])
        return predictor.encode(request, predictor.predict([request])[0])

    points = []
    for server, call in ((IN_PROCESS, raw), (IN_PROCESS_PREDICTOR, served)):
        # What the model warns on each call (scikit-learn's "X has feature names" when the
        # predictor goes through a frame) is written, as a model server writes it to its
        # log, but not onto the terminal.
        with redirect_stderr(io.StringIO()):
            p50, p99 = time_calls(call)
        points.append(Point(server, None, p50, p99, 1000.0 / p50, FLOOR_CALLS))
        print(f"[serving]   {server:<34} p50 {p50:.4f} ms  p99 {p99:.4f} ms", flush=True)
    check = "".join(csv_line(r) for r in held_out[:CHECK_ROWS]).encode()
    request = predictor.decode("text/csv", check)
    labels = predictor.encode(request, predictor.predict([request])[0])[1].decode().split()
    return points, labels


# --------------------------------------------------------------------------- the studio side


def wait_for(
    get: Callable[[], dict[str, Any]], done: Callable[[dict[str, Any]], bool], timeout: float
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        got = get()
        if done(got):
            return got
        if time.monotonic() > deadline:
            raise TimeoutError(f"not there after {timeout:g} s: {str(got)[:600]}")
        time.sleep(0.25)


def wait_idle(studio: Any, timeout: float = 300.0) -> None:
    """Until the studio's worker has nothing running or queued (profiles, checks, deploys)."""

    def busy() -> dict[str, Any]:
        count = 0
        for state in ("Running", "Pending"):
            path = f"/api/v1/jobs/?project={studio.project}&status={state}"
            count += int(studio.api("GET", path).json()["count"])
        return {"busy": count}

    wait_for(busy, lambda b: b["busy"] == 0, timeout)


def register_models(studio: Any, scratch: Path, x: Any, y: Any) -> dict[str, int]:
    """The XGBoost package (trained by a job) and the uploaded pipeline, both approved."""
    import joblib
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    created = studio.api(
        "POST",
        "/api/v1/datasets/",
        data={"project": studio.project, "name": "serving-bench"},
        files={"file": ("serving-bench.csv", training_csv(x, y))},
    ).json()
    studio.wait_job(created["ingest_job"], lambda j: j["status"] == "Completed", timeout=300)
    training = studio.api(
        "POST",
        "/api/v1/training-jobs/",
        json={
            "project": studio.project,
            "name": "serving xgboost",
            "algorithm": "xgboost",
            "channels": {"train": created["id"]},
            "target": TARGET,
            "hyperparameters": {"num_round": ROUNDS},
        },
    ).json()
    job = studio.wait_job(
        training["job"], lambda j: j["status"] in ("Completed", "Failed"), timeout=600, poll=0.5
    )
    if job["status"] != "Completed":
        raise RuntimeError(f"the training job failed: {job['failure_reason']}")
    xgb_package = studio.api(
        "POST",
        "/api/v1/model-packages/",
        json={
            "project": studio.project,
            "group": "serving-xgboost",
            "training_job": training["id"],
        },
    ).json()

    pipeline = Pipeline([("scale", StandardScaler()), ("model", LogisticRegression())])
    pipeline.fit(x, y)
    path = scratch / "pipeline.joblib"
    joblib.dump(pipeline, path)
    with path.open("rb") as f:
        sk_package = studio.api(
            "POST",
            "/api/v1/model-packages/",
            data={
                "project": studio.project,
                "group": "serving-sklearn",
                "input_schema": json.dumps(FEATURES),
            },
            files={"artifact": ("pipeline.joblib", f)},
        ).json()
    ids = {"xgboost": int(xgb_package["id"]), "sklearn": int(sk_package["id"])}
    for pk in ids.values():
        url = f"/api/v1/model-packages/{pk}/"
        done = wait_for(
            lambda url=url: dict(studio.api("GET", url).json()),  # type: ignore[misc]
            lambda p: p["status"] in ("Completed", "Failed"),
            300,
        )
        if done["status"] != "Completed":
            raise RuntimeError(f"model package {pk} failed: {done['failure_reason']}")
        studio.api("POST", f"/api/v1/model-packages/{pk}/approve/", json={"comment": "Benchmark."})
    return ids


def deploy(studio: Any, name: str, variants: list[dict[str, Any]]) -> dict[str, Any]:
    created = studio.api(
        "POST",
        "/api/v1/endpoints/",
        json={"project": studio.project, "name": name, "variants": variants},
    ).json()
    done = wait_for(
        lambda: studio.api("GET", f"/api/v1/endpoints/{created['id']}/").json(),
        lambda e: e["status"] != "Creating",
        180,
    )
    if done["status"] != "InService":
        raise RuntimeError(f"endpoint {name} did not come up: {done['failure_reason']}")
    return done


def server_pids(studio: Any, endpoint_id: int) -> list[int]:
    """The model-server processes of an endpoint: children of the model host, found by the
    manifest each is started with."""
    import psutil

    instances = studio.api("GET", f"/api/v1/endpoints/{endpoint_id}/instances/").json()
    wanted = {f"/servers/{i['id']}/manifest.json" for i in instances["instances"]}
    found = []
    for child in psutil.Process(studio.pid("model-host")).children():
        with suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            if any(arg.endswith(w) for arg in child.cmdline() for w in wanted):
                found.append(child.pid)
    if len(found) != len(wanted):
        raise RuntimeError(f"found {len(found)} of the {len(wanted)} model servers")
    return found


def stop_leftover_servers(var: Path) -> None:
    """Model servers of this studio still running after it stopped (a model host killed
    before it stopped its children would leave them): stopped by pid."""
    import psutil

    marker = str(var / "model-host" / "servers")
    for proc in psutil.process_iter(["pid", "cmdline"]):
        cmdline = proc.info.get("cmdline") or []
        if "endpoints.engine.server" in cmdline and any(marker in a for a in cmdline):
            with suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                proc.kill()


def sextant_side(
    scratch: Path, x: Any, y: Any, bodies: list[str], check_body: str
) -> tuple[dict[str, ModelResult], ABResult, dict[str, Path], dict[str, list[str]], float]:
    """Everything measured on the studio: both endpoints at every concurrency, and the A/B
    router against the single variant. Returns the archives for the other sides too."""
    from bench.stack import embedded_backend, live_studio

    results = {name: ModelResult(name) for name in ("xgboost", "sklearn")}
    archives: dict[str, Path] = {}
    answers: dict[str, list[str]] = {}
    var: Path | None = None
    try:
        with embedded_backend() as backend, live_studio(backend, scratch, serving=True) as studio:
            var = studio.var
            print("[serving] training XGBoost and uploading the pipeline …", flush=True)
            packages = register_models(studio, scratch, x, y)
            for kind, pk in packages.items():
                archive = scratch / f"{kind}.tar.gz"
                got = studio.api("GET", f"/api/v1/model-packages/{pk}/artifact/")
                archive.write_bytes(got.content)
                archives[kind] = archive
            print("[serving] deploying …", flush=True)
            endpoints = {
                "xgboost": deploy(
                    studio, "bench-xgboost", [{"name": "A", "model_package": packages["xgboost"]}]
                ),
                "sklearn": deploy(
                    studio, "bench-sklearn", [{"name": "A", "model_package": packages["sklearn"]}]
                ),
                "ab": deploy(
                    studio,
                    "bench-xgboost-ab",
                    [
                        {"name": "A", "model_package": packages["xgboost"], "weight": 0.5},
                        {"name": "B", "model_package": packages["xgboost"], "weight": 0.5},
                    ],
                ),
            }
            wait_idle(studio)
            headers = {"Content-Type": "text/csv", "Authorization": f"Token {studio.token}"}
            for kind in ("xgboost", "sklearn"):
                url = f"{studio.url}/invocations/{endpoints[kind]['name']}"
                answer = studio.session.post(
                    url, data=check_body, headers={"Content-Type": "text/csv"}, timeout=30
                )
                if answer.status_code != 200:
                    raise RuntimeError(f"{kind} answered {answer.status_code}: {answer.text}")
                answers[kind] = answer.text.split()
            load = wait_quiet()
            watch_router = [studio.pid("web")]
            for kind in ("xgboost", "sklearn"):
                print(f"[serving] {kind}: Sextant …", flush=True)
                url = f"{studio.url}/invocations/{endpoints[kind]['name']}"
                watch = {
                    "router": watch_router,
                    "model server": server_pids(studio, endpoints[kind]["id"]),
                }
                for c in CONCURRENCIES:
                    results[kind].points.append(drive(SEXTANT, url, headers, bodies, c, watch))
            print("[serving] A/B router: single variant against two at 50/50 …", flush=True)
            single_url = f"{studio.url}/invocations/{endpoints['xgboost']['name']}"
            ab_url = f"{studio.url}/invocations/{endpoints['ab']['name']}"
            ab = ABResult()
            pinned = {**headers, "X-Target-Variant": "A"}
            variants: Counter[str] = Counter()
            for _ in range(AB_ROUNDS):
                for label, url, head, into in (
                    ("single", single_url, headers, ab.single_p50),
                    ("A/B 50/50", ab_url, headers, ab.ab_p50),
                    ("A/B pinned to A", ab_url, pinned, ab.pinned_p50),
                ):
                    point = drive(label, url, head, bodies, 1, {}, warmup=1.0, seconds=AB_SECONDS)
                    into.append(point.p50)
                    if into is ab.ab_p50:
                        variants.update(point.variants)
            ab.variants = dict(variants)
            ab.choose_us = route_choice_us()
    finally:
        if var is not None:
            stop_leftover_servers(var)
    return results, ab, archives, answers, load


# --------------------------------------------------------------------------- MLflow


def mlflow_env() -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("VIRTUAL_ENV", "PYTHONPATH", "DJANGO_SETTINGS_MODULE")
    }
    env.update(
        {
            "OMP_NUM_THREADS": "1",
            "MLFLOW_DISABLE_TELEMETRY": "true",
            "DO_NOT_TRACK": "true",
            "PATH": f"{MLFLOW_VENV / 'bin'}:{env.get('PATH', '')}",
        }
    )
    return env


def wanted_mlflow_versions() -> dict[str, str]:
    return {
        "mlflow": MLFLOW_VERSION,
        "xgboost-cpu": metadata.version("xgboost-cpu"),
        "scikit-learn": metadata.version("scikit-learn"),
    }


def ensure_mlflow() -> str:
    """Make (or reuse) MLflow's environment; "" when it is ready, else why it is not."""
    return ensure_venv(MLFLOW_VENV, wanted_mlflow_versions(), name="MLflow", tag="serving")


# Runs with MLflow's interpreter: nothing of Sextant is imported there.
MLFLOW_SAVE = """
import sys
kind, src, dst = sys.argv[1:4]
if kind == "sklearn":
    import joblib, sklearn, mlflow.sklearn
    mlflow.sklearn.save_model(
        joblib.load(src), dst, pip_requirements=[f"scikit-learn=={sklearn.__version__}"]
    )
else:
    import xgboost, mlflow.xgboost
    model = xgboost.XGBClassifier()
    model.load_model(src)
    mlflow.xgboost.save_model(model, dst, pip_requirements=[f"xgboost=={xgboost.__version__}"])
"""


def save_for_mlflow(kind: str, archive: Path, pipeline_file: Path, dest: Path) -> Path:
    """The same fitted model in MLflow's format: the uploaded pipeline's joblib file, or the
    booster's JSON out of the studio's archive."""
    if kind == "sklearn":
        source = pipeline_file
    else:
        source = dest.parent / f"{kind}-booster.json"
        with tarfile.open(archive, "r:gz") as tar:
            member = tar.extractfile("xgboost-model.json")
            assert member is not None
            source.write_bytes(member.read())
    target = dest / kind
    shutil.rmtree(target, ignore_errors=True)
    subprocess.run(
        [str(MLFLOW_PYTHON), "-c", MLFLOW_SAVE, kind, str(source), str(target)],
        env=mlflow_env(),
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return target


@contextmanager
def mlflow_server(model: Path, workers: int | None, log: Path) -> Iterator[tuple[str, int]]:
    """``mlflow models serve`` on a free port until ``/ping`` answers; its whole process
    group is stopped afterwards, whatever happened."""
    import requests

    from bench.stack import free_port

    port = free_port()
    argv = [
        str(MLFLOW_VENV / "bin" / "mlflow"),
        "models",
        "serve",
        "-m",
        str(model),
        "--env-manager",
        "local",
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
    ]
    if workers is not None:
        argv += ["-w", str(workers)]
    with log.open("ab") as out:
        proc = subprocess.Popen(
            argv,
            env=mlflow_env(),
            cwd=model.parent,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"mlflow models serve exited: {log.read_text()[-2000:]}")
            with suppress(requests.RequestException):
                if requests.get(f"{url}/ping", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise TimeoutError(f"mlflow models serve did not answer: {log.read_text()[-2000:]}")
            time.sleep(0.25)
        yield url, proc.pid
    finally:
        stop_group(proc)


def stop_group(proc: subprocess.Popen[bytes]) -> None:
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        pass
    with suppress(ProcessLookupError):  # workers the leader did not take down with it
        os.killpg(proc.pid, signal.SIGKILL)
    with suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)


def mlflow_side(
    results: dict[str, ModelResult],
    archives: dict[str, Path],
    pipeline_file: Path,
    scratch: Path,
    bodies: list[str],
    check_rows: list[str],
    answers: dict[str, list[str]],
) -> None:
    import requests

    header = ",".join(FEATURES) + "\n"
    with_header = [header + b for b in bodies]
    for kind in ("xgboost", "sklearn"):
        model = save_for_mlflow(kind, archives[kind], pipeline_file, scratch / "mlflow-models")
        for server, workers in ((MLFLOW, None), (MLFLOW_W2, 2)):
            print(f"[serving] {kind}: {server} …", flush=True)
            log = scratch / f"mlflow-{kind}-{workers or 1}.log"
            with mlflow_server(model, workers, log) as (url, pid):
                got = requests.post(
                    f"{url}/invocations",
                    data=header + "".join(check_rows),
                    headers={"Content-Type": "text/csv"},
                    timeout=30,
                )
                got.raise_for_status()
                labels = [str(int(v)) for v in got.json()["predictions"]]
                if labels != answers[kind]:
                    results[kind].agree += f" {server} differs on the check rows."
                for c in CONCURRENCIES:
                    results[kind].points.append(
                        drive(
                            server,
                            f"{url}/invocations",
                            {"Content-Type": "text/csv"},
                            with_header,
                            c,
                            {"server": [pid]},
                        )
                    )


# --------------------------------------------------------------------------- the run


def wait_quiet() -> float:
    """The 1-minute load average, once below ``QUIET_LOAD`` or after the patience."""
    limit = QUIET_LOAD
    deadline = time.monotonic() + QUIET_PATIENCE_SECONDS
    load = os.getloadavg()[0]
    while load >= limit and time.monotonic() < deadline:
        print(f"[serving] load average {load:.2f}: waiting for a quieter machine …", flush=True)
        time.sleep(10)
        load = os.getloadavg()[0]
    return load


def run(*, scratch: Path, out: Path | None, machine: Any) -> None:
    x, y, held_out = make_data()
    bodies = [csv_line(r) for r in held_out]
    check_rows = bodies[:CHECK_ROWS]
    print(
        f"[serving] {ROWS:,} training rows × {len(FEATURES)} features; load averages "
        f"{', '.join(f'{v:.2f}' for v in os.getloadavg())}",
        flush=True,
    )
    results, ab, archives, answers, load_sextant = sextant_side(
        scratch, x, y, bodies, "".join(check_rows)
    )
    loads = [load_sextant]
    print("[serving] in process …", flush=True)
    loads.append(wait_quiet())
    for kind in ("xgboost", "sklearn"):
        points, labels = in_process(archives[kind], held_out, kind)
        results[kind].points[:0] = points
        results[kind].agree = (
            "Sextant's answers on 50 check rows equal the in-process model's."
            if labels == answers[kind]
            else "**Sextant's answers differ from the in-process model's on the check rows.**"
        )
    mlflow_note = ensure_mlflow()
    mlflow_version = ""
    if not mlflow_note:
        mlflow_version = MLFLOW_VERSION
        loads.append(wait_quiet())
        try:
            mlflow_side(
                results,
                archives,
                scratch / "pipeline.joblib",
                scratch,
                bodies,
                check_rows,
                answers,
            )
        except (RuntimeError, TimeoutError, subprocess.SubprocessError) as exc:
            mlflow_note = f"MLflow could not be measured: {exc}"
            print(f"[serving] {mlflow_note}", flush=True)
    body = render(machine, results, ab, max(loads), mlflow_version, mlflow_note)
    print(body)
    if out is not None:
        from bench.report import write_section

        write_section(out, "serving", body)


# --------------------------------------------------------------------------- report


def _mark(ok: bool) -> str:
    return "✓" if ok else "✗"


def render(
    machine: Any,
    results: dict[str, ModelResult],
    ab: ABResult,
    load: float,
    mlflow_version: str,
    mlflow_note: str,
) -> str:
    from bench.report import now_utc, table

    titles = {
        "xgboost": f"XGBoost, {ROUNDS} trees (trained by a job; `inplace_predict` behind the "
        "endpoint)",
        "sklearn": "scikit-learn pipeline: StandardScaler + LogisticRegression (uploaded joblib)",
    }
    sections = []
    verdicts = []
    for kind, result in results.items():
        rows = []
        cpu_rows = []
        for p in result.points:
            conc = "—" if p.concurrency is None else str(p.concurrency)
            rate = f"{p.rate:,.0f}" + (" calls/s" if p.concurrency is None else "")
            errors = f" ({p.errors} errors)" if p.errors else ""
            rows.append((p.server, conc, f"{p.p50:.3f}", f"{p.p99:.3f}", rate + errors))
            if p.cpu_ms:
                cpu = p.cpu_ms
                cpu_rows.append(
                    (
                        p.server,
                        conc,
                        f"{cpu.get('load generator', 0):.3f}",
                        f"{cpu['router']:.3f}" if "router" in cpu else "—",
                        f"{cpu.get('model server', cpu.get('server', 0)):.3f}",
                        str(p.busy.get("model server", p.busy.get("server", "—"))),
                    )
                )
        sections.append(
            f"### {titles[kind]}\n\n"
            + table(["server", "concurrency", "p50 ms", "p99 ms", "req/s"], rows)
            + "\n\nCPU per request (ms; the load generator's own, the studio's router process, "
            "the model server's process — MLflow's whole process tree; busy: the server's "
            "processes that did at least 10% of its work):\n\n"
            + table(
                ["server", "concurrency", "load generator", "router", "model server", "busy"],
                cpu_rows,
            )
            + f"\n\n{result.agree.strip()}\n"
        )
        floor = result.get(IN_PROCESS)
        one = result.get(SEXTANT, 1)
        eight = result.get(SEXTANT, 8)
        if floor is not None and one is not None:
            overhead = one.p50 - floor.p50
            verdicts.append(
                (
                    kind,
                    "p50 over in-process predict_proba, concurrency 1",
                    f"{overhead:.3f} ms ({one.p50:.3f} − {floor.p50:.3f})",
                    f"≤ {TARGET_OVERHEAD_MS:g} ms",
                    _mark(overhead <= TARGET_OVERHEAD_MS),
                )
            )
        for server, target in ((MLFLOW, TARGET_VS_MLFLOW), (MLFLOW_W2, TARGET_VS_MLFLOW_W2)):
            peer = result.get(server, 8)
            if eight is not None and peer is not None and peer.rate > 0:
                ratio = eight.rate / peer.rate
                verdicts.append(
                    (
                        kind,
                        f"throughput against {server}, concurrency 8",
                        f"{ratio:.1f}× ({eight.rate:,.0f} / {peer.rate:,.0f} req/s)",
                        f"≥ {target:g}×",
                        _mark(ratio >= target),
                    )
                )
    cost = ab.cost_ms
    share = sum(ab.variants.values()) or 1
    split = ", ".join(f"{k} {v / share:.1%}" for k, v in sorted(ab.variants.items()))
    verdicts.append(
        (
            "xgboost",
            "A/B router: two variants at 50/50 against one, p50 at concurrency 1",
            f"{cost:+.3f} ms",
            f"≤ {TARGET_AB_MS:g} ms",
            _mark(cost <= TARGET_AB_MS),
        )
    )
    if mlflow_version:
        about_peer = (
            f"MLflow {mlflow_version} (`mlflow models serve --env-manager local`, its own "
            "virtual environment), fed the same rows as CSV with a header row, which it needs; "
            'it answers JSON `{"predictions": […]}`. The models were saved in its format '
            "without a signature (no schema enforcement: its quickest path)."
        )
        if mlflow_note:
            about_peer += f" {mlflow_note}"
    else:
        about_peer = f"MLflow was not measured: {mlflow_note}"
    ab_rounds = ", ".join(
        f"{a:.3f}/{b:.3f}/{c:.3f}"
        for a, b, c in zip(ab.single_p50, ab.ab_p50, ab.pinned_p50, strict=True)
    )
    choose = ", ".join(
        f"{n} variant{'s' if n > 1 else ''} {us:.2f} µs" for n, us in ab.choose_us.items()
    )
    return f"""## Real-time inference: one-row invocations, against in-process predict and MLflow

Measured {now_utc()} on {machine.markdown()}; the 1-minute load average was at most
{load:.2f} when each part (Sextant, in process, MLflow) started.
Data: `make_classification`, {ROWS:,} training rows × {len(FEATURES)} features (0/1 label);
the requests are single CSV rows taken in turn from {HELD_OUT:,} held-out rows, the same
sequence for every server. Sextant: a live studio (embedded backend: uvicorn, one Celery
worker, the model host), each model on an endpoint of one instance, `POST
/invocations/<endpoint>` with `Authorization: Token …`. {about_peer}
Every model runs on one thread (`OMP_NUM_THREADS=1`, as the studio's model servers).
Load: `bench/loadgen.py`'s connections on uvloop in a child process, keep-alive HTTP/1.1 on
loopback, opened {STAGGER_SECONDS * 1000:g} ms apart (as a pool fills: opened at once, they
all land on one worker of `mlflow models serve -w 2`) and kept from the warm-up on; per
concurrency a {WARMUP_SECONDS:g} s warm-up, then {MEASURE_SECONDS:g} s measured. In
process: {FLOOR_CALLS:,} calls in the benchmark process after a warm-up (rate = 1 / p50).
The machine has {machine.cores} cores: at concurrency 8 and 32 the load generator, the
router and the model server share them.

{chr(10).join(sections)}
### Targets

{table(["model", "measure", "measured", "target", ""], verdicts)}

A/B: the median p50 of {AB_ROUNDS} alternating rounds of {AB_SECONDS:g} s each at concurrency
1, the XGBoost package on an endpoint of one variant, on an endpoint of two variants (A and
B, one model server each) at 50/50, and on that endpoint with every request pinned to A
(`X-Target-Variant`: the same routing code, one model server); p50 per round, ms
(single/50-50/pinned): {ab_rounds}. Split seen: {split}. Pinned to A against the
single-variant endpoint: {ab.pinned_cost_ms:+.3f} ms. Drawing the variant itself
(`Route.choose`, in process): {choose}.

Reproduce: `make bench BENCH_ARGS="--only serving"` (or `.venv/bin/python -m bench --only
serving`).
"""


if __name__ == "__main__":
    load_child()
