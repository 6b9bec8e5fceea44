"""Whole-table steps on Dask give exactly what the pandas transforms give on the whole table."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bench.flows import demo_frame, single_node_flow
from tests.wrangler.engine.helpers import streamed
from wrangler.engine import parse_flow, run_flow, scale
from wrangler.engine.contracts import FlowError
from wrangler.engine.stream import FIT_THEN_ROWWISE


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    with scale.dask_client(None, tmp_path_factory.mktemp("dask")) as client:
        yield client


@pytest.fixture
def client(cluster):
    """The cluster's client, handed out as a job does: started when first asked for, so the
    steps must not build their frames before (they would miss its Dask settings)."""
    import dask

    with dask.config.set({"dataframe.convert-string": True}):
        yield cluster


def people(rows: int, seed: int = 0) -> pd.DataFrame:
    """Keys with gaps, ties, unicode and repeats; a value column with gaps."""
    rng = np.random.default_rng(seed)
    key = rng.integers(0, 12, rows).astype("float64")
    key[rng.random(rows) < 0.1] = np.nan
    city = rng.choice(np.array(["Zürich", "Oslo", "東京", "Lima", None], dtype=object), rows)
    value = rng.normal(0, 1, rows).round(3)
    value[rng.random(rows) < 0.1] = np.nan
    seen = pd.Series(pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 30, rows), "D"))
    seen[rng.random(rows) < 0.1] = pd.NaT
    return pd.DataFrame(
        {
            "id": np.arange(rows, dtype="int64"),
            "key": key,
            "city": pd.Series(city, dtype="str"),
            "flag": rng.integers(0, 2, rows).astype("int64"),
            "value": value,
            "seen": seen,
        }
    )


def lookup(rows: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    key = rng.integers(0, 15, rows).astype("float64")
    key[rng.random(rows) < 0.1] = np.nan
    return pd.DataFrame(
        {
            "key": key,
            "label": pd.Series([f"ℓ{i % 7}" for i in range(rows)], dtype="str"),
            "value": rng.integers(0, 1000, rows).astype("int64"),
        }
    )


def write(frame: pd.DataFrame, path, row_group_size: int = 53):
    """As a dataset is stored: Parquet without pandas' metadata, in several row groups."""
    table = pa.Table.from_pandas(frame, preserve_index=False).replace_schema_metadata(None)
    pq.write_table(table, path, row_group_size=row_group_size)
    return path


NODES = [
    ("sort", {"columns": ["key"]}),
    ("sort", {"columns": ["key", "city"], "ascending": False, "nulls": "first"}),
    ("sort", {"columns": ["city", "value"], "nulls": "last"}),
    ("sort", {"columns": ["seen", "flag"], "ascending": False, "nulls": "first"}),
    (
        "group_by",
        {
            "by": ["key"],
            "aggregations": [
                {"column": "value", "func": f, "as": f"value_{f}"}
                for f in ("count", "sum", "mean", "median", "min", "max", "std", "var")
            ],
        },
    ),
    (
        "group_by",
        {
            "by": ["city", "flag"],
            "aggregations": [
                {"column": "value", "func": "first", "as": "first"},
                {"column": "value", "func": "last", "as": "last"},
                {"column": "key", "func": "nunique", "as": "keys"},
                {"column": "id", "func": "sum", "as": "ids"},
            ],
        },
    ),
    ("deduplicate", {"columns": ["key", "city"]}),
    ("deduplicate", {"columns": ["city"], "keep": "last"}),
    ("deduplicate", {}),
]
JOINS = [
    {"how": h, "left_on": ["key"], "right_on": ["key"]}
    for h in ("inner", "left", "right", "outer", "left_semi", "left_anti")
] + [
    {"how": "outer", "left_on": ["flag"], "right_on": ["value"], "suffix": "_r"},
    {"how": "left", "left_on": ["key", "flag"], "right_on": ["key", "value"]},
]


CONCATS = [
    {},
    {"source_column": "part"},
    {"dedupe": True},
    {"dedupe": True, "source_column": "part"},
]


@pytest.mark.parametrize("params", CONCATS, ids=["plain", "source", "dedupe", "dedupe-source"])
@pytest.mark.parametrize(("first_rows", "second_rows"), [(0, 40), (1, 1), (500, 300)])
def test_concatenations_on_dask_equal_pandas(params, first_rows, second_rows, client, tmp_path):
    # The second input lacks two of the first's columns and has one of its own; its
    # first rows repeat the first input's, so that deduplication has work to do.
    first = people(first_rows)
    second = pd.concat([first.head(20), people(second_rows, seed=4)], ignore_index=True)
    second = second.drop(columns=["flag", "id"]).assign(extra=1.5)
    paths = {
        1: write(first, tmp_path / "first.parquet"),
        2: write(second, tmp_path / "second.parquet", row_group_size=37),
    }
    events = compare(one_node("concat", params, two=True), paths, tmp_path, client)
    assert any("on Dask" in e for e in events), events


def one_node(kind, params, *, two=False):
    nodes = [{"id": "a", "type": "source", "params": {"dataset": 1}}]
    edges = [["a", "t"]]
    if two:
        nodes.append({"id": "b", "type": "source", "params": {"dataset": 2}})
        edges.append(["b", "t"])
    nodes.append({"id": "t", "type": kind, "params": params})
    return parse_flow({"nodes": nodes, "edges": edges})


def chain(*steps):
    """A straight flow from dataset 1 through ``(id, type, params)`` steps."""
    nodes = [{"id": "a", "type": "source", "params": {"dataset": 1}}]
    nodes += [{"id": i, "type": t, "params": p} for i, t, p in steps]
    edges = [[x["id"], y["id"]] for x, y in pairwise(nodes)]
    return parse_flow({"nodes": nodes, "edges": edges})


def compare(graph, paths, tmp_path, client, target="t", *, exact=True):
    """Run the graph whole in pandas and streamed with Dask; assert the outputs and the
    fitted states are equal.

    Not ``exact``: aggregates may differ in the last bit, where pandas sums a partition
    that holds a single group by another code path than the whole table's.
    """
    expected, expected_states = run_flow(
        graph, target, load_source=lambda n: pq.read_table(paths[n.params["dataset"]]).to_pandas()
    )
    got, rows, states, events = streamed(
        graph, target, paths, tmp_path, batch_rows=41, dask=lambda: client
    )
    assert states.keys() == expected_states.keys()
    if exact:
        assert states == expected_states
    assert rows == len(expected)
    written = pa.Table.from_pandas(expected, preserve_index=False).to_pandas()
    if exact:
        pd.testing.assert_frame_equal(got, written, check_exact=True)
    else:
        pd.testing.assert_frame_equal(got, written, check_exact=False, rtol=1e-12, atol=0)
    return events


@pytest.mark.parametrize(
    ("kind", "params"), NODES, ids=[f"{k}-{i}" for i, (k, _) in enumerate(NODES)]
)
@pytest.mark.parametrize("rows", [0, 1, 700])
def test_whole_table_steps_on_dask_equal_pandas(kind, params, rows, client, tmp_path):
    paths = {1: write(people(rows), tmp_path / "people.parquet")}
    events = compare(one_node(kind, params), paths, tmp_path, client, exact=kind != "group_by")
    assert any("on Dask" in e for e in events)


@pytest.mark.parametrize("params", JOINS, ids=[f"{p['how']}-{i}" for i, p in enumerate(JOINS)])
@pytest.mark.parametrize(
    ("left_rows", "right_rows", "right_group"),
    [(0, 30, 37), (1, 1, 37), (600, 250, 37), (600, 30, 37)],
    ids=["empty-left", "one-row", "shuffled", "right-in-one-group"],
)
def test_joins_on_dask_keep_pandas_order(
    params, left_rows, right_rows, right_group, client, tmp_path
):
    paths = {
        1: write(people(left_rows), tmp_path / "people.parquet"),
        2: write(lookup(right_rows), tmp_path / "lookup.parquet", row_group_size=right_group),
    }
    events = compare(one_node("join", params, two=True), paths, tmp_path, client)
    assert any("on Dask" in e for e in events)


def test_row_wise_steps_before_and_after_dask_steps(client, tmp_path):
    """Steps feeding a Dask node are applied first; those after it stream over its parts."""
    paths = {1: write(people(900), tmp_path / "people.parquet")}
    total = {"by": ["city"], "aggregations": [{"column": "value", "func": "sum", "as": "total"}]}
    graph = chain(
        ("f", "fill_missing", {"columns": ["value"], "strategy": "median"}),
        ("s", "sort", {"columns": ["value", "id"]}),
        ("g", "group_by", total),
        ("x", "standard_scale", {"columns": ["total"]}),
    )
    events = compare(graph, paths, tmp_path, client, target="x", exact=False)
    # Fits run on Dask too, a row group per task.
    assert "f (fill_missing): fitted on value (pass 1, on Dask)." in events
    assert "x (standard_scale): fitted on total (pass 1, on Dask)." in events
    # The sort hands its frame to the group-by unwritten: one Dask graph for both.
    assert "s (sort): on Dask, handed on to g." in events, events
    assert any(e.startswith("g (group_by): 5 rows, on Dask") for e in events), events
    assert not (tmp_path / "stage-2").exists()
    assert len(list((tmp_path / "stage-3").glob("*.parquet"))) > 1


def test_a_bad_parameter_names_the_node_before_any_work(client, tmp_path):
    paths = {1: write(people(50), tmp_path / "people.parquet")}
    graph = one_node("sort", {"columns": ["nope"]})
    with pytest.raises(FlowError) as caught:
        streamed(graph, "t", paths, tmp_path, dask=lambda: client)
    assert caught.value.node == "t"
    assert "nope" in caught.value.message


def test_on_dask_covers_the_whole_table_steps_but_cross_joins():
    graph = one_node("join", {"how": "cross"}, two=True)
    assert not scale.on_dask(graph.nodes["t"])
    for kind, params in NODES:
        assert scale.on_dask(one_node(kind, params).nodes["t"])
    pivot = {"index": ["city"], "columns": "flag", "values": "value"}
    assert not scale.on_dask(one_node("pivot", pivot).nodes["t"])


def test_a_step_that_fails_names_its_node(client, tmp_path):
    paths = {1: write(people(300), tmp_path / "people.parquet")}
    graph = one_node(
        "group_by",
        {"by": ["key"], "aggregations": [{"column": "city", "func": "mean", "as": "m"}]},
    )
    with pytest.raises(FlowError) as caught:
        streamed(graph, "t", paths, tmp_path, dask=lambda: client)
    assert caught.value.node == "t"
    assert caught.value.message.startswith("Group by:")


def test_a_group_by_reads_only_the_columns_it_uses(client, tmp_path, monkeypatch):
    from wrangler.engine.parquet import Parts

    paths = {1: write(people(300), tmp_path / "people.parquet")}
    read = []
    original = Parts.row_group

    def spy(self, file, group, columns=None):
        read.append(columns)
        return original(self, file, group, columns)

    monkeypatch.setattr(Parts, "row_group", spy)
    params = {"by": ["city"], "aggregations": [{"column": "value", "func": "sum", "as": "v"}]}
    compare(one_node("group_by", params), paths, tmp_path, client, exact=False)
    # The source's six row groups are read once each, for the two columns alone; the
    # groups are read back to be sorted (their key alone for the sort's boundaries).
    source = [columns for columns in read if columns and "value" in columns]
    assert sorted(map(sorted, source)) == [["city", "value"]] * 6, read
    assert all(
        columns and set(columns) <= {"city", "v"} for columns in read if columns not in source
    )


def test_a_column_dask_cannot_order_runs_the_step_in_memory(client, tmp_path):
    frame = people(200).assign(wait=pd.to_timedelta(np.arange(200) % 7, unit="h"))
    paths = {1: write(frame, tmp_path / "people.parquet")}
    events = compare(one_node("sort", {"columns": ["wait", "id"]}), paths, tmp_path, client)
    assert "t (sort): column wait is of a type Dask cannot order here." in events
    assert "t (sort): 200 rows, whole in memory." in events


PROJECTED_STEPS = [
    ("lag_features", {"columns": ["value"], "lags": ["1", "2"], "order_by": "seen"}),
    ("rolling_window", {"columns": ["value"], "window": 4, "group_by": ["city"]}),
    ("fill_missing", {"columns": ["value", "key"], "strategy": "ffill"}),
    ("sample", {"fraction": 0.4, "seed": 6}),
    ("train_test_split", {"stratify": "city", "seed": 1}),
    ("balance", {"target": "flag", "method": "random_undersample", "seed": 2}),
    ("pivot", {"index": ["city"], "columns": "flag", "values": "value", "func": "sum"}),
]


@pytest.mark.parametrize(("kind", "params"), PROJECTED_STEPS, ids=[k for k, _ in PROJECTED_STEPS])
def test_projected_steps_gather_their_columns_on_dask(kind, params, client, tmp_path):
    paths = {1: write(people(700), tmp_path / "people.parquet")}
    events = compare(one_node(kind, params), paths, tmp_path, client)
    assert any(e.startswith(f"t ({kind}): ") and e.endswith(", on Dask.") for e in events)


@pytest.mark.parametrize("kind", sorted(FIT_THEN_ROWWISE))
def test_fits_made_on_dask_learn_the_states_of_a_whole_run(kind, client, tmp_path):
    source = write(demo_frame(500, seed=3), tmp_path / "demo.parquet", row_group_size=64)
    events = compare(parse_flow(single_node_flow(kind)), {1: source}, tmp_path, client)
    assert any(e.endswith("on Dask).") for e in events), events


def test_a_scheduler_address_runs_the_steps_on_that_cluster(tmp_path):
    """As with DASK_SCHEDULER_ADDRESS: the job connects to a running scheduler over TCP."""
    from distributed import LocalCluster

    paths = {1: write(people(400), tmp_path / "people.parquet")}
    graph = chain(
        ("f", "fill_missing", {"columns": ["value"], "strategy": "mean"}),
        ("t", "sort", {"columns": ["city", "value"]}),
    )
    with LocalCluster(
        n_workers=1,
        threads_per_worker=2,
        processes=False,
        protocol="tcp",
        host="127.0.0.1",
        dashboard_address=None,
    ) as cluster:
        address = cluster.scheduler_address
        assert address.startswith("tcp://")
        with scale.dask_client(address, tmp_path / "dask") as client:
            events = compare(graph, paths, tmp_path, client, target="t")
            assert client.scheduler.address == address
            # The cluster did the work: the fit's tasks, the sort's reads, shuffle and writes.
            prefixes = set(cluster.scheduler.task_prefixes)
            assert "fit_partition" in prefixes, prefixes
            assert {"read_group", "p2pshuffle", "toparquetdata"} <= prefixes, sorted(prefixes)
    assert "f (fill_missing): fitted on value (pass 1, on Dask)." in events
    assert any(e.startswith("t (sort): 400 rows, on Dask") for e in events), events
