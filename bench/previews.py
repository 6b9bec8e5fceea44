"""Node preview latency: ``POST /api/v1/flows/<id>/preview/`` for every transform type.

A scratch studio (uvicorn + one worker, embedded backend) holds a 200,000-row demo dataset
(12 mixed columns, ``bench.flows.demo_frame``) and a 100,000-row second one for joins. For
each transform type a flow of one node over the demo source (``bench.flows.EXAMPLES``) is
created, previewed once to warm up, then previewed ``REPEATS`` times; the figure is the
median of those, measured at the client. Previews run on the default sample: the first
50,000 rows of each source.

Baseline, in the same run: the transform alone (``run_node``) on the same 50,000 rows in the
benchmark's own process, no web stack: what the engine costs, so that the ratio shows what
the API, the sampling and the JSON add. ``custom_pandas`` is previewed by a worker (custom
code never runs in the web process) and is reported on its own line, outside the p50.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from bench.flows import EXAMPLES, demo_frame, regions_frame, single_node_flow
from bench.report import Machine, Summary, now_utc, table, write_section
from bench.stack import LiveStudio, embedded_backend, live_studio
from wrangler.engine import parse_flow
from wrangler.engine.execute import run_node

ROWS = 200_000
SAMPLE = 50_000
REPEATS = 5
TARGET = 0.300


def upload_parquet(studio: LiveStudio, path: Path, name: str) -> int:
    with path.open("rb") as f:
        response = studio.api(
            "POST",
            "/api/v1/datasets/",
            data={"project": studio.project, "name": name},
            files={"file": (path.name, f, "application/octet-stream")},
        )
    if response.status_code != 201:
        raise RuntimeError(f"upload failed: {response.status_code} {response.text[:300]}")
    dataset = response.json()
    studio.wait_job(dataset["ingest_job"], lambda j: j["status"] == "Completed", timeout=300)
    return int(dataset["id"])


def engine_alone(kind: str, frames: dict[int, Any]) -> float:
    """Median seconds of the transform itself on the sample, fitting as a preview does."""
    graph = parse_flow(single_node_flow(kind))
    node = graph.nodes["t"]
    inputs = [frames[graph.nodes[i].params["dataset"]] for i in node.inputs]
    times = []
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        run_node(node, inputs, None)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def measure(studio: LiveStudio, kind: str, demo: int, regions: int) -> tuple[float, int]:
    graph = single_node_flow(kind, dataset=demo, second=regions)
    flow = studio.api(
        "POST", "/api/v1/flows/", json={"project": studio.project, "name": kind, "graph": graph}
    )
    if flow.status_code != 201:
        raise RuntimeError(f"{kind}: {flow.status_code} {flow.text[:300]}")
    url = f"/api/v1/flows/{flow.json()['id']}/preview/"
    first = studio.api("POST", url, json={"node": "t"})
    if first.status_code != 200:
        raise RuntimeError(f"{kind}: preview {first.status_code} {first.text[:300]}")
    times = []
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        response = studio.api("POST", url, json={"node": "t"})
        times.append(time.perf_counter() - t0)
        response.raise_for_status()
    return statistics.median(times), int(first.json()["num_rows"])


def run(*, scratch: Path, out: Path | None, machine: Machine) -> None:
    demo_path, regions_path = scratch / "demo.parquet", scratch / "regions.parquet"
    demo, regions = demo_frame(ROWS, seed=7), regions_frame(ROWS // 2)
    pq.write_table(pa.Table.from_pandas(demo, preserve_index=False), demo_path)
    pq.write_table(pa.Table.from_pandas(regions, preserve_index=False), regions_path)
    # The baseline sees what a preview sees: the first 50,000 rows, read back from Parquet.
    frames = {
        1: pq.read_table(demo_path).slice(0, SAMPLE).to_pandas(),
        2: pq.read_table(regions_path).slice(0, SAMPLE).to_pandas(),
    }
    rows: list[tuple[str, float, float, int]] = []
    with embedded_backend() as backend, live_studio(backend, scratch) as studio:
        studio.wait_worker()
        demo_id = upload_parquet(studio, demo_path, "demo")
        regions_id = upload_parquet(studio, regions_path, "regions")
        for kind in sorted(EXAMPLES):
            api_s, out_rows = measure(studio, kind, demo_id, regions_id)
            alone = engine_alone(kind, frames) if kind != "custom_pandas" else float("nan")
            rows.append((kind, api_s, alone, out_rows))
            print(f"[previews] {kind:18s} {api_s * 1000:7.1f} ms  engine {alone * 1000:7.1f} ms")
    body = render(machine, rows)
    print(body)
    if out is not None:
        write_section(out, "previews", body)


def render(machine: Machine, rows: list[tuple[str, float, float, int]]) -> str:
    built_in = [r for r in rows if r[0] != "custom_pandas"]
    summary = Summary.of([r[1] for r in built_in])
    lines = [
        (
            kind,
            f"{api_s * 1000:.0f}",
            "—" if alone != alone else f"{alone * 1000:.0f}",
            "—" if alone != alone else f"{api_s / alone:.1f}×" if alone > 0 else "—",
            f"{n:,}",
        )
        for kind, api_s, alone, n in sorted(rows, key=lambda r: r[1])
    ]
    verdict = "met" if summary.p50 < TARGET else "**missed**"
    return f"""## Node preview latency, every transform type

Measured {now_utc()} on {machine.markdown()}.
A scratch studio (uvicorn + one Celery worker, SQLite + filesystem broker) with a
{ROWS:,}-row demo dataset (12 mixed columns: ints, floats with gaps, text, dates, a binary
target) and a {ROWS // 2:,}-row second one for joins and concatenations. One flow per
transform type (a source and that node, with the parameters of `bench/flows.py`), previewed
once, then {REPEATS} times; the figure is the median at the client, on the default sample
(the first {SAMPLE:,} rows of each source). Baseline: the transform alone on the same
{SAMPLE:,} rows in the benchmark process (no web stack, no sampling, no JSON).
`custom_pandas` is previewed by a worker in a subprocess, and is left out of the p50.

{table(["transform", "preview ms", "engine alone ms", "preview / engine", "output rows"], lines)}

Over the {summary.n} built-in transform types: p50 {summary.p50 * 1000:.0f} ms, p90
{summary.p90 * 1000:.0f} ms, max {summary.max * 1000:.0f} ms.

Target: p50 under {TARGET * 1000:.0f} ms: {verdict} ({summary.p50 * 1000:.0f} ms).
"""
