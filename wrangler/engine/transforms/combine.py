"""Transforms over two frames or over groups: join, concat, group_by, pivot."""

from __future__ import annotations

from typing import Any

import pandas as pd

from wrangler.engine.contracts import Param
from wrangler.engine.params import AGG_FUNCS
from wrangler.engine.registry import transform

JOIN_HOWS = ("inner", "left", "right", "outer", "left_semi", "left_anti", "cross")


@transform(
    "join",
    title="Join",
    category="Combine",
    inputs=2,
    params=[
        Param("how", "choice", default="inner", choices=JOIN_HOWS),
        Param("left_on", "columns", help="Key columns of the first input."),
        Param("right_on", "columns2", help="Key columns of the second input, in the same order."),
        Param("suffix", "string", default="_right", help="Added to clashing right-hand names."),
    ],
)
def join(
    left: pd.DataFrame,
    right: pd.DataFrame,
    *,
    state: dict[str, Any] | None = None,
    how: str = "inner",
    left_on: list[str] | None = None,
    right_on: list[str] | None = None,
    suffix: str = "_right",
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Join two inputs on key columns (semi and anti joins keep the left side's columns)."""
    left_on, right_on = list(left_on or []), list(right_on or [])
    if how == "cross":
        return left.merge(right, how="cross", suffixes=("", suffix)), {}
    if not left_on or len(left_on) != len(right_on):
        raise ValueError("Pick as many right-hand keys as left-hand keys (at least one).")
    if how in ("left_semi", "left_anti"):
        keys = right[right_on].drop_duplicates()
        keys.columns = left_on
        marked = left.merge(keys, on=left_on, how="left", indicator="_sextant_join")
        found = (marked["_sextant_join"] == "both").to_numpy()
        keep = found if how == "left_semi" else ~found
        return left.loc[keep].reset_index(drop=True), {}
    out = left.merge(right, how=how, left_on=left_on, right_on=right_on, suffixes=("", suffix))
    # A right key with the same name as its left key is merged into one column by pandas;
    # differently named right keys stay, as SQL would keep them.
    return out.reset_index(drop=True), {}


@transform(
    "concat",
    title="Concatenate",
    category="Combine",
    inputs=2,
    params=[
        Param("dedupe", "boolean", default=False, help="Drop rows that appear in both."),
        Param(
            "source_column",
            "string",
            default="",
            help="Name of a column saying which input a row came from.",
        ),
    ],
)
def concat(
    first: pd.DataFrame,
    second: pd.DataFrame,
    *,
    state: dict[str, Any] | None = None,
    dedupe: bool = False,
    source_column: str = "",
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Stack the second input's rows under the first's (columns matched by name)."""
    parts = [first, second]
    if source_column:
        parts = [p.assign(**{source_column: i}) for i, p in enumerate(parts)]
    out = pd.concat(parts, ignore_index=True, sort=False)
    if dedupe:
        subset = [c for c in out.columns if c != source_column] or None
        out = out.drop_duplicates(subset=subset).reset_index(drop=True)
    return out, {}


@transform(
    "group_by",
    title="Group by",
    category="Combine",
    params=[
        Param("by", "columns", required=True),
        Param(
            "aggregations",
            "aggregations",
            required=True,
            help=f"Functions: {', '.join(AGG_FUNCS)}.",
        ),
    ],
)
def group_by(
    df: pd.DataFrame,
    *,
    state: dict[str, Any] | None = None,
    by: list[str],
    aggregations: list[dict[str, Any]],
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """One row per group of the key columns, with the chosen aggregations."""
    named = {a["as"]: pd.NamedAgg(column=a["column"], aggfunc=a["func"]) for a in aggregations}
    out = df.groupby(by, dropna=False, sort=True).agg(**named).reset_index()
    return out, {}


@transform(
    "pivot",
    title="Pivot",
    category="Combine",
    fitted=True,
    params=[
        Param("index", "columns", required=True, help="Columns that name a row."),
        Param("columns", "column", required=True, help="Its values become new columns."),
        Param("values", "column", required=True),
        Param("func", "choice", default="mean", choices=AGG_FUNCS),
        Param("max_columns", "integer", default=200, minimum=1, maximum=5000),
    ],
)
def pivot(
    df: pd.DataFrame,
    *,
    state: dict[str, Any] | None = None,
    index: list[str],
    columns: str,
    values: str,
    func: str = "mean",
    max_columns: int = 200,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Spread one column's values into columns, aggregating another (a pivot table).

    The new columns are fixed when the flow is fitted, so new data gets the same ones.
    """
    if state is None:
        seen = pd.Series(df[columns].dropna().unique()).sort_values(kind="stable")
        if len(seen) > max_columns:
            raise ValueError(
                f"{columns!r} has {len(seen)} distinct values; pivoting would make more than "
                f"{max_columns} columns. Raise max_columns or pick another column."
            )
        state = {"categories": [v.item() if hasattr(v, "item") else v for v in seen]}
    table = df.pivot_table(index=index, columns=columns, values=values, aggfunc=func, dropna=False)
    table = table.reindex(columns=state["categories"])
    table.columns = [f"{columns}_{c}" for c in table.columns]
    return table.reset_index(), state
