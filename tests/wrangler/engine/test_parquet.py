"""Reading a step's part files as one table, and the threads that read and write ahead."""

from __future__ import annotations

import threading

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from wrangler.engine.parquet import BackgroundWriter, Parts, prefetched


def test_parts_that_type_a_column_apart_read_as_one_table(tmp_path):
    folder = tmp_path / "stage"
    folder.mkdir()
    # A partition without gaps wrote int64; one with a gap, double; one all-null, null.
    pq.write_table(
        pa.table({"n": pa.array([1, 2], pa.int64()), "s": ["a", "b"]}),
        folder / "part-000000.parquet",
    )
    pq.write_table(
        pa.table({"n": pa.array([3.0, None]), "s": ["c", None]}), folder / "part-000001.parquet"
    )
    pq.write_table(
        pa.table({"n": pa.array([None], pa.null()), "s": pa.array([None], pa.null())}),
        folder / "part-000002.parquet",
    )
    parts = Parts(folder)
    assert parts.num_rows == 5
    assert parts.schema.field("n").type == pa.float64()
    whole = parts.read()
    batches = pd.concat(list(parts.batches(2)), ignore_index=True)
    expected = pd.DataFrame(
        {
            "n": [1.0, 2.0, 3.0, np.nan, np.nan],
            "s": pd.Series(["a", "b", "c", None, None], dtype="str"),
        }
    )
    pd.testing.assert_frame_equal(whole, expected)
    pd.testing.assert_frame_equal(batches, expected)
    # The first part alone has no gap, but read with the others its column is float64.
    assert parts.row_group(0, 0)["n"].dtype == "float64"


def test_an_empty_file_keeps_its_integer_columns(tmp_path):
    path = tmp_path / "empty.parquet"
    pq.write_table(pa.table({"n": pa.array([], pa.int64())}), path)
    assert Parts(path).empty()["n"].dtype == "int64"
    assert Parts(path).read()["n"].dtype == "int64"


def test_prefetched_yields_everything_in_order_and_passes_errors_on():
    assert list(prefetched(iter(range(50)), depth=3)) == list(range(50))

    def failing():
        yield 1
        raise ValueError("bad batch")

    got = []
    with pytest.raises(ValueError, match="bad batch"):
        for item in prefetched(failing()):
            got.append(item)
    assert got == [1]


def test_leaving_a_prefetch_early_stops_its_thread():
    before = threading.active_count()
    items = prefetched(iter(range(1000)), depth=2)
    assert next(items) == 0
    items.close()
    assert threading.active_count() == before


def test_the_background_writer_writes_in_order_and_reports_failures(tmp_path):
    schema = pa.schema([("n", pa.int64())])
    writer = BackgroundWriter(tmp_path / "out.parquet", schema)
    for start in range(0, 100, 10):
        writer.write(pa.table({"n": list(range(start, start + 10))}, schema=schema))
    writer.close()
    assert pq.read_table(tmp_path / "out.parquet")["n"].to_pylist() == list(range(100))

    writer = BackgroundWriter(tmp_path / "bad.parquet", schema)
    writer.write(pa.table({"x": ["not the schema"]}))
    with pytest.raises(ValueError):
        writer.close()
