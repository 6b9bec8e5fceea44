"""Profile a Parquet dataset column by column without ever loading it whole.

A first streaming pass over record batches updates one accumulator per column with
vectorised pyarrow/numpy kernels; a second pass, over numeric and datetime columns only,
fills histogram bins once their ranges are known. Memory is bounded by one batch plus small
per-column sketches.

Exactness: count, missing, min, max, mean and std are exact. Distinct counts are exact (up to
64-bit hash collisions) while a column has at most DISTINCT_EXACT_LIMIT distinct values;
beyond that they are a K-minimum-values estimate (about 1.6% relative error). Top values are
exact while a column has at most TOP_TRACK_LIMIT distinct values (and no batch has more than
TOP_BATCH_LIMIT); beyond that their counts are lower bounds. Either case sets `approximate`.
NaN counts as missing; ±inf counts as present but stays out of min/max/mean/std/histogram.
"""

from __future__ import annotations

import heapq
from dataclasses import replace
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pandas.util import hash_array

from studio.engine.contracts import ColumnProfile, DatasetProfile, Histogram, Scalar, ValueCount
from studio.engine.progress import ProgressCallback, ThrottledProgress

DISTINCT_EXACT_LIMIT: Final = 100_000
_KMV_K: Final = 4096
TOP_TRACK_LIMIT: Final = 50_000
TOP_BATCH_LIMIT: Final = 10_000
# A string column is categorical when it has few distinct, short values; otherwise text.
CATEGORICAL_MAX_DISTINCT: Final = 1000
CATEGORICAL_MAX_MEAN_LENGTH: Final = 64
TOP_VALUE_MAX_CHARS: Final = 200
_BATCH_ROWS: Final = 128 * 1024
# Share of the progress bar given to the first pass when a histogram pass follows it.
_FIRST_PASS_SHARE: Final = 0.7

UInt64Array = npt.NDArray[np.uint64]
FloatArray = npt.NDArray[np.float64]


def profile_parquet(
    path: Path,
    *,
    bins: int = 20,
    top_k: int = 10,
    on_progress: ProgressCallback | None = None,
) -> DatasetProfile:
    """Profile every column of the Parquet file at `path` in at most two streaming passes."""
    with pq.ParquetFile(path) as source:
        num_rows = source.metadata.num_rows
        columns = [_ColumnStats(field) for field in source.schema_arrow]
        ranged = [c for c in columns if c.kind in ("numeric", "datetime")]
        first_share = _FIRST_PASS_SHARE if ranged else 1.0
        report = ThrottledProgress(on_progress)

        done = 0
        for batch in source.iter_batches(batch_size=_BATCH_ROWS):
            for stats, array in zip(columns, batch.columns, strict=True):
                stats.update(array)
            done += batch.num_rows
            report(first_share * done / max(num_rows, 1))

        binned = [c for c in ranged if c.start_histogram(bins)]
        if binned:
            done = 0
            names = [c.name for c in binned]
            for batch in source.iter_batches(batch_size=_BATCH_ROWS, columns=names):
                for stats in binned:
                    stats.add_to_histogram(batch.column(stats.name))
                done += batch.num_rows
                report(first_share + (1.0 - first_share) * done / max(num_rows, 1))
    report(1.0)
    return DatasetProfile(
        num_rows=num_rows, columns=tuple(c.result(num_rows, top_k) for c in columns)
    )


def _kind_of(dtype: pa.DataType) -> str:
    """The profile kind of an Arrow type; string columns are refined after the pass."""
    if pa.types.is_dictionary(dtype):
        return _kind_of(dtype.value_type)
    if pa.types.is_boolean(dtype):
        return "boolean"
    if pa.types.is_integer(dtype) or pa.types.is_floating(dtype) or pa.types.is_decimal(dtype):
        return "numeric"
    if pa.types.is_date(dtype) or pa.types.is_timestamp(dtype):
        return "datetime"
    if pa.types.is_string(dtype) or pa.types.is_large_string(dtype):
        return "categorical"
    # Binary, nested, time and null columns get counts only.
    return "text"


class _DistinctSketch:
    """Exact set of 64-bit value hashes that degrades to a K-minimum-values sketch."""

    def __init__(self) -> None:
        self.hashes: UInt64Array = np.empty(0, dtype=np.uint64)
        self.exact = True

    def add(self, hashes: UInt64Array) -> None:
        # Callers hash already-unique values, so only collisions and overlap with earlier
        # batches repeat; deduplicating after the merge catches both.
        if not self.exact and len(hashes) > _KMV_K:
            # Only the K smallest can survive: select them in linear time before sorting.
            hashes = np.partition(hashes, _KMV_K - 1)[:_KMV_K]
        merged = np.concatenate([self.hashes, hashes])
        merged.sort()
        if len(merged) > 1:
            merged = merged[np.concatenate(([True], merged[1:] != merged[:-1]))]
        if self.exact and len(merged) > DISTINCT_EXACT_LIMIT:
            self.exact = False
        self.hashes = merged if self.exact else merged[:_KMV_K]

    def estimate(self) -> int:
        if self.exact:
            return len(self.hashes)
        kth = float(self.hashes[_KMV_K - 1]) / 2.0**64
        return round((_KMV_K - 1) / kth)


class _TopCounter:
    """Value counts merged across batches, pruned to the most frequent when they grow large."""

    def __init__(self) -> None:
        self.counts: dict[Scalar, int] = {}
        self.approximate = False

    def add(self, value_counts: pa.StructArray) -> None:
        values = value_counts.field("values")
        counts = value_counts.field("counts")
        if len(values) > TOP_BATCH_LIMIT:
            order = pc.array_sort_indices(counts, order="descending")[:TOP_BATCH_LIMIT]
            values, counts = values.take(order), counts.take(order)
            self.approximate = True
        for value, count in zip(values.to_pylist(), counts.to_pylist(), strict=True):
            self.counts[value] = self.counts.get(value, 0) + count
        if len(self.counts) > TOP_TRACK_LIMIT:
            kept = heapq.nlargest(TOP_BATCH_LIMIT, self.counts.items(), key=lambda vc: vc[1])
            self.counts = dict(kept)
            self.approximate = True

    def top(self, k: int) -> tuple[ValueCount, ...]:
        # Ties are broken by the value's text so that profiles are reproducible.
        best = heapq.nsmallest(k, self.counts.items(), key=lambda vc: (-vc[1], str(vc[0])))
        return tuple(ValueCount(value=_shorten(v), count=c) for v, c in best)


def _shorten(value: Scalar) -> Scalar:
    if isinstance(value, str) and len(value) > TOP_VALUE_MAX_CHARS:
        return value[: TOP_VALUE_MAX_CHARS - 1] + "…"
    return value


class _ColumnStats:
    """Streaming accumulator for one column's profile."""

    def __init__(self, field: pa.Field) -> None:
        self.name: str = field.name
        self.dtype = field.type
        self.value_type = (
            field.type.value_type if pa.types.is_dictionary(field.type) else field.type
        )
        self.kind = _kind_of(field.type)
        self.count = 0
        self.missing = 0
        self.sketch = _DistinctSketch() if self.kind != "text" else None
        self.top = _TopCounter() if self.kind in ("boolean", "categorical") else None
        self.text_chars = 0
        # Running moments, combined per batch with Chan et al.'s parallel update.
        self.finite = 0
        self.mean = 0.0
        self.m2 = 0.0
        self.lo: int | float | None = None
        self.hi: int | float | None = None
        self.edges: FloatArray | None = None
        self.bin_counts: npt.NDArray[np.int64] | None = None

    # ---- first pass

    def update(self, array: pa.Array) -> None:
        valid = self._present(array)
        self.missing += len(array) - len(valid)
        self.count += len(valid)
        if len(valid) == 0:
            return
        if self.kind == "numeric":
            self._update_numeric(valid)
        elif self.kind == "datetime":
            self._update_datetime(valid)
        elif self.kind in ("boolean", "categorical"):
            self._update_counts(valid)

    def _present(self, array: pa.Array) -> pa.Array:
        if pa.types.is_dictionary(array.type):
            array = array.dictionary_decode()
        if pa.types.is_floating(array.type):
            # NaN is how pandas writes "missing" into float columns; count it as missing.
            return array.filter(pc.invert(pc.is_nan(array)))
        return pc.drop_null(array)

    def _update_numeric(self, valid: pa.Array) -> None:
        if pa.types.is_decimal(valid.type):
            valid = valid.cast(pa.float64())
        self.sketch_add(_hash(_to_numpy(pc.unique(valid))))
        if pa.types.is_floating(valid.type):
            valid = valid.filter(pc.is_finite(valid))
            if len(valid) == 0:
                return
        extremes = pc.min_max(valid)
        self._widen_range(extremes["min"].as_py(), extremes["max"].as_py())
        values = _to_numpy(valid).astype(np.float64, copy=False)
        n = len(values)
        batch_mean = float(values.mean())
        batch_m2 = float(np.square(values - batch_mean).sum())
        total = self.finite + n
        delta = batch_mean - self.mean
        self.mean += delta * n / total
        self.m2 += batch_m2 + delta * delta * self.finite * n / total
        self.finite = total

    def _update_datetime(self, valid: pa.Array) -> None:
        ticks = _ticks(valid)
        self.sketch_add(_hash(_to_numpy(pc.unique(ticks))))
        extremes = pc.min_max(ticks)
        self._widen_range(extremes["min"].as_py(), extremes["max"].as_py())

    def _update_counts(self, valid: pa.Array) -> None:
        counts = pc.value_counts(valid)
        assert self.top is not None
        self.top.add(counts)
        self.sketch_add(_hash(_to_numpy(counts.field("values"))))
        if self.kind == "categorical":
            self.text_chars += pc.sum(pc.utf8_length(valid)).as_py() or 0

    def sketch_add(self, hashes: UInt64Array) -> None:
        if self.sketch is not None:
            self.sketch.add(hashes)

    def _widen_range(self, lo: int | float, hi: int | float) -> None:
        self.lo = lo if self.lo is None else min(self.lo, lo)
        self.hi = hi if self.hi is None else max(self.hi, hi)

    # ---- second pass

    def start_histogram(self, bins: int) -> bool:
        """Fix bin edges from the first pass's range; False when there is nothing to bin."""
        if self.lo is None or self.hi is None or bins < 1:
            return False
        lo, hi = float(self.lo), float(self.hi)
        if self.kind == "datetime":
            lo, hi = lo / self._ticks_per_second(), hi / self._ticks_per_second()
        if lo == hi:
            lo, hi = lo - 0.5, hi + 0.5
        self.edges = np.linspace(lo, hi, bins + 1)
        self.bin_counts = np.zeros(bins, dtype=np.int64)
        return True

    def add_to_histogram(self, array: pa.Array) -> None:
        assert self.edges is not None and self.bin_counts is not None
        valid = self._present(array)
        if len(valid) == 0:
            return
        if self.kind == "datetime":
            values = _to_numpy(_ticks(valid)).astype(np.float64) / self._ticks_per_second()
        else:
            if pa.types.is_decimal(valid.type):
                valid = valid.cast(pa.float64())
            values = _to_numpy(valid).astype(np.float64, copy=False)
            values = values[np.isfinite(values)]
        counts, _ = np.histogram(values, bins=self.edges)
        self.bin_counts += counts

    def _ticks_per_second(self) -> float:
        dtype = self.value_type
        if pa.types.is_date32(dtype):
            return 1.0 / 86_400
        if pa.types.is_date64(dtype):
            return 1_000.0
        return {"s": 1.0, "ms": 1e3, "us": 1e6, "ns": 1e9}[dtype.unit]

    # ---- result

    def result(self, num_rows: int, top_k: int) -> ColumnProfile:
        distinct = self.sketch.estimate() if self.sketch is not None else None
        approximate = (self.sketch is not None and not self.sketch.exact) or (
            self.top is not None and self.top.approximate
        )
        kind = self.kind
        if kind == "categorical" and distinct is not None and not self._looks_categorical(distinct):
            kind = "text"
        profile = ColumnProfile(
            name=self.name,
            dtype=str(self.dtype),
            kind=kind,
            count=self.count,
            missing=self.missing,
            missing_pct=100.0 * self.missing / num_rows if num_rows else 0.0,
            distinct=distinct,
            approximate=approximate,
            top_values=self.top.top(top_k) if self.top is not None else (),
            histogram=self._histogram(),
        )
        if self.kind == "numeric":
            return _with_numeric(profile, self)
        if self.kind == "datetime":
            return _with_datetime(profile, self)
        return profile

    def _looks_categorical(self, distinct: int) -> bool:
        mean_length = self.text_chars / self.count if self.count else 0.0
        few = distinct <= 20 or distinct * 2 <= self.count
        return (
            distinct <= CATEGORICAL_MAX_DISTINCT
            and few
            and mean_length <= CATEGORICAL_MAX_MEAN_LENGTH
        )

    def _histogram(self) -> Histogram | None:
        if self.edges is None or self.bin_counts is None:
            return None
        return Histogram(
            edges=tuple(float(e) for e in self.edges),
            counts=tuple(int(c) for c in self.bin_counts),
        )

    def iso(self, ticks: int | float | None) -> str | None:
        """ISO-8601 text of a datetime column's value given in its own ticks."""
        if ticks is None:
            return None
        storage = pa.int32() if pa.types.is_date32(self.value_type) else pa.int64()
        value = pa.array([int(ticks)], type=storage).cast(self.value_type)[0].as_py()
        return None if value is None else str(value.isoformat())


def _with_numeric(profile: ColumnProfile, stats: _ColumnStats) -> ColumnProfile:
    std = (stats.m2 / (stats.finite - 1)) ** 0.5 if stats.finite > 1 else None
    return replace(
        profile,
        min=stats.lo,
        max=stats.hi,
        mean=stats.mean if stats.finite else None,
        std=std,
    )


def _with_datetime(profile: ColumnProfile, stats: _ColumnStats) -> ColumnProfile:
    return replace(profile, min=stats.iso(stats.lo), max=stats.iso(stats.hi))


def _ticks(valid: pa.Array) -> pa.Array:
    """A date or timestamp array as integers in its own unit (days for date32)."""
    if pa.types.is_date32(valid.type):
        return valid.cast(pa.int32()).cast(pa.int64())
    return valid.cast(pa.int64())


def _to_numpy(array: pa.Array) -> npt.NDArray[np.generic]:
    result: npt.NDArray[np.generic] = array.to_numpy(zero_copy_only=False)
    return result


def _hash(values: npt.NDArray[np.generic]) -> UInt64Array:
    # pandas hashes numeric arrays vectorised and object (string) arrays in Cython.
    hashed: UInt64Array = hash_array(values, categorize=False)
    return hashed
