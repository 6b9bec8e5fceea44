"""The plots behind the debugger rules, and the summary of values they are drawn from."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from training.engine.debugger import Values, check_rules, evaluate
from training.engine.rule_figures import MAX_POINTS, rule_figures
from training.engine.train import train


def figures_of(names: list[str], values: Values, classes=None) -> dict[str, dict]:
    statuses = evaluate(check_rules(names), values)
    out = rule_figures(statuses, values.series, values.summary(), classes)
    return {rule["name"]: rule for rule in out}


def curve(values: list[float]) -> list[tuple[int, float]]:
    return list(enumerate(values))


def test_the_summary_thins_long_histories_and_keeps_their_ends():
    values = Values()
    for step in range(2000):
        values.add_tensor("w", step, {"mean": step, "mean_abs": step, "nan": 0.0})
    summary = values.summary(limit=100)
    steps = summary["tensors"]["w"]["step"]
    assert len(steps) == 100 and steps[0] == 0 and steps[-1] == 1999
    assert summary["tensors"]["w"]["mean"][-1] == 1999.0


def test_the_summary_has_no_nan_for_json():
    values = Values(tensors={"g": [(0, {"mean": math.nan, "max": math.inf, "nan": 3.0})]})
    tensor = values.summary()["tensors"]["g"]
    assert tensor["mean"] == [None] and tensor["max"] == [None] and tensor["nan"] == [3.0]
    assert tensor["min"] == [None]  # never recorded


def test_overfit_draws_the_gap_it_compares_with_its_threshold():
    train = curve([1.0, 0.5, 0.25])
    validation = curve([1.1, 0.75, 0.5])
    values = Values(series={"train:logloss": train, "validation:logloss": validation})
    rule = figures_of(["Overfit"], values)["Overfit"]
    figure = rule["figure"]
    assert figure["kind"] == "lines" and figure["threshold"] == 0.1
    (trace,) = figure["traces"]
    assert trace["x"] == [0, 1, 2]
    assert np.allclose(trace["y"], [0.1, 0.5, 1.0])
    assert rule["status"] == "IssuesFound" and "validation loss" in rule["note"]


def test_loss_rules_draw_the_series_they_match():
    values = Values(
        series={
            "train:logloss": curve([1, 0.5]),
            "validation:logloss": curve([1, 0.6]),
            "train:auc": curve([0.5, 0.7]),
        }
    )
    rules = figures_of(["LossNotDecreasing", "Overtraining"], values)
    names = [t["name"] for t in rules["LossNotDecreasing"]["figure"]["traces"]]
    assert names == ["train:logloss", "validation:logloss"]
    names = [t["name"] for t in rules["Overtraining"]["figure"]["traces"]]
    assert names == ["train:logloss", "validation:logloss"]


def test_a_long_series_is_drawn_with_at_most_max_points():
    values = Values(series={"train:loss": curve([1 / (s + 1) for s in range(5000)])})
    (trace,) = figures_of(["LossNotDecreasing"], values)["LossNotDecreasing"]["figure"]["traces"]
    assert len(trace["x"]) == MAX_POINTS and trace["x"][-1] == 4999


def test_tensor_rules_draw_their_tensors_statistics():
    rows = [(s, {"mean": 0.5, "mean_abs": 10.0**-s, "nan": 0.0, "inf": 0.0}) for s in range(9)]
    rows.append((9, {"mean": 0.5, "mean_abs": 1e-9, "nan": 2.0, "inf": 1.0}))
    values = Values(tensors={"layer/grad": rows, "weights": rows[:3]})
    rules = figures_of(["VanishingGradient", "UnchangedTensor", "ExplodingTensor"], values)
    vanishing = rules["VanishingGradient"]["figure"]
    assert vanishing["log_y"] and vanishing["threshold"] == 1e-7
    assert [t["name"] for t in vanishing["traces"]] == ["layer/grad"]  # the regex "grad"
    unchanged = rules["UnchangedTensor"]["figure"]
    assert [t["name"] for t in unchanged["traces"]] == ["layer/grad", "weights"]
    exploding = rules["ExplodingTensor"]["figure"]
    assert exploding["traces"][0]["y"][-1] == 3.0 and exploding["threshold"] == 0


def test_only_nan_counts_only_nan():
    values = Values(tensors={"w": [(0, {"nan": 2.0, "inf": 5.0})]})
    statuses = evaluate(
        check_rules([{"name": "ExplodingTensor", "params": {"only_nan": True}}]), values
    )
    (rule,) = rule_figures(statuses, {}, values.summary())
    assert rule["figure"]["traces"][0]["y"] == [2.0]


def test_class_imbalance_draws_the_classes_with_the_limit():
    values = Values(class_counts=[500, 20, 0])
    rule = figures_of(["ClassImbalance"], values, classes=["a", "b", "c"])["ClassImbalance"]
    figure = rule["figure"]
    assert figure["kind"] == "bars"
    assert figure["traces"][0]["x"] == ["a", "b", "c"]
    assert figure["traces"][0]["y"] == [500.0, 20.0, 0.0]
    assert figure["threshold"] == 200  # the smallest class with rows × 10


def test_tree_depth_draws_a_histogram_of_depths():
    values = Values(tree_depths=[2, 3, 3, 6], finished=True)
    figure = figures_of(["TreeDepth"], values)["TreeDepth"]["figure"]
    assert figure["traces"][0]["x"] == [0, 1, 2, 3, 4, 5, 6]
    assert figure["traces"][0]["y"] == [0, 0, 1, 2, 0, 0, 1]
    assert figure["threshold"] == 4 and figure["threshold_axis"] == "x"


def test_feature_importance_draws_the_top_share_round_by_round():
    values = Values()
    values.add_importance(1, {"a": 0.5, "b": 0.2, "c": 0.2, "d": 0.1})
    values.add_importance(3, {"a": 0.7, "b": 0.2, "c": 0.05, "d": 0.05})
    rule = figures_of(["FeatureImportanceOverweight"], values)["FeatureImportanceOverweight"]
    (trace,) = rule["figure"]["traces"]
    assert trace["x"] == [1, 3] and np.allclose(trace["y"], [0.9, 0.95])
    assert rule["status"] == "IssuesFound" and rule["figure"]["threshold"] == 0.8


def test_final_importances_alone_are_drawn_as_bars():
    values = Values(feature_importance={"a": 0.6, "b": 0.4}, finished=True)
    figure = figures_of(["FeatureImportanceOverweight"], values)["FeatureImportanceOverweight"]
    assert figure["figure"]["kind"] == "bars"
    assert figure["figure"]["traces"][0]["x"] == ["a", "b"]


def test_a_rule_without_its_values_says_what_it_needs():
    rules = figures_of(
        ["Overfit", "VanishingGradient", "ClassImbalance", "StalledTrainingRule"], Values()
    )
    for rule in rules.values():
        assert rule["figure"] is None and rule["note"]
    assert "save_tensor" in rules["VanishingGradient"]["note"]


def test_xgboost_reports_class_counts_first_and_importances_as_it_trains(tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(400, 3)), columns=["a", "b", "c"])
    frame["y"] = (frame["a"] > 0.8).astype(int)
    frame.to_parquet(tmp_path / "train.parquet")
    messages: list[dict] = []
    train(
        {
            "algorithm": "xgboost",
            "hyperparameters": {"num_round": 100, "max_depth": 2},
            "channels": {"train": str(tmp_path / "train.parquet")},
            "target": "y",
            "output_dir": str(tmp_path / "model"),
        },
        messages.append,
    )
    debug = [m["debug"] for m in messages if "debug" in m]
    first_metric = next(i for i, m in enumerate(messages) if "metric" in m)
    counts_at = next(i for i, m in enumerate(messages) if "class_counts" in m.get("debug", {}))
    assert counts_at < first_metric  # known before the first round
    assert debug[0]["class_counts"] == [int((frame["y"] == 0).sum()), int(frame["y"].sum())]
    reports = [d["importance"] for d in debug if "importance" in d]
    assert [r["step"] for r in reports] == list(range(1, 100, 2))  # 50 reports over 100 rounds
    assert max(reports[-1]["shares"], key=reports[-1]["shares"].get) == "a"
    assert math.isclose(sum(reports[-1]["shares"].values()), 1.0, abs_tol=1e-5)
