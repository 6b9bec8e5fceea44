"""The analyses of the Data Wrangler's Analyse panel: one frame in, figures and a table out.

``run_analysis(df, kind, params)`` returns ``{"kind", "title", "figures", "table", "notes"}``:
plotly figures as JSON dicts (``wrangler.engine.charts``), an optional table
(``{"columns": [...], "rows": [[...]...]}``) and sentences for the user. Everything in it is
JSON-safe (``json.dumps(..., allow_nan=False)`` works): numbers are rounded, missing values
are None, dates are ISO text.

The frame is read, never changed. Bad requests the user can fix (an unknown column, a text
column where numbers are needed, too few rows) raise ``ValueError`` with a sentence that
names the column and says what to do. The model-based analyses work on a bounded random
sample (``max_rows``) so that they answer in seconds on any frame.

The feature preparation of ``quick_model`` (``prepare_model_data``) is shared with the
Insights report's XGBoost model, so both see the same features.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from itertools import pairwise
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd
import plotly.graph_objects as go

from wrangler.engine.charts import DIVERGING, PALETTE, SEQUENTIAL, style, to_json
from wrangler.engine.contracts import Param
from wrangler.engine.params import check_value

ANALYSES: Final = (
    "summary",
    "histogram",
    "scatter",
    "box",
    "correlation",
    "target_leakage",
    "quick_model",
)
PROBLEMS: Final = ("auto", "classification", "regression")
CORRELATION_METHODS: Final = ("pearson", "spearman", "cramers_v")
#: A score at or above this from a single feature is suspiciously good: possible leakage.
LEAKAGE_THRESHOLD: Final = 0.95
#: How many features the leakage check scores (one small model each).
MAX_LEAKAGE_FEATURES: Final = 40
#: Integer targets with at most this many distinct values are classes under "auto".
MAX_AUTO_CLASSES: Final = 20
#: Categorical model features keep their most frequent values; the rest become "other".
MAX_MODEL_CATEGORIES: Final = 50
#: Cramér's V lumps each column's rarer values together past this many.
MAX_CRAMER_CATEGORIES: Final = 50
MIN_MODEL_ROWS: Final = 10
#: Classification targets with more classes than this are refused (group them first).
MAX_CLASSES: Final = 100

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]

_TARGET = Param("target", "column", required=True, help="The column to predict.")
_PROBLEM = Param(
    "problem",
    "choice",
    default="auto",
    choices=PROBLEMS,
    help="auto: classes when the target is text, true/false or at most 20 whole numbers.",
)
_MAX_ROWS = Param(
    "max_rows",
    "integer",
    default=20_000,
    minimum=MIN_MODEL_ROWS,
    maximum=1_000_000,
    help="A random sample of at most this many rows is used.",
)
_SEED = Param("seed", "integer", default=0, minimum=0, help="The same seed gives the same sample.")

#: The parameters each analysis takes, checked like a transform's (``params.check_value``).
ANALYSIS_PARAMS: Final[dict[str, tuple[Param, ...]]] = {
    "summary": (),
    "histogram": (
        Param("column", "column", required=True),
        Param("bins", "integer", default=30, minimum=1, maximum=500),
        Param("color_by", "column", help="Split each bar by a categorical column's values."),
    ),
    "scatter": (
        Param("x", "column", required=True),
        Param("y", "column", required=True),
        Param("color", "column", help="Colour points by this column."),
        Param(
            "max_points",
            "integer",
            default=5000,
            minimum=10,
            maximum=200_000,
            help="A random sample of at most this many points is drawn.",
        ),
    ),
    "box": (
        Param("column", "column", required=True, help="A numeric column."),
        Param("by", "column", help="One box per value (the 12 most frequent)."),
    ),
    "correlation": (
        Param("method", "choice", default="pearson", choices=CORRELATION_METHODS),
        Param("columns", "columns", help="The columns to correlate; all that fit if empty."),
        Param("max_columns", "integer", default=40, minimum=2, maximum=200),
    ),
    "target_leakage": (
        _TARGET,
        _PROBLEM,
        Param("folds", "integer", default=3, minimum=2, maximum=10),
        _MAX_ROWS,
        _SEED,
    ),
    "quick_model": (_TARGET, _PROBLEM, _MAX_ROWS, _SEED),
}

_KIND_WORDS: Final = {
    "numeric": "numbers",
    "bool": "true/false values",
    "datetime": "dates",
    "categorical": "text or categories",
    "other": "durations or other values",
}


# ---------------------------------------------------------------- shared helpers


def column_kind(series: pd.Series) -> str:
    """What a column holds: numeric, bool, datetime, categorical (text too) or other."""
    dtype = series.dtype
    # Categorical first: a category of booleans or numbers is still a set of labels.
    if isinstance(dtype, pd.CategoricalDtype):
        return "categorical"
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if pd.api.types.is_timedelta64_dtype(dtype) or pd.api.types.is_complex_dtype(dtype):
        return "other"
    if pd.api.types.is_numeric_dtype(dtype):
        return "numeric"
    return "categorical"


def kind_words(kind: str) -> str:
    """``kind`` as the user reads it: "numbers", "dates", "text or categories"…"""
    return _KIND_WORDS.get(kind, kind)


def numeric_values(series: pd.Series) -> FloatArray:
    """A fresh float64 array of ``series``: NaN for missing, dates as epoch seconds (UTC),
    durations as seconds, booleans as 0/1."""
    dtype = series.dtype
    if pd.api.types.is_datetime64_any_dtype(dtype):
        if getattr(dtype, "tz", None) is not None:
            series = series.dt.tz_convert(None)
        stamps = series.to_numpy(dtype="datetime64[us]")
        seconds: FloatArray = stamps.astype("int64").astype("float64") / 1e6
        seconds[np.isnat(stamps)] = np.nan
        return seconds
    if pd.api.types.is_timedelta64_dtype(dtype):
        spans = series.to_numpy(dtype="timedelta64[us]")
        lengths: FloatArray = spans.astype("int64").astype("float64") / 1e6
        lengths[np.isnat(spans)] = np.nan
        return lengths
    values: FloatArray = series.to_numpy(dtype="float64", na_value=np.nan, copy=True)
    return values


def factorize(series: pd.Series) -> tuple[IntArray, Any]:
    """Integer codes of ``series`` (-1 for missing) and the distinct values, in order of
    first appearance. Unhashable values (lists, dicts) are compared by their text."""
    try:
        codes, uniques = pd.factorize(series, use_na_sentinel=True)
    except TypeError:
        codes, uniques = pd.factorize(series.map(_text_or_missing), use_na_sentinel=True)
    return np.asarray(codes, dtype=np.intp), uniques


def _text_or_missing(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return str(value)


def json_scalar(value: Any) -> Any:
    """``value`` as a JSON scalar: numpy unwrapped, NaN/NaT as None, dates as ISO text."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        number = float(value)
        return number if math.isfinite(number) else None
    if isinstance(value, list | tuple | dict | set | np.ndarray):
        return str(value)
    if pd.isna(value):
        return None
    if isinstance(value, pd.Timestamp | datetime | date | time):
        return value.isoformat()
    return str(value)


def rounded(value: Any, digits: int = 6) -> float | int | None:
    """A number rounded to ``digits`` significant digits (whole numbers as int); None if it
    is missing or not finite."""
    if value is None:
        return None
    number = float(value)
    if not math.isfinite(number):
        return None
    if number.is_integer() and abs(number) < 2**53:
        return int(number)
    return float(f"{number:.{digits}g}")


def check_frame(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with text column names, or a ValueError when it cannot be analysed."""
    if df.shape[1] == 0:
        raise ValueError("The data has no columns to analyse.")
    if df.shape[0] == 0:
        raise ValueError(
            "The data has no rows to analyse; check the filters or the source before this step."
        )
    if not all(isinstance(c, str) for c in df.columns):
        df = df.rename(columns=str)
    counts = pd.Series(df.columns).value_counts()
    repeated = counts[counts > 1]
    if len(repeated):
        name = repeated.index[0]
        raise ValueError(
            f"Column names must be unique; {name!r} appears {int(repeated.iloc[0])} times. "
            "Rename the copies first."
        )
    return df


def require_column(df: pd.DataFrame, name: str, field: str) -> str:
    """``name`` if ``df`` has that column, else a ValueError naming it."""
    if name not in df.columns:
        raise ValueError(
            f"{field}: column {name!r} is not in the data; pick one of its {df.shape[1]} columns."
        )
    return name


def resolve_problem(series: pd.Series, problem: str, target: str) -> str:
    """Whether predicting the target ``series`` (nulls dropped) is a classification or a
    regression: ``problem`` checked against the column, or decided for "auto"."""
    kind = column_kind(series)
    if kind in ("datetime", "other"):
        raise ValueError(
            f"The target {target!r} holds {kind_words(kind)}; pick a column of classes or "
            "numbers to predict."
        )
    if problem == "classification":
        return problem
    if problem == "regression":
        if kind != "numeric":
            raise ValueError(
                f"A regression target must hold numbers, but {target!r} holds "
                f"{kind_words(kind)}; choose classification instead."
            )
        return problem
    if problem != "auto":
        raise ValueError(f"problem must be one of {', '.join(PROBLEMS)}.")
    if kind != "numeric":
        return "classification"
    values = numeric_values(series)
    values = values[np.isfinite(values)]
    whole = bool(np.all(values == np.round(values)))
    if whole and len(np.unique(values)) <= MAX_AUTO_CLASSES:
        return "classification"
    return "regression"


def _check_params(kind: str, params: dict[str, Any] | None) -> dict[str, Any]:
    """``params`` checked against ``ANALYSIS_PARAMS[kind]``, with defaults filled in."""
    declared = ANALYSIS_PARAMS[kind]
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise ValueError("The analysis parameters must be an object.")
    names = [p.name for p in declared]
    for name in params:
        if name not in names:
            takes = f"it takes {', '.join(names)}" if names else "it takes none"
            raise ValueError(f"The {kind} analysis has no parameter {name!r}; {takes}.")
    checked: dict[str, Any] = {}
    for p in declared:
        value = params.get(p.name)
        if value is None or (value == [] and p.kind == "columns"):
            if p.required:
                raise ValueError(f"The {kind} analysis needs {p.name}.")
            checked[p.name] = p.default
            continue
        checked[p.name] = check_value(p, value)  # a ParamError is a ValueError
    return checked


def _result(
    kind: str,
    title: str,
    figures: Sequence[go.Figure] = (),
    table: dict[str, Any] | None = None,
    notes: Sequence[str] = (),
) -> dict[str, Any]:
    return {
        "kind": kind,
        "title": title,
        "figures": [to_json(f) for f in figures],
        "table": table,
        "notes": list(notes),
    }


def _plural(count: int, word: str, plural: str | None = None) -> str:
    return f"{count:,} {word if count == 1 else (plural or word + 's')}"


def _are(count: int) -> str:
    return "is" if count == 1 else "are"


def _pct(part: int | float, whole: int | float) -> float:
    return round(100.0 * part / whole, 2) if whole else 0.0


def _sample_positions(n: int, size: int, seed: int) -> IntArray:
    """Sorted positions of a random sample of ``size`` of ``n`` rows (all if n <= size)."""
    if n <= size:
        return np.arange(n, dtype=np.intp)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n, size=size, replace=False)).astype(np.intp)


@dataclass(frozen=True)
class Groups:
    """Each row's group (an index into ``labels``): the most frequent values of a column,
    then "other" and "(missing)" where they occur."""

    codes: IntArray
    labels: list[str]
    column: str


def groups_of(df: pd.DataFrame, column: str, field: str, top: int) -> Groups:
    """The rows of ``df`` grouped by the ``top`` most frequent values of ``column``."""
    require_column(df, column, field)
    series = df[column]
    kind = column_kind(series)
    codes, uniques = factorize(series)
    if kind in ("datetime", "other") or (kind == "numeric" and len(uniques) > MAX_AUTO_CLASSES):
        raise ValueError(
            f"{field} needs a categorical column, but {column!r} holds {kind_words(kind)} "
            f"with {len(uniques):,} distinct values; pick a text, true/false or category "
            "column (or a whole-number column with at most 20 values)."
        )
    counts = np.bincount(codes[codes >= 0], minlength=len(uniques))
    order = np.argsort(-counts, kind="stable")[:top]
    other, missing = len(order), len(order) + 1
    # One slot per value, then one that code -1 (missing) reads from the end.
    mapping = np.full(len(uniques) + 1, other, dtype=np.intp)
    mapping[order] = np.arange(len(order), dtype=np.intp)
    mapping[-1] = missing
    grouped = mapping[codes]
    labels = [str(json_scalar(uniques[i])) for i in order] + ["other", "(missing)"]
    # Drop "other" and "(missing)" where no row falls in them, keeping codes contiguous.
    present = np.bincount(grouped, minlength=len(labels)) > 0
    remap = np.cumsum(present) - 1
    return Groups(
        codes=remap[grouped].astype(np.intp),
        labels=[label for label, keep in zip(labels, present, strict=True) if keep],
        column=column,
    )


# ---------------------------------------------------------------- summary


@dataclass(frozen=True)
class ColumnStats:
    """What one pass over a column learns: counts, distinct values, the most frequent one.

    ``codes`` are the factorized values (-1 for missing), kept so that whole-row duplicates
    can be found from them without hashing the frame again; ``uniques`` are the distinct
    values the codes index.
    """

    name: str
    kind: str
    dtype: str
    rows: int
    missing: int
    distinct: int
    top: Any
    top_count: int
    codes: IntArray
    uniques: Any = None

    @property
    def count(self) -> int:
        return self.rows - self.missing


def column_stats(df: pd.DataFrame, name: str) -> ColumnStats:
    series = df[name]
    codes, uniques = factorize(series)
    present = codes[codes >= 0]
    counts = np.bincount(present, minlength=len(uniques))
    top_index = int(np.argmax(counts)) if len(uniques) else -1
    return ColumnStats(
        name=name,
        kind=column_kind(series),
        dtype=str(series.dtype),
        rows=len(series),
        missing=len(codes) - len(present),
        distinct=len(uniques),
        top=json_scalar(uniques[top_index]) if top_index >= 0 else None,
        top_count=int(counts[top_index]) if top_index >= 0 else 0,
        codes=codes,
        uniques=uniques,
    )


SUMMARY_COLUMNS: Final = [
    "column",
    "dtype",
    "count",
    "missing",
    "missing %",
    "distinct",
    "mean",
    "std",
    "min",
    "25%",
    "50%",
    "75%",
    "max",
    "top value",
]


def _iso(seconds: float, tz: Any = None) -> str:
    """Epoch ``seconds`` as ISO text: naive (UTC) or in the time zone ``tz``."""
    stamp = pd.Timestamp(seconds, unit="s")
    if tz is not None:
        stamp = stamp.tz_localize("UTC").tz_convert(tz)
    text: str = stamp.isoformat()
    return text


def _duration(seconds: float) -> str:
    return str(pd.Timedelta(seconds=seconds))


def _summary(df: pd.DataFrame, p: dict[str, Any]) -> dict[str, Any]:
    rows: list[list[Any]] = []
    for name in df.columns:
        stats = column_stats(df, name)
        numbers: list[Any] = [None] * 7  # mean, std, min, 25%, 50%, 75%, max
        timedelta = pd.api.types.is_timedelta64_dtype(df[name].dtype)
        if (stats.kind in ("numeric", "datetime", "bool") or timedelta) and stats.count:
            values = numeric_values(df[name])
            values = values[np.isfinite(values)]
            if stats.kind == "bool":
                numbers[0] = rounded(values.mean(), 4)  # the share of true values
            elif len(values) and stats.kind == "numeric":
                std = values.std(ddof=1) if len(values) > 1 else None
                quantiles = np.quantile(values, [0, 0.25, 0.5, 0.75, 1])
                numbers = [rounded(values.mean()), rounded(std)]
                numbers += [rounded(q) for q in quantiles]
            elif len(values) and stats.kind == "datetime":
                tz = getattr(df[name].dtype, "tz", None)
                quantiles = np.quantile(values, [0, 0.25, 0.5, 0.75, 1])
                numbers = [_iso(float(values.mean()), tz), None]
                numbers += [_iso(float(q), tz) for q in quantiles]
            elif len(values) and timedelta:
                std = float(values.std(ddof=1)) if len(values) > 1 else None
                quantiles = np.quantile(values, [0, 0.25, 0.5, 0.75, 1])
                numbers = [_duration(float(values.mean())), None if std is None else _duration(std)]
                numbers += [_duration(float(q)) for q in quantiles]
        top = rounded(stats.top) if isinstance(stats.top, float) else stats.top
        rows.append(
            [
                name,
                stats.dtype,
                stats.count,
                stats.missing,
                _pct(stats.missing, stats.rows),
                stats.distinct,
                *numbers,
                top,
            ]
        )
    notes = [f"{_plural(df.shape[0], 'row')} and {_plural(df.shape[1], 'column')}."]
    if any(column_kind(df[c]) == "bool" for c in df.columns):
        notes.append("For true/false columns, mean is the share of true values.")
    return _result(
        "summary",
        f"Summary of {_plural(df.shape[1], 'column')}",
        table={"columns": list(SUMMARY_COLUMNS), "rows": rows},
        notes=notes,
    )


# ---------------------------------------------------------------- histogram


def bar_counts_figure(
    labels: Sequence[str], counts: Sequence[int], title: str, value_title: str
) -> go.Figure:
    """Horizontal bars of ``counts`` per label, the first label on top."""
    fig = go.Figure(
        go.Bar(
            y=list(labels),
            x=[int(c) for c in counts],
            orientation="h",
            marker={"color": PALETTE[0]},
            hovertemplate="%{y}<br><b>%{x:,}</b> rows<extra></extra>",
        )
    )
    style(fig, title, "rows", value_title)
    fig.update_yaxes(type="category", autorange="reversed")
    fig.update_layout(height=max(260, 22 * len(labels) + 90))
    return fig


def histogram_figure(
    values: FloatArray,
    bins: int,
    title: str,
    x_title: str,
    *,
    dates: bool = False,
    groups: Groups | None = None,
) -> tuple[go.Figure, FloatArray, npt.NDArray[np.int64]]:
    """Equal-width bars over the finite ``values`` (stacked by group when given): the
    figure, the bin edges and the total count per bin. Bins are computed here, so the
    figure carries counts rather than every value."""
    finite = np.isfinite(values)
    data = values[finite]
    low, high = float(data.min()), float(data.max())
    if low == high:  # one value: a single bar around it
        low, high = low - 0.5, high + 0.5
    edges = np.histogram_bin_edges(data, bins=bins, range=(low, high))
    index = np.clip(np.searchsorted(edges, data, side="right") - 1, 0, bins - 1)
    centres = (edges[:-1] + edges[1:]) / 2
    widths = np.diff(edges)
    if dates:
        x: Any = [_iso(float(c)) for c in centres]
        bar_widths = (widths * 1000.0).tolist()  # a date axis measures in milliseconds
        ranges: list[list[Any]] = [[_iso(float(a)), _iso(float(b))] for a, b in pairwise(edges)]
    else:
        x = centres.tolist()
        bar_widths = widths.tolist()
        ranges = [[rounded(a, 4), rounded(b, 4)] for a, b in pairwise(edges)]
    fig = go.Figure()
    if groups is None:
        totals = np.bincount(index, minlength=bins).astype(np.int64)
        series: list[tuple[str | None, npt.NDArray[np.int64]]] = [(None, totals)]
    else:
        codes = groups.codes[finite]
        k = len(groups.labels)
        table = np.bincount(codes * bins + index, minlength=k * bins).reshape(k, bins)
        series = [(label, table[i].astype(np.int64)) for i, label in enumerate(groups.labels)]
        totals = table.sum(axis=0).astype(np.int64)
    for i, (label, counts) in enumerate(series):
        fig.add_trace(
            go.Bar(
                x=x,
                y=counts.tolist(),
                width=bar_widths,
                name=label or x_title,
                customdata=ranges,
                marker={"color": PALETTE[i % len(PALETTE)], "line": {"width": 0}},
                hovertemplate="%{customdata[0]} – %{customdata[1]}<br><b>%{y:,}</b> rows"
                + (f"<extra>{label}</extra>" if label else "<extra></extra>"),
            )
        )
    style(fig, title, x_title, "rows")
    fig.update_layout(barmode="stack", bargap=0, showlegend=groups is not None)
    if dates:
        fig.update_xaxes(type="date")
    if groups is not None:
        fig.update_layout(legend={"title": {"text": groups.column}})
    return fig, edges, totals


def _histogram(df: pd.DataFrame, p: dict[str, Any]) -> dict[str, Any]:
    column = require_column(df, p["column"], "column")
    series = df[column]
    kind = column_kind(series)
    groups = groups_of(df, p["color_by"], "color_by", 10) if p["color_by"] else None
    notes: list[str] = []
    missing = int(series.isna().sum())
    if kind in ("numeric", "datetime", "other"):
        if kind == "other" and not pd.api.types.is_timedelta64_dtype(series.dtype):
            raise ValueError(f"{column!r} holds values that cannot be drawn as a histogram.")
        values = numeric_values(series)
        finite = np.isfinite(values)
        if not finite.any():
            raise ValueError(f"{column!r} has no values to draw; every row is missing.")
        dates = kind == "datetime"
        axis = f"{column} (seconds)" if kind == "other" else column
        fig, edges, totals = histogram_figure(
            values, p["bins"], f"Distribution of {column}", axis, dates=dates, groups=groups
        )
        fmt: Callable[[float], Any] = (lambda v: _iso(v)) if dates else (lambda v: rounded(v))
        table = {
            "columns": ["from", "to", "rows"],
            "rows": [
                [fmt(float(a)), fmt(float(b)), int(c)]
                for a, b, c in zip(edges[:-1], edges[1:], totals, strict=True)
            ],
        }
        infinite = int((~finite).sum()) - missing
        if infinite:
            notes.append(f"{_plural(infinite, 'infinite value')} {_are(infinite)} not drawn.")
        if dates and getattr(series.dtype, "tz", None) is not None:
            notes.append("Times are shown in UTC.")
    else:
        fig, table, more = _value_bars(series, column, groups)
        if more:
            notes.append(more)
    if missing:
        notes.insert(
            0, f"{_plural(missing, 'row')} with no value in {column!r} {_are(missing)} not drawn."
        )
    return _result("histogram", f"Distribution of {column}", [fig], table, notes)


def _value_bars(
    series: pd.Series, column: str, groups: Groups | None, top: int = 30
) -> tuple[go.Figure, dict[str, Any], str]:
    """Bars of the ``top`` most frequent values (stacked by group), their table, and a note
    on what was left out."""
    codes, uniques = factorize(series)
    present = codes >= 0
    counts = np.bincount(codes[present], minlength=len(uniques))
    order = np.argsort(-counts, kind="stable")[:top]
    labels = [str(json_scalar(uniques[i])) for i in order]
    total = int(present.sum())
    if total == 0:
        raise ValueError(f"{column!r} has no values to draw; every row is missing.")
    title = f"Most frequent values of {column}" if len(uniques) > top else f"Values of {column}"
    if groups is None:
        fig = bar_counts_figure(labels, counts[order].tolist(), title, column)
    else:
        k = len(groups.labels)
        position = np.full(len(uniques) + 1, -1, dtype=np.intp)  # the last slot: missing
        position[order] = np.arange(len(order), dtype=np.intp)
        shown = position[codes] >= 0
        cells = groups.codes[shown] * len(order) + position[codes[shown]]
        table2d = np.bincount(cells, minlength=k * len(order)).reshape(k, len(order))
        fig = go.Figure()
        for i, label in enumerate(groups.labels):
            fig.add_trace(
                go.Bar(
                    y=labels,
                    x=table2d[i].tolist(),
                    orientation="h",
                    name=label,
                    marker={"color": PALETTE[i % len(PALETTE)]},
                    hovertemplate=f"%{{y}}<br><b>%{{x:,}}</b> rows<extra>{label}</extra>",
                )
            )
        style(fig, title, "rows", column)
        fig.update_yaxes(type="category", autorange="reversed")
        fig.update_layout(
            barmode="stack",
            height=max(260, 22 * len(labels) + 90),
            legend={"title": {"text": groups.column}},
        )
    table = {
        "columns": ["value", "rows", "share %"],
        "rows": [
            [json_scalar(uniques[i]), int(counts[i]), _pct(int(counts[i]), total)] for i in order
        ],
    }
    more = ""
    if len(uniques) > top:
        rest = total - int(counts[order].sum())
        more = (
            f"Showing the {top} most frequent of {len(uniques):,} distinct values; the others "
            f"cover {_plural(rest, 'row')}."
        )
    return fig, table, more


# ---------------------------------------------------------------- scatter


def _axis_values(df: pd.DataFrame, column: str, field: str) -> tuple[FloatArray, str]:
    """The column's values for a numeric axis, and its kind; a ValueError for text."""
    require_column(df, column, field)
    kind = column_kind(df[column])
    if kind == "categorical" or (
        kind == "other" and not pd.api.types.is_timedelta64_dtype(df[column].dtype)
    ):
        raise ValueError(
            f"A scatter plot needs numbers or dates for {field}, but {column!r} holds "
            f"{kind_words(kind)}; try a box plot of a numeric column by {column!r}."
        )
    return numeric_values(df[column]), kind


def _scatter(df: pd.DataFrame, p: dict[str, Any]) -> dict[str, Any]:
    xs, x_kind = _axis_values(df, p["x"], "x")
    ys, y_kind = _axis_values(df, p["y"], "y")
    x_name, y_name = p["x"], p["y"]
    notes: list[str] = []
    usable = np.isfinite(xs) & np.isfinite(ys)
    dropped = int((~usable).sum())
    if dropped:
        notes.append(
            f"{_plural(dropped, 'row')} missing {x_name!r} or {y_name!r} {_are(dropped)} not drawn."
        )
    rows = np.flatnonzero(usable)
    if len(rows) == 0:
        raise ValueError(f"No row has both {x_name!r} and {y_name!r}; there is nothing to draw.")
    if len(rows) > 1 and np.ptp(xs[rows]) > 0 and np.ptp(ys[rows]) > 0:
        r = float(np.corrcoef(xs[rows], ys[rows])[0, 1])
        notes.append(f"Pearson correlation r = {r:.3f} over {_plural(len(rows), 'row')}.")
    if len(rows) > p["max_points"]:
        rows = rows[_sample_positions(len(rows), p["max_points"], 0)]
        notes.append(f"Drawing a random sample of {len(rows):,} points.")

    def axis(values: FloatArray, kind: str) -> npt.NDArray[Any]:
        if kind == "datetime":  # ISO text, which a date axis reads
            return np.array([_iso(float(v)) for v in values[rows]], dtype=object)
        return values[rows]

    x_values, y_values = axis(xs, x_kind), axis(ys, y_kind)
    fig = go.Figure()
    marker = {"size": 5, "opacity": 0.7}
    hover = f"{x_name}: %{{x}}<br>{y_name}: %{{y}}"
    color = p["color"]
    if color is None:
        fig.add_trace(
            go.Scattergl(
                x=x_values,
                y=y_values,
                mode="markers",
                marker={**marker, "color": PALETTE[0]},
                hovertemplate=hover + "<extra></extra>",
            )
        )
    else:
        require_column(df, color, "color")
        color_kind = column_kind(df[color])
        if color_kind in ("numeric", "datetime"):
            shade = numeric_values(df[color])[rows]
            known = np.isfinite(shade)
            lowest = float(shade[known].min()) if known.any() else 0.0
            scale_title = f"{color} (epoch s)" if color_kind == "datetime" else color
            fig.add_trace(
                go.Scattergl(
                    x=x_values,
                    y=y_values,
                    mode="markers",
                    marker={
                        **marker,
                        "color": np.where(known, shade, lowest),
                        "colorscale": SEQUENTIAL,
                        "showscale": True,
                        "colorbar": {"title": {"text": scale_title}, "thickness": 12},
                    },
                    hovertemplate=hover + f"<br>{color}: %{{marker.color}}<extra></extra>",
                )
            )
            if not known.all():
                notes.append(f"Points with no {color!r} take its lowest colour.")
        else:
            groups = groups_of(df, color, "color", 10)
            codes = groups.codes[rows]
            for i, label in enumerate(groups.labels):
                mine = codes == i
                if not mine.any():
                    continue
                fig.add_trace(
                    go.Scattergl(
                        x=x_values[mine],
                        y=y_values[mine],
                        mode="markers",
                        name=label,
                        marker={**marker, "color": PALETTE[i % len(PALETTE)]},
                        hovertemplate=hover + f"<extra>{label}</extra>",
                    )
                )
            fig.update_layout(legend={"title": {"text": color}})
    style(fig, f"{y_name} against {x_name}", x_name, y_name)
    if x_kind == "datetime":
        fig.update_xaxes(type="date")
    if y_kind == "datetime":
        fig.update_yaxes(type="date")
    return _result("scatter", f"{y_name} against {x_name}", [fig], None, notes)


# ---------------------------------------------------------------- box


BOX_COLUMNS: Final = ["group", "count", "mean", "std", "min", "25%", "50%", "75%", "max"]


def _box(df: pd.DataFrame, p: dict[str, Any]) -> dict[str, Any]:
    column = require_column(df, p["column"], "column")
    kind = column_kind(df[column])
    if kind != "numeric":
        raise ValueError(
            f"A box plot needs a numeric column, but {column!r} holds {kind_words(kind)}; "
            "use a histogram for it, or pick a numeric column."
        )
    values = numeric_values(df[column])
    notes: list[str] = []
    if p["by"]:
        groups = groups_of(df, p["by"], "by", 12)
        labels = groups.labels
        codes = groups.codes
        if "other" in labels:
            left = int((codes == labels.index("other")).sum())
            notes.append(
                f"Showing the 12 most frequent values of {p['by']!r}; {_plural(left, 'row')} "
                f"in rarer groups {_are(left)} left out."
            )
            keep = [i for i, label in enumerate(labels) if label != "other"]
        else:
            keep = list(range(len(labels)))
    else:
        labels, codes, keep = [column], np.zeros(len(values), dtype=np.intp), [0]
    finite = np.isfinite(values)
    stats: dict[str, list[Any]] = {k: [] for k in ("x", "q1", "median", "q3", "low", "high")}
    stats.update(mean=[], sd=[])
    rows: list[list[Any]] = []
    outlier_x: list[str] = []
    outlier_y: list[float] = []
    rng = np.random.default_rng(0)
    for i in keep:
        group = values[finite & (codes == i)]
        if len(group) == 0:
            notes.append(f"The group {labels[i]!r} has no values of {column!r}.")
            continue
        q = np.quantile(group, [0, 0.25, 0.5, 0.75, 1])
        iqr = q[3] - q[1]
        inside = group[(group >= q[1] - 1.5 * iqr) & (group <= q[3] + 1.5 * iqr)]
        outside = group[(group < q[1] - 1.5 * iqr) | (group > q[3] + 1.5 * iqr)]
        std = float(group.std(ddof=1)) if len(group) > 1 else 0.0
        for key, value in zip(
            ("x", "q1", "median", "q3", "low", "high", "mean", "sd"),
            (labels[i], q[1], q[2], q[3], inside.min(), inside.max(), group.mean(), std),
            strict=True,
        ):
            stats[key].append(value if key == "x" else float(value))
        if len(outside) > 200:  # a bounded, even sample of the points beyond the whiskers
            outside = rng.choice(outside, 200, replace=False)
        outlier_x += [labels[i]] * len(outside)
        outlier_y += outside.tolist()
        rows.append(
            [
                labels[i],
                len(group),
                rounded(group.mean()),
                rounded(std) if len(group) > 1 else None,
                *[rounded(v) for v in q],
            ]
        )
    if not rows:
        raise ValueError(f"{column!r} has no values to draw; every row is missing.")
    fig = go.Figure(
        go.Box(
            x=stats["x"],
            q1=stats["q1"],
            median=stats["median"],
            q3=stats["q3"],
            lowerfence=stats["low"],
            upperfence=stats["high"],
            mean=stats["mean"],
            sd=stats["sd"],
            boxpoints=False,
            name=column,
            marker={"color": PALETTE[0]},
            fillcolor="rgba(79,70,229,0.15)",
            line={"color": PALETTE[0]},
        )
    )
    if outlier_y:
        fig.add_trace(
            go.Scatter(
                x=outlier_x,
                y=outlier_y,
                mode="markers",
                name="outliers",
                marker={"color": PALETTE[6], "size": 4, "opacity": 0.6},
                hovertemplate="%{x}<br>%{y}<extra>beyond 1.5 IQR</extra>",
            )
        )
    title = f"{column} by {p['by']}" if p["by"] else f"Spread of {column}"
    style(fig, title, p["by"], column)
    fig.update_xaxes(type="category")
    fig.update_layout(showlegend=False)
    missing = int((~finite).sum())
    if missing:
        notes.insert(
            0, f"{_plural(missing, 'row')} with no value in {column!r} {_are(missing)} left out."
        )
    return _result("box", title, [fig], {"columns": list(BOX_COLUMNS), "rows": rows}, notes)


# ---------------------------------------------------------------- correlation


def correlation_figure(names: Sequence[str], matrix: FloatArray, method: str) -> go.Figure:
    """A heatmap of ``matrix``: diverging from -1 to 1, or sequential 0 to 1 (Cramér's V)."""
    signed = method != "cramers_v"
    z = [[rounded(v, 3) for v in row] for row in matrix]
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=list(names),
            y=list(names),
            zmin=-1 if signed else 0,
            zmax=1,
            colorscale=DIVERGING if signed else SEQUENTIAL,
            colorbar={"thickness": 12},
            texttemplate="%{z:.2f}" if len(names) <= 15 else None,
            hovertemplate="%{y} × %{x}<br><b>%{z:.3f}</b><extra></extra>",
            hoverongaps=False,
        )
    )
    title = {"pearson": "Pearson", "spearman": "Spearman", "cramers_v": "Cramér's V"}[method]
    style(fig, f"{title} correlation" if signed else title)
    fig.update_xaxes(type="category", showgrid=False, tickangle=-45)
    fig.update_yaxes(type="category", showgrid=False, autorange="reversed")
    side = max(360, 22 * len(names) + 160)
    fig.update_layout(height=side)
    return fig


def pearson_matrix(values: FloatArray) -> FloatArray:
    """Pairwise Pearson correlations of the columns of ``values`` (NaN: missing), each pair
    over the rows where both are present."""
    if not np.isnan(values).any():
        with np.errstate(invalid="ignore", divide="ignore"):
            matrix: FloatArray = np.atleast_2d(np.corrcoef(values, rowvar=False))
        return matrix
    frame = pd.DataFrame(values)
    result: FloatArray = frame.corr(method="pearson", min_periods=3).to_numpy(dtype="float64")
    return result


def _cramers_v(a: IntArray, ka: int, b: IntArray, kb: int) -> float:
    """Cramér's V of two coded columns (-1: missing), over the rows where both are present."""
    from scipy.stats.contingency import association

    both = (a >= 0) & (b >= 0)
    table = np.bincount(a[both] * kb + b[both], minlength=ka * kb).reshape(ka, kb)
    table = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
    if table.shape[0] < 2 or table.shape[1] < 2:
        return math.nan  # one side is constant on the shared rows: V is undefined
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(association(table, method="cramer"))


def _lumped_codes(series: pd.Series, top: int) -> tuple[IntArray, int]:
    """Codes of the ``top`` most frequent values, the rest as one "other" code."""
    codes, uniques = factorize(series)
    if len(uniques) <= top:
        return codes, len(uniques)
    counts = np.bincount(codes[codes >= 0], minlength=len(uniques))
    order = np.argsort(-counts, kind="stable")[:top]
    mapping = np.full(len(uniques), top, dtype=np.intp)
    mapping[order] = np.arange(top, dtype=np.intp)
    return np.where(codes >= 0, mapping[np.maximum(codes, 0)], -1).astype(np.intp), top + 1


def _correlation(df: pd.DataFrame, p: dict[str, Any]) -> dict[str, Any]:
    method = p["method"]
    cramer = method == "cramers_v"
    notes: list[str] = []

    def usable(name: str) -> bool:
        kind = column_kind(df[name])
        if cramer:
            if kind in ("categorical", "bool"):
                return True
            if kind == "numeric":
                values = numeric_values(df[name])
                values = values[np.isfinite(values)]
                whole = bool(np.all(values == np.round(values)))
                return whole and len(np.unique(values)) <= MAX_AUTO_CLASSES
            return False
        return kind in ("numeric", "bool")

    if p["columns"]:
        chosen = []
        for name in p["columns"]:
            require_column(df, name, "columns")
            if not usable(name):
                kind = kind_words(column_kind(df[name]))
                need = (
                    "text, categories, true/false or whole numbers with at most 20 values"
                    if cramer
                    else "numbers or true/false values"
                )
                raise ValueError(
                    f"{method} correlation needs {need}, but {name!r} holds {kind}; "
                    "leave it out or pick another method."
                )
            if name not in chosen:
                chosen.append(name)
    else:
        chosen = [c for c in df.columns if usable(c)]
    if len(chosen) > p["max_columns"]:
        notes.append(
            f"Using the first {p['max_columns']} of {len(chosen)} usable columns; "
            "choose the columns to see others."
        )
        chosen = chosen[: p["max_columns"]]

    names: list[str] = []
    constant: list[str] = []
    coded: list[tuple[IntArray, int]] = []
    numeric: list[FloatArray] = []
    for name in chosen:
        if cramer:
            codes, k = _lumped_codes(df[name], MAX_CRAMER_CATEGORIES)
            if k < 2:
                constant.append(name)
                continue
            coded.append((codes, k))
        else:
            values = numeric_values(df[name])
            values[~np.isfinite(values)] = np.nan
            present = values[~np.isnan(values)]
            if len(present) < 2 or present.min() == present.max():
                constant.append(name)
                continue
            if method == "spearman":
                values = pd.Series(values).rank(method="average").to_numpy(dtype="float64")
            numeric.append(values)
        names.append(name)
    if constant:
        quoted = ", ".join(repr(c) for c in constant)
        notes.append(f"Left out for holding a single value: {quoted}.")
    if len(names) < 2:
        kinds = (
            "categorical (text, true/false, or whole numbers with at most 20 values)"
            if cramer
            else "numeric or true/false"
        )
        single = f" besides {_plural(len(constant), 'single-valued column')}" if constant else ""
        raise ValueError(
            f"{method} correlation needs at least 2 {kinds} columns with more than one value; "
            f"the data has {len(names)}{single}."
        )
    if cramer:
        n = len(names)
        matrix = np.eye(n)
        for i in range(n):
            matrix[i, i] = _cramers_v(*coded[i], *coded[i])
            for j in range(i + 1, n):
                matrix[i, j] = matrix[j, i] = _cramers_v(*coded[i], *coded[j])
        notes.append(
            f"Cramér's V: 0 when two columns are independent, 1 when one determines the other; "
            f"columns with more than {MAX_CRAMER_CATEGORIES} values keep their most frequent "
            "ones and lump the rest."
        )
    else:
        stacked = np.column_stack(numeric)
        matrix = pearson_matrix(stacked)
        if np.isnan(stacked).any():
            notes.append("Each pair is measured over the rows where both columns have a value.")
            if method == "spearman":
                notes.append("Each column is ranked over all of its values.")
    fig = correlation_figure(names, matrix, method)
    table = {
        "columns": ["column", *names],
        "rows": [[name, *[rounded(v, 4) for v in matrix[i]]] for i, name in enumerate(names)],
    }
    title = {
        "pearson": "Pearson correlation",
        "spearman": "Spearman correlation",
        "cramers_v": "Cramér's V",
    }[method]
    return _result("correlation", title, [fig], table, notes)


# ---------------------------------------------------------------- model data


@dataclass(frozen=True)
class ModelData:
    """A frame made ready for a model: float features, an encoded target, what was done."""

    features: FloatArray
    target: npt.NDArray[Any]  # class codes 0..k-1 (classification) or float64 (regression)
    names: list[str]
    problem: str
    classes: list[Any]  # JSON-safe class labels, in code order; [] for regression
    target_name: str
    notes: list[str]


def rows_with_target(
    df: pd.DataFrame, target: str, max_rows: int, seed: int
) -> tuple[pd.DataFrame, list[str]]:
    """The rows of ``df`` that have a target, sampled down to ``max_rows``, and notes."""
    notes: list[str] = []
    has_target = df[target].notna().to_numpy()
    dropped = int((~has_target).sum())
    if dropped:
        notes.append(f"{_plural(dropped, 'row')} with no {target!r} {_are(dropped)} left out.")
    data = df[has_target] if dropped else df
    if len(data) == 0:
        raise ValueError(f"Every row is missing the target {target!r}; there is nothing to learn.")
    if len(data) > max_rows:
        data = data.iloc[_sample_positions(len(data), max_rows, seed)]
        notes.append(f"Using a random sample of {max_rows:,} of {len(has_target):,} rows.")
    return data, notes


def encode_target(
    data: pd.DataFrame, target: str, problem: str
) -> tuple[pd.DataFrame, npt.NDArray[Any], list[Any], list[str]]:
    """The target of ``data`` encoded for a model. Classes with a single row cannot be both
    learnt and tested, so their rows are left out (with a note)."""
    notes: list[str] = []
    if problem == "regression":
        y = numeric_values(data[target])
        finite = np.isfinite(y)
        if not finite.all():
            infinite = int((~finite).sum())
            notes.append(
                f"{_plural(infinite, 'row')} with an infinite target {_are(infinite)} left out."
            )
            data, y = data[finite], y[finite]
        if len(y) == 0 or y.min() == y.max():
            raise ValueError(
                f"The target {target!r} holds a single value; there is nothing to predict."
            )
        return data, y, [], notes
    codes, uniques = _sorted_classes(data[target])
    counts = np.bincount(codes, minlength=len(uniques))
    lonely = np.flatnonzero(counts < 2)
    if len(lonely) and len(lonely) < len(uniques):
        keep = counts[codes] >= 2
        notes.append(
            f"{_plural(len(lonely), 'class', 'classes')} of {target!r} with a single row "
            f"{_are(len(lonely))} left out."
        )
        data = data[keep]
        codes, uniques = _sorted_classes(data[target])
    if len(uniques) < 2:
        raise ValueError(
            f"The target {target!r} has a single class; a model needs at least two classes "
            "with two rows each."
        )
    if len(uniques) > MAX_CLASSES:
        raise ValueError(
            f"The target {target!r} has {len(uniques):,} classes, more than the {MAX_CLASSES} "
            "a classifier here takes; group the rare ones, or predict it as a regression if "
            "it is a number."
        )
    classes = [json_scalar(u) for u in uniques]
    return data, codes.astype(np.int64), classes, notes


def _sorted_classes(series: pd.Series) -> tuple[IntArray, Any]:
    """Class codes in the order of the sorted class labels (first appearance when the
    labels cannot be compared, as with mixed text and numbers)."""
    try:
        codes, uniques = pd.factorize(series, sort=True)
    except TypeError:
        return factorize(series)
    return np.asarray(codes, dtype=np.intp), uniques


def is_id_like(series: pd.Series, kind: str, distinct: int) -> bool:
    """Whether a column looks like a row identifier: whole numbers or text, (almost) no
    gaps, every value different. Such a column names rows and predicts nothing."""
    rows = len(series)
    if rows < 20 or distinct < 0.95 * rows:
        return False
    if kind == "categorical":
        return distinct == int(series.notna().sum())
    if kind == "numeric" and pd.api.types.is_integer_dtype(series.dtype):
        return distinct == int(series.notna().sum())
    return False


def encode_features(
    data: pd.DataFrame, names: Sequence[str]
) -> tuple[FloatArray, list[str], list[str]]:
    """The ``names`` columns of ``data`` as one float matrix: numbers (median-filled),
    true/false as 0/1, dates as epoch seconds, categories as ordinal codes by frequency
    (the 50 most frequent values, then "other", then missing). Id-like and empty columns
    are left out. Returns the matrix, the kept names and notes."""
    columns: list[FloatArray] = []
    kept: list[str] = []
    id_like: list[str] = []
    empty: list[str] = []
    for name in names:
        series = data[name]
        kind = column_kind(series)
        if kind == "categorical":
            codes, uniques = factorize(series)
            if is_id_like(series, kind, len(uniques)):
                id_like.append(name)
                continue
            counts = np.bincount(codes[codes >= 0], minlength=len(uniques))
            order = np.argsort(-counts, kind="stable")[:MAX_MODEL_CATEGORIES]
            # 0.. by frequency, then "other", then missing (code -1 reads the last slot).
            rank = np.full(len(uniques) + 1, len(order), dtype=np.float64)
            rank[order] = np.arange(len(order), dtype=np.float64)
            rank[-1] = len(order) + 1
            columns.append(rank[codes])
        else:
            if kind == "other" and not pd.api.types.is_timedelta64_dtype(series.dtype):
                empty.append(name)
                continue
            values = numeric_values(series)
            finite = np.isfinite(values)
            if not finite.any():
                empty.append(name)
                continue
            if kind == "numeric" and is_id_like(series, kind, len(np.unique(values[finite]))):
                id_like.append(name)
                continue
            values[~finite] = float(np.median(values[finite]))
            columns.append(values)
        kept.append(name)
    notes: list[str] = []
    if id_like:
        quoted = ", ".join(repr(c) for c in id_like)
        notes.append(f"Left out as id-like (every value different): {quoted}.")
    if empty:
        quoted = ", ".join(repr(c) for c in empty)
        notes.append(f"Left out for holding no usable values: {quoted}.")
    matrix = np.column_stack(columns) if columns else np.empty((len(data), 0))
    return matrix.astype(np.float64), kept, notes


def prepare_model_data(
    df: pd.DataFrame,
    target: str,
    problem: str = "auto",
    *,
    max_rows: int = 20_000,
    seed: int = 0,
) -> ModelData:
    """``df`` made ready to fit a model predicting ``target`` (shared by ``quick_model`` and
    the Insights report's XGBoost model, so both see the same features)."""
    df = check_frame(df)
    require_column(df, target, "target")
    data, notes = rows_with_target(df, target, max_rows, seed)
    problem = resolve_problem(data[target], problem, target)
    data, y, classes, more = encode_target(data, target, problem)
    notes += more
    if len(data) < MIN_MODEL_ROWS:
        raise ValueError(
            f"A model needs at least {MIN_MODEL_ROWS} rows with a target; {target!r} has "
            f"{len(data)}."
        )
    features, names, more = encode_features(data, [c for c in data.columns if c != target])
    notes += more
    if not names:
        raise ValueError(
            f"No column besides {target!r} can be used as a feature; add columns to learn from."
        )
    return ModelData(features, y, names, problem, classes, target, notes)


def split_model_data(
    data: ModelData, seed: int, test_size: float = 0.3
) -> tuple[FloatArray, FloatArray, npt.NDArray[Any], npt.NDArray[Any]]:
    """A train/test split of ``data`` (stratified by class for classification)."""
    from sklearn.model_selection import train_test_split

    stratify = data.target if data.problem == "classification" else None
    try:
        x_train, x_test, y_train, y_test = train_test_split(
            data.features,
            data.target,
            test_size=test_size,
            random_state=seed,
            stratify=stratify,
        )
    except ValueError:
        raise ValueError(
            f"{len(data.target):,} rows are too few to hold out {test_size:.0%} of each of the "
            f"{len(data.classes)} classes of {data.target_name!r}; use more rows or fewer classes."
        )
    return x_train, x_test, y_train, y_test


def importance_figure(names: Sequence[str], scores: Sequence[float], title: str) -> go.Figure:
    """Horizontal bars of the top 20 importances, the largest on top."""
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")[:20]
    fig = go.Figure(
        go.Bar(
            y=[names[i] for i in order],
            x=[rounded(scores[i], 4) for i in order],
            orientation="h",
            marker={"color": PALETTE[0]},
            hovertemplate="%{y}<br><b>%{x:.4f}</b><extra></extra>",
        )
    )
    style(fig, title, "importance")
    fig.update_yaxes(type="category", autorange="reversed")
    fig.update_layout(height=max(260, 22 * len(order) + 90))
    return fig


# ---------------------------------------------------------------- target leakage


#: Numeric features are cut into at most this many quantile bins for the leakage trees.
LEAKAGE_BINS: Final = 256


def _quantile_bins(values: FloatArray, max_bins: int = LEAKAGE_BINS) -> IntArray:
    """Each value's bin, 0.. in value order: one bin per distinct value when there are at
    most ``max_bins``, else bins between quantiles (ties never straddle two bins)."""
    distinct = np.unique(values)
    if len(distinct) <= max_bins:
        return np.searchsorted(distinct, values).astype(np.intp)
    edges = np.unique(np.quantile(values, np.linspace(0, 1, max_bins + 1)[1:-1]))
    return np.searchsorted(edges, values, side="right").astype(np.intp)


def _ranked_categories(
    codes: IntArray, k: int, train: IntArray, y: npt.NDArray[Any], by_mean: bool
) -> FloatArray:
    """Each row's category as an ordinal learnt on the ``train`` rows only: ordered by the
    mean target there (binary, regression) or by frequency (multiclass), so a depth-4 tree
    can isolate telling categories; categories unseen in training share the code -1."""
    train_codes = codes[train]
    seen = np.bincount(train_codes, minlength=k)
    if by_mean:
        y_train = np.asarray(y[train], dtype=np.float64)
        key = np.bincount(train_codes, weights=y_train, minlength=k) / np.maximum(seen, 1)
    else:
        key = -seen.astype(np.float64)
    rank = np.empty(k, dtype=np.float64)
    rank[np.argsort(key, kind="stable")] = np.arange(k, dtype=np.float64)
    rank[seen == 0] = -1.0
    ranked: FloatArray = rank[codes]
    return ranked


def auc_score(positive: npt.NDArray[np.bool_], scores: FloatArray) -> float:
    """ROC-AUC from ranks (the Mann-Whitney U), ties counting half: what scikit-learn's
    ``roc_auc_score`` gives, without its per-call checks. NaN with a single class."""
    from scipy.stats import rankdata

    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    if n_pos == 0 or n_neg == 0:
        return math.nan
    ranks = rankdata(scores)
    u = float(ranks[positive].sum()) - n_pos * (n_pos + 1) / 2
    return u / (n_pos * n_neg)


def _fold_tree(
    bins: IntArray,
    n_bins: int,
    train: IntArray,
    y: npt.NDArray[Any],
    n_classes: int,
) -> FloatArray:
    """A depth-4 tree fitted on the training rows of one binned feature, as its prediction
    for every bin: class probabilities (n_bins × classes) or values (n_bins).

    Only per-bin totals enter the split criteria (class counts, or weights and target sums;
    the within-bin sum of squares is the same on both sides of any split), so the tree is
    grown on those: ``bin_tree`` makes the same greedy choices as scikit-learn's
    ``DecisionTreeClassifier``/``DecisionTreeRegressor(max_depth=4)`` fitted on the rows,
    without their per-fit overhead (a test holds the two equal).
    """
    b = bins[train]
    if n_classes:
        counts = np.bincount(b * n_classes + y[train], minlength=n_bins * n_classes)
        totals = counts.reshape(n_bins, n_classes).astype(np.float64)
        present = np.flatnonzero(totals.sum(axis=1))
        return bin_tree(present, totals[present], n_bins, classification=True)
    weights = np.bincount(b, minlength=n_bins).astype(np.float64)
    sums = np.bincount(b, weights=np.asarray(y[train], dtype=np.float64), minlength=n_bins)
    present = np.flatnonzero(weights)
    stats = np.column_stack([weights[present], sums[present]])
    return bin_tree(present, stats, n_bins, classification=False)


def bin_tree(
    positions: IntArray,
    stats: FloatArray,
    n_bins: int,
    *,
    classification: bool,
    max_depth: int = 4,
) -> FloatArray:
    """A greedy decision tree over one ordinal feature given as per-bin totals.

    ``positions`` are the bins holding training rows, ascending; ``stats`` has a row for
    each: its class counts (classification), or its weight and target sum (regression). A
    split between neighbouring bins ``a < b`` sends bin ``x`` left when ``x <= (a + b) / 2``,
    as a tree fitted on the values would, so the empty bins between them (rows that only
    the test fold holds) land where that tree would put them. Each node takes the first
    split that minimises the weighted Gini impurity or squared error of its children; it
    stops at ``max_depth``, at one bin, or when pure. Returns the prediction for every bin
    ``0 .. n_bins - 1``: the leaf's class shares (n_bins × classes) or mean (n_bins).
    """
    out = np.zeros((n_bins, stats.shape[1]) if classification else n_bins)

    def leaf(part: FloatArray, first: int, last: int) -> None:
        total = part.sum(axis=0)
        if classification:
            out[first : last + 1] = total / total.sum()
        else:
            out[first : last + 1] = total[1] / total[0]

    def grow(lo: int, hi: int, first: int, last: int, depth: int) -> None:
        part = stats[lo:hi]
        if depth == max_depth or hi - lo < 2:
            leaf(part, first, last)
            return
        cumulative = np.cumsum(part, axis=0)
        left, total = cumulative[:-1], cumulative[-1]
        right = total - left
        if classification:
            if np.count_nonzero(total) < 2:  # pure
                leaf(part, first, last)
                return
            n_left, n_right = left.sum(axis=1), right.sum(axis=1)
            score = (left**2).sum(axis=1) / n_left + (right**2).sum(axis=1) / n_right
        else:
            means = part[:, 1] / part[:, 0]
            if means.max() - means.min() <= 0:  # pure
                leaf(part, first, last)
                return
            score = left[:, 1] ** 2 / left[:, 0] + right[:, 1] ** 2 / right[:, 0]
        cut = int(np.argmax(score)) + 1  # the first of the best: rows lo..lo+cut-1 go left
        edge = int(positions[lo + cut - 1] + positions[lo + cut]) // 2  # floor of the midpoint
        grow(lo, lo + cut, first, edge, depth + 1)
        grow(lo + cut, hi, edge + 1, last, depth + 1)

    grow(0, len(positions), 0, n_bins - 1, 0)
    return out


@dataclass(frozen=True)
class LeakageScores:
    """Each feature's cross-validated score alone, best first (None: not measurable)."""

    scores: list[tuple[str, float | None]]
    metric: str  # roc_auc, roc_auc_ovr_weighted or r2
    problem: str
    folds: int
    rows: int
    notes: list[str]

    @property
    def flagged(self) -> list[str]:
        return [n for n, s in self.scores if s is not None and s >= LEAKAGE_THRESHOLD]


def leakage_scores(
    df: pd.DataFrame,
    target: str,
    problem: str = "auto",
    *,
    folds: int = 3,
    max_rows: int = 20_000,
    seed: int = 0,
) -> LeakageScores:
    """How well each column alone predicts ``target``: a depth-4 decision tree per feature,
    scored out of fold by ROC-AUC (classes; one-vs-rest weighted for several) or R².

    Nulls in a numeric feature take its median; a categorical feature's values (nulls as
    one more value) are ordered by their training rows' mean target. Features are cut into
    at most 256 quantile bins, so each tree fits on a few hundred weighted rows.
    """
    from sklearn.model_selection import KFold, StratifiedKFold

    df = check_frame(df)
    require_column(df, target, "target")
    data, notes = rows_with_target(df, target, max_rows, seed)
    problem = resolve_problem(data[target], problem, target)
    data, y, classes, more = encode_target(data, target, problem)
    notes += more
    n = len(data)
    classification = problem == "classification"
    if classification:
        smallest = int(np.bincount(y).min())
        used = min(folds, smallest)
        if used < 2:
            raise ValueError(
                f"Every class of {target!r} needs at least 2 rows to cross-validate; its rarest "
                f"has {smallest}."
            )
        if used < folds:
            notes.append(f"Using {used} folds: the rarest class has only {smallest} rows.")
        splitter: Any = StratifiedKFold(used, shuffle=True, random_state=seed)
        metric = "roc_auc" if len(classes) == 2 else "roc_auc_ovr_weighted"
    else:
        used = folds
        splitter = KFold(used, shuffle=True, random_state=seed)
        metric = "r2"
    if n < 2 * used:
        raise ValueError(
            f"The leakage check needs at least {2 * used} rows with a target; {target!r} has {n}."
        )
    splits = list(splitter.split(np.zeros(n), y))
    features = [c for c in data.columns if c != target]
    if not features:
        raise ValueError(f"There is no column besides {target!r} to check.")
    if len(features) > MAX_LEAKAGE_FEATURES:
        notes.append(
            f"Checking the first {MAX_LEAKAGE_FEATURES} of {len(features)} feature columns."
        )
        features = features[:MAX_LEAKAGE_FEATURES]
    n_classes = len(classes) if classification else 0
    by_mean = not classification or n_classes == 2
    y_float = np.asarray(y, dtype=np.float64)
    total_squares = float(((y_float - y_float.mean()) ** 2).sum())
    prevalence = np.bincount(y, minlength=n_classes) / n if classification else np.zeros(0)

    scores: list[tuple[str, float | None]] = []
    skipped: list[str] = []
    for name in features:
        series = data[name]
        kind = column_kind(series)
        codes: IntArray | None = None
        fixed_bins: IntArray | None = None
        if kind == "categorical":
            raw, uniques = factorize(series)
            k = len(uniques) + 1
            codes = np.where(raw >= 0, raw, len(uniques)).astype(np.intp)  # null: its own value
        elif kind == "other" and not pd.api.types.is_timedelta64_dtype(series.dtype):
            skipped.append(name)
            continue
        else:
            values = numeric_values(series)
            finite = np.isfinite(values)
            if not finite.any():
                skipped.append(name)
                continue
            values[~finite] = float(np.median(values[finite]))
            fixed_bins = _quantile_bins(values)
        predicted = np.zeros((n, n_classes)) if classification else np.zeros(n)
        for train, test in splits:
            if codes is not None:
                # Categories are ranked on the training rows only, so no test row's own
                # target enters its encoding.
                bins = _quantile_bins(_ranked_categories(codes, k, train, y, by_mean))
            else:
                assert fixed_bins is not None
                bins = fixed_bins
            n_bins = int(bins.max()) + 1
            predicted[test] = _fold_tree(bins, n_bins, train, y, n_classes)[bins[test]]
        if not classification:
            residual = float(((y_float - predicted) ** 2).sum())
            score = 1.0 - residual / total_squares if total_squares else math.nan
        elif n_classes == 2:
            score = auc_score(y == 1, predicted[:, 1])
        else:
            score = float(
                sum(prevalence[c] * auc_score(y == c, predicted[:, c]) for c in range(n_classes))
            )
        scores.append((name, score if math.isfinite(score) else None))
    if skipped:
        quoted = ", ".join(repr(c) for c in skipped)
        notes.append(f"Not scored, for holding no usable values: {quoted}.")
    if not scores:
        raise ValueError(f"No column besides {target!r} holds values that can be scored.")
    scores.sort(key=lambda item: -math.inf if item[1] is None else item[1], reverse=True)
    return LeakageScores(scores, metric, problem, used, n, notes)


def _leakage(df: pd.DataFrame, p: dict[str, Any]) -> dict[str, Any]:
    target = require_column(df, p["target"], "target")
    result = leakage_scores(
        df,
        target,
        p["problem"],
        folds=p["folds"],
        max_rows=p["max_rows"],
        seed=p["seed"],
    )
    rows = [
        [
            name,
            rounded(s, 4),
            result.metric,
            "possible leakage" if s is not None and s >= LEAKAGE_THRESHOLD else "",
        ]
        for name, s in result.scores
    ]
    what = "ROC-AUC" if result.problem == "classification" else "R²"
    notes = [
        f"Each feature alone predicts {target!r} with a depth-4 decision tree, scored by "
        f"{result.folds}-fold cross-validated {what} on {_plural(result.rows, 'row')}. A score "
        f"of {LEAKAGE_THRESHOLD} or more from a single column is suspicious: it may be "
        "computed from the target or only known after it.",
        *result.notes,
    ]
    if result.flagged:
        quoted = ", ".join(repr(c) for c in result.flagged)
        notes.append(f"Possible leakage: {quoted}.")
    fig = _leakage_figure(result.scores, target, what)
    return _result(
        "target_leakage",
        f"Target leakage check for {target}",
        [fig],
        {"columns": ["feature", "score", "metric", "flag"], "rows": rows},
        notes,
    )


def _leakage_figure(scores: list[tuple[str, float | None]], target: str, what: str) -> go.Figure:
    values = [0.0 if s is None else s for _, s in scores]
    colours = [PALETTE[4] if v >= LEAKAGE_THRESHOLD else PALETTE[0] for v in values]
    fig = go.Figure(
        go.Bar(
            y=[name for name, _ in scores],
            x=[rounded(v, 4) for v in values],
            orientation="h",
            marker={"color": colours},
            hovertemplate=f"%{{y}}<br>{what} <b>%{{x:.3f}}</b><extra></extra>",
        )
    )
    style(fig, f"How well each column alone predicts {target}", what)
    fig.add_vline(
        x=LEAKAGE_THRESHOLD,
        line={"color": PALETTE[4], "dash": "dash", "width": 1},
        annotation_text=str(LEAKAGE_THRESHOLD),
        annotation_position="top",
    )
    fig.update_yaxes(type="category", autorange="reversed")
    fig.update_xaxes(range=[min(0.0, *values) - 0.02, 1.02])
    fig.update_layout(height=max(260, 22 * len(scores) + 90), showlegend=False)
    return fig


# ---------------------------------------------------------------- quick model


def _quick_model(df: pd.DataFrame, p: dict[str, Any]) -> dict[str, Any]:
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
    from sklearn.metrics import accuracy_score, f1_score, mean_squared_error, r2_score

    target = require_column(df, p["target"], "target")
    seed = p["seed"]
    data = prepare_model_data(df, target, p["problem"], max_rows=p["max_rows"], seed=seed)
    x_train, x_test, y_train, y_test = split_model_data(data, seed)
    notes = list(data.notes)
    classification = data.problem == "classification"
    # A square root of the features per split, for the regressor too: its default (all of
    # them) takes about six times as long, and this is a quick first look.
    options = {"n_estimators": 100, "max_features": "sqrt", "n_jobs": 2, "random_state": seed}
    model: Any = (
        RandomForestClassifier(**options) if classification else RandomForestRegressor(**options)
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(x_train, y_train)
        predicted = model.predict(x_test)
    held_out = f"on {_plural(len(y_test), 'held-out row')} (trained on {len(y_train):,})"
    if classification:
        accuracy = float(accuracy_score(y_test, predicted))
        f1 = float(
            f1_score(
                y_test,
                predicted,
                average="macro",
                labels=list(range(len(data.classes))),
                zero_division=0,
            )
        )
        baseline = float(np.bincount(y_test).max() / len(y_test))
        notes.insert(
            0,
            f"Accuracy {accuracy:.3f} and macro F1 {f1:.3f} {held_out}; always answering the "
            f"most frequent class would score an accuracy of {baseline:.3f}.",
        )
    else:
        mse = float(mean_squared_error(y_test, predicted))
        r2 = float(r2_score(y_test, predicted))
        notes.insert(
            0,
            f"MSE {rounded(mse, 4)} and R² {r2:.3f} {held_out}; always answering the mean "
            "would score an R² of about 0.",
        )
    importances = [float(v) for v in model.feature_importances_]
    order = np.argsort(-np.asarray(importances), kind="stable")
    table = {
        "columns": ["feature", "importance"],
        "rows": [[data.names[i], rounded(importances[i], 4)] for i in order],
    }
    kind_name = "classifier" if classification else "regressor"
    fig = importance_figure(data.names, importances, "What the random forest relies on")
    return _result(
        "quick_model",
        f"Quick model: a random forest {kind_name} predicting {target}",
        [fig],
        table,
        notes,
    )


# ---------------------------------------------------------------- entry point


_RUNNERS: Final[dict[str, Callable[[pd.DataFrame, dict[str, Any]], dict[str, Any]]]] = {
    "summary": _summary,
    "histogram": _histogram,
    "scatter": _scatter,
    "box": _box,
    "correlation": _correlation,
    "target_leakage": _leakage,
    "quick_model": _quick_model,
}


def run_analysis(
    df: pd.DataFrame, kind: str, params: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Run the analysis ``kind`` on ``df``: ``{"kind", "title", "figures", "table", "notes"}``.

    ``figures`` are plotly figure dicts; ``table`` is ``{"columns", "rows"}`` or None. A
    request the user can fix raises ValueError with a sentence saying what to change.
    """
    if kind not in _RUNNERS:
        raise ValueError(f"Unknown analysis {kind!r}; use one of {', '.join(ANALYSES)}.")
    checked = _check_params(kind, params)
    df = check_frame(df)
    with np.errstate(all="ignore"):
        return _RUNNERS[kind](df, checked)
