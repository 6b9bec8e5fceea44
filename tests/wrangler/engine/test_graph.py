"""Parsing a flow: ids, types, parameters, edges and inputs, cycles; and running parts of it."""

from __future__ import annotations

import pandas as pd
import pytest

from wrangler.engine import FlowError, parse_flow, run_flow
from wrangler.engine.params import check_params
from wrangler.engine.registry import catalog, get_transform


def flow(*nodes, edges):
    return {"nodes": list(nodes), "edges": edges}


SRC = {"id": "a", "type": "source", "params": {"dataset": 1}}
SRC2 = {"id": "b", "type": "source", "params": {"dataset": 2}}
FRAMES = {
    1: pd.DataFrame({"k": [1, 2, 3, 3], "v": [1.0, 2.0, None, 4.0], "t": ["x", "y", "é", "z"]}),
    2: pd.DataFrame({"k": [3, 4], "w": ["three", "four"]}),
}


def load(node):
    return FRAMES[node.params["dataset"]]


def test_nodes_come_out_in_an_order_where_inputs_come_first():
    graph = parse_flow(
        flow(
            {"id": "j", "type": "join", "params": {"left_on": ["k"], "right_on": ["k"]}},
            SRC2,
            SRC,
            edges=[["a", "j"], ["b", "j"]],
        )
    )
    assert graph.order.index("j") == 2
    assert graph.nodes["j"].inputs == ("a", "b")


def test_an_edge_may_name_the_input_it_feeds():
    graph = parse_flow(
        flow(
            SRC,
            SRC2,
            {"id": "j", "type": "join", "params": {"left_on": ["k"], "right_on": ["k"]}},
            edges=[["a", "j", 1], ["b", "j", 0]],
        )
    )
    assert graph.nodes["j"].inputs == ("b", "a")


@pytest.mark.parametrize(
    "data, node, text",
    [
        ({"nodes": "x"}, None, "lists"),
        (flow(SRC, {"id": "a", "type": "sort", "params": {}}, edges=[]), "a", "Two nodes"),
        (flow({"id": "bad id!", "type": "source"}, edges=[]), "bad id!", "node id"),
        (flow({"id": "a", "type": "source", "params": {}}, edges=[]), "a", "dataset"),
        (flow(SRC, edges=[["a", "zz"]]), "zz", "does not exist"),
        (
            flow(SRC, {"id": "s", "type": "sort", "params": {"columns": ["k"]}}, edges=[]),
            "s",
            "Connect",
        ),
        (
            flow(SRC, {"id": "s", "type": "group_by", "params": {"by": "k"}}, edges=[["a", "s"]]),
            "s",
            "list of column names",
        ),
        (
            flow(SRC, {"id": "s", "type": "join", "params": {}}, edges=[["a", "s"]]),
            "s",
            "takes 2 inputs",
        ),
    ],
)
def test_a_bad_flow_names_the_node_at_fault(data, node, text):
    with pytest.raises(FlowError) as caught:
        parse_flow(data)
    assert caught.value.node == node
    assert text in caught.value.message


def test_a_cycle_is_found_and_pinned_to_a_node_on_it():
    data = flow(
        SRC,
        {"id": "c", "type": "concat", "params": {}},
        {"id": "l", "type": "lag_features", "params": {"columns": ["v"]}},
        edges=[["a", "c"], ["l", "c"], ["c", "l"]],
    )
    with pytest.raises(FlowError, match="cycle") as caught:
        parse_flow(data)
    assert caught.value.node in ("c", "l")


def test_params_get_their_defaults_and_unknown_ones_are_refused():
    defn = get_transform("rolling_window")
    assert check_params(defn, {"columns": ["v"]})["window"] == 3
    with pytest.raises(ValueError, match="no parameter"):
        check_params(defn, {"columns": ["v"], "size": 3})
    with pytest.raises(ValueError, match="at least 1"):
        check_params(defn, {"columns": ["v"], "window": 0})


def test_running_a_node_runs_only_what_it_needs_and_names_a_missing_column():
    data = flow(
        SRC,
        SRC2,
        {
            "id": "g",
            "type": "group_by",
            "params": {"by": ["k"], "aggregations": [{"column": "v", "func": "sum"}]},
        },
        {
            "id": "x",
            "type": "group_by",
            "params": {"by": ["w"], "aggregations": [{"column": "k", "func": "max"}]},
        },
        edges=[["a", "g"], ["a", "x"]],
    )
    graph = parse_flow(data)
    loaded = []
    out, states = run_flow(graph, "g", load_source=lambda n: loaded.append(n.id) or load(n))
    assert loaded == ["a"] and out["v_sum"].tolist() == [1.0, 2.0, 4.0]
    assert states == {}
    with pytest.raises(FlowError) as caught:
        run_flow(graph, "x", load_source=load)
    assert (caught.value.node, caught.value.field) == ("x", "by")


def test_fitted_state_is_applied_to_new_data_as_it_was():
    data = flow(
        SRC,
        {"id": "p", "type": "pivot", "params": {"index": ["k"], "columns": "t", "values": "v"}},
        edges=[["a", "p"]],
    )
    graph = parse_flow(data)
    fitted_out, states = run_flow(graph, "p", load_source=load)
    assert list(fitted_out.columns) == ["k", "t_x", "t_y", "t_z", "t_é"]
    new = pd.DataFrame({"k": [9], "v": [5.0], "t": ["never seen"]})
    applied, _ = run_flow(graph, "p", load_source=lambda n: new, states=states)
    assert list(applied.columns) == list(fitted_out.columns)
    assert applied.iloc[0, 1:].isna().all()


def test_custom_code_runs_only_where_the_caller_allows_it():
    data = flow(
        SRC,
        {"id": "c", "type": "custom_pandas", "params": {"code": "df = df.head(1)"}},
        edges=[["a", "c"]],
    )
    graph = parse_flow(data)
    with pytest.raises(FlowError, match="only in a worker"):
        run_flow(graph, "c", load_source=load)
    out, _ = run_flow(graph, "c", load_source=load, allow_custom_code=True)
    assert len(out) == 1


def test_every_transform_describes_itself_in_plain_text():
    described = {t.type: t.description for t in catalog()}
    assert described["one_hot_encode"] == (
        "Add a 0/1 column <column>_<value> for each learnt value of each column."
    )
    assert all(text and "``" not in text for text in described.values()), described
