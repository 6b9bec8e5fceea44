"""Date and time transforms: parse text into dates, extract their parts, measure durations."""

from __future__ import annotations

from typing import Any

import pandas as pd

from wrangler.engine.contracts import Param
from wrangler.engine.registry import transform

DATE_PARTS = ("year", "month", "day", "weekday", "hour", "minute", "dayofyear", "quarter")
DIFF_UNITS = ("seconds", "minutes", "hours", "days")


def _dates_parse(series: pd.Series, column: str, fmt: str = "", utc: bool = False) -> pd.Series:
    """``series`` as datetimes; what does not read as a date becomes null.

    Text is read with ``fmt`` (strftime codes) or, without one, in any common format; numbers
    are Unix seconds (or digits read with ``fmt``, such as 20240131 with %Y%m%d). Values in
    several time zones are brought to UTC.
    """
    import warnings

    dtype = series.dtype
    if pd.api.types.is_datetime64_any_dtype(dtype):
        if not utc:
            return series
        if getattr(dtype, "tz", None) is None:
            return series.dt.tz_localize("UTC")
        return series.dt.tz_convert("UTC")
    if pd.api.types.is_bool_dtype(dtype):
        raise ValueError(f"{column!r} holds true/false values, not dates.")
    if pd.api.types.is_numeric_dtype(dtype):
        if not fmt:
            return pd.to_datetime(series, unit="s", errors="coerce", utc=utc).dt.as_unit("us")
        numbers = series.astype("float64")
        whole = numbers.where(numbers == numbers.round()).astype("Int64")
        series = whole.astype("str")
    elif not (
        isinstance(dtype, pd.StringDtype | pd.CategoricalDtype)
        or pd.api.types.is_object_dtype(dtype)
    ):
        raise ValueError(f"{column!r} holds {dtype} values, which cannot be read as dates.")
    text = series.astype("str").str.strip()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "could not infer format"
        if fmt:
            try:
                out = pd.to_datetime(text, format=fmt, errors="coerce", utc=utc)
            except ValueError as exc:
                if "timezone" not in str(exc).lower():
                    raise ValueError(f"The format {fmt!r} is not understood: {exc}.")
                out = pd.to_datetime(text, format=fmt, errors="coerce", utc=True)
            return out.dt.as_unit("us")
        try:
            out = pd.to_datetime(text, errors="coerce", utc=utc)
            if out.isna().sum() > text.isna().sum():
                mixed = pd.to_datetime(text, errors="coerce", utc=utc, format="mixed")
                if mixed.isna().sum() < out.isna().sum():
                    out = mixed
        except ValueError:  # several time zones in one column
            out = pd.to_datetime(text, errors="coerce", utc=True, format="mixed")
    return out.dt.as_unit("us")  # the same unit whatever the input, batch after batch


def _dates_column(df: pd.DataFrame, column: str) -> pd.Series:
    """``df[column]`` as datetimes, reading text that holds dates; ValueError otherwise."""
    if column not in df.columns:
        raise ValueError(f"Column {column!r} is not in this node's input.")
    series = df[column]
    dtype = series.dtype
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return series
    if pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype):
        raise ValueError(
            f"{column!r} holds numbers, not dates; turn them into dates with Parse dates first."
        )
    parsed = _dates_parse(series, column)
    if series.notna().any() and parsed.isna().all():
        raise ValueError(f"{column!r} holds text that does not read as dates.")
    return parsed


@transform(
    "parse_datetime",
    title="Parse dates",
    category="Dates",
    rowwise=True,
    helpers=[_dates_parse],
    params=[
        Param("columns", "columns", required=True),
        Param("format", "string", default="", help="e.g. %d/%m/%Y; guessed when empty."),
        Param("utc", "boolean", default=False, help="Convert every date to UTC."),
    ],
)
def parse_datetime(
    df: pd.DataFrame,
    *,
    state: dict[str, Any] | None = None,
    columns: list[str],
    format: str = "",
    utc: bool = False,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Turn text (or Unix seconds) into dates; values that are not dates become null."""
    out = df.copy(deep=False)
    for column in columns:
        if column not in df.columns:
            raise ValueError(f"Column {column!r} is not in this node's input.")
        out[column] = _dates_parse(df[column], column, format or "", utc)
    return out, {}


@transform(
    "extract_datetime",
    title="Extract date parts",
    category="Dates",
    rowwise=True,
    helpers=[_dates_parse, _dates_column],
    params=[
        Param("column", "column", required=True),
        Param(
            "parts",
            "choices",
            default=["year", "month", "day"],
            choices=DATE_PARTS,
            help="weekday: 0 is Monday.",
        ),
    ],
)
def extract_datetime(
    df: pd.DataFrame,
    *,
    state: dict[str, Any] | None = None,
    column: str,
    parts: list[str] | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Add a column <column>_<part> for each chosen part of a date (text is read as dates)."""
    chosen = list(parts) if parts else ["year", "month", "day"]
    stamps = _dates_column(df, column).dt
    attributes = {"weekday": "day_of_week", "dayofyear": "day_of_year"}
    out = df.copy(deep=False)
    for part in chosen:
        values = getattr(stamps, attributes.get(part, part))
        out[f"{column}_{part}"] = values.astype("Int64")
    return out, {}


@transform(
    "datetime_diff",
    title="Time between dates",
    category="Dates",
    rowwise=True,
    helpers=[_dates_parse, _dates_column],
    params=[
        Param("start", "column", required=True),
        Param("end", "column", required=True),
        Param("unit", "choice", default="days", choices=DIFF_UNITS),
        Param("new_column", "string", help="Name of the new column; <end>_minus_<start> if empty."),
    ],
)
def datetime_diff(
    df: pd.DataFrame,
    *,
    state: dict[str, Any] | None = None,
    start: str,
    end: str,
    unit: str = "days",
    new_column: str | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Add end − start in the chosen unit, with decimals (negative when end comes first)."""
    first = _dates_column(df, start)
    last = _dates_column(df, end)
    first_zone = getattr(first.dtype, "tz", None) is not None
    last_zone = getattr(last.dtype, "tz", None) is not None
    if first_zone != last_zone:
        with_zone, without = (start, end) if first_zone else (end, start)
        raise ValueError(
            f"{with_zone!r} has a time zone and {without!r} has none; parse both with utc on."
        )
    seconds = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}[unit]
    span = (last - first) / pd.Timedelta(seconds=seconds)
    out = df.copy(deep=False)
    out[new_column or f"{end}_minus_{start}"] = span.astype("float64")
    return out, {}
