"""Model quality: scikit-learn's numbers on crafted labels, CBPE's estimate close to the
realised metrics on calibrated probabilities, violations against a baseline, and ground truth
joined to captured rows."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from monitor.engine.quality import (
    classification_metrics,
    compare_quality,
    estimated_classification_metrics,
    join_ground_truth,
    label_key,
    regression_metrics,
)

TRUE = ["yes", "no", "yes", "yes", "no", "no", "yes", "no", "yes", "no"]
PRED = ["yes", "no", "no", "yes", "yes", "no", "yes", "no", "no", "no"]


def test_binary_metrics_equal_scikit_learns_for_the_positive_class():
    result = classification_metrics(TRUE, PRED, classes=["no", "yes"])
    assert result["problem"] == "binary" and result["positive"] == "yes"
    assert result["count"] == 10
    assert result["accuracy"] == pytest.approx(skm.accuracy_score(TRUE, PRED))
    assert result["precision"] == pytest.approx(skm.precision_score(TRUE, PRED, pos_label="yes"))
    assert result["recall"] == pytest.approx(skm.recall_score(TRUE, PRED, pos_label="yes"))
    assert result["f1"] == pytest.approx(skm.f1_score(TRUE, PRED, pos_label="yes"))
    assert result["auc"] is None  # no probabilities
    assert result["confusion_matrix"] == {
        "labels": ["no", "yes"],
        "matrix": skm.confusion_matrix(TRUE, PRED, labels=["no", "yes"]).tolist(),
    }
    assert result["per_class"]["no"]["support"] == 5
    assert result["per_class"]["no"]["recall"] == pytest.approx(
        skm.recall_score(TRUE, PRED, pos_label="no")
    )
    json.dumps(result)  # JSON as it is


def test_the_positive_class_defaults_to_the_lexically_larger_label_and_can_be_named():
    assert classification_metrics(TRUE, PRED)["positive"] == "yes"
    named = classification_metrics(TRUE, PRED, positive="no")
    assert named["positive"] == "no"
    assert named["precision"] == pytest.approx(skm.precision_score(TRUE, PRED, pos_label="no"))


def test_multiclass_metrics_are_macro_averages():
    truth = ["a", "b", "c", "a", "b", "c", "a", "a", "c", "b"]
    pred = ["a", "b", "b", "a", "c", "c", "b", "a", "c", "b"]
    result = classification_metrics(truth, pred, classes=["a", "b", "c"])
    assert result["problem"] == "multiclass" and result["average"] == "macro"
    assert result["precision"] == pytest.approx(skm.precision_score(truth, pred, average="macro"))
    assert result["recall"] == pytest.approx(skm.recall_score(truth, pred, average="macro"))
    assert result["f1"] == pytest.approx(skm.f1_score(truth, pred, average="macro"))
    assert result["confusion_matrix"]["matrix"] == skm.confusion_matrix(truth, pred).tolist()


def test_auc_comes_from_the_probabilities():
    rng = np.random.default_rng(3)
    truth = rng.integers(0, 2, size=200)
    p = np.clip(truth * 0.3 + rng.uniform(size=200) * 0.7, 0, 1)
    proba = np.column_stack([1 - p, p])
    result = classification_metrics(truth, (p >= 0.5).astype(int), probabilities=proba)
    assert result["auc"] == pytest.approx(skm.roc_auc_score(truth, p))
    # One column is the positive class's probability.
    assert classification_metrics(truth, truth, classes=[0, 1], probabilities=p)[
        "auc"
    ] == pytest.approx(skm.roc_auc_score(truth, p))
    # One class in the truth: AUC is undefined.
    ones = np.ones(200, dtype=int)
    assert classification_metrics(ones, ones, classes=[0, 1], probabilities=p)["auc"] is None


def test_multiclass_auc_is_one_vs_rest_macro():
    rng = np.random.default_rng(4)
    proba = rng.dirichlet([1, 1, 1], size=300)
    truth = np.array([rng.choice(3, p=row) for row in proba])
    labels = np.array(["a", "b", "c"])
    result = classification_metrics(
        labels[truth], labels[proba.argmax(axis=1)], classes=["a", "b", "c"], probabilities=proba
    )
    assert result["auc"] == pytest.approx(
        skm.roc_auc_score(truth, proba, multi_class="ovr", average="macro")
    )


def test_labels_of_different_types_compare_as_text():
    assert label_key(1) == label_key("1") == label_key(1.0) == label_key(np.int64(1)) == "1"
    assert label_key(None) is None and label_key(math.nan) is None and label_key("") is None
    # Captured "1"/"0" (a CSV answer) against ground truth 1/0 (and 1.0, as pandas reads it).
    truth = [1, 0, 1.0, 0]
    captured = ["1", "0", "0", "0"]
    result = classification_metrics(truth, captured, classes=[0, 1])
    assert result["accuracy"] == pytest.approx(0.75)
    assert result["positive"] == "1"
    assert result["confusion_matrix"] == {"labels": ["0", "1"], "matrix": [[2, 0], [1, 1]]}


def test_pairs_with_a_missing_label_are_left_out():
    result = classification_metrics(["a", None, "b", "a"], ["a", "b", float("nan"), "b"])
    assert result["count"] == 2 and result["accuracy"] == pytest.approx(0.5)


def test_regression_metrics_equal_scikit_learns():
    truth = [3.0, -0.5, 2.0, 7.0]
    pred = [2.5, 0.0, 2.0, 8.0]
    result = regression_metrics(truth, pred)
    assert result["problem"] == "regression" and result["count"] == 4
    assert result["rmse"] == pytest.approx(math.sqrt(skm.mean_squared_error(truth, pred)))
    assert result["mae"] == pytest.approx(skm.mean_absolute_error(truth, pred))
    assert result["r2"] == pytest.approx(skm.r2_score(truth, pred))
    assert result["mape"] == pytest.approx(skm.mean_absolute_percentage_error(truth, pred))
    assert regression_metrics([0.0, 1.0], [0.5, 1.0])["mape"] is None
    with_gaps = regression_metrics([1.0, None, "3"], [1.5, 2.0, 3.0])
    assert with_gaps["count"] == 2 and with_gaps["mae"] == pytest.approx(0.25)


def test_cbpe_estimates_the_realised_binary_metrics_on_calibrated_probabilities():
    rng = np.random.default_rng(7)
    p = rng.beta(2, 2, size=5000)
    truth = (rng.uniform(size=p.size) < p).astype(int)  # labels drawn as Bernoulli(p)
    proba = np.column_stack([1 - p, p])
    estimate = estimated_classification_metrics(proba, [0, 1])
    realised = classification_metrics(
        truth, (p >= 0.5).astype(int), classes=[0, 1], probabilities=proba
    )
    assert estimate["estimated"] is True and estimate["count"] == 5000
    assert estimate["positive"] == "1"
    assert estimate["accuracy"] == pytest.approx(np.maximum(p, 1 - p).mean())
    for name in ("accuracy", "f1", "precision", "recall", "auc"):
        assert abs(estimate[name] - realised[name]) < 0.03, name
    assert set(estimate) >= set(realised)
    matrix = np.asarray(estimate["confusion_matrix"]["matrix"])
    assert matrix.sum() == pytest.approx(5000)
    # The expected counts follow the definition: TP is the sum of p over predicted positives.
    assert matrix[1, 1] == pytest.approx(p[p >= 0.5].sum())
    assert matrix[0, 1] == pytest.approx((1 - p[p >= 0.5]).sum())
    assert matrix[1, 0] == pytest.approx(p[p < 0.5].sum())
    json.dumps(estimate)


def test_cbpe_takes_the_positive_probability_alone_and_multiclass_probabilities():
    rng = np.random.default_rng(8)
    p = rng.beta(2, 3, size=500)
    alone = estimated_classification_metrics(p, ["no", "yes"])
    both = estimated_classification_metrics(np.column_stack([1 - p, p]), ["no", "yes"])
    assert alone["f1"] == pytest.approx(both["f1"])

    proba = rng.dirichlet([2, 2, 2], size=5000)
    truth = np.array([rng.choice(3, p=row) for row in proba])
    estimate = estimated_classification_metrics(proba, ["a", "b", "c"])
    realised = classification_metrics(
        np.array(["a", "b", "c"])[truth],
        np.array(["a", "b", "c"])[proba.argmax(axis=1)],
        classes=["a", "b", "c"],
    )
    assert estimate["problem"] == "multiclass" and estimate["average"] == "macro"
    for name in ("accuracy", "f1"):
        assert abs(estimate[name] - realised[name]) < 0.03, name


def test_compare_quality_flags_a_drop_and_not_a_stable_value():
    baseline = {"problem": "binary", "accuracy": 0.90, "f1": 0.80, "auc": 0.95, "recall": None}
    current = {"problem": "binary", "accuracy": 0.88, "f1": 0.70, "auc": 0.94, "recall": 0.5}
    violations = compare_quality(current, baseline)
    assert violations == [
        {
            "feature": None,
            "check": "model_quality_check",
            "description": violations[0]["description"],
            "value": 0.70,
            "threshold": pytest.approx(0.75),
        }
    ]
    assert "F1" in violations[0]["description"]
    assert compare_quality(baseline, baseline) == []
    assert len(compare_quality(current, baseline, tolerance=0.01)) == 2


def test_compare_quality_flags_regression_errors_that_grow():
    baseline = {"problem": "regression", "rmse": 2.0, "mae": 1.0, "r2": 0.9}
    stable = {"problem": "regression", "rmse": 2.05, "mae": 1.04, "r2": 0.1}
    worse = {"problem": "regression", "rmse": 2.5, "mae": 1.0}
    assert compare_quality(stable, baseline) == []
    [violation] = compare_quality(worse, baseline)
    assert violation["value"] == 2.5 and violation["threshold"] == pytest.approx(2.1)
    assert violation["check"] == "model_quality_check" and violation["feature"] is None


def test_join_ground_truth_keeps_the_last_label_and_only_labelled_rows():
    meta = pd.DataFrame(
        {
            "event_id": ["e1", "e1", "e2", "e3"],
            "row": [0, 1, 0, 0],
            "time": pd.to_datetime(["2026-12-06T21:00:00Z"] * 4),
            "variant": ["A"] * 4,
            "inference_id": [None] * 4,
        }
    )
    outputs = pd.DataFrame({"predicted_label": ["yes", "no", "no", "yes"], "probability": 0.9})
    truth = pd.DataFrame(
        {
            "event_id": ["e1", "e2", "e1", "e2", "unknown"],
            "row": [1, None, 0, 0, 0],
            "label": ["no", "yes", "yes", "no", "yes"],
        }
    )
    joined = join_ground_truth(meta, outputs, truth)
    assert list(joined.columns) == ["event_id", "row", "label", "predicted_label", "probability"]
    assert joined[["event_id", "row", "label"]].values.tolist() == [
        ["e1", 0, "yes"],
        ["e1", 1, "no"],
        ["e2", 0, "no"],  # the later label corrects the earlier one
    ]
    assert joined["predicted_label"].tolist() == ["yes", "no", "no"]
    # Without a row column every label is for row 0.
    plain = join_ground_truth(meta, outputs, pd.DataFrame({"event_id": ["e3"], "label": [1]}))
    assert plain[["event_id", "row", "label"]].values.tolist() == [["e3", 0, 1]]


def test_join_ground_truth_is_fast_on_a_large_capture():
    n = 200_000
    ids = np.array([f"e{i}" for i in range(n)], dtype=object)
    meta = pd.DataFrame({"event_id": ids, "row": np.zeros(n, dtype=np.int64)})
    outputs = pd.DataFrame({"prediction": np.arange(n, dtype=np.float64)})
    truth = pd.DataFrame({"event_id": ids[::2], "label": np.arange(0, n, 2, dtype=np.float64)})
    joined = join_ground_truth(meta, outputs, truth)
    assert len(joined) == n // 2
    assert (joined["label"] == joined["prediction"]).all()
