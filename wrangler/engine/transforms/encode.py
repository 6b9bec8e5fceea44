"""Encoders: turn category columns into numbers a model can take.

One-hot, ordinal and target encoding learn their categories when the flow is fitted and
keep them in the state, so new data gets the same columns and codes; values never seen
while fitting are handled as each transform says. Hash encoding learns nothing.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from wrangler.engine.contracts import Param
from wrangler.engine.registry import transform


def _category_values(series: pd.Series) -> pd.Series:
    """The column's values as scalars that survive JSON unchanged (dates and objects as text)."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        series = series.astype(object)
    dtype = series.dtype
    if not pd.api.types.is_object_dtype(dtype) and (
        pd.api.types.is_bool_dtype(dtype)
        or pd.api.types.is_numeric_dtype(dtype)
        or pd.api.types.is_string_dtype(dtype)
    ):
        return series

    def plain(value: Any) -> Any:
        if isinstance(value, np.generic):
            value = value.item()
        return value if isinstance(value, str | bool | int | float) else str(value)

    return series.map(plain, na_action="ignore").astype(object).where(series.notna(), None)


def _json_scalar(value: Any) -> Any:
    """A numpy scalar as the matching Python one; anything else unchanged."""
    return value.item() if isinstance(value, np.generic) else value


def _learnt_column(state: dict[str, Any], column: str) -> dict[str, Any]:
    """What was learnt for ``column``, or a ValueError saying the flow must be fitted again."""
    learnt = state.get("columns", {}).get(column)
    if learnt is None:
        raise ValueError(f"{column!r} was not part of the fit; fit the flow again.")
    return dict(learnt)


@transform(
    "one_hot_encode",
    title="One-hot encode",
    category="Encode",
    fitted=True,
    helpers=[_category_values, _json_scalar, _learnt_column],
    params=[
        Param("columns", "columns", required=True),
        Param(
            "max_categories",
            "integer",
            default=50,
            minimum=1,
            maximum=1000,
            help="The most frequent values get a column each; rarer ones share <column>_other.",
        ),
        Param("drop_original", "boolean", default=True),
    ],
)
def one_hot_encode(
    df: pd.DataFrame,
    *,
    state: dict[str, Any] | None = None,
    columns: list[str],
    max_categories: int = 50,
    drop_original: bool = True,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Add a 0/1 column ``<column>_<value>`` for each learnt value of each column.

    Values rarer than the ``max_categories`` most frequent go to ``<column>_other``, and so
    do values first seen on new data when there is such a column; otherwise an unseen value
    is all zeros. A null is all zeros.
    """
    if state is None:
        learnt: dict[str, Any] = {}
        for column in columns:
            counts = _category_values(df[column]).dropna().value_counts(sort=False)
            if counts.empty:
                raise ValueError(
                    f"{column!r} has no values to learn categories from (the input is empty "
                    "or the column is all null)."
                )
            ranked = sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))
            learnt[column] = {
                "categories": [_json_scalar(v) for v, _ in ranked[:max_categories]],
                "other": len(ranked) > max_categories,
            }
        state = {"columns": learnt}
    parts = [df.drop(columns=columns) if drop_original else df]
    for column in columns:
        fit = _learnt_column(state, column)
        values = _category_values(df[column])
        codes = values.map({v: i for i, v in enumerate(fit["categories"])}).to_numpy(
            dtype="float64", na_value=np.nan
        )
        encoded = {
            f"{column}_{v}": (codes == i).astype("int8") for i, v in enumerate(fit["categories"])
        }
        if fit["other"]:
            encoded[f"{column}_other"] = (np.isnan(codes) & values.notna().to_numpy()).astype(
                "int8"
            )
        parts.append(pd.DataFrame(encoded, index=df.index))
    return pd.concat(parts, axis=1), state


@transform(
    "ordinal_encode",
    title="Ordinal encode",
    category="Encode",
    fitted=True,
    helpers=[_category_values, _json_scalar, _learnt_column],
    params=[
        Param("columns", "columns", required=True),
        Param(
            "unknown",
            "choice",
            default="null",
            choices=("null", "-1"),
            help="The code of a value first seen on new data.",
        ),
    ],
)
def ordinal_encode(
    df: pd.DataFrame,
    *,
    state: dict[str, Any] | None = None,
    columns: list[str],
    unknown: str = "null",
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Replace each value with its position (from 0) among the column's sorted learnt values.

    A value first seen on new data becomes null or -1, as chosen; a null stays null.
    """
    if state is None:
        learnt: dict[str, Any] = {}
        for column in columns:
            seen = [_json_scalar(v) for v in _category_values(df[column]).dropna().unique()]
            if not seen:
                raise ValueError(
                    f"{column!r} has no values to learn categories from (the input is empty "
                    "or the column is all null)."
                )
            try:
                ordered = sorted(seen)
            except TypeError:  # mixed kinds of value in one column
                ordered = sorted(seen, key=lambda v: (type(v).__name__, str(v)))
            learnt[column] = {"categories": ordered}
        state = {"columns": learnt}
    out = df.copy(deep=False)
    for column in columns:
        fit = _learnt_column(state, column)
        values = _category_values(df[column])
        codes = values.map({v: i for i, v in enumerate(fit["categories"])}).astype("Float64")
        if unknown == "-1":
            codes = codes.mask(codes.isna() & values.notna(), -1.0)
        out[column] = codes.astype("Int64")
    return out, state


@transform(
    "target_encode",
    title="Target encode",
    category="Encode",
    fitted=True,
    helpers=[_category_values, _json_scalar, _learnt_column],
    params=[
        Param("columns", "columns", required=True),
        Param(
            "target",
            "column",
            required=True,
            fit_only=True,
            help="A numeric or two-valued column.",
        ),
        Param(
            "smoothing",
            "number",
            default=10.0,
            minimum=0,
            help="How many rows' weight the overall mean gets against a category's own mean.",
        ),
        Param(
            "positive",
            "any",
            help="For a two-valued text or boolean target: the value counted as 1 "
            "(the rarer one if empty).",
        ),
    ],
)
def target_encode(
    df: pd.DataFrame,
    *,
    state: dict[str, Any] | None = None,
    columns: list[str],
    target: str,
    smoothing: float = 10.0,
    positive: Any = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Replace each category with the smoothed mean of the target over its rows.

    The encoding is (n·mean + smoothing·overall mean) / (n + smoothing) for a category seen
    in n rows. A two-valued text or boolean target counts ``positive`` as 1 and the other
    value as 0. Unseen values and nulls get the overall mean. Rows with no target are left
    out of the fit. Fitting and scoring on the same rows leaks the target: fit on training
    rows only.
    """
    if state is None:
        y_raw = df[target]
        known = y_raw.notna().to_numpy()
        if not known.any():
            raise ValueError(
                f"The target {target!r} has no values to learn from (the input is empty or "
                "the target is all null)."
            )
        if pd.api.types.is_numeric_dtype(y_raw.dtype) and not pd.api.types.is_bool_dtype(
            y_raw.dtype
        ):
            y = y_raw.to_numpy(dtype="float64", na_value=np.nan)
            positive_value = None
        else:
            labels = _category_values(y_raw)
            counts = labels.dropna().value_counts(sort=False)
            if len(counts) > 2:
                raise ValueError(
                    f"The target {target!r} has {len(counts)} distinct values; target encoding "
                    "takes a numeric target or one with two values."
                )
            by_value = {_json_scalar(v): int(n) for v, n in counts.items()}
            if positive is None:
                ranked = sorted(by_value.items(), key=lambda kv: (kv[1], str(kv[0])))
                positive_value = ranked[0][0]
            else:
                matches = [v for v in by_value if v == positive or str(v) == str(positive)]
                if not matches:
                    shown = ", ".join(repr(v) for v in by_value)
                    raise ValueError(
                        f"positive {positive!r} is not a value of {target!r} (it has {shown})."
                    )
                positive_value = matches[0]
            hits = (labels == positive_value).fillna(False).to_numpy(dtype=bool)
            y = np.where(known, hits, np.nan)
        overall = float(np.nanmean(y))
        learnt: dict[str, Any] = {}
        for column in columns:
            keys = _category_values(df[column])
            frame = pd.DataFrame({"key": keys.to_numpy(), "y": y})
            frame = frame[known & keys.notna().to_numpy()]
            if frame.empty:
                raise ValueError(
                    f"{column!r} has no values to learn from in the rows with a target (the "
                    "column is all null there)."
                )
            stats = frame.groupby("key", sort=False)["y"].agg(["count", "mean"])
            encoded = (stats["count"] * stats["mean"] + smoothing * overall) / (
                stats["count"] + smoothing
            )
            learnt[column] = {
                "categories": [_json_scalar(v) for v in encoded.index],
                "values": [float(v) for v in encoded.to_numpy()],
            }
        state = {"global_mean": overall, "positive": positive_value, "columns": learnt}
    out = df.copy(deep=False)
    for column in columns:
        fit = _learnt_column(state, column)
        mapping = dict(zip(fit["categories"], fit["values"], strict=True))
        codes = _category_values(df[column]).map(mapping)
        out[column] = codes.astype("float64").fillna(state["global_mean"])
    return out, state


@transform(
    "hash_encode",
    title="Hash encode",
    category="Encode",
    rowwise=True,
    helpers=[_category_values],
    params=[
        Param("columns", "columns", required=True),
        Param("n_features", "integer", default=16, minimum=1, maximum=4096),
        Param("drop_original", "boolean", default=True),
    ],
)
def hash_encode(
    df: pd.DataFrame,
    *,
    state: dict[str, Any] | None = None,
    columns: list[str],
    n_features: int = 16,
    drop_original: bool = True,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Spread each column's values over ``<column>_hash_0`` … ``_hash_<n-1>`` count columns.

    A value's bucket is the MD5 of its text modulo ``n_features``: stable across runs and
    machines, learnt from nothing, so any value (seen before or not) gets a bucket. A null
    counts nowhere. Different values may share a bucket.
    """
    import hashlib

    parts = [df.drop(columns=columns) if drop_original else df]
    for column in columns:
        values = _category_values(df[column])
        buckets = {
            v: int(hashlib.md5(str(v).encode("utf-8")).hexdigest(), 16) % n_features
            for v in values.dropna().unique()
        }
        codes = values.map(buckets).to_numpy(dtype="float64", na_value=np.nan)
        encoded = {f"{column}_hash_{i}": (codes == i).astype("int8") for i in range(n_features)}
        parts.append(pd.DataFrame(encoded, index=df.index))
    return pd.concat(parts, axis=1), {}
