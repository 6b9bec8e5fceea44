"""What a preview shows of a frame (rows, schema, column summaries), and its analyses."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd

from wrangler.engine.analyses import factorize, run_analysis
from wrangler.engine.insights import insights_report

PREVIEW_ROWS = 100
HIST_BINS = 20
TOP_VALUES = 8


def frame_rows(frame: pd.DataFrame, limit: int) -> dict[str, Any]:
    """Columns and the first ``limit`` rows as JSON-safe lists (NaN and NaT become null)."""
    head = frame.head(limit)
    data = json.loads(
        head.to_json(orient="split", index=False, date_format="iso", default_handler=str)
    )
    return {"columns": [str(c) for c in head.columns], "rows": data["data"]}


def column_summary(series: pd.Series) -> dict[str, Any]:
    """Missing share, distinct count, and a histogram (numbers) or top values (the rest)."""
    n = len(series)
    missing = int(series.isna().sum())
    summary: dict[str, Any] = {
        "missing": missing,
        "missing_pct": round(100.0 * missing / n, 2) if n else 0.0,
        # factorize compares unhashable values (lists, dicts) by their text.
        "distinct": len(factorize(series)[1]) if n else 0,
    }
    values = series.dropna()
    if pd.api.types.is_bool_dtype(series):
        values = values.astype(str)
    if pd.api.types.is_numeric_dtype(values) and len(values):
        numbers = values.to_numpy(dtype="float64")
        numbers = numbers[np.isfinite(numbers)]
        if len(numbers):
            counts, edges = np.histogram(numbers, bins=HIST_BINS)
            summary["histogram"] = {"edges": edges.tolist(), "counts": counts.tolist()}
            summary["min"], summary["max"] = float(numbers.min()), float(numbers.max())
            summary["mean"] = float(numbers.mean())
    elif len(values):
        top = values.astype(str).value_counts().head(TOP_VALUES)
        summary["top"] = [{"value": str(k), "count": int(v)} for k, v in top.items()]
    return summary


def preview_of(frame: pd.DataFrame, limit: int = PREVIEW_ROWS) -> dict[str, Any]:
    """The preview payload of a node's output (without the sample settings)."""
    out = frame_rows(frame, limit)
    out["schema"] = [{"name": str(c), "dtype": str(t)} for c, t in frame.dtypes.items()]
    out["num_rows"] = len(frame)
    out["summary"] = {str(c): column_summary(frame[c]) for c in frame.columns}
    return out


def analysis_of(frame: pd.DataFrame, kind: str, params: dict[str, Any]) -> dict[str, Any]:
    """An analysis, or with ``kind="insights"`` the insights report; ValueError if bad."""
    if kind == "insights":
        params = dict(params)
        report = insights_report(
            frame,
            target=params.pop("target", None) or None,
            problem=params.pop("problem", "auto"),
            seed=params.pop("seed", 0),
            model=params.pop("model", True),
        )
        if params:
            raise ValueError(f"The insights report has no parameter {sorted(params)[0]!r}.")
        return {"kind": "insights", "report": report, "num_rows": len(frame)}
    result = run_analysis(frame, kind, params)
    result["num_rows"] = len(frame)
    return result
