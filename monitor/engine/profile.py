"""Statistics of a table as JSON-ready documents: the baseline a monitoring schedule compares
against (``profile_table``) and the same statistics of captured traffic binned on the
baseline's edges and categories (``profile_against``).

Document shape (``version`` 1)::

    {"version": 1, "num_rows": int, "columns": [column, ...]}

Each column holds ``name``, ``inferred_type``, ``kind``, ``count`` (non-missing values),
``missing``, ``completeness`` (``count / num_rows``; null for a table of no rows) and either a
``numeric`` or a ``categorical`` block. ``profile_against`` adds ``type_mismatch`` to every
column; a datetime column also carries ``"datetime": true``.

Invariants:

- ``inferred_type`` follows SageMaker Model Monitor: integer dtypes are ``Integral``, floats
  and decimals ``Fractional``, booleans ``Boolean``, everything else ``String`` (text that
  reads as numbers included: the type is what the data is, not what it could be parsed
  as). A column with no value is ``Unknown``. Datetimes are profiled as numbers, seconds
  since 1970-01-01 UTC, typed ``Fractional``. ``kind`` is ``numeric`` for
  Integral/Fractional and ``categorical`` otherwise.
- Missing values are null, NaN, NaT and, for numbers, ±inf; they count in ``missing`` and
  never in a bucket.
- Buckets (one convention, one helper, :func:`bucket_counts`): for strictly increasing
  edges ``e0 < … < ek`` there are ``k + 2`` buckets, ``(-inf, e0]``, ``(e0, e1]``, …,
  ``(e(k-1), ek]``, ``(ek, +inf)``: bucket ``i`` holds ``v`` with ``e(i-1) < v <= e(i)``,
  which is ``np.searchsorted(edges, v, side="left") == i``. ``at_edges[i]`` counts the
  values equal to ``e(i)``, so each bucket splits into its inside and its right edge: values
  below ``e0`` are ``counts[0] - at_edges[0]``, and CDFs are exact on both sides of an edge.
  Bucket counts are exact over every non-missing number of the column.
- A baseline's edges are its distinct values when there are at most ``bins + 1`` of them,
  else its unique quantiles at ``bins + 1`` levels (:func:`edge_levels`: an even grid plus
  the 0.0001, 0.0002, 0.0005, 0.001, 0.002 and 0.005 levels and their mirrors, so the tails
  are finely cut too); ``e0`` is the column's minimum and ``ek`` its maximum, so the
  reference's last bucket and the values below its first edge are always 0.
- Quantiles use numpy's default (linear) interpolation. Up to ``sample_size`` values
  (1,000,000 by default) they, the edges and ``distinct`` are exact, from one sort of the
  column; beyond it they come from a uniform sample of ``sample_size`` values drawn with a
  fixed seed, and ``distinct`` is a K-minimum-values estimate (about 2 % error) unless the
  sample shows fewer than 4,096 distinct values (then it is exact). Counts, ``count``,
  ``missing``, ``mean``, ``std`` (sample, ``ddof=1``), ``min``, ``max`` and ``sum`` are
  always exact (up to float64 rounding: integers beyond 2**53 lose precision).
- Categories are compared as text: ``str`` of the value, with booleans ``"True"``/``"False"``
  and whole floats written as integers (``1.0`` is ``"1"``). ``frequencies`` holds the
  ``top_categories`` most frequent (ties by name), ``other`` the count of the rest;
  ``distinct`` is exact.
- Everything is plain Python (``int``, ``float``, ``str``, ``list``, ``dict``, ``None``): no
  numpy scalars, no non-finite floats (they become null).
- A Parquet path is read one column at a time, so memory stays near one column (plus its
  sorted copy) per worker thread; columns are profiled on up to ``min(4, cpus)`` threads
  (numpy's sort and search release the GIL).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

VERSION = 1
QUANTILES: tuple[float, ...] = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
SAMPLE_SIZE = 1_000_000
SEED = 20240601
NUMERIC_TYPES = frozenset({"Integral", "Fractional"})
INFERRED_TYPES = frozenset({"Integral", "Fractional", "String", "Boolean", "Unknown"})

# K of the K-minimum-values estimate of distinct values: relative error about 1/sqrt(K).
_KMV_K = 4096
_TWO_64 = float(2**64)
_THREADED_ROWS = 50_000
# Extra quantile levels in each tail: between the 1st percentile and the extremes a bucket of
# an even grid is wide, and spreading its mass evenly is where a Wasserstein distance from
# buckets loses most (up to 25 % on lognormal data with an even grid, a few % with these).
_TAIL_LEVELS = (1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3)
_BOOLEAN_TEXT = {
    "true": "True",
    "false": "False",
    "1": "True",
    "0": "False",
    "1.0": "True",
    "0.0": "False",
}

Floats: TypeAlias = npt.NDArray[np.float64]
Source: TypeAlias = "pd.DataFrame | pa.Table | str | Path"
Raw: TypeAlias = "pd.Series | pa.ChunkedArray"


# ---------------------------------------------------------------------------- helpers


def bucket_counts(
    values: npt.ArrayLike, edges: npt.ArrayLike, *, presorted: bool = False
) -> npt.NDArray[np.int64]:
    """Counts of ``values`` in the ``len(edges) + 1`` buckets ``(-inf, e0]``, ``(e0, e1]``, …,
    ``(ek, +inf)`` (bucket ``i`` is ``np.searchsorted(edges, v, side="left") == i``).

    Non-finite values are ignored. ``presorted=True`` promises ascending ``values`` and
    costs O(len(edges) · log n) instead of O(n · log len(edges)); both give the same counts.
    """
    v = np.asarray(values, dtype=np.float64)
    e = np.asarray(edges, dtype=np.float64)
    if presorted:
        # NaN sorts last and ±inf sit at the ends: slice the finite run out.
        lo = int(np.searchsorted(v, -np.inf, side="right"))
        hi = int(np.searchsorted(v, np.inf, side="left"))
        v = v[lo:hi]
        upto = np.searchsorted(v, e, side="right")
        bounds = np.concatenate(([0], upto, [v.size])).astype(np.int64)
        return np.diff(bounds)
    if v.size and not np.isfinite(v).all():
        v = v[np.isfinite(v)]
    idx = np.searchsorted(e, v, side="left")
    return np.bincount(idx, minlength=e.size + 1).astype(np.int64)


def edge_counts(
    values: Floats, edges: npt.ArrayLike, *, presorted: bool = False
) -> npt.NDArray[np.int64]:
    """How many of ``values`` equal each edge (``presorted`` as for :func:`bucket_counts`)."""
    e = np.asarray(edges, dtype=np.float64)
    if presorted:
        left = np.searchsorted(values, e, side="left")
        right = np.searchsorted(values, e, side="right")
        return (right - left).astype(np.int64)
    idx = np.searchsorted(e, values, side="left")
    hit = idx < e.size
    hit[hit] = e[idx[hit]] == values[hit]
    return np.bincount(idx[hit], minlength=e.size).astype(np.int64)


def sorted_quantiles(sorted_values: Floats, qs: npt.ArrayLike) -> Floats:
    """Quantiles of ascending finite values, numpy's default linear method, in O(len(qs))."""
    q = np.asarray(qs, dtype=np.float64)
    n = sorted_values.size
    pos = q * (n - 1)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, n - 1)
    t = pos - lo
    a, b = sorted_values[lo], sorted_values[hi]
    d = b - a
    # numpy's _lerp: interpolating from the nearer end keeps results monotone in q.
    out: Floats = np.where(t >= 0.5, b - d * (1 - t), a + d * t)
    return out


def edge_levels(bins: int) -> Floats:
    """The quantile levels a column with many distinct values takes its edges at: an even
    grid plus finer steps in both tails, ``bins + 1`` levels in all."""
    if bins < 2 * len(_TAIL_LEVELS):
        return np.linspace(0.0, 1.0, bins + 1)
    tails = np.asarray(_TAIL_LEVELS)
    grid = np.linspace(0.0, 1.0, bins + 1 - 2 * tails.size)
    levels: Floats = np.unique(np.concatenate((grid, tails, 1.0 - tails)))
    return levels


def finite_or_none(value: float | None) -> float | None:
    """A float, or None when it is missing or not finite (JSON has no NaN)."""
    if value is None:
        return None
    f = float(value)
    return f if math.isfinite(f) else None


def _number(value: float, integral: bool) -> float | int | None:
    f = finite_or_none(value)
    if f is None:
        return None
    if integral and f.is_integer():
        return int(f)
    return f


def category_key(value: Any) -> str:
    """The text a category is compared as: booleans ``True``/``False``, whole numbers as
    integers, anything else ``str``."""
    if isinstance(value, bool | np.bool_):
        return "True" if value else "False"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        f = float(value)
        return str(int(f)) if f.is_integer() else repr(f)
    return str(value)


def _hash64(values: Floats) -> npt.NDArray[np.uint64]:
    """splitmix64 of the float bits (``-0.0`` folded into ``0.0``): a uniform 64-bit hash."""
    z = (values + 0.0).view(np.uint64)
    with np.errstate(over="ignore"):
        z = z + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    out: npt.NDArray[np.uint64] = z ^ (z >> np.uint64(31))
    return out


def _estimate_distinct(values: Floats, sample_uniques: Floats) -> int:
    """Distinct finite values of a column too large to sort (see the module docstring)."""
    if sample_uniques.size < _KMV_K:
        # Few distinct values: a hash table of them is small, so count exactly.
        return int(pd.unique(values).size)
    # The sample's K smallest distinct hashes bound the column's K-th smallest from above,
    # so only values hashing at or below it need keeping.
    bound = np.sort(_hash64(sample_uniques))[_KMV_K - 1]
    kept: list[npt.NDArray[np.uint64]] = []
    step = 1 << 20
    for start in range(0, values.size, step):
        h = _hash64(values[start : start + step])
        kept.append(h[h <= bound])
    smallest = np.unique(np.concatenate(kept))
    kth = float(smallest[_KMV_K - 1]) + 1.0
    return int(min(values.size, max(smallest.size, round((_KMV_K - 1) * _TWO_64 / kth))))


# ---------------------------------------------------------------------------- blocks


def _numeric_block(
    finite: Floats,
    *,
    integral: bool,
    bins: int,
    sample_size: int,
    edges: Floats | None = None,
) -> dict[str, Any]:
    """The ``numeric`` block of finite values, on ``edges`` when given (else its own)."""
    n = finite.size
    if n == 0:
        e = edges if edges is not None else np.empty(0, dtype=np.float64)
        return {
            "mean": None,
            "std": None,
            "min": None,
            "max": None,
            "sum": 0,
            "quantiles": {str(q): None for q in QUANTILES},
            "edges": [float(x) for x in e],
            "counts": [0] * (e.size + 1),
            "at_edges": [0] * e.size,
            "distinct": 0,
        }
    exact = n <= sample_size
    if exact:
        s = np.sort(finite)
        vmin, vmax = float(s[0]), float(s[-1])
    else:
        rng = np.random.default_rng(SEED)
        s = np.sort(finite[rng.integers(0, n, size=sample_size)])
        vmin, vmax = float(finite.min()), float(finite.max())
    new = np.empty(s.size, dtype=bool)
    new[0] = True
    np.not_equal(s[1:], s[:-1], out=new[1:])
    uniques = s[new]
    distinct = int(uniques.size) if exact else _estimate_distinct(finite, uniques)
    if edges is None:
        if uniques.size <= bins + 1:
            grid = uniques
        else:
            grid = np.unique(sorted_quantiles(s, edge_levels(bins)))
        # A sample's extremes sit inside the column's: pin the outer edges to the true ones.
        edges = np.unique(np.concatenate(([vmin], grid, [vmax])))
    if exact:
        counts = bucket_counts(s, edges, presorted=True)
    else:
        counts = bucket_counts(finite, edges)
    at_edges = edge_counts(s if exact else finite, edges, presorted=exact)
    total = float(finite.sum())
    std = float(finite.std(ddof=1)) if n > 1 else None
    quantiles = sorted_quantiles(s, QUANTILES)
    return {
        "mean": finite_or_none(total / n),
        "std": finite_or_none(std),
        "min": _number(vmin, integral),
        "max": _number(vmax, integral),
        "sum": _number(total, integral),
        "quantiles": {
            str(q): finite_or_none(float(v)) for q, v in zip(QUANTILES, quantiles, strict=True)
        },
        "edges": [float(x) for x in edges],
        "counts": [int(c) for c in counts],
        "at_edges": [int(c) for c in at_edges],
        "distinct": distinct,
    }


def _categorical_block(
    counts: pd.Series, *, top_categories: int, first: Sequence[str] = ()
) -> dict[str, Any]:
    """The ``categorical`` block of value counts keyed by category text.

    ``first`` names categories listed whenever present (a baseline's, in its order), ahead
    of the ``top_categories`` most frequent others.
    """
    counts = counts[counts > 0]
    if counts.index.has_duplicates:
        counts = counts.groupby(level=0, sort=False).sum()
    keys = [str(k) for k in counts.index]
    values = [int(c) for c in counts.to_numpy()]
    frequencies: dict[str, int] = {}
    present = dict(zip(keys, values, strict=True))
    for name in first:
        if name in present:
            frequencies[name] = present.pop(name)
    ranked = sorted(present.items(), key=lambda kv: (-kv[1], kv[0]))
    for name, c in ranked[:top_categories]:
        frequencies[name] = c
    other = sum(c for _, c in ranked[top_categories:])
    return {"distinct": len(keys), "frequencies": frequencies, "other": int(other)}


def _empty_categorical() -> dict[str, Any]:
    return {"distinct": 0, "frequencies": {}, "other": 0}


# ---------------------------------------------------------------------------- columns


def _datetime_seconds(series: pd.Series) -> Floats:
    s = series
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        s = s.dt.tz_convert("UTC").dt.tz_localize(None)
    stamps = np.asarray(s.to_numpy(dtype="datetime64[ns]"))
    out: Floats = stamps.astype(np.int64).astype(np.float64) / 1e9
    out[np.isnat(stamps)] = np.nan
    return out


def _is_datetime(series: pd.Series) -> bool:
    return bool(pd.api.types.is_datetime64_any_dtype(series.dtype))


def _as_series(raw: Raw) -> pd.Series:
    series: pd.Series = raw if isinstance(raw, pd.Series) else raw.to_pandas()
    return series


def _arrow_numeric(raw: pa.ChunkedArray) -> Floats | None:
    """Float64 values of a numeric or boolean Arrow column (NaN where null), else None."""
    t = raw.type
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
        out: Floats = np.asarray(raw.cast(pa.float64()).to_numpy(), dtype=np.float64)
        return out
    return None


def _series_type(series: pd.Series) -> tuple[str, bool]:
    """(inferred type before the all-missing rule, is it a datetime)."""
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "Boolean", False
    if _is_datetime(series):
        return "Fractional", True
    if isinstance(dtype, pd.CategoricalDtype):
        return "String", False
    if pd.api.types.is_integer_dtype(dtype):
        return "Integral", False
    if pd.api.types.is_float_dtype(dtype):
        return "Fractional", False
    if pd.api.types.is_object_dtype(dtype):
        inferred = pd.api.types.infer_dtype(series, skipna=True)
        if inferred == "integer":
            return "Integral", False
        if inferred in ("floating", "mixed-integer-float", "decimal"):
            return "Fractional", False
        if inferred == "boolean":
            return "Boolean", False
        if inferred in ("datetime", "datetime64", "date"):
            return "Fractional", True
    return "String", False


def _raw_type(raw: Raw) -> tuple[str, bool]:
    if isinstance(raw, pa.ChunkedArray):
        t = raw.type
        if pa.types.is_integer(t):
            return "Integral", False
        if pa.types.is_floating(t) or pa.types.is_decimal(t):
            return "Fractional", False
        if pa.types.is_boolean(t):
            return "Boolean", False
        if pa.types.is_timestamp(t) or pa.types.is_date(t):
            return "Fractional", True
        if _is_arrow_text(t):
            return "String", False
        if pa.types.is_null(t):
            return "Unknown", False
        return _series_type(raw.to_pandas())
    return _series_type(raw)


def _is_arrow_text(t: pa.DataType) -> bool:
    if pa.types.is_dictionary(t):
        return _is_arrow_text(t.value_type)
    return bool(pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t))


def _arrow_text(raw: pa.ChunkedArray) -> pa.ChunkedArray | None:
    """A text Arrow column with any dictionary decoded, else None."""
    t = raw.type
    if not _is_arrow_text(t):
        return None
    if pa.types.is_dictionary(t):
        return raw.cast(t.value_type)
    return raw


def _numbers(raw: Raw, *, datetime: bool = False) -> tuple[Floats, int]:
    """(float64 values, NaN where missing or not a number; count of non-missing values that
    are not numbers). Text is parsed with ``pd.to_numeric`` (datetimes: ``pd.to_datetime``)."""
    if isinstance(raw, pa.ChunkedArray):
        fast = _arrow_numeric(raw)
        if fast is not None:
            return fast, 0
        if pa.types.is_boolean(raw.type):
            return np.asarray(raw.cast(pa.float64()).to_numpy(), dtype=np.float64), 0
        if pa.types.is_date(raw.type):
            raw = raw.cast(pa.timestamp("ms"))
    series = _as_series(raw)
    dtype = series.dtype
    if _is_datetime(series):
        return _datetime_seconds(series), 0
    if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype):
        if not isinstance(dtype, pd.CategoricalDtype):
            values = series.to_numpy(dtype=np.float64, na_value=np.nan)
            return np.asarray(values, dtype=np.float64), 0
    if isinstance(dtype, pd.CategoricalDtype):
        series = series.astype(object)
    missing = series.isna().to_numpy()
    if datetime:
        stamps = pd.to_datetime(series, errors="coerce", utc=True, format="mixed")
        parsed = _datetime_seconds(pd.Series(stamps))
    else:
        numeric = pd.to_numeric(series, errors="coerce")
        parsed = np.asarray(numeric.to_numpy(dtype=np.float64, na_value=np.nan))
    failed = int(np.count_nonzero(np.isnan(parsed) & ~missing))
    return parsed, failed


def _value_counts(raw: Raw) -> tuple[pd.Series, int]:
    """(counts keyed by category text, number missing)."""
    if isinstance(raw, pa.ChunkedArray):
        text = _arrow_text(raw)
        if text is not None:
            vc = text.value_counts()
            values = vc.field("values")
            keep = values.is_valid()
            keys = values.filter(keep).to_pylist()
            counts = vc.field("counts").filter(keep).to_numpy()
            return pd.Series(counts, index=pd.Index(keys, dtype=object)), int(raw.null_count)
    series = _as_series(raw)
    missing = int(series.isna().sum())
    vc = series.value_counts(dropna=True, sort=False)
    if pd.api.types.is_string_dtype(vc.index.dtype) and not pd.api.types.is_object_dtype(
        vc.index.dtype
    ):
        return vc, missing
    vc.index = pd.Index([category_key(k) for k in vc.index], dtype=object)
    return vc, missing


def _column(
    name: str,
    raw: Raw,
    num_rows: int,
    *,
    bins: int,
    top_categories: int,
    sample_size: int,
) -> dict[str, Any]:
    """A column's statistics on its own (the baseline's, or an extra current column)."""
    inferred, is_datetime = _raw_type(raw)
    if inferred in NUMERIC_TYPES:
        values, _ = _numbers(raw, datetime=is_datetime)
        finite = values[np.isfinite(values)]
        if finite.size:
            integral = inferred == "Integral"
            block = _numeric_block(finite, integral=integral, bins=bins, sample_size=sample_size)
            out = _header(name, inferred, "numeric", finite.size, num_rows)
            if is_datetime:
                out["datetime"] = True
            out["numeric"] = block
            return out
        return _header(name, "Unknown", "categorical", 0, num_rows) | {
            "categorical": _empty_categorical()
        }
    if inferred == "Unknown":
        return _header(name, "Unknown", "categorical", 0, num_rows) | {
            "categorical": _empty_categorical()
        }
    counts, missing = _value_counts(raw)
    count = num_rows - missing
    if count == 0:
        inferred = "Unknown"
    out = _header(name, inferred, "categorical", count, num_rows)
    out["categorical"] = _categorical_block(counts, top_categories=top_categories)
    return out


def _header(name: str, inferred: str, kind: str, count: int, num_rows: int) -> dict[str, Any]:
    return {
        "name": name,
        "inferred_type": inferred,
        "kind": kind,
        "count": int(count),
        "missing": int(num_rows - count),
        "completeness": (count / num_rows) if num_rows else None,
    }


def _column_against(
    base: dict[str, Any],
    raw: Raw,
    num_rows: int,
    *,
    top_categories: int,
    sample_size: int,
) -> dict[str, Any]:
    """A current column binned on its baseline column's edges or categories."""
    name = str(base["name"])
    inferred = str(base["inferred_type"])
    if base["kind"] == "numeric":
        values, failed = _numbers(raw, datetime=bool(base.get("datetime")))
        finite_mask = np.isfinite(values)
        finite = values[finite_mask]
        # NaN after parsing is missing or a failed parse; ±inf is missing.
        missing = int(np.count_nonzero(~finite_mask)) - failed
        integral = inferred == "Integral"
        mismatch = failed
        if integral and finite.size:
            mismatch += int(np.count_nonzero(finite != np.floor(finite)))
        edges = np.asarray(base["numeric"]["edges"], dtype=np.float64)
        block = _numeric_block(
            finite, integral=integral, bins=0, sample_size=sample_size, edges=edges
        )
        out = _header(name, inferred, "numeric", num_rows - missing, num_rows)
        if base.get("datetime"):
            out["datetime"] = True
        out["type_mismatch"] = mismatch
        out["numeric"] = block
        return out
    counts, missing = _value_counts(raw)
    mismatch = 0
    if inferred == "Boolean" and len(counts):
        # Captures carry booleans as text ("true", "0"…): read them as the baseline did.
        mapped = [_BOOLEAN_TEXT.get(str(k).strip().lower(), str(k)) for k in counts.index]
        counts.index = pd.Index(mapped, dtype=object)
        known = counts.index.isin(["True", "False"])
        mismatch = int(counts[~known].sum())
    out = _header(name, inferred, "categorical", num_rows - missing, num_rows)
    out["type_mismatch"] = mismatch
    baseline_names = list(base["categorical"]["frequencies"])
    out["categorical"] = _categorical_block(
        counts, top_categories=top_categories, first=baseline_names
    )
    return out


# ---------------------------------------------------------------------------- sources


class _Table:
    """Column-at-a-time access to a DataFrame, an Arrow table or a Parquet file."""

    def __init__(self, source: Source) -> None:
        self._frame: pd.DataFrame | None = None
        self._table: pa.Table | None = None
        self._path: str | None = None
        if isinstance(source, pd.DataFrame):
            self._frame = source
            self.names = [str(c) for c in source.columns]
            self.num_rows = len(source)
        elif isinstance(source, pa.Table):
            self._table = source
            self.names = [str(c) for c in source.column_names]
            self.num_rows = source.num_rows
        elif isinstance(source, str | Path):
            self._path = str(source)
            pf = pq.ParquetFile(self._path)
            self.names = list(pf.schema_arrow.names)
            self.num_rows = pf.metadata.num_rows
        else:
            raise TypeError(f"cannot profile a {type(source).__name__}")
        if len(set(self.names)) != len(self.names):
            raise ValueError("column names must be unique")

    def column(self, name: str) -> Raw:
        column: Raw
        if self._frame is not None:
            column = self._frame.iloc[:, self.names.index(name)]
        elif self._table is not None:
            column = self._table.column(self.names.index(name))
        else:
            # A fresh reader per column: workers read concurrently without sharing one.
            table = pq.ParquetFile(self._path).read(columns=[name], use_threads=True)
            column = table.column(0)
        return column


def _workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))


def _each_column(
    names: Sequence[str],
    work: Callable[[str], dict[str, Any]],
    on_progress: Callable[[float], None] | None,
    num_rows: int,
) -> list[dict[str, Any]]:
    """``work`` over the columns in order, on a few threads, reporting progress in order."""
    out: list[dict[str, Any]] = []
    total = len(names)
    # Threads only pay for themselves on long columns.
    workers = min(_workers(), total) if num_rows >= _THREADED_ROWS else 1
    if workers <= 1:
        results = map(work, names)
        for i, result in enumerate(results, 1):
            out.append(result)
            if on_progress is not None:
                on_progress(i / total)
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            # map() runs at most `workers` columns at once; results are small dicts.
            for i, result in enumerate(pool.map(work, names), 1):
                out.append(result)
                if on_progress is not None:
                    on_progress(i / total)
    if on_progress is not None and total == 0:
        on_progress(1.0)
    return out


# ---------------------------------------------------------------------------- public


def profile_table(
    source: Source,
    *,
    columns: Sequence[str] | None = None,
    bins: int = 100,
    top_categories: int = 1000,
    sample_size: int = SAMPLE_SIZE,
    on_progress: Callable[[float], None] | None = None,
) -> dict[str, Any]:
    """The statistics document of ``source`` (a DataFrame, an Arrow table or a Parquet path).

    ``columns`` restricts (and orders) the columns profiled; ``bins`` is the most buckets a
    numeric column's edges make (``bins + 1`` edges); ``on_progress`` gets the fraction of
    columns done after each column.
    """
    if bins < 1:
        raise ValueError("bins must be at least 1")
    if top_categories < 0 or sample_size < 1:
        raise ValueError("top_categories must be >= 0 and sample_size >= 1")
    table = _Table(source)
    names = list(table.names if columns is None else columns)
    unknown = [n for n in names if n not in table.names]
    if unknown:
        raise KeyError(f"no column {unknown[0]!r} in the data")

    def work(name: str) -> dict[str, Any]:
        return _column(
            name,
            table.column(name),
            table.num_rows,
            bins=bins,
            top_categories=top_categories,
            sample_size=sample_size,
        )

    return {
        "version": VERSION,
        "num_rows": int(table.num_rows),
        "columns": _each_column(names, work, on_progress, table.num_rows),
    }


def profile_against(
    baseline: dict[str, Any],
    source: Source,
    *,
    top_categories: int = 1000,
    sample_size: int = SAMPLE_SIZE,
    on_progress: Callable[[float], None] | None = None,
) -> dict[str, Any]:
    """The statistics of ``source`` (current traffic) in the shape of the ``baseline``.

    Every column of ``source`` appears, in its order. A baseline column keeps the baseline's
    type and kind: numbers are counted on the baseline's edges (``numeric`` also holds the
    current's own mean, std, min, max, sum, quantiles and distinct), categories list the
    baseline's categories seen (in the baseline's order) and then the ``top_categories``
    most frequent new ones. Text in a numeric column is parsed with
    ``pd.to_numeric(errors="coerce")``; what does not parse counts in ``type_mismatch``, not
    in ``missing``, as do non-whole numbers in an ``Integral`` column (still binned) and
    values of a ``Boolean`` column that are not ``True``/``False`` (as text: ``true``,
    ``false``, ``1``, ``0`` in any case). Text columns never mismatch. A column the baseline
    lacks is profiled on its own, with ``type_mismatch`` 0.
    """
    by_name = {str(c["name"]): c for c in baseline["columns"]}
    table = _Table(source)

    def work(name: str) -> dict[str, Any]:
        raw = table.column(name)
        base = by_name.get(name)
        if base is None:
            out = _column(
                name,
                raw,
                table.num_rows,
                bins=100,
                top_categories=top_categories,
                sample_size=sample_size,
            )
            out["type_mismatch"] = 0
            return out
        return _column_against(
            base, raw, table.num_rows, top_categories=top_categories, sample_size=sample_size
        )

    return {
        "version": VERSION,
        "num_rows": int(table.num_rows),
        "columns": _each_column(table.names, work, on_progress, table.num_rows),
    }
