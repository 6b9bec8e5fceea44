"""Streaming a flow batch by batch gives what running it whole gives, in bounded memory."""

from __future__ import annotations

from itertools import pairwise

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bench.flows import EXAMPLES, demo_frame, regions_frame, single_node_flow
from tests.wrangler.engine.helpers import streamed
from wrangler.engine import catalog, parse_flow, run_flow, stream
from wrangler.engine.stream import FIT_THEN_ROWWISE

TYPES = sorted(t.type for t in catalog() if not t.custom_code)


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    folder = tmp_path_factory.mktemp("stream")
    paths = {}
    for key, frame in {1: demo_frame(1_000, seed=5), 2: regions_frame(400)}.items():
        paths[key] = folder / f"{key}.parquet"
        # Several row groups, so batches really are parts of the file.
        pq.write_table(
            pa.Table.from_pandas(frame, preserve_index=False), paths[key], row_group_size=97
        )
    return paths


def whole(graph, target, paths):
    return run_flow(
        graph, target, load_source=lambda n: pq.read_table(paths[n.params["dataset"]]).to_pandas()
    )


@pytest.mark.parametrize("kind", TYPES)
def test_each_transform_streams_to_the_same_output_as_a_whole_run(kind, sources, tmp_path):
    graph = parse_flow(single_node_flow(kind))
    expected, expected_states = whole(graph, "t", sources)
    got, rows, states, _ = streamed(graph, "t", sources, tmp_path)
    assert rows == len(expected)
    expected_written = pa.Table.from_pandas(expected, preserve_index=False).to_pandas()
    pd.testing.assert_frame_equal(got, expected_written)
    assert states == expected_states


def test_a_chain_of_row_wise_and_fitted_steps_reads_no_table_whole(sources, tmp_path):
    steps = [
        ("fill", "fill_missing", {"columns": ["age"], "strategy": "median"}),
        ("ratio", "formula", {"expression": "income / (score + 1)", "new_column": "ratio"}),
        ("scale", "standard_scale", {"columns": ["ratio", "age"]}),
        ("onehot", "one_hot_encode", {"columns": ["city"]}),
        ("len", "text_length", {"columns": ["text"]}),
        ("keep", "filter_rows", {"conditions": [{"column": "age", "op": ">", "value": -1}]}),
    ]
    nodes = [{"id": "src", "type": "source", "params": {"dataset": 1}}]
    nodes += [{"id": i, "type": t, "params": p} for i, t, p in steps]
    edges = [[a["id"], b["id"]] for a, b in pairwise(nodes)]
    graph = parse_flow({"nodes": nodes, "edges": edges})
    expected, expected_states = whole(graph, "keep", sources)
    got, _, states, events = streamed(graph, "keep", sources, tmp_path)
    pd.testing.assert_frame_equal(
        got, pa.Table.from_pandas(expected, preserve_index=False).to_pandas()
    )
    assert states.keys() == expected_states.keys() == {"fill", "scale", "onehot"}
    assert not any("whole in memory" in e for e in events), events
    assert any("scale (standard_scale): fitted on ratio, age" in e for e in events)


def test_every_fitted_row_wise_type_is_a_fitted_transform():
    fitted = {t.type for t in catalog() if t.fitted}
    assert set(FIT_THEN_ROWWISE) <= fitted
    assert EXAMPLES  # the shared examples drive the per-type test above


def test_independent_fits_share_a_pass_and_dependent_ones_wait(sources, tmp_path, monkeypatch):
    steps = [
        ("fill", "fill_missing", {"columns": ["age"], "strategy": "mean"}),
        # Reads the filled age: the scaler below must see it filled, so it waits a pass.
        ("double", "formula", {"expression": "age * 2", "new_column": "age2"}),
        ("scale", "standard_scale", {"columns": ["age2"]}),
        ("onehot", "one_hot_encode", {"columns": ["city"]}),
        ("clip", "clip_outliers", {"columns": ["income"], "method": "iqr"}),
        ("bins", "bin", {"columns": ["age2"], "bins": 3}),
    ]
    nodes = [{"id": "src", "type": "source", "params": {"dataset": 1}}]
    nodes += [{"id": i, "type": t, "params": p} for i, t, p in steps]
    edges = [[a["id"], b["id"]] for a, b in pairwise(nodes)]
    graph = parse_flow({"nodes": nodes, "edges": edges})
    expected, expected_states = whole(graph, "bins", sources)
    read: list[list[str] | None] = []
    original = stream._source_batches

    def spy(path, batch_rows, columns=None):
        if batch_rows == 61:  # the passes, not the probes
            read.append(columns)
        return original(path, batch_rows, columns)

    monkeypatch.setattr(stream, "_source_batches", spy)
    got, _, states, events = streamed(graph, "bins", sources, tmp_path)
    # Fit passes read only the source columns their fits depend on; the last reads all.
    assert read[:3] == [["age", "income", "city"], ["age"], ["age"]]
    assert read[3] is None
    pd.testing.assert_frame_equal(
        got, pa.Table.from_pandas(expected, preserve_index=False).to_pandas()
    )
    assert states == expected_states
    passes = {
        e.split(" (")[0]: e.rsplit("(pass ", 1)[1].rstrip(").") for e in events if "pass" in e
    }
    # onehot and clip do not depend on fill: they share its pass. scale reads what fill
    # changes (through the formula), and bins what scale changes: one pass each after.
    assert passes == {"fill": "1", "onehot": "1", "clip": "1", "scale": "2", "bins": "3"}
