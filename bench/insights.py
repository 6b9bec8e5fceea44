"""The Data Quality and Insights report against ydata-profiling in minimal mode.

Data: 200,000 rows × 30 mixed columns (``bench.flows.demo_frame`` plus twenty more: floats
with gaps and outliers, skewed amounts, low- and high-cardinality text, booleans), written
to Parquet. Each side runs in a fresh child process that reads the file, profiles its first
``WARM_UP_ROWS`` rows once untimed (imports, first calls), then times only the profiling of
the whole table; peak RSS is the child's ``ru_maxrss``.

- **Sextant**: ``insights_profile`` (summaries, missing values, duplicates, constant and
  high-cardinality columns, outliers, anomalies, skew, correlations, class balance, target
  leakage), and, timed apart, ``insights_model`` (the quick XGBoost model).
- **ydata-profiling** ``ProfileReport(df, minimal=True).get_description()``: its minimal
  mode, without rendering HTML; the target is judged against this. For context, two more
  runs: minimal mode with its HTML report (``to_html()``), and its default settings
  (correlations, interactions, missing-value diagrams; description only). It pins pandas
  below 3, so it runs from a virtual environment of its own (``var/bench-peers``, made on
  first use with pip).
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from bench.flows import demo_frame
from bench.report import Machine, mib, now_utc, table, write_section
from wrangler.engine.insights import insights_model, insights_profile

ROWS = 200_000
TARGET_SPEEDUP = 10.0
#: Rows each side profiles once, untimed, before the timed run.
WARM_UP_ROWS = 2_000
ROOT = Path(__file__).resolve().parent.parent
PEERS = ROOT / "var" / "bench-peers"
PEER_PYTHON = PEERS / "bin" / "python"


def wide_frame(rows: int, seed: int = 11) -> pd.DataFrame:
    """30 columns: the demo table's ten and twenty more of the usual kinds."""
    rng = np.random.default_rng(seed)
    df = demo_frame(rows, seed=seed)
    for k in range(8):
        x = rng.normal(0, 1 + k, rows)
        x[rng.random(rows) < 0.03 * (k % 3)] = np.nan
        x[rng.random(rows) < 0.001] *= 50  # a few outliers
        df[f"x{k}"] = x
    for k in range(4):
        df[f"amount{k}"] = np.exp(rng.normal(3, 1.5 + k / 2, rows)).round(2)  # skewed
    for k in range(4):
        df[f"cat{k}"] = pd.Series(
            rng.choice([f"c{i}" for i in range(3 + 5 * k)], rows), dtype="str"
        )
    df["user"] = pd.Series([f"u{i}" for i in rng.integers(0, rows // 2, rows)], dtype="str")
    df["flag"] = rng.random(rows) < 0.3
    df["constant"] = 1
    df["almost"] = (rng.random(rows) < 0.005).astype("int64")
    assert len(df.columns) == 30, len(df.columns)
    return df


def child_main(argv: list[str]) -> None:
    """Sextant's side: read the file, then time the profile and the model apart."""
    df = pd.read_parquet(argv[1])
    # Warm up on a slice first: the imports and first-call costs a worker pays once.
    insights_profile(df.head(WARM_UP_ROWS), target="churned")
    insights_model(df.head(WARM_UP_ROWS), target="churned")
    out: dict[str, Any] = {}
    t0 = time.perf_counter()
    profile = insights_profile(df, target="churned")
    out["seconds"] = time.perf_counter() - t0
    out["findings"] = len(profile["findings"])
    t1 = time.perf_counter()
    insights_model(df, target="churned")
    out["model_seconds"] = time.perf_counter() - t1
    out["peak"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print("RESULT " + json.dumps(out))


# The peer's child runs in the peer's own environment (pandas 2): nothing of Sextant in it.
# argv: the Parquet file, then "minimal", "minimal_html" or "default".
PEER_CHILD = """
import json, resource, sys, time, warnings
warnings.filterwarnings("ignore")
import pandas as pd
from ydata_profiling import ProfileReport
df = pd.read_parquet(sys.argv[1])
mode = sys.argv[2]

def profile(frame):
    report = ProfileReport(frame, minimal=mode != "default", progress_bar=False)
    description = report.get_description()
    if mode == "minimal_html":
        report.to_html()
    return description

profile(df.head(int(sys.argv[3])))  # the same warm-up as Sextant's
t0 = time.perf_counter()
description = profile(df)
out = {"seconds": time.perf_counter() - t0,
       "findings": len(getattr(description, "alerts", []) or []),
       "peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}
print("RESULT " + json.dumps(out))
"""
PEER_MODES = {
    "minimal": "ydata-profiling, minimal",
    "minimal_html": "ydata-profiling, minimal, with its HTML report",
    "default": "ydata-profiling, default settings",
}


def ensure_peer() -> str | None:
    """The peer's interpreter, installed on first use; None (with the reason) if impossible."""
    if PEER_PYTHON.exists():
        return None
    try:
        subprocess.run([sys.executable, "-m", "venv", str(PEERS)], check=True)
        subprocess.run(
            [
                str(PEER_PYTHON),
                "-m",
                "pip",
                "install",
                "-q",
                "ydata-profiling>=4.10,<5",
                "pyarrow",  # pandas' Parquet reader
                "setuptools<81",
            ],
            check=True,
        )
    except (OSError, subprocess.CalledProcessError) as exc:
        return f"ydata-profiling could not be installed: {exc}"
    return None


def measure(python: str, side: str, path: Path, mode: str = "minimal") -> dict[str, Any]:
    if side == "sextant":
        code = (
            "import sys; sys.path.insert(0, sys.argv[1]); from bench.insights import child_main; "
            "child_main(sys.argv[2:])"
        )
        argv = [python, "-c", code, str(ROOT), side, str(path)]  # imports before the clock
    else:
        argv = [python, "-c", PEER_CHILD, str(path), mode, str(WARM_UP_ROWS)]
    result = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    lines = [x for x in result.stdout.splitlines() if x.startswith("RESULT ")]
    if result.returncode != 0 or not lines:
        raise RuntimeError(f"{side} failed:\n{result.stderr[-3000:]}")
    return dict(json.loads(lines[-1][len("RESULT ") :]))


def run(*, scratch: Path, out: Path | None, machine: Machine) -> None:
    path = scratch / "insights.parquet"
    pq.write_table(pa.Table.from_pandas(wide_frame(ROWS), preserve_index=False), path)
    sextant = measure(sys.executable, "sextant", path)
    print(f"[insights] sextant: {sextant}")
    problem = ensure_peer()
    peers: dict[str, dict[str, Any]] = {}
    if not problem:
        for mode in PEER_MODES:
            peers[mode] = measure(str(PEER_PYTHON), "ydata", path, mode)
            print(f"[insights] ydata-profiling {mode}: {peers[mode]}")
    else:
        print(f"[insights] ydata-profiling: {problem}")
    version = ""
    if peers:
        version = subprocess.run(
            [
                str(PEER_PYTHON),
                "-c",
                "import ydata_profiling, pandas; "
                "print(ydata_profiling.__version__, pandas.__version__)",
            ],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
    body = render(machine, path, sextant, peers, problem, version)
    print(body)
    if out is not None:
        write_section(out, "insights", body)


def render(
    machine: Machine,
    path: Path,
    sextant: dict[str, Any],
    peers: dict[str, dict[str, Any]],
    problem: str | None,
    version: str,
) -> str:
    rows = [
        (
            "Sextant `insights_profile`",
            f"{sextant['seconds']:.2f} s",
            mib(sextant["peak"]),
            str(sextant["findings"]),
            "1.0×",
        ),
        (
            "Sextant `insights_model` (timed apart)",
            f"{sextant['model_seconds']:.2f} s",
            "—",
            "—",
            "—",
        ),
    ]
    for mode, label in PEER_MODES.items():
        if mode in peers:
            run = peers[mode]
            rows.append(
                (
                    label,
                    f"{run['seconds']:.2f} s",
                    mib(run["peak"]),
                    f"{run['findings']} alerts",
                    f"{run['seconds'] / sextant['seconds']:.1f}× Sextant's time",
                )
            )
    peer = peers.get("minimal")
    if peer is not None:
        speedup = peer["seconds"] / sextant["seconds"]
        verdict = f"{'met' if speedup >= TARGET_SPEEDUP else '**missed**'} ({speedup:.1f}× faster)"
    else:
        verdict = f"not measured: {problem}"
    size = path.stat().st_size
    return f"""## Insights report against ydata-profiling (minimal mode)

Measured {now_utc()} on {machine.markdown()}; ydata-profiling and its pandas: {version or "—"}.
Data: {ROWS:,} rows × 30 mixed columns (numbers with gaps and outliers, skewed amounts,
text of low and high cardinality, dates, booleans, a constant and a near-constant column, a
binary target), {mib(size)} of Parquet. Each side in a fresh process, which reads the file
and profiles its first {WARM_UP_ROWS:,} rows once untimed (the imports and first-call costs
a long-lived worker pays once); the time covers the profiling of the whole table only; peak
RSS is the process's `ru_maxrss`.

{table(["side", "time", "peak RSS", "findings", "time vs Sextant"], rows)}

Target: at least {TARGET_SPEEDUP:.0f}× faster than ydata-profiling in minimal mode (its
description, no HTML): {verdict}.
"""
