"""Steps that see every row but read few columns run on those columns alone in a job, and
give what the whole run gives: lags, rolling windows, forward fills, samples, splits,
random balancing, pivots; cross joins stream their left side."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bench.flows import demo_frame, regions_frame
from tests.wrangler.engine.helpers import streamed
from wrangler.engine import parse_flow, run_flow, stream
from wrangler.engine.stream import POSITION, PROJECTED


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    folder = tmp_path_factory.mktemp("projected")
    frames = {
        1: demo_frame(1_000, seed=11),
        2: regions_frame(400).iloc[:7],
        3: demo_frame(10).iloc[:0],
    }
    paths = {}
    for key, frame in frames.items():
        paths[key] = folder / f"{key}.parquet"
        table = pa.Table.from_pandas(frame, preserve_index=False).replace_schema_metadata(None)
        pq.write_table(table, paths[key], row_group_size=97)
    return paths


def chain(*steps, dataset: int = 1):
    """A straight flow from the demo source through ``steps`` (id, type, params); the last
    step is ``t``."""
    nodes = [{"id": "src", "type": "source", "params": {"dataset": dataset}}]
    nodes += [{"id": i, "type": t, "params": p} for i, t, p in steps]
    return parse_flow({"nodes": nodes, "edges": [[a["id"], b["id"]] for a, b in pairwise(nodes)]})


def compare(graph, sources, tmp_path, target="t"):
    """Stream ``target``, check it equals the whole run; returns the job's log lines."""
    expected, expected_states = run_flow(
        graph,
        target,
        load_source=lambda n: pq.read_table(sources[n.params["dataset"]]).to_pandas(),
    )
    got, rows, states, events = streamed(graph, target, sources, tmp_path)
    written = pa.Table.from_pandas(expected, preserve_index=False).to_pandas()
    pd.testing.assert_frame_equal(got, written, check_exact=True)
    assert rows == len(expected)
    assert states == expected_states
    return events


CASES = [
    ("fill_missing", {"columns": ["age"], "strategy": "ffill"}),
    ("fill_missing", {"columns": ["age", "income"], "strategy": "bfill"}),
    ("lag_features", {"columns": ["income"], "lags": ["1", "3"], "order_by": "signup"}),
    (
        "lag_features",
        {
            "columns": ["income", "age"],
            "lags": ["2"],
            "order_by": "last_seen",
            "group_by": ["plan"],
        },
    ),
    ("lag_features", {"columns": ["text"], "lags": ["1"]}),  # in the rows' order
    ("rolling_window", {"columns": ["income"], "window": 5, "func": "std", "order_by": "signup"}),
    (
        "rolling_window",
        {"columns": ["age"], "window": 3, "func": "median", "group_by": ["city", "plan"]},
    ),
    ("sample", {"n": 137, "seed": 4}),
    ("sample", {"fraction": 0.3, "seed": 9}),
    ("sample", {"n": 250, "mode": "first"}),
    ("sample", {"n": 0}),
    ("train_test_split", {"test_size": 0.3, "seed": 2, "part": "both"}),
    ("train_test_split", {"test_size": 0.25, "seed": 5, "part": "test", "stratify": "plan"}),
    ("balance", {"target": "churned", "method": "random_oversample", "seed": 3}),
    ("balance", {"target": "city", "method": "random_undersample", "seed": 1}),
    ("pivot", {"index": ["plan", "city"], "columns": "churned", "values": "income"}),
    ("pivot", {"index": ["plan"], "columns": "city", "values": "age", "func": "count"}),
]


@pytest.mark.parametrize(("kind", "params"), CASES, ids=lambda v: str(v)[:40])
def test_each_projected_step_equals_the_whole_run(kind, params, sources, tmp_path):
    events = compare(chain(("t", kind, params)), sources, tmp_path)
    assert any(e.startswith(f"t ({kind}):") and "worked out on" in e for e in events), events
    assert not any("whole in memory" in e for e in events), events


def test_the_pass_reads_only_the_columns_the_step_names(sources, tmp_path, monkeypatch):
    read: list[list[str] | None] = []
    original = stream._source_batches

    def spy(parts, batch_rows, columns=None):
        if batch_rows == 61:  # the passes, not the probes
            read.append(columns)
        return original(parts, batch_rows, columns)

    monkeypatch.setattr(stream, "_source_batches", spy)
    graph = chain(
        ("t", "lag_features", {"columns": ["income"], "order_by": "signup", "group_by": ["plan"]})
    )
    events = compare(graph, sources, tmp_path)
    # One narrow pass, then the rows taken with every column in one more: the output.
    assert read == [["income", "plan", "signup"], None]
    assert "t (lag_features): 1,000 rows, worked out on income, signup, plan." in events

    read.clear()
    events = compare(chain(("t", "sample", {"n": 10, "seed": 1})), sources, tmp_path)
    assert read[0] == []  # a sample needs the row count alone
    assert "t (sample): 10 rows, worked out on the row count." in events


def test_rows_dropped_and_columns_made_before_the_step_are_seen_by_it(sources, tmp_path):
    graph = chain(
        ("keep", "filter_rows", {"conditions": [{"column": "score", "op": ">", "value": 30}]}),
        ("scale", "standard_scale", {"columns": ["income"]}),
        ("ratio", "formula", {"expression": "income * 2 + score", "new_column": "ratio"}),
        ("lags", "lag_features", {"columns": ["ratio"], "lags": ["1"], "order_by": "signup"}),
        ("t", "balance", {"target": "churned", "method": "random_oversample", "seed": 8}),
    )
    events = compare(graph, sources, tmp_path)
    assert any(e.startswith("lags (lag_features): ") and "rows, worked out" in e for e in events)
    assert not any("whole in memory" in e for e in events), events


def test_projected_steps_in_a_row_take_their_rows_once(sources, tmp_path, monkeypatch):
    read: list[list[str] | None] = []
    original = stream._source_batches

    def spy(parts, batch_rows, columns=None):
        if batch_rows == 61:
            read.append(columns)
        return original(parts, batch_rows, columns)

    monkeypatch.setattr(stream, "_source_batches", spy)
    graph = chain(
        (
            "lags",
            "lag_features",
            {"columns": ["income"], "order_by": "signup", "group_by": ["city"]},
        ),
        (
            "roll",
            "rolling_window",
            {"columns": ["income_lag_1"], "window": 3, "group_by": ["city"]},
        ),
        ("ffill", "fill_missing", {"columns": ["income_lag_1"], "strategy": "ffill"}),
        ("half", "train_test_split", {"test_size": 0.5, "seed": 4, "part": "train"}),
        ("more", "balance", {"target": "city", "method": "random_oversample", "seed": 2}),
        ("t", "lag_features", {"columns": ["income_lag_1_rolling_mean_3"], "lags": ["2"]}),
    )
    events = compare(graph, sources, tmp_path)
    # One narrow pass, then each run of rising positions (the oversampled copies are a
    # second run) taken from the source with every column.
    assert read == [["income", "city", "signup"], None, None], read
    assert "roll (rolling_window): 1,000 rows, on lags's columns." in events
    assert any(e.startswith("t (lag_features): ") and "on more's columns" in e for e in events)


def test_a_step_reading_a_column_the_last_one_lacks_takes_its_rows_first(sources, tmp_path):
    graph = chain(
        ("lags", "lag_features", {"columns": ["income"], "order_by": "signup"}),
        ("t", "rolling_window", {"columns": ["age"], "window": 4}),
    )
    events = compare(graph, sources, tmp_path)
    assert "t (rolling_window): 1,000 rows, worked out on age." in events


def test_a_projected_step_with_two_followers_is_taken_for_both(sources, tmp_path):
    nodes = [
        {"id": "src", "type": "source", "params": {"dataset": 1}},
        {"id": "lags", "type": "lag_features", "params": {"columns": ["income"]}},
        {"id": "a", "type": "rolling_window", "params": {"columns": ["income_lag_1"]}},
        {"id": "t", "type": "concat", "params": {"source_column": "from"}},
    ]
    edges = [["src", "lags"], ["lags", "a"], ["lags", "t"], ["a", "t"]]
    graph = parse_flow({"nodes": nodes, "edges": edges})
    events = compare(graph, sources, tmp_path)
    assert "a (rolling_window): 1,000 rows, worked out on income_lag_1." in events


def test_a_pivot_after_a_lag_works_on_the_lags_columns(sources, tmp_path):
    lags = {"columns": ["income"], "order_by": "signup", "group_by": ["city"]}
    graph = chain(
        ("lags", "lag_features", lags),
        ("t", "pivot", {"index": ["signup"], "columns": "city", "values": "income_lag_1"}),
    )
    events = compare(graph, sources, tmp_path)
    assert any(e.startswith("t (pivot): ") and e.endswith("on lags's columns.") for e in events)


def test_oversampled_copies_follow_the_originals_in_their_order(sources, tmp_path):
    graph = chain(("t", "balance", {"target": "churned", "method": "random_oversample"}))
    got, rows, states, _ = streamed(graph, "t", sources, tmp_path)
    originals = rows - (states["t"]["counts_after"][1] - states["t"]["counts_before"][1])
    assert got["id"].iloc[:originals].tolist() == list(range(1_000))
    assert got["id"].iloc[originals:].is_monotonic_increasing
    assert (got["churned"].iloc[originals:] == 1).all()


def test_a_step_with_no_input_row_runs_whole(sources, tmp_path):
    graph = chain(("t", "lag_features", {"columns": ["income"]}), dataset=3)
    events = compare(graph, sources, tmp_path)
    assert any("t (lag_features): 0 rows, whole in memory" in e for e in events), events


def test_every_row_filtered_out_gives_an_empty_table_with_the_new_columns(sources, tmp_path):
    graph = chain(
        ("none", "filter_rows", {"conditions": [{"column": "score", "op": ">", "value": 1e9}]}),
        ("t", "lag_features", {"columns": ["income"], "order_by": "signup"}),
    )
    compare(graph, sources, tmp_path)
    got, rows, _, _ = streamed(graph, "t", sources, tmp_path)
    assert rows == 0 and "income_lag_1" in got.columns


def test_an_input_column_named_like_the_position_runs_whole(sources, tmp_path):
    graph = chain(
        ("copy", "duplicate_column", {"column": "id", "new_name": POSITION}),
        ("t", "lag_features", {"columns": [POSITION], "order_by": "signup"}),
    )
    events = compare(graph, sources, tmp_path)
    assert any("t (lag_features): 1,000 rows, whole in memory" in e for e in events), events


def test_smote_and_custom_code_stay_whole():
    assert not PROJECTED["balance"]({"method": "smote"})
    assert "custom_pandas" not in PROJECTED
    assert not PROJECTED["fill_missing"]({"strategy": "median"})  # fitted, then row-wise


@pytest.mark.parametrize("right_rows", [7, 0])
def test_a_cross_join_streams_its_left_side(right_rows, sources, tmp_path):
    right = {7: 2, 0: 3}[right_rows]  # dataset 3 is the empty demo table
    nodes = [
        {"id": "a", "type": "source", "params": {"dataset": 1}},
        {"id": "b", "type": "source", "params": {"dataset": right}},
        {"id": "t", "type": "join", "params": {"how": "cross", "suffix": "_r"}},
    ]
    graph = parse_flow({"nodes": nodes, "edges": [["a", "t"], ["b", "t"]]})
    events = compare(graph, sources, tmp_path)
    rows = 1_000 * right_rows
    assert f"t (join): {rows:,} rows, the left side batch by batch." in events


def test_a_cross_join_of_an_empty_left_side_keeps_both_sides_columns(sources, tmp_path):
    nodes = [
        {"id": "a", "type": "source", "params": {"dataset": 3}},
        {"id": "b", "type": "source", "params": {"dataset": 2}},
        {"id": "t", "type": "join", "params": {"how": "cross"}},
    ]
    graph = parse_flow({"nodes": nodes, "edges": [["a", "t"], ["b", "t"]]})
    compare(graph, sources, tmp_path)
    got, _, _, _ = streamed(graph, "t", sources, tmp_path)
    assert {"income", "region", "id_right"} <= set(got.columns) and got.empty


def test_positions_cut_into_rising_runs():
    runs = stream._row_runs(np.array([0, 1, 1, 5, 2, 3, 0]))
    assert runs == [(0, 4), (4, 6), (6, 7)]
    assert stream._row_runs(np.array([], dtype="int64")) == []
