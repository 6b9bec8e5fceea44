"""Profiling engine: per-column statistics streamed over Parquet batches (no database)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from studio.engine.contracts import ColumnProfile, DatasetProfile
from studio.engine.profile import DISTINCT_EXACT_LIMIT, profile_parquet


def profile_of(tmp_path: Path, table: pa.Table, **kwargs: int) -> DatasetProfile:
    path = tmp_path / "data.parquet"
    pq.write_table(table, path, row_group_size=50_000)
    return profile_parquet(path, **kwargs)  # type: ignore[arg-type]


def column(profile: DatasetProfile, name: str) -> ColumnProfile:
    return next(c for c in profile.columns if c.name == name)


def test_it_computes_exact_numeric_statistics_across_many_batches(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    values = rng.normal(100.0, 15.0, 300_000)
    result = column(profile_of(tmp_path, pa.table({"x": values})), "x")
    assert result.kind == "numeric"
    assert result.count == 300_000
    assert result.missing == 0
    assert result.min == values.min()
    assert result.max == values.max()
    assert result.mean == pytest.approx(values.mean(), rel=1e-12)
    assert result.std == pytest.approx(values.std(ddof=1), rel=1e-9)
    assert result.histogram is not None
    assert len(result.histogram.edges) == 21
    assert sum(result.histogram.counts) == 300_000
    assert result.histogram.edges[0] == values.min()
    assert result.histogram.edges[-1] == pytest.approx(values.max())


def test_it_bins_columns_whose_names_contain_dots_in_file_order(tmp_path: Path) -> None:
    table = pa.table({"b.x": [1.0, 2.0], "s": ["p", "q"], "a.y": [10, 20]})
    profile = profile_of(tmp_path, table, bins=2)
    assert column(profile, "b.x").histogram is not None
    assert column(profile, "a.y").histogram.counts == (1, 1)  # type: ignore[union-attr]
    assert column(profile, "a.y").histogram.edges == (10.0, 15.0, 20.0)  # type: ignore[union-attr]


def test_it_counts_nulls_and_nan_as_missing(tmp_path: Path) -> None:
    table = pa.table(
        {
            "f": pa.array([1.0, float("nan"), None, 3.0]),
            "i": pa.array([1, None, 3, None], pa.int64()),
        }
    )
    profile = profile_of(tmp_path, table)
    f, i = column(profile, "f"), column(profile, "i")
    assert (f.count, f.missing, f.missing_pct) == (2, 2, 50.0)
    assert (f.mean, f.distinct) == (2.0, 2)
    assert (i.count, i.missing, i.min, i.max) == (2, 2, 1, 3)
    assert isinstance(i.min, int)


def test_it_finds_top_values_of_categorical_columns(tmp_path: Path) -> None:
    table = pa.table({"c": ["b"] * 5 + ["a"] * 3 + ["c"] * 3 + [None]})
    result = column(profile_of(tmp_path, table, top_k=2), "c")
    assert result.kind == "categorical"
    assert result.distinct == 3
    assert result.missing == 1
    assert [(v.value, v.count) for v in result.top_values] == [("b", 5), ("a", 3)]
    assert result.histogram is None


def test_it_calls_unique_long_strings_text(tmp_path: Path) -> None:
    table = pa.table({"t": [f"review number {i} " * 8 for i in range(100)]})
    result = column(profile_of(tmp_path, table), "t")
    assert result.kind == "text"
    assert result.distinct == 100


def test_it_profiles_booleans(tmp_path: Path) -> None:
    result = column(profile_of(tmp_path, pa.table({"b": [True, False, True, None]})), "b")
    assert result.kind == "boolean"
    assert [(v.value, v.count) for v in result.top_values] == [(True, 2), (False, 1)]


def test_it_profiles_dates_and_timestamps_with_iso_bounds_and_histograms(
    tmp_path: Path,
) -> None:
    days = [dt.date(2024, 1, 1) + dt.timedelta(days=i) for i in range(10)]
    table = pa.table(
        {
            "day": pa.array(days, pa.date32()),
            "at": pa.array([dt.datetime(2024, 1, 1, 12, i) for i in range(10)], pa.timestamp("ms")),
        }
    )
    profile = profile_of(tmp_path, table, bins=5)
    day, at = column(profile, "day"), column(profile, "at")
    assert (day.kind, day.min, day.max) == ("datetime", "2024-01-01", "2024-01-10")
    assert (at.min, at.max) == ("2024-01-01T12:00:00", "2024-01-01T12:09:00")
    assert day.histogram is not None and at.histogram is not None
    assert day.histogram.edges[0] == dt.datetime(2024, 1, 1, tzinfo=dt.UTC).timestamp()
    assert sum(day.histogram.counts) == 10
    assert day.distinct == 10


def test_it_decodes_dictionary_columns(tmp_path: Path) -> None:
    table = pa.table({"d": pa.array(["x", "y", "x", None]).dictionary_encode()})
    result = column(profile_of(tmp_path, table), "d")
    assert result.kind == "categorical"
    assert [(v.value, v.count) for v in result.top_values] == [("x", 2), ("y", 1)]


def test_it_estimates_distinct_counts_past_the_exact_limit(tmp_path: Path) -> None:
    n = DISTINCT_EXACT_LIMIT + 50_000
    result = column(profile_of(tmp_path, pa.table({"id": np.arange(n)})), "id")
    assert result.approximate is True
    assert result.distinct == pytest.approx(n, rel=0.06)


def test_it_keeps_distinct_counts_exact_below_the_limit(tmp_path: Path) -> None:
    result = column(profile_of(tmp_path, pa.table({"id": np.arange(60_000) % 1234})), "id")
    assert (result.distinct, result.approximate) == (1234, False)


def test_its_dict_is_strict_json_even_with_infinities_and_empty_columns(tmp_path: Path) -> None:
    table = pa.table(
        {
            "inf": [float("inf"), float("-inf")],
            "empty": pa.array([None, None], pa.float64()),
            "nothing": pa.array([None, None], pa.null()),
            "nested": [[1], [2, 3]],
        }
    )
    payload = profile_of(tmp_path, table).to_dict()
    json.dumps(payload, allow_nan=False)
    empty = payload["columns"][1]
    assert (empty["count"], empty["min"], empty["mean"], empty["histogram"]) == (
        0,
        None,
        None,
        None,
    )
    assert payload["columns"][3]["kind"] == "text"


def test_it_profiles_a_file_without_rows(tmp_path: Path) -> None:
    table = pa.table({"a": pa.array([], pa.int64()), "s": pa.array([], pa.string())})
    profile = profile_of(tmp_path, table)
    assert profile.num_rows == 0
    assert [c.count for c in profile.columns] == [0, 0]
    assert column(profile, "a").missing_pct == 0.0


def test_it_reports_progress_up_to_one(tmp_path: Path) -> None:
    seen: list[float] = []
    table = pa.table({"x": np.arange(300_000), "s": ["a"] * 300_000})
    profile_of(tmp_path, table, on_progress=seen.append)  # type: ignore[arg-type]
    assert seen == sorted(seen)
    assert seen[-1] == 1.0
    assert len(seen) > 2
