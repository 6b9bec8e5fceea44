"""Inference pipelines: a flow's fitted transforms before the model and post-processing
after it give what applying them by hand gives."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from endpoints.engine.payloads import CSV, JSON, Column, PayloadError
from endpoints.engine.pipeline import FlowStep, PostProcess, arrow_numeric, check_flow
from endpoints.engine.predictor import Predictor
from tests.training.engine.helpers import run_training
from training.engine.artifact import load
from wrangler.engine.execute import run_flow
from wrangler.engine.graph import parse_flow

GRAPH = {
    "nodes": [
        {"id": "src", "type": "source", "params": {"dataset": 1}},
        {
            "id": "fill",
            "type": "fill_missing",
            "params": {"columns": ["usage"], "strategy": "median"},
        },
        {"id": "scale", "type": "standard_scale", "params": {"columns": ["usage", "age"]}},
        {"id": "onehot", "type": "one_hot_encode", "params": {"columns": ["plan"]}},
    ],
    "edges": [["src", "fill"], ["fill", "scale"], ["scale", "onehot"]],
}


def raw(rows: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    plan = rng.choice(["basic", "pro", "team"], size=rows)
    usage = rng.normal(10, 3, size=rows)
    usage[::17] = np.nan
    frame = pd.DataFrame({"plan": plan, "usage": usage, "age": rng.integers(18, 80, rows)})
    frame["label"] = np.where((plan == "basic") & (np.nan_to_num(usage, nan=10) < 10), 1, 0)
    return frame


@pytest.fixture(scope="module")
def fitted(tmp_path_factory) -> tuple[Path, dict]:
    """The flow fitted on training data (as its processing job does) and a model trained on
    the flow's output."""
    train = raw(500)
    graph = parse_flow(GRAPH)
    prepared, states = run_flow(graph, "onehot", load_source=lambda node: train)
    folder = tmp_path_factory.mktemp("pipeline")
    run_training(folder, "xgboost", prepared, target="label", hp={"num_round": 15})
    return sorted(folder.glob("job-*/output/model.tar.gz"))[-1], states


def columns() -> list[Column]:
    return [Column("plan", False), Column("usage", True), Column("age", True)]


def test_a_flow_then_the_model_answers_as_applying_them_by_hand(fitted):
    archive, states = fitted
    step = FlowStep(GRAPH, "onehot", states, columns(), label="label")
    predictor = Predictor(load(archive), flow=step)
    assert predictor.fast is None and [c.name for c in predictor.columns] == [
        "plan",
        "usage",
        "age",
    ]
    rows = raw(40, seed=9).drop(columns="label")
    request = predictor.decode(CSV, rows.to_csv(header=False, index=False).encode())
    got = predictor.predict([request])[0]

    by_hand, _ = run_flow(
        parse_flow(GRAPH),
        "onehot",
        load_source=lambda node: rows.assign(label=np.nan),
        states=states,
    )
    expected = load(archive).predict(by_hand)
    assert list(got.columns["predicted_label"]) == list(expected["predicted_label"])
    np.testing.assert_allclose(
        got.columns["probabilities"], expected[["probability_0", "probability_1"]], rtol=1e-6
    )


def test_json_rows_by_name_go_through_the_flow_too(fitted):
    archive, states = fitted
    predictor = Predictor(
        load(archive), flow=FlowStep(GRAPH, "onehot", states, columns(), label="label")
    )
    body = json.dumps(
        {"instances": [{"plan": "pro", "usage": 3.5, "age": 40}, {"plan": "basic", "age": 22}]}
    ).encode()
    request = predictor.decode(JSON, body)
    out = predictor.predict([request])[0]
    assert len(out) == 2
    unknown = predictor.decode(
        JSON, json.dumps({"instances": [{"plan": "gold", "usage": 1, "age": 3}]}).encode()
    )
    assert len(predictor.predict([unknown])[0]) == 1  # an unseen category is all zeros


def test_post_processing_names_labels_and_applies_a_threshold(fitted):
    archive, states = fitted
    step = FlowStep(GRAPH, "onehot", states, columns(), label="label")
    plain = Predictor(load(archive), flow=step)
    post = PostProcess(label_names={"0": "stay", "1": "churn"}, threshold=0.9)
    named = Predictor(load(archive), flow=step, post=post)
    rows = raw(60, seed=4).drop(columns="label")
    body = rows.to_csv(header=False, index=False).encode()
    base = plain.predict([plain.decode(CSV, body)])[0]
    got = named.predict([named.decode(CSV, body)])[0]
    proba = base.columns["probabilities"][:, 1]
    expected = np.where(proba >= 0.9, "churn", "stay")
    assert list(got.columns["predicted_label"]) == list(expected)
    assert got.labels == ["stay", "churn"]
    _, answer = named.encode(named.decode(CSV, body, accept=JSON), got)
    assert json.loads(answer)["labels"] == ["stay", "churn"]
    assert named.metadata()["labels"] == ["stay", "churn"]


def test_a_flow_that_drops_or_reshapes_rows_cannot_prepare_requests():
    graph = {
        "nodes": [
            {"id": "src", "type": "source", "params": {"dataset": 1}},
            {
                "id": "f",
                "type": "filter_rows",
                "params": {"conditions": [{"column": "age", "op": ">", "value": 30}]},
            },
        ],
        "edges": [["src", "f"]],
    }
    reason = check_flow(parse_flow(graph), "f")
    assert reason is not None and "one row" in reason
    with pytest.raises(ValueError, match="one row"):
        FlowStep(graph, "f", {}, columns())
    assert check_flow(parse_flow(GRAPH), "onehot") is None


def test_a_request_the_flow_cannot_prepare_is_a_422(fitted):
    archive, states = fitted
    predictor = Predictor(
        load(archive),
        flow=FlowStep(GRAPH, "onehot", states, [Column("plan", False)], label="label"),
    )
    request = predictor.decode(CSV, b"pro\n")
    with pytest.raises(PayloadError) as caught:
        predictor.predict([request])
    assert caught.value.status == 422 and "usage" in caught.value.message


def test_arrow_types_that_are_numbers():
    assert arrow_numeric("double") and arrow_numeric("int64") and arrow_numeric("bool")
    assert not arrow_numeric("string") and not arrow_numeric("timestamp[us]")
