"""A 10-transform flow over 10M rows × 20 columns: Sextant's processing run against pandas
written by hand and against polars, in the same run.

The data is generated into a Parquet file in 1M-row row groups (never whole in memory). Each
side runs in a fresh child process (``python -m bench.flow_run child <side> …``) that reports
its wall time (imports excluded) and its peak RSS (``VmHWM``):

- **sextant**: the processing job's own compute, ``wrangler.engine.job.run`` on a job spec,
  exactly what a worker's subprocess runs for ``POST /api/v1/flows/<id>/run/``;
- **pandas**: ``read_parquet``, the same ten steps written by hand, ``to_parquet``;
- **polars**: the same steps as polars expressions, eager, ``write_parquet``.

The three outputs are compared (same rows, same columns, values within 1e-9).
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from bench.flows import CITIES, PLANS
from bench.report import Machine, mib, now_utc, table, write_section

ROWS = 10_000_000
CHUNK = 1_000_000
TARGET_RATIO = 1.2

STEPS: list[tuple[str, str, dict[str, Any]]] = [
    ("fill", "fill_missing", {"columns": ["age"], "strategy": "median"}),
    ("ratio", "formula", {"expression": "income / (score + 1)", "new_column": "ratio"}),
    ("log", "log_transform", {"columns": ["income"], "method": "log1p"}),
    ("scale", "standard_scale", {"columns": ["ratio", "age"]}),
    ("clip", "clip_outliers", {"columns": ["f1"], "method": "iqr"}),
    ("onehot", "one_hot_encode", {"columns": ["city"]}),
    ("textlen", "text_length", {"columns": ["text"]}),
    ("dates", "extract_datetime", {"column": "signup", "parts": ["year", "month"]}),
    ("keep", "filter_rows", {"conditions": [{"column": "score", "op": ">=", "value": 5}]}),
    ("drop", "drop_columns", {"columns": ["last_seen"]}),
]


def flow_graph() -> dict[str, Any]:
    nodes = [{"id": "src", "type": "source", "params": {"dataset": 1}}]
    nodes += [{"id": i, "type": t, "params": p} for i, t, p in STEPS]
    edges = [[a["id"], b["id"]] for a, b in pairwise(nodes)]
    return {"nodes": nodes, "edges": edges}


def generate(path: Path, rows: int, seed: int = 0) -> None:
    """20 columns: ids, numbers with gaps, eight float features, text, dates, categories."""
    rng = np.random.default_rng(seed)
    writer: pq.ParquetWriter | None = None
    for start in range(0, rows, CHUNK):
        n = min(CHUNK, rows - start)
        age = rng.normal(40, 12, n).round(1)
        age[rng.random(n) < 0.08] = np.nan
        signup = np.datetime64("2023-01-01") + rng.integers(0, 700, n).astype("timedelta64[D]")
        frame = pd.DataFrame(
            {
                "id": np.arange(start, start + n, dtype="int64"),
                "age": age,
                "income": np.exp(rng.normal(10, 0.6, n)).round(2),
                "score": rng.integers(0, 100, n),
                "city": pd.Categorical.from_codes(rng.integers(0, len(CITIES), n), CITIES).astype(
                    "str"
                ),
                "plan": pd.Categorical.from_codes(rng.integers(0, len(PLANS), n), PLANS).astype(
                    "str"
                ),
                "signup": pd.Series(signup.astype(str), dtype="str"),
                "last_seen": pd.Series(
                    (signup + rng.integers(0, 200, n).astype("timedelta64[D]")).astype(str),
                    dtype="str",
                ),
                "text": pd.Series(
                    np.char.add("Order #", rng.integers(0, 10_000, n).astype(str)), dtype="str"
                ),
                "churned": (rng.random(n) < 0.2).astype("int64"),
                **{f"f{k}": rng.normal(0, 1 + k, n) for k in range(1, 9)},
                "flag": rng.random(n) < 0.5,
                "units": rng.integers(1, 20, n),
            }
        )
        table_ = pa.Table.from_pandas(frame, preserve_index=False)
        if writer is None:
            writer = pq.ParquetWriter(path, table_.schema)
        writer.write_table(table_)
    assert writer is not None
    writer.close()


# --------------------------------------------------------------------------- the sides


def run_sextant(src: Path, out: Path, work: Path) -> None:
    from wrangler.engine.job import run

    spec = {
        "graph": flow_graph(),
        "target": "drop",
        "sources": {"src": str(src)},
        "output": str(out),
        "states": str(work / "states.json"),
    }
    run(spec)


def run_pandas(src: Path, out: Path, work: Path) -> None:
    df = pd.read_parquet(src)
    df["age"] = df["age"].fillna(df["age"].median())
    ratio = df["income"] / (df["score"] + 1)
    df["ratio"] = ratio.where(np.isfinite(ratio))
    df["income"] = np.log1p(df["income"])
    for c in ("ratio", "age"):
        std = df[c].std(ddof=0)
        df[c] = (df[c] - df[c].mean()) / (std if std else 1.0)
    q1, q3 = df["f1"].quantile([0.25, 0.75])
    df["f1"] = df["f1"].clip(q1 - 1.5 * (q3 - q1), q3 + 1.5 * (q3 - q1))
    dummies = pd.get_dummies(df["city"], prefix="city", dtype="int8")
    df = pd.concat([df.drop(columns="city"), dummies], axis=1)
    df["text_length"] = df["text"].str.len()
    when = pd.to_datetime(df["signup"])
    df["signup_year"], df["signup_month"] = when.dt.year, when.dt.month
    df = df[df["score"] >= 5].drop(columns="last_seen")
    df.to_parquet(out, index=False)


def run_polars(src: Path, out: Path, work: Path) -> None:
    import polars as pl

    df = pl.read_parquet(src)
    cities = sorted(df["city"].unique().to_list())
    ratio = pl.col("income") / (pl.col("score") + 1)

    def scaled(c: str) -> pl.Expr:
        return (pl.col(c) - pl.col(c).mean()) / pl.col(c).std(ddof=0)

    df = df.with_columns(
        pl.col("age").fill_null(pl.col("age").median()),
        ratio.alias("ratio"),
        pl.col("income").log1p(),
    ).with_columns(scaled("ratio"), scaled("age"))
    q1, q3 = df["f1"].quantile(0.25, "linear"), df["f1"].quantile(0.75, "linear")
    assert q1 is not None and q3 is not None
    df = df.with_columns(pl.col("f1").clip(q1 - 1.5 * (q3 - q1), q3 + 1.5 * (q3 - q1)))
    df = df.with_columns(
        *[(pl.col("city") == c).cast(pl.Int8).alias(f"city_{c}") for c in cities],
        pl.col("text").str.len_chars().alias("text_length"),
        pl.col("signup").str.to_date().dt.year().alias("signup_year"),
        pl.col("signup").str.to_date().dt.month().alias("signup_month"),
    ).drop("city")
    df = df.filter(pl.col("score") >= 5).drop("last_seen")
    df.write_parquet(out)


SIDES = {"sextant": run_sextant, "pandas": run_pandas, "polars": run_polars}


def peak_rss() -> int:
    """This process's peak resident memory in bytes.

    Linux's ``VmHWM`` counts this program alone; ``ru_maxrss`` also keeps the peak of the
    parent it was started from (it survives ``exec``), which floors small measurements.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def report_timed(work: Callable[[], None]) -> None:
    """Run ``work`` and print its wall time and this process's peak RSS as a JSON line."""
    t0 = time.perf_counter()
    work()
    seconds = time.perf_counter() - t0
    print(json.dumps({"seconds": seconds, "peak": peak_rss()}))


def run_child(module: str, preload: str, args: list[str]) -> dict[str, Any]:
    """``module.child_main(args)`` in a fresh interpreter that imported ``preload`` first,
    so that the timing is the work, not the imports; its time and peak RSS."""
    code = (
        f"import sys, pandas, pyarrow, numpy, {preload}\n"
        f"from {module} import child_main\n"
        "child_main(sys.argv[1:])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:2])} failed:\n{result.stderr[-3000:]}")
    line = [x for x in result.stdout.splitlines() if x.startswith('{"seconds"')][-1]
    return dict(json.loads(line))


def child_main(argv: list[str]) -> None:
    side, src, out, work = argv[0], Path(argv[1]), Path(argv[2]), Path(argv[3])
    report_timed(lambda: SIDES[side](src, out, work))


def measure(side: str, src: Path, scratch: Path) -> dict[str, Any]:
    out = scratch / f"out-{side}.parquet"
    work = scratch / f"work-{side}"
    work.mkdir(exist_ok=True)
    preload = "polars" if side == "polars" else "wrangler.engine.job"
    args = [side, str(src), str(out), str(work)]
    return {**run_child("bench.flow_run", preload, args), "out": out}


def compare(a: Path, b: Path) -> str:
    """How two outputs differ: rows, columns, and the largest numeric difference."""
    x, y = pq.read_table(a).to_pandas(), pq.read_table(b).to_pandas()
    if len(x) != len(y):
        return f"rows differ ({len(x):,} vs {len(y):,})"
    common = [c for c in x.columns if c in set(y.columns)]
    worst, gaps = 0.0, 0
    for c in common:
        if pd.api.types.is_numeric_dtype(x[c]) and pd.api.types.is_numeric_dtype(y[c]):
            d = np.nanmax(np.abs(x[c].to_numpy(float) - y[c].to_numpy(float)), initial=0.0)
            worst = max(worst, float(d))
        gaps += int((x[c].isna().to_numpy() != y[c].isna().to_numpy()).sum())
    missing = sorted(set(x.columns) ^ set(y.columns))
    return (
        f"same {len(x):,} rows; max |diff| {worst:.1e}"
        + (f"; {gaps:,} values null on one side only" if gaps else "")
        + (f"; columns only on one side: {', '.join(missing)}" if missing else "")
    )


def run(*, scratch: Path, rows: int, out: Path | None, machine: Machine) -> None:
    src = scratch / "flow-source.parquet"
    print(f"[flow] generating {rows:,} rows × 20 columns …", flush=True)
    generate(src, rows)
    size = src.stat().st_size
    results = {}
    for side in ("pandas", "polars", "sextant"):
        print(f"[flow] {side} …", flush=True)
        results[side] = measure(side, src, scratch)
        print(f"[flow] {side}: {results[side]['seconds']:.1f} s, {mib(results[side]['peak'])}")
    body = render(machine, rows, size, results)
    print(body)
    if out is not None:
        write_section(out, "flow", body)


def render(machine: Machine, rows: int, size: int, r: dict[str, Any]) -> str:
    pandas_s, pandas_peak = r["pandas"]["seconds"], r["pandas"]["peak"]
    lines = [
        (
            side,
            f"{r[side]['seconds']:.1f} s",
            f"{r[side]['seconds'] / pandas_s:.2f}×",
            mib(r[side]["peak"]),
            f"{r[side]['peak'] / pandas_peak:.2f}×",
        )
        for side in ("sextant", "pandas", "polars")
    ]
    ratio = r["sextant"]["seconds"] / pandas_s
    time_ok = "met" if ratio <= TARGET_RATIO else "**missed**"
    mem_ok = "met" if r["sextant"]["peak"] < pandas_peak else "**missed**"
    steps = ", ".join(f"`{t}`" for _, t, _ in STEPS)
    return f"""## A 10-transform flow over {rows:,} rows, against pandas and polars

Measured {now_utc()} on {machine.markdown()}.
Data: {rows:,} rows × 20 columns (ints, floats with gaps, eight float features, text, ISO
dates, categories, a boolean), {mib(size)} of Parquet in {CHUNK:,}-row row groups, in the
page cache. The flow: {steps}. Each side in a fresh child process, imports excluded; peak
RSS is the child's `VmHWM`. Sextant: `wrangler.engine.job.run`, the processing job's
compute (what a worker's subprocess runs). pandas: the same steps written by hand on the
whole frame; polars: the same as eager polars expressions.

{table(["side", "time", "time vs pandas", "peak RSS", "peak vs pandas"], lines)}

Outputs: Sextant vs pandas: {compare(r["sextant"]["out"], r["pandas"]["out"])}.
Sextant vs polars: {compare(r["sextant"]["out"], r["polars"]["out"])}.

Targets: within {TARGET_RATIO}× of pandas' time: {time_ok} ({ratio:.2f}×); less peak memory
than pandas: {mem_ok} ({mib(r["sextant"]["peak"])} against {mib(pandas_peak)}).
"""
