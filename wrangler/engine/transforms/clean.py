"""Cleaning rows: fill or drop missing values, filter, deduplicate, sample and sort."""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import pandas as pd

from wrangler.engine.contracts import Param
from wrangler.engine.params import FILTER_OPS
from wrangler.engine.registry import transform

FILL_STRATEGIES = ("constant", "mean", "median", "mode", "ffill", "bfill")


def _clean_missing(df: pd.DataFrame, columns: list[str]) -> None:
    """ValueError naming the first of ``columns`` that ``df`` lacks."""
    for column in columns:
        if column not in df.columns:
            raise ValueError(f"Column {column!r} is not in this node's input.")


def _clean_is_text(series: pd.Series) -> bool:
    """Whether ``series`` holds text (the str dtype, or objects that are all strings)."""
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return _clean_is_text(pd.Series(dtype.categories))
    if isinstance(dtype, pd.StringDtype):
        return True
    if pd.api.types.is_object_dtype(dtype):
        values = series.dropna()
        return len(values) > 0 and bool(values.map(lambda v: isinstance(v, str)).all())
    return False


def _clean_is_number(series: pd.Series) -> bool:
    """Whether ``series`` holds numbers (booleans are not numbers here)."""
    dtype = series.dtype
    return bool(pd.api.types.is_numeric_dtype(dtype)) and not pd.api.types.is_bool_dtype(dtype)


def _clean_json_value(value: Any) -> Any:
    """``value`` as JSON-safe data: numpy scalars unwrapped, dates as ISO text, NaN as None."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, pd.Timedelta):
        return str(value)
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _clean_fill(series: pd.Series, value: Any, column: str) -> pd.Series:
    """``series`` with its nulls replaced by ``value``, which must suit the column's type."""
    if value is None or not series.isna().any():
        return series
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        if value not in dtype.categories:
            series = series.cat.add_categories([value])
        return series.fillna(value)
    if pd.api.types.is_bool_dtype(dtype):
        if not isinstance(value, bool):
            raise ValueError(f"{column!r} holds true/false values; fill it with true or false.")
        return series.fillna(value)
    if pd.api.types.is_numeric_dtype(dtype):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{column!r} holds numbers; fill it with a number, not {value!r}.")
        if pd.api.types.is_integer_dtype(dtype) and not float(value).is_integer():
            series = series.astype("Float64")
        return series.fillna(value)
    if pd.api.types.is_datetime64_any_dtype(dtype):
        try:
            stamp = pd.Timestamp(value)
        except (ValueError, TypeError):
            raise ValueError(f"{column!r} holds dates; {value!r} is not a date.")
        if pd.isna(stamp):
            return series
        zone = getattr(dtype, "tz", None)
        if zone is not None:
            stamp = stamp.tz_localize(zone) if stamp.tzinfo is None else stamp.tz_convert(zone)
        elif stamp.tzinfo is not None:
            stamp = stamp.tz_convert("UTC").tz_localize(None)
        return series.fillna(stamp)
    if pd.api.types.is_timedelta64_dtype(dtype):
        try:
            return series.fillna(pd.Timedelta(value))
        except (ValueError, TypeError):
            raise ValueError(f"{column!r} holds durations; {value!r} is not a duration.")
    if isinstance(dtype, pd.StringDtype):
        return series.fillna(str(value))
    return series.fillna(value)


@transform(
    "fill_missing",
    title="Fill missing values",
    category="Clean",
    fitted=True,
    helpers=[_clean_missing, _clean_is_number, _clean_json_value, _clean_fill],
    params=[
        Param("columns", "columns", help="The columns to fill; all of them if empty."),
        Param("strategy", "choice", default="constant", choices=FILL_STRATEGIES),
        Param("value", "any", help="The value for the constant strategy."),
    ],
)
def fill_missing(
    df: pd.DataFrame,
    *,
    state: dict[str, Any] | None = None,
    columns: list[str] | None = None,
    strategy: str = "constant",
    value: Any = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Replace missing values: with a constant, a statistic learnt when fitted, or a neighbour.

    mean, median and mode are computed on the data the flow is fitted on and reused as they
    are on new data; ffill and bfill copy the previous or next value of the same column.
    """
    if not state:
        if columns:
            _clean_missing(df, columns)
            chosen = list(columns)
        elif strategy in ("mean", "median"):
            chosen = [c for c in df.columns if _clean_is_number(df[c])]
        else:
            chosen = list(df.columns)
        values: dict[str, Any] = {}
        if strategy == "constant":
            if value is None:
                raise ValueError("Give the value that replaces missing values.")
            values = {c: value for c in chosen}
        elif strategy in ("mean", "median"):
            for c in chosen:
                if not _clean_is_number(df[c]):
                    raise ValueError(
                        f"{c!r} does not hold numbers, so it has no {strategy}; "
                        "use the mode or a constant for it."
                    )
                series = df[c].astype("float64")
                stat = series.mean() if strategy == "mean" else series.median()
                values[c] = _clean_json_value(stat)
        elif strategy == "mode":
            for c in chosen:
                modes = df[c].mode(dropna=True)
                values[c] = _clean_json_value(modes.iloc[0]) if len(modes) else None
        state = {"strategy": strategy, "columns": chosen, "values": values}
    strategy = str(state["strategy"])
    chosen = list(state["columns"])
    for c in chosen:
        if c not in df.columns:
            raise ValueError(f"Column {c!r} was there when the flow was fitted but is missing now.")
    out = df.copy(deep=False)
    for c in chosen:
        if strategy == "ffill":
            out[c] = df[c].ffill()
        elif strategy == "bfill":
            out[c] = df[c].bfill()
        else:
            out[c] = _clean_fill(df[c], state["values"].get(c), c)
    return out, state


@transform(
    "drop_missing",
    title="Drop rows with missing values",
    category="Clean",
    rowwise=True,
    helpers=[_clean_missing],
    params=[
        Param("columns", "columns", help="The columns to look at; all of them if empty."),
        Param(
            "how",
            "choice",
            default="any",
            choices=("any", "all"),
            help="any: drop a row missing any of them; all: only rows missing all of them.",
        ),
    ],
)
def drop_missing(
    df: pd.DataFrame,
    *,
    state: dict[str, Any] | None = None,
    columns: list[str] | None = None,
    how: str = "any",
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Drop the rows that have missing values in the chosen columns."""
    if columns:
        _clean_missing(df, columns)
    subset = list(columns) if columns else list(df.columns)
    if not subset:
        return df.copy(deep=False), {}
    return df.dropna(subset=subset, how=how).reset_index(drop=True), {}


def _clean_operand(series: pd.Series, value: Any, column: str) -> Any:
    """``value`` made comparable with ``series``, or a ValueError saying why it cannot be."""
    if value is None:
        return None
    if _clean_is_text(series):
        if isinstance(value, bool | int | float):
            raise ValueError(
                f"{column!r} holds text but the condition compares it with the number "
                f"{value!r}; write the value as text, or change the column's type to a "
                "number first."
            )
        return value
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        if isinstance(value, bool):
            return value
        if isinstance(value, int | float) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        raise ValueError(f"{column!r} holds true/false values; compare it with true or false.")
    if pd.api.types.is_numeric_dtype(dtype):
        if isinstance(value, int | float):
            return value
        try:
            return float(str(value).strip())
        except ValueError:
            raise ValueError(
                f"{column!r} holds numbers but the condition compares it with the text "
                f"{value!r}; give a number."
            )
    if pd.api.types.is_datetime64_any_dtype(dtype):
        try:
            stamp = pd.Timestamp(value)
        except (ValueError, TypeError):
            raise ValueError(f"{column!r} holds dates; {value!r} is not a date.")
        zone = getattr(dtype, "tz", None)
        if zone is not None:
            return stamp.tz_localize(zone) if stamp.tzinfo is None else stamp.tz_convert(zone)
        if stamp.tzinfo is not None:
            return stamp.tz_convert("UTC").tz_localize(None)
        return stamp
    return value


def _clean_condition(df: pd.DataFrame, cond: dict[str, Any]) -> Any:
    """The rows (a numpy boolean array) that satisfy one condition or one nested group."""
    if "conditions" in cond:
        return _clean_group(df, cond["conditions"], cond.get("match", "all"))
    column, op = cond["column"], cond["op"]
    if column not in df.columns:
        raise ValueError(f"Column {column!r} is not in this node's input.")
    series = df[column]
    if isinstance(series.dtype, pd.CategoricalDtype):
        series = series.astype(series.cat.categories.dtype)
    value = cond.get("value")
    if op == "is_null":
        return series.isna().to_numpy(dtype=bool)
    if op == "not_null":
        return series.notna().to_numpy(dtype=bool)
    if op in ("contains", "starts_with", "ends_with", "matches"):
        if not _clean_is_text(series) and series.notna().any():
            raise ValueError(f"{column!r} is not text; '{op}' works on text columns only.")
        if value is None:
            raise ValueError(f"'{op}' on {column!r} needs a value.")
        text = series.astype("str")
        needle = str(value)
        if op == "contains":
            hits = text.str.contains(needle, regex=False)
        elif op == "starts_with":
            hits = text.str.startswith(needle)
        elif op == "ends_with":
            hits = text.str.endswith(needle)
        else:
            try:
                re.compile(needle)
            except re.error as exc:
                raise ValueError(
                    f"The pattern {needle!r} is not a valid regular expression: {exc}."
                )
            hits = text.str.contains(needle, regex=True)
        return hits.fillna(False).to_numpy(dtype=bool)
    if op in ("in", "not_in"):
        raw = value if isinstance(value, list) else [value]
        wanted = [_clean_operand(series, v, column) for v in raw]
        present = [v for v in wanted if v is not None]
        try:
            hits = series.isin(present).to_numpy(dtype=bool)
        except TypeError as exc:
            raise ValueError(f"Cannot compare {column!r} with {raw!r}: {exc}.")
        if len(present) < len(wanted):
            hits = hits | series.isna().to_numpy(dtype=bool)
        return hits if op == "in" else ~hits
    operand = _clean_operand(series, value, column)
    if operand is None:
        if op == "==":
            return series.isna().to_numpy(dtype=bool)
        if op == "!=":
            return series.notna().to_numpy(dtype=bool)
        raise ValueError(f"'{op}' on {column!r} needs a value to compare with.")
    try:
        if op in ("==", "!="):
            result = series == operand
        elif op == ">":
            result = series > operand
        elif op == ">=":
            result = series >= operand
        elif op == "<":
            result = series < operand
        else:
            result = series <= operand
    except TypeError as exc:
        raise ValueError(f"Cannot compare {column!r} with {value!r}: {exc}.")
    hits = result.fillna(False).to_numpy(dtype=bool)
    if op == "!=":
        return ~hits  # a missing value is "not equal" to any value
    return hits


def _clean_group(df: pd.DataFrame, conds: list[dict[str, Any]], match: str) -> np.ndarray[Any, Any]:
    """The rows that satisfy all (``match`` "all") or any ("any") of ``conds``."""
    masks = [np.asarray(_clean_condition(df, c), dtype=bool) for c in conds]
    if not masks:
        return np.ones(len(df), dtype=bool)
    combine = np.logical_or if match == "any" else np.logical_and
    return np.asarray(combine.reduce(masks), dtype=bool)


@transform(
    "filter_rows",
    title="Filter rows",
    category="Clean",
    rowwise=True,
    helpers=[_clean_is_text, _clean_operand, _clean_condition, _clean_group],
    params=[
        Param(
            "conditions",
            "conditions",
            required=True,
            help=f"Each a column, an operator ({', '.join(FILTER_OPS)}) and a value; "
            'groups: {"match": "any", "conditions": [...]}.',
        ),
        Param(
            "match",
            "choice",
            default="all",
            choices=("all", "any"),
            help="all: keep rows meeting every condition; any: rows meeting at least one.",
        ),
    ],
)
def filter_rows(
    df: pd.DataFrame,
    *,
    state: dict[str, Any] | None = None,
    conditions: list[dict[str, Any]],
    match: str = "all",
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Keep the rows that meet the conditions.

    A missing value meets no comparison except is_null, != and not_in; contains, starts_with,
    ends_with and matches (a regular expression found anywhere) work on text, case-sensitively.
    """
    keep = _clean_group(df, conditions, match)
    return df.loc[keep].reset_index(drop=True), {}


@transform(
    "deduplicate",
    title="Remove duplicates",
    category="Clean",
    helpers=[_clean_missing],
    params=[
        Param("columns", "columns", help="Rows are duplicates when these match; all if empty."),
        Param("keep", "choice", default="first", choices=("first", "last")),
    ],
)
def deduplicate(
    df: pd.DataFrame,
    *,
    state: dict[str, Any] | None = None,
    columns: list[str] | None = None,
    keep: str = "first",
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Keep one row of each set of duplicates (the first or the last), in the original order."""
    if columns:
        _clean_missing(df, columns)
    try:
        out = df.drop_duplicates(subset=list(columns) if columns else None, keep=keep)
    except TypeError as exc:
        raise ValueError(
            f"These columns hold values that cannot be compared for duplicates: {exc}."
        )
    return out.reset_index(drop=True), {}


@transform(
    "sample",
    title="Sample rows",
    category="Clean",
    params=[
        Param("n", "integer", minimum=0, help="How many rows."),
        Param("fraction", "number", minimum=0, maximum=1, help="Or which share of the rows."),
        Param("seed", "integer", default=0, help="The same seed picks the same rows."),
        Param(
            "mode",
            "choice",
            default="random",
            choices=("random", "first"),
            help="random: rows picked at random, kept in their order; first: the first rows.",
        ),
    ],
)
def sample(
    df: pd.DataFrame,
    *,
    state: dict[str, Any] | None = None,
    n: int | None = None,
    fraction: float | None = None,
    seed: int = 0,
    mode: str = "random",
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """A subset of the rows: a number or a share of them, at random or the first ones."""
    if n is None and fraction is None:
        raise ValueError("Give either n (how many rows) or fraction (which share of them).")
    if n is not None and fraction is not None:
        raise ValueError("Give n or fraction, not both.")
    total = len(df)
    count = int(n) if n is not None else round(float(fraction or 0) * total)
    count = max(0, min(count, total))
    if mode == "first":
        return df.iloc[:count].reset_index(drop=True), {}
    rng = np.random.default_rng(seed)
    positions = np.sort(rng.choice(total, size=count, replace=False))
    return df.iloc[positions].reset_index(drop=True), {}


@transform(
    "sort",
    title="Sort rows",
    category="Clean",
    helpers=[_clean_missing],
    params=[
        Param("columns", "columns", required=True, help="Sorted by the first, then the next…"),
        Param("ascending", "boolean", default=True),
        Param("nulls", "choice", default="last", choices=("first", "last")),
    ],
)
def sort(
    df: pd.DataFrame,
    *,
    state: dict[str, Any] | None = None,
    columns: list[str],
    ascending: bool = True,
    nulls: str = "last",
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Order the rows by the chosen columns (ties keep their order)."""
    _clean_missing(df, columns)
    try:
        out = df.sort_values(
            by=list(columns), ascending=ascending, na_position=nulls, kind="stable"
        )
    except TypeError as exc:
        raise ValueError(f"These columns mix values that cannot be ordered together: {exc}.")
    return out.reset_index(drop=True), {}
