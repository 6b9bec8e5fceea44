"""Samples of a Parquet file for previews: first rows, uniform random, stratified."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from wrangler.engine.sample import SampleSpec, read_sample


@pytest.fixture
def parquet(tmp_path):
    n = 200_000
    labels = ["rare" if i % 100 == 0 else ("b" if i % 3 else "a") for i in range(n)]
    table = pa.table({"i": list(range(n)), "label": labels})
    path = tmp_path / "data.parquet"
    pq.write_table(table, path, row_group_size=50_000)
    return path


def test_first_rows_are_the_first_rows(parquet):
    out = read_sample(parquet, SampleSpec(mode="first", rows=70_000))
    assert out["i"].tolist() == list(range(70_000))


def test_a_random_sample_has_exactly_the_rows_asked_in_file_order_and_is_repeatable(parquet):
    out = read_sample(parquet, SampleSpec(mode="random", rows=1_000, seed=7))
    assert len(out) == 1_000 and out["i"].is_monotonic_increasing
    assert out["i"].max() > 150_000  # drawn from the whole file, not its head
    again = read_sample(parquet, SampleSpec(mode="random", rows=1_000, seed=7))
    assert out["i"].tolist() == again["i"].tolist()
    other = read_sample(parquet, SampleSpec(mode="random", rows=1_000, seed=8))
    assert out["i"].tolist() != other["i"].tolist()


def test_a_stratified_sample_keeps_class_shares_and_rare_classes(parquet):
    out = read_sample(parquet, SampleSpec(mode="stratified", rows=1_000, column="label"))
    counts = out["label"].value_counts()
    assert len(out) == 1_000
    assert counts["rare"] == 10 and abs(counts["a"] - 330) <= 1 and abs(counts["b"] - 660) <= 1


def test_a_sample_larger_than_the_file_is_the_file(parquet):
    assert len(read_sample(parquet, SampleSpec(mode="random", rows=500_000))) == 200_000


def test_stratifying_by_a_missing_column_is_refused(parquet):
    with pytest.raises(ValueError, match="not in the dataset"):
        read_sample(parquet, SampleSpec(mode="stratified", rows=10, column="nope"))
