"""Transforms over the columns themselves: drop, select, rename, cast, duplicate, split."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from wrangler.engine.contracts import Param
from wrangler.engine.registry import transform

CAST_TYPES = ("int", "float", "string", "bool", "datetime", "category")


def _cols_missing(df: pd.DataFrame, columns: list[str]) -> None:
    """ValueError naming the first of ``columns`` that ``df`` lacks."""
    for column in columns:
        if column not in df.columns:
            raise ValueError(f"Column {column!r} is not in this node's input.")


def _cols_is_text(series: pd.Series) -> bool:
    """Whether ``series`` holds text (the str dtype, or objects that are all strings)."""
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return _cols_is_text(pd.Series(dtype.categories))
    if isinstance(dtype, pd.StringDtype):
        return True
    if pd.api.types.is_object_dtype(dtype):
        values = series.dropna()
        return bool(values.map(lambda v: isinstance(v, str)).all())
    return False


def _cols_to_number(series: pd.Series, column: str) -> pd.Series:
    """``series`` as float64 numbers; what does not read as a number becomes NaN."""
    if pd.api.types.is_bool_dtype(series.dtype):
        return series.astype("float64")
    if pd.api.types.is_numeric_dtype(series.dtype):
        return series.astype("float64")
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        raise ValueError(
            f"{column!r} holds dates; extract a part of them (Extract date parts) "
            "instead of casting them to a number."
        )
    text = series.astype("str").str.strip()
    return pd.to_numeric(text, errors="coerce").astype("float64")


def _cols_to_datetime(series: pd.Series) -> pd.Series:
    """``series`` as datetimes; text in any common format, numbers as Unix seconds."""
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        return series
    if pd.api.types.is_bool_dtype(series.dtype):
        return pd.Series(pd.NaT, index=series.index, dtype="datetime64[us]")
    if pd.api.types.is_numeric_dtype(series.dtype):
        return pd.to_datetime(series, unit="s", errors="coerce").dt.as_unit("us")
    import warnings

    text = series.astype("str")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "could not infer format"
        try:
            out = pd.to_datetime(text, errors="coerce")
            if out.isna().sum() > text.isna().sum():
                mixed = pd.to_datetime(text, errors="coerce", format="mixed")
                if mixed.isna().sum() < out.isna().sum():
                    out = mixed
        except ValueError:  # several time zones in one column: bring them to UTC
            out = pd.to_datetime(text, errors="coerce", format="mixed", utc=True)
    return out.dt.as_unit("us")


def _cols_to_bool(series: pd.Series) -> pd.Series:
    """``series`` as nullable booleans: numbers are true when non-zero, text as yes/no words."""
    if pd.api.types.is_bool_dtype(series.dtype):
        return series.astype("boolean")
    if pd.api.types.is_numeric_dtype(series.dtype):
        numbers = series.astype("float64")
        out = pd.Series(numbers.to_numpy() != 0, index=series.index, dtype="boolean")
        return out.mask(numbers.isna())
    words = {
        "true": True,
        "t": True,
        "yes": True,
        "y": True,
        "1": True,
        "on": True,
        "false": False,
        "f": False,
        "no": False,
        "n": False,
        "0": False,
        "off": False,
    }
    text = series.astype("str").str.strip().str.lower()
    return text.map(words).astype("boolean")


def _cols_cast_one(series: pd.Series, to: str, column: str) -> pd.Series:
    """One column converted to ``to``; values that do not convert become null."""
    if to == "int":
        if pd.api.types.is_integer_dtype(series.dtype):
            return series.astype("Int64")
        numbers = _cols_to_number(series, column)
        whole = np.trunc(numbers.to_numpy(dtype="float64"))
        whole[~np.isfinite(whole) | (np.abs(whole) >= 2.0**63)] = np.nan
        return pd.Series(whole, index=series.index).astype("Int64")
    if to == "float":
        numbers = _cols_to_number(series, column)
        return numbers.mask(~np.isfinite(numbers.to_numpy(dtype="float64")))
    if to == "string":
        return series.astype("str")
    if to == "bool":
        return _cols_to_bool(series)
    if to == "datetime":
        return _cols_to_datetime(series)
    return series.astype("category")


@transform(
    "drop_columns",
    title="Drop columns",
    category="Columns",
    rowwise=True,
    helpers=[_cols_missing],
    params=[Param("columns", "columns", required=True)],
)
def drop_columns(
    df: pd.DataFrame,
    *,
    state: dict[str, Any] | None = None,
    columns: list[str],
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Remove the chosen columns."""
    _cols_missing(df, columns)
    return df.drop(columns=columns), {}


@transform(
    "select_columns",
    title="Select columns",
    category="Columns",
    rowwise=True,
    helpers=[_cols_missing],
    params=[Param("columns", "columns", required=True, help="Kept, in this order.")],
)
def select_columns(
    df: pd.DataFrame,
    *,
    state: dict[str, Any] | None = None,
    columns: list[str],
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Keep only the chosen columns, in the order given."""
    _cols_missing(df, columns)
    if len(set(columns)) != len(columns):
        raise ValueError("Each column may be selected only once.")
    return df[list(columns)].copy(deep=False), {}


@transform(
    "rename_columns",
    title="Rename columns",
    category="Columns",
    rowwise=True,
    helpers=[_cols_missing],
    params=[Param("mapping", "mapping", required=True, help="Old name → new name.")],
)
def rename_columns(
    df: pd.DataFrame,
    *,
    state: dict[str, Any] | None = None,
    mapping: dict[str, str],
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Give columns new names."""
    _cols_missing(df, list(mapping))
    names = [mapping.get(c, c) for c in df.columns]
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ValueError(f"Two columns would be named {name!r}; pick another new name.")
        seen.add(name)
    return df.rename(columns=mapping), {}


@transform(
    "cast",
    title="Change type",
    category="Columns",
    rowwise=True,
    helpers=[
        _cols_missing,
        _cols_is_text,
        _cols_to_number,
        _cols_to_datetime,
        _cols_to_bool,
        _cols_cast_one,
    ],
    params=[
        Param("columns", "columns", required=True),
        Param("to", "choice", required=True, choices=CAST_TYPES),
        Param(
            "errors",
            "choice",
            default="coerce",
            choices=("coerce", "raise"),
            help="coerce: values that do not convert become null; raise: stop with an error.",
        ),
    ],
)
def cast(
    df: pd.DataFrame,
    *,
    state: dict[str, Any] | None = None,
    columns: list[str],
    to: str,
    errors: str = "coerce",
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Convert columns to another type (int truncates decimals; numbers → datetime: Unix seconds).

    Values that do not convert become null, or stop the flow when ``errors`` is raise.
    """
    _cols_missing(df, columns)
    out = df.copy(deep=False)
    for column in columns:
        source = df[column]
        converted = _cols_cast_one(source, to, column)
        if errors == "raise":
            present = source.notna().to_numpy(dtype=bool)
            if _cols_is_text(source):  # blank text counts as missing, not as a failure
                filled = (source.astype("str").str.strip() != "").fillna(False)
                present = present & filled.to_numpy(dtype=bool)
            failed = present & converted.isna().to_numpy(dtype=bool)
            if failed.any():
                example = source[failed].iloc[0]
                raise ValueError(
                    f"{column!r} has values that do not convert to {to}, such as {example!r}; "
                    "fix them or set errors to coerce to make them null."
                )
        out[column] = converted
    return out, {}


@transform(
    "duplicate_column",
    title="Duplicate column",
    category="Columns",
    rowwise=True,
    helpers=[_cols_missing],
    params=[
        Param("column", "column", required=True),
        Param("new_name", "string", required=True),
    ],
)
def duplicate_column(
    df: pd.DataFrame,
    *,
    state: dict[str, Any] | None = None,
    column: str,
    new_name: str,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Copy a column under a new name, placed right after it."""
    _cols_missing(df, [column])
    if not new_name:
        raise ValueError("Give the copy a name.")
    if new_name in df.columns:
        raise ValueError(f"There is already a column named {new_name!r}; pick another name.")
    out = df.copy(deep=False)
    out.insert(list(df.columns).index(column) + 1, new_name, df[column].copy())
    return out, {}


@transform(
    "split_column",
    title="Split column",
    category="Columns",
    fitted=True,
    helpers=[_cols_missing, _cols_is_text],
    params=[
        Param("column", "column", required=True),
        Param("delimiter", "string", default=","),
        Param(
            "max_splits",
            "integer",
            default=0,
            minimum=0,
            maximum=1000,
            help="At most this many splits (0: no limit); the rest stays in the last part.",
        ),
    ],
)
def split_column(
    df: pd.DataFrame,
    *,
    state: dict[str, Any] | None = None,
    column: str,
    delimiter: str = ",",
    max_splits: int = 0,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Split a text column at a delimiter into columns <column>_0, <column>_1, ….

    How many columns is fixed when the flow is fitted, so new data gets the same ones: parts
    beyond the last stay joined in the last column, and missing parts are null.
    """
    _cols_missing(df, [column])
    if not delimiter:
        raise ValueError("Give a delimiter to split at, such as a comma.")
    source = df[column]
    if not _cols_is_text(source):
        raise ValueError(f"{column!r} is not text; cast it to string before splitting it.")
    text = source.astype("str")
    if not state:
        parts = text.str.split(delimiter, n=max_splits if max_splits > 0 else -1, regex=False)
        longest = parts.map(len, na_action="ignore").max() if len(parts) else None
        count = 1 if longest is None or pd.isna(longest) else int(longest)
        state = {"parts": max(count, 1)}
    count = int(state["parts"])
    pieces = text.str.split(delimiter, n=count - 1, expand=True, regex=False)
    pieces = pieces.reindex(columns=range(count))
    out = df.copy(deep=False)
    position = list(df.columns).index(column) + 1
    for i in range(count):
        name = f"{column}_{i}"
        values = pieces[i].astype("str")
        if name in out.columns:
            out[name] = values
        else:
            out.insert(position + i, name, values)
    return out, state
