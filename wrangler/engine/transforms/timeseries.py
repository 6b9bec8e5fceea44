"""Time-series features: lags and rolling windows, per series and in time order."""

from __future__ import annotations

from typing import Any

import pandas as pd

from wrangler.engine.contracts import Param
from wrangler.engine.registry import transform

ROLLING_FUNCS = ("mean", "sum", "min", "max", "std", "median", "count")


def _ordered(df: pd.DataFrame, order_by: str) -> pd.Index:
    """Row labels sorted by ``order_by`` (stable, nulls last)."""
    if not order_by:
        return df.index
    return df.sort_values(order_by, kind="stable", na_position="last").index


@transform(
    "lag_features",
    title="Lag features",
    category="Time series",
    helpers=[_ordered],
    params=[
        Param("columns", "columns", required=True),
        Param("lags", "strings", default=["1"], help="How many rows back, e.g. 1, 7, 28."),
        Param("order_by", "column", help="The time column; the rows' order if empty."),
        Param("group_by", "columns", help="One series per value of these columns."),
    ],
)
def lag_features(
    df: pd.DataFrame,
    *,
    state: dict[str, Any] | None = None,
    columns: list[str],
    lags: list[str] | None = None,
    order_by: str | None = None,
    group_by: list[str] | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Add each column's value from ``lag`` rows earlier in its series (null where none)."""
    try:
        steps = [int(x) for x in (lags or ["1"])]
    except ValueError:
        raise ValueError("Lags must be whole numbers, such as 1 or 7.")
    if any(s <= 0 for s in steps):
        raise ValueError("Lags must be at least 1.")
    order = _ordered(df, order_by or "")
    sorted_df = df.loc[order]
    out = df.copy(deep=False)
    for column in columns:
        source = (
            sorted_df.groupby(group_by, dropna=False)[column] if group_by else sorted_df[column]
        )
        for step in steps:
            out[f"{column}_lag_{step}"] = source.shift(step).reindex(df.index)
    return out, {}


@transform(
    "rolling_window",
    title="Rolling window",
    category="Time series",
    helpers=[_ordered],
    params=[
        Param("columns", "columns", required=True),
        Param("window", "integer", default=3, minimum=1, maximum=100000),
        Param("func", "choice", default="mean", choices=ROLLING_FUNCS),
        Param("min_periods", "integer", default=1, minimum=1),
        Param("order_by", "column", help="The time column; the rows' order if empty."),
        Param("group_by", "columns", help="One series per value of these columns."),
    ],
)
def rolling_window(
    df: pd.DataFrame,
    *,
    state: dict[str, Any] | None = None,
    columns: list[str],
    window: int = 3,
    func: str = "mean",
    min_periods: int = 1,
    order_by: str | None = None,
    group_by: list[str] | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Add a trailing window statistic of each column, over this row and the ones before."""
    order = _ordered(df, order_by or "")
    sorted_df = df.loc[order]
    out = df.copy(deep=False)
    for column in columns:
        if not pd.api.types.is_numeric_dtype(df[column]):
            raise ValueError(f"{column!r} is not numeric; a rolling {func} needs numbers.")
        if group_by:
            rolled = (
                sorted_df.groupby(group_by, dropna=False)[column]
                .rolling(window, min_periods=min(min_periods, window))
                .agg(func)
                .reset_index(level=list(range(len(group_by))), drop=True)
            )
        else:
            rolled = (
                sorted_df[column].rolling(window, min_periods=min(min_periods, window)).agg(func)
            )
        out[f"{column}_rolling_{func}_{window}"] = rolled.reindex(df.index)
    return out, {}
