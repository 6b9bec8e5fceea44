"""Numeric transforms: scalers, logs, power transforms, binning and outlier clipping.

Every scaler learns its statistics from the data it is fitted on and keeps them in its
state, so new data is scaled with the training data's numbers. Nulls stay null.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from wrangler.engine.contracts import Param
from wrangler.engine.registry import transform


def _as_float(df: pd.DataFrame, column: str, action: str) -> pd.Series:
    """``column`` as float64 (nulls as NaN), or a ValueError naming it when it is not numeric."""
    series = df[column]
    if not pd.api.types.is_numeric_dtype(series.dtype):
        raise ValueError(
            f"{column!r} is not numeric (it holds {series.dtype} values); {action} needs "
            "numbers. Convert or encode it first, or leave it out."
        )
    return pd.Series(series.to_numpy(dtype="float64", na_value=np.nan), index=series.index)


def _fit_values(df: pd.DataFrame, column: str, action: str) -> Any:
    """The non-null values of ``column`` as a float array; ValueError when there are none."""
    values = _as_float(df, column, action).dropna().to_numpy()
    if len(values) == 0:
        raise ValueError(
            f"{column!r} has no values to learn from (the input is empty or the column is all "
            f"null); {action} needs at least one."
        )
    return values


def _fitted_column(state: dict[str, Any], column: str) -> dict[str, Any]:
    """What was learnt for ``column``, or a ValueError saying the flow must be fitted again."""
    learnt = state.get("columns", {}).get(column)
    if learnt is None:
        raise ValueError(f"{column!r} was not part of the fit; fit the flow again.")
    return dict(learnt)


@transform(
    "standard_scale",
    title="Standard scale",
    category="Scale",
    fitted=True,
    helpers=[_as_float, _fit_values, _fitted_column],
    params=[Param("columns", "columns", required=True)],
)
def standard_scale(
    df: pd.DataFrame,
    *,
    state: dict[str, Any] | None = None,
    columns: list[str],
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Centre each column on its mean and divide by its standard deviation.

    A constant column has no spread: it is centred and divided by 1.
    """
    if state is None:
        learnt: dict[str, Any] = {}
        for column in columns:
            values = _fit_values(df, column, "standard scaling")
            std = float(values.std())
            learnt[column] = {
                "mean": float(values.mean()),
                "scale": std if std > 0 and np.isfinite(std) else 1.0,
            }
        state = {"columns": learnt}
    out = df.copy(deep=False)
    for column in columns:
        fit = _fitted_column(state, column)
        out[column] = (_as_float(df, column, "standard scaling") - fit["mean"]) / fit["scale"]
    return out, state


@transform(
    "min_max_scale",
    title="Min-max scale",
    category="Scale",
    fitted=True,
    helpers=[_as_float, _fit_values, _fitted_column],
    params=[
        Param("columns", "columns", required=True),
        Param("min", "number", default=0.0, help="The learnt minimum maps to this."),
        Param("max", "number", default=1.0, help="The learnt maximum maps to this."),
    ],
)
def min_max_scale(
    df: pd.DataFrame,
    *,
    state: dict[str, Any] | None = None,
    columns: list[str],
    min: float = 0.0,
    max: float = 1.0,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Map each column's learnt minimum and maximum onto [min, max].

    New data outside the learnt range lands outside [min, max]; a constant column maps to min.
    """
    if not min < max:
        raise ValueError(f"min ({min:g}) must be below max ({max:g}).")
    if state is None:
        learnt: dict[str, Any] = {}
        for column in columns:
            values = _fit_values(df, column, "min-max scaling")
            low, high = float(values.min()), float(values.max())
            learnt[column] = {"min": low, "range": high - low if high > low else 1.0}
        state = {"columns": learnt}
    out = df.copy(deep=False)
    for column in columns:
        fit = _fitted_column(state, column)
        unit = (_as_float(df, column, "min-max scaling") - fit["min"]) / fit["range"]
        out[column] = unit * (max - min) + min
    return out, state


@transform(
    "robust_scale",
    title="Robust scale",
    category="Scale",
    fitted=True,
    helpers=[_as_float, _fit_values, _fitted_column],
    params=[Param("columns", "columns", required=True)],
)
def robust_scale(
    df: pd.DataFrame,
    *,
    state: dict[str, Any] | None = None,
    columns: list[str],
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Centre each column on its median and divide by its interquartile range.

    Outliers barely move the median and the IQR; a column with no IQR is divided by 1.
    """
    if state is None:
        learnt: dict[str, Any] = {}
        for column in columns:
            values = _fit_values(df, column, "robust scaling")
            q1, median, q3 = (float(q) for q in np.quantile(values, [0.25, 0.5, 0.75]))
            iqr = q3 - q1
            learnt[column] = {"center": median, "scale": iqr if iqr > 0 else 1.0}
        state = {"columns": learnt}
    out = df.copy(deep=False)
    for column in columns:
        fit = _fitted_column(state, column)
        out[column] = (_as_float(df, column, "robust scaling") - fit["center"]) / fit["scale"]
    return out, state


@transform(
    "log_transform",
    title="Log transform",
    category="Transform",
    rowwise=True,
    helpers=[_as_float],
    params=[
        Param("columns", "columns", required=True),
        Param(
            "method",
            "choice",
            default="log1p",
            choices=("log", "log1p", "log10"),
            help="log1p is log(1 + x): it accepts zeros.",
        ),
    ],
)
def log_transform(
    df: pd.DataFrame,
    *,
    state: dict[str, Any] | None = None,
    columns: list[str],
    method: str = "log1p",
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Replace each column with its logarithm (natural, of 1 + x, or base 10); nulls stay null."""
    out = df.copy(deep=False)
    for column in columns:
        values = _as_float(df, column, "a log transform")
        if method == "log1p":
            bad = int((values <= -1).sum())
            if bad:
                raise ValueError(
                    f"{column!r} has {bad} value(s) of -1 or less, which log1p cannot take; "
                    "shift or clip the column first."
                )
            out[column] = np.log1p(values)
            continue
        bad = int((values <= 0).sum())
        if bad:
            raise ValueError(
                f"{column!r} has {bad} zero or negative value(s), which {method} cannot take; "
                "use the log1p method or shift the column first."
            )
        out[column] = np.log(values) if method == "log" else np.log10(values)
    return out, {}


def _power(values: Any, lmbda: float, method: str) -> Any:
    """The Yeo-Johnson or Box-Cox transform of a float array with parameter ``lmbda``."""
    x = np.asarray(values, dtype="float64")
    out = np.full_like(x, np.nan)
    tiny = np.spacing(1.0)
    if method == "box-cox":
        ok = x > 0
        out[ok] = np.log(x[ok]) if abs(lmbda) < tiny else (x[ok] ** lmbda - 1) / lmbda
        return out
    pos = x >= 0
    neg = x < 0
    if abs(lmbda) < tiny:
        out[pos] = np.log1p(x[pos])
    else:
        out[pos] = ((x[pos] + 1) ** lmbda - 1) / lmbda
    if abs(lmbda - 2) < tiny:
        out[neg] = -np.log1p(-x[neg])
    else:
        out[neg] = -((-x[neg] + 1) ** (2 - lmbda) - 1) / (2 - lmbda)
    return out


@transform(
    "power_transform",
    title="Power transform",
    category="Transform",
    fitted=True,
    helpers=[_as_float, _fit_values, _fitted_column, _power],
    params=[
        Param("columns", "columns", required=True),
        Param(
            "method",
            "choice",
            default="yeo-johnson",
            choices=("yeo-johnson", "box-cox"),
            help="Box-Cox needs strictly positive values; Yeo-Johnson takes any.",
        ),
    ],
)
def power_transform(
    df: pd.DataFrame,
    *,
    state: dict[str, Any] | None = None,
    columns: list[str],
    method: str = "yeo-johnson",
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Make each column more Gaussian with a learnt power transform, then standardise it.

    The power (lambda) of each column is fitted by scikit-learn's PowerTransformer; the
    result is then centred and scaled to unit variance. A constant column keeps lambda 1.
    """
    action = f"a {method} transform"

    def check_positive(values: Any, column: str) -> None:
        bad = int((values <= 0).sum())
        if method == "box-cox" and bad:
            raise ValueError(
                f"{column!r} has {bad} zero or negative value(s); Box-Cox needs values above "
                "zero. Use the yeo-johnson method instead."
            )

    if state is None:
        from sklearn.preprocessing import PowerTransformer

        learnt: dict[str, Any] = {}
        for column in columns:
            values = _fit_values(df, column, action)
            check_positive(values, column)
            if len(np.unique(values)) < 2:
                lmbda = 1.0
            else:
                fitter = PowerTransformer(method=method, standardize=False)
                lmbda = float(fitter.fit(values.reshape(-1, 1)).lambdas_[0])
            powered = _power(values, lmbda, method)
            std = float(powered.std())
            learnt[column] = {
                "lambda": lmbda,
                "mean": float(powered.mean()),
                "scale": std if std > 0 and np.isfinite(std) else 1.0,
            }
        state = {"columns": learnt}
    out = df.copy(deep=False)
    for column in columns:
        fit = _fitted_column(state, column)
        series = _as_float(df, column, action)
        check_positive(series.dropna(), column)
        powered = _power(series.to_numpy(), fit["lambda"], method)
        out[column] = pd.Series((powered - fit["mean"]) / fit["scale"], index=df.index)
    return out, state


@transform(
    "bin",
    title="Bin",
    category="Transform",
    fitted=True,
    helpers=[_as_float, _fit_values, _fitted_column],
    params=[
        Param("columns", "columns", required=True),
        Param("strategy", "choice", default="equal_width", choices=("equal_width", "quantile")),
        Param("bins", "integer", default=5, minimum=1, maximum=1000),
        Param(
            "labels",
            "choice",
            default="range",
            choices=("range", "ordinal"),
            help="range: text such as [0, 2.5); ordinal: the bin's number from 0.",
        ),
    ],
)
def bin_values(
    df: pd.DataFrame,
    *,
    state: dict[str, Any] | None = None,
    columns: list[str],
    strategy: str = "equal_width",
    bins: int = 5,
    labels: str = "range",
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Add a ``<column>_bin`` column saying which learnt interval each value falls in.

    Edges are learnt when fitting: equal widths between the minimum and the maximum, or
    quantiles (repeated quantile edges merge, so there may be fewer bins). Values beyond the
    learnt range on new data go to the first or last bin; nulls stay null.
    """
    if state is None:
        learnt: dict[str, Any] = {}
        for column in columns:
            values = _fit_values(df, column, "binning")
            if strategy == "quantile":
                edges = np.unique(np.quantile(values, np.linspace(0, 1, bins + 1)))
            else:
                edges = np.linspace(values.min(), values.max(), bins + 1)
            if len(edges) < 2 or edges[0] == edges[-1]:
                edges = np.array([values.min(), values.max()])
            learnt[column] = {"edges": [float(e) for e in edges]}
        state = {"columns": learnt}
    out = df.copy(deep=False)
    for column in columns:
        cuts = list(_fitted_column(state, column)["edges"])
        series = _as_float(df, column, "binning")
        index = np.searchsorted(np.asarray(cuts[1:-1]), series.to_numpy(), side="right")
        codes = pd.Series(index, index=df.index).where(series.notna())
        if labels == "ordinal":
            out[f"{column}_bin"] = codes.astype("Int64")
            continue
        n = len(cuts) - 1
        names = [f"[{cuts[i]:g}, {cuts[i + 1]:g}{']' if i == n - 1 else ')'}" for i in range(n)]
        out[f"{column}_bin"] = codes.map(dict(enumerate(names))).astype("str")
    return out, state


@transform(
    "clip_outliers",
    title="Clip outliers",
    category="Transform",
    fitted=True,
    helpers=[_as_float, _fit_values, _fitted_column],
    params=[
        Param("columns", "columns", required=True),
        Param("method", "choice", default="iqr", choices=("std", "iqr", "quantile")),
        Param(
            "factor",
            "number",
            minimum=0,
            help="How many standard deviations (std, 3 if empty) or IQRs (iqr, 1.5 if empty).",
        ),
        Param("lower_quantile", "number", default=0.01, minimum=0, maximum=1),
        Param("upper_quantile", "number", default=0.99, minimum=0, maximum=1),
    ],
)
def clip_outliers(
    df: pd.DataFrame,
    *,
    state: dict[str, Any] | None = None,
    columns: list[str],
    method: str = "iqr",
    factor: float | None = None,
    lower_quantile: float = 0.01,
    upper_quantile: float = 0.99,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Clip each column to learnt bounds: mean ± factor·std, the IQR fences, or quantiles."""
    if method == "quantile" and not lower_quantile < upper_quantile:
        raise ValueError("lower_quantile must be below upper_quantile.")
    if state is None:
        learnt: dict[str, Any] = {}
        for column in columns:
            values = _fit_values(df, column, "clipping outliers")
            if method == "std":
                k = 3.0 if factor is None else factor
                mean, std = float(values.mean()), float(values.std())
                low, high = mean - k * std, mean + k * std
            elif method == "iqr":
                k = 1.5 if factor is None else factor
                q1, q3 = (float(q) for q in np.quantile(values, [0.25, 0.75]))
                low, high = q1 - k * (q3 - q1), q3 + k * (q3 - q1)
            else:
                low, high = (
                    float(q) for q in np.quantile(values, [lower_quantile, upper_quantile])
                )
            learnt[column] = {"lower": low, "upper": high}
        state = {"columns": learnt}
    out = df.copy(deep=False)
    for column in columns:
        fit = _fitted_column(state, column)
        series = _as_float(df, column, "clipping outliers")
        out[column] = series.clip(lower=fit["lower"], upper=fit["upper"])
    return out, state
