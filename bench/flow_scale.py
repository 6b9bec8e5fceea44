"""Whole-table steps over 10M rows × 20 columns: a processing job's join, group-by and sort
on Dask, and its lags and rolling windows, against the same steps in pandas and polars, in
the same run.

Three flows over the data of :mod:`bench.flow_run` (and a 100-row lookup table):

- **sort**: the whole table sorted on two columns, 10M rows out;
- **summary**: a left join on the lookup, then a group-by on three keys, then a sort of
  the groups: a few thousand rows out;
- **series**: lags 1 and 7 of two columns and a 7-row rolling mean, per city in signup
  order: every row out, with five more columns.

Each side runs in a fresh child process that reports its wall time (imports excluded) and
its peak RSS. Sextant: ``wrangler.engine.job.run``, the processing job's compute, which
starts its LocalCluster (threads, one per core) when the first whole-table step comes.
pandas and polars: the same steps on the whole frame, written by hand.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from bench.flow_run import compare, generate, report_timed, run_child
from bench.report import Machine, mib, now_utc, table, write_section

SORT = {"columns": ["city", "income"], "ascending": False}
JOIN = {"how": "left", "left_on": ["score"], "right_on": ["score"]}
GROUP = {
    "by": ["city", "plan", "tier"],
    "aggregations": [
        {"column": "id", "func": "count", "as": "customers"},
        {"column": "income", "func": "mean", "as": "mean_income"},
        {"column": "units", "func": "sum", "as": "units"},
        {"column": "age", "func": "max", "as": "oldest"},
    ],
}
ORDER = {"columns": ["units"], "ascending": False}
LAGS = {
    "columns": ["income", "units"],
    "lags": ["1", "7"],
    "order_by": "signup",
    "group_by": ["city"],
}
ROLLING = {
    "columns": ["income"],
    "window": 7,
    "func": "mean",
    "order_by": "signup",
    "group_by": ["city"],
}


def flows() -> dict[str, tuple[dict[str, Any], str]]:
    """The two flows and their target nodes."""
    src = {"id": "src", "type": "source", "params": {"dataset": 1}}
    tiers = {"id": "tiers", "type": "source", "params": {"dataset": 2}}
    return {
        "sort": (
            {
                "nodes": [src, {"id": "sort", "type": "sort", "params": SORT}],
                "edges": [["src", "sort"]],
            },
            "sort",
        ),
        "summary": (
            {
                "nodes": [
                    src,
                    tiers,
                    {"id": "join", "type": "join", "params": JOIN},
                    {"id": "group", "type": "group_by", "params": GROUP},
                    {"id": "order", "type": "sort", "params": ORDER},
                ],
                "edges": [
                    ["src", "join"],
                    ["tiers", "join"],
                    ["join", "group"],
                    ["group", "order"],
                ],
            },
            "order",
        ),
        "series": (
            {
                "nodes": [
                    src,
                    {"id": "lags", "type": "lag_features", "params": LAGS},
                    {"id": "rolling", "type": "rolling_window", "params": ROLLING},
                ],
                "edges": [["src", "lags"], ["lags", "rolling"]],
            },
            "rolling",
        ),
    }


def lookup(path: Path) -> None:
    scores = np.arange(100, dtype="int64")
    frame = pd.DataFrame(
        {
            "score": scores,
            "tier": pd.Series(np.array(["low", "mid", "high"])[scores % 3], dtype="str"),
        }
    )
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path)


# --------------------------------------------------------------------------- the sides


def run_sextant(flow: str, src: Path, tiers: Path, out: Path, work: Path) -> None:
    from wrangler.engine.job import run

    graph, target = flows()[flow]
    spec = {
        "graph": graph,
        "target": target,
        "sources": {"src": str(src), "tiers": str(tiers)},
        "output": str(out),
        "states": str(work / "states.json"),
        # As a job runs by default: half of SEXTANT_PROCESSING_MEMORY_MB (8192) for Dask.
        "dask": {"address": "", "memory_bytes": 4096 * 1024 * 1024},
    }
    run(spec)


def run_pandas(flow: str, src: Path, tiers: Path, out: Path, work: Path) -> None:
    df = pd.read_parquet(src)
    if flow == "sort":
        df = df.sort_values(SORT["columns"], ascending=False, kind="stable")
    elif flow == "series":
        by_city = df.sort_values("signup", kind="stable").groupby("city", dropna=False)
        for column in LAGS["columns"]:
            for lag in (1, 7):
                df[f"{column}_lag_{lag}"] = by_city[column].shift(lag)  # aligned on the index
        rolled = by_city["income"].rolling(7, min_periods=1).mean()
        df["income_rolling_mean_7"] = rolled.reset_index(level=0, drop=True)
    else:
        df = df.merge(pd.read_parquet(tiers), on="score", how="left")
        df = df.groupby(GROUP["by"], dropna=False, sort=True).agg(
            customers=("id", "count"),
            mean_income=("income", "mean"),
            units=("units", "sum"),
            oldest=("age", "max"),
        )
        df = df.reset_index().sort_values("units", ascending=False, kind="stable")
    df.reset_index(drop=True).to_parquet(out, index=False)


def run_polars(flow: str, src: Path, tiers: Path, out: Path, work: Path) -> None:
    import polars as pl

    df = pl.read_parquet(src)
    if flow == "sort":
        df = df.sort(SORT["columns"], descending=True, maintain_order=True, nulls_last=True)
    elif flow == "series":
        made = [
            pl.col(c).shift(lag).over("city").alias(f"{c}_lag_{lag}")
            for c in LAGS["columns"]
            for lag in (1, 7)
        ]
        made.append(
            pl.col("income")
            .rolling_mean(7, min_samples=1)
            .over("city")
            .alias("income_rolling_mean_7")
        )
        df = (
            df.with_row_index("_row")
            .sort("signup", maintain_order=True)
            .with_columns(made)
            .sort("_row")
            .drop("_row")
        )
    else:
        df = df.join(pl.read_parquet(tiers), on="score", how="left", maintain_order="left")
        df = (
            df.group_by(GROUP["by"])
            .agg(
                pl.col("id").count().alias("customers"),
                pl.col("income").mean().alias("mean_income"),
                pl.col("units").sum().alias("units"),
                pl.col("age").max().alias("oldest"),
            )
            .sort(GROUP["by"])
            .sort("units", descending=True, maintain_order=True)
        )
    df.write_parquet(out)


SIDES = {"sextant": run_sextant, "pandas": run_pandas, "polars": run_polars}


def child_main(argv: list[str]) -> None:
    side, flow = argv[0], argv[1]
    src, tiers, out, work = (Path(a) for a in argv[2:6])
    report_timed(lambda: SIDES[side](flow, src, tiers, out, work))


def measure(side: str, flow: str, src: Path, tiers: Path, scratch: Path) -> dict[str, Any]:
    out = scratch / f"scale-{flow}-{side}.parquet"
    work = scratch / f"scale-{flow}-{side}"
    work.mkdir(exist_ok=True)
    preload = "polars" if side == "polars" else "wrangler.engine.job, distributed"
    args = [side, flow, str(src), str(tiers), str(out), str(work)]
    return {**run_child("bench.flow_scale", preload, args), "out": out}


def run(*, scratch: Path, rows: int, out: Path | None, machine: Machine) -> None:
    src, tiers = scratch / "flow-source.parquet", scratch / "flow-tiers.parquet"
    if not src.exists() or pq.read_metadata(src).num_rows != rows:
        print(f"[scale] generating {rows:,} rows × 20 columns …", flush=True)
        generate(src, rows)
    lookup(tiers)
    results: dict[str, dict[str, Any]] = {}
    for flow in flows():
        results[flow] = {}
        for side in ("pandas", "polars", "sextant"):
            print(f"[scale] {flow}: {side} …", flush=True)
            r = measure(side, flow, src, tiers, scratch)
            results[flow][side] = r
            print(f"[scale] {flow}: {side}: {r['seconds']:.1f} s, {mib(r['peak'])}", flush=True)
    body = render(machine, rows, src.stat().st_size, results)
    print(body)
    if out is not None:
        write_section(out, "flow-scale", body)


def render(machine: Machine, rows: int, size: int, results: dict[str, Any]) -> str:
    lines = []
    checks = []
    for flow, r in results.items():
        pandas_s, pandas_peak = r["pandas"]["seconds"], r["pandas"]["peak"]
        for side in ("sextant", "pandas", "polars"):
            lines.append(
                (
                    flow,
                    side,
                    f"{r[side]['seconds']:.1f} s",
                    f"{r[side]['seconds'] / pandas_s:.2f}×",
                    mib(r[side]["peak"]),
                    f"{r[side]['peak'] / pandas_peak:.2f}×",
                )
            )
        checks.append(
            f"- {flow}: Sextant vs pandas: {compare(r['sextant']['out'], r['pandas']['out'])}; "
            f"vs polars: {compare(r['sextant']['out'], r['polars']['out'])}."
        )
    header = ["flow", "side", "time", "time vs pandas", "peak RSS", "peak vs pandas"]
    return f"""## Whole-table steps over {rows:,} rows, against pandas and polars

Measured {now_utc()} on {machine.markdown()}.
Data: the flow benchmark's {rows:,} rows × 20 columns ({mib(size)} of Parquet in 1M-row
row groups, in the page cache) and a 100-row lookup. Flows: **sort**, the whole table
sorted on `city`, `income` descending (all rows out); **summary**, a left `join` on the
lookup, a `group_by` on three keys with four aggregations, and a `sort` of the groups;
**series**, `lag_features` (lags 1 and 7 of `income` and `units`) then `rolling_window`
(a 7-row mean of `income`), both per `city` in `signup` order (all rows out, 25 columns).
Each side in a fresh child process, imports excluded; peak RSS is the child's `VmHWM`.
Sextant: `wrangler.engine.job.run`, the processing job's compute, whose whole-table steps
run on a LocalCluster started in the process (one thread per core, spilling past 4 GiB as
a job's does by default), partitioned by the Parquet row groups; the series steps gather
the columns they read on it, then take every row from the input batch by batch. pandas
and polars: the same steps on the whole frame.

{table(header, lines)}

Outputs:
{chr(10).join(checks)}
"""


if __name__ == "__main__":
    child_main(sys.argv[1:])
