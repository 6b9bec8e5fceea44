"""SHAP explanations of small models trained by the training engine: exact TreeSHAP of
XGBoost (checked against the model's margins and ``shap.TreeExplainer``), TreeSHAP of a
random forest, KernelSHAP of linear models over source features, one-hot groups summed back
into their column, rankings, sampling and the JSON shape."""

from __future__ import annotations

import functools
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import xgboost as xgb
from sklearn.pipeline import Pipeline

from monitor.engine.explain import Explanation, explain, source_map, tree_shap_matrix
from training.engine.artifact import TrainedModel, load
from training.engine.features import input_schema, prepare, preprocessor
from training.engine.train import train

ROOT = Path(__file__).resolve().parents[3]
ROWS = 400
FEATURES = ["x", "y", "city", "noise"]


def table(rows: int = ROWS, seed: int = 3) -> pd.DataFrame:
    """``x`` drives every target, ``y`` and ``city`` less, ``noise`` not at all."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=rows)
    y = rng.normal(size=rows)
    city = rng.choice(["Paris", "Lyon", "Nice"], size=rows)
    noise = rng.normal(size=rows)
    score = 3.0 * x + 0.8 * y + 1.0 * (city == "Paris")
    return pd.DataFrame(
        {
            "x": x,
            "y": y,
            "city": city,
            "noise": noise,
            "label": np.where(score > 0, "yes", "no"),
            "spend": 3.0 * x - 2.0 * y + 1.5 * (city == "Paris"),
            "tier": np.array(["high", "low", "mid"])[np.digitize(score, [-1.5, 1.5])],
        }
    )


MODELS: dict[str, tuple[str, str, dict[str, Any], list[str]]] = {
    "xgb-binary": ("xgboost", "label", {"num_round": 30, "max_depth": 3}, FEATURES),
    "xgb-regressor": ("xgboost", "spend", {"num_round": 30, "max_depth": 3}, FEATURES),
    "xgb-multiclass": ("xgboost", "tier", {"num_round": 20, "max_depth": 3}, FEATURES),
    "linear-binary": ("linear-learner", "label", {}, FEATURES),
    "linear-numbers": ("linear-learner", "spend", {}, ["x", "y", "noise"]),
    "forest": ("random-forest", "label", {"num_trees": 10, "max_depth": 6}, FEATURES),
}


@functools.cache
def _folder() -> Path:
    return Path(tempfile.mkdtemp(prefix="explain-models-"))


def _train(
    name: str,
    frame: pd.DataFrame,
    algorithm: str,
    target: str,
    hp: dict[str, Any],
    validation: pd.DataFrame | None = None,
) -> Any:
    folder = _folder() / name
    folder.mkdir()
    channels = {}
    for channel, data in (("train", frame), ("validation", validation)):
        if data is not None:
            path = folder / f"{channel}.parquet"
            pq.write_table(pa.Table.from_pandas(data, preserve_index=False), path)
            channels[channel] = str(path)
    spec = {
        "algorithm": algorithm,
        "hyperparameters": hp,
        "channels": channels,
        "target": target,
        "problem_type": "auto",
        "threads": 1,
        "device": "cpu",
        "seed": 0,
        "output_dir": str(folder / "output"),
    }
    train(spec, None)
    return load(folder / "output" / "model.tar.gz")


@functools.cache
def trained(name: str) -> TrainedModel:
    """A model of ``MODELS``, trained once per test session on ``table()``."""
    algorithm, target, hp, columns = MODELS[name]
    model: TrainedModel = _train(name, table()[[*columns, target]], algorithm, target, hp)
    return model


def matrix(model: TrainedModel, frame: pd.DataFrame) -> Any:
    """The preprocessed rows the estimator sees."""
    return model.pipeline[:-1].transform(model.inputs(frame))


def assert_additive(explanation: Explanation, tolerance: float) -> None:
    total = explanation.attributions.sum(axis=1) + explanation.expected_value
    np.testing.assert_allclose(total, explanation.predictions, rtol=0, atol=tolerance)


def test_xgboost_attributions_add_up_to_the_models_log_odds() -> None:
    model = trained("xgb-binary")
    frame = table(200, seed=11)
    explanation = explain(model, frame)
    assert explanation.method == "tree"
    assert explanation.output == "log-odds of 'yes'"
    assert explanation.classes == ("no", "yes")
    assert explanation.features == tuple(FEATURES)
    assert explanation.attributions.shape == (200, 4)
    assert explanation.attributions.dtype == np.float64
    margin = model.estimator.predict(matrix(model, frame), output_margin=True)
    np.testing.assert_allclose(explanation.predictions, margin, rtol=0, atol=1e-4)
    assert_additive(explanation, 1e-4)


def test_an_early_stopped_booster_is_explained_up_to_its_best_round() -> None:
    columns = [*FEATURES, "label"]
    shuffled = table(200, seed=25)[columns]
    shuffled["label"] = np.random.default_rng(0).permutation(shuffled["label"].to_numpy())
    hp = {"num_round": 100, "early_stopping_rounds": 3}
    model = _train("early", table()[columns], "xgboost", "label", hp, validation=shuffled)
    booster = model.estimator.get_booster()
    assert int(booster.attr("best_iteration")) + 1 < booster.num_boosted_rounds()
    frame = table(100, seed=26)
    explanation = explain(model, frame)
    margin = model.estimator.predict(matrix(model, frame), output_margin=True)
    np.testing.assert_allclose(explanation.predictions, margin, rtol=0, atol=1e-4)
    assert_additive(explanation, 1e-4)


def test_exact_tree_shap_equals_shaps_tree_explainer() -> None:
    import shap

    frame = table(150, seed=12)
    for name in ("xgb-binary", "xgb-multiclass"):
        model = trained(name)
        rows = matrix(model, frame)
        booster = model.estimator.get_booster()
        ours = tree_shap_matrix(booster, rows)
        theirs = np.asarray(shap.TreeExplainer(booster).shap_values(rows))
        if ours.ndim == 3:  # (rows, classes, features + 1) against (rows, features, classes)
            theirs = np.moveaxis(theirs, -1, 1)
        np.testing.assert_allclose(ours[..., :-1], theirs, rtol=0, atol=1e-4)


def test_the_first_class_of_two_is_explained_as_the_negated_log_odds() -> None:
    model = trained("xgb-binary")
    frame = table(50, seed=13)
    yes = explain(model, frame)
    no = explain(model, frame, target_class="no")
    assert no.output == "log-odds of 'no'"
    np.testing.assert_allclose(no.attributions, -yes.attributions)
    assert no.expected_value == pytest.approx(-yes.expected_value)
    assert_additive(no, 1e-4)


def test_xgboost_regression_attributions_add_up_to_the_prediction() -> None:
    model = trained("xgb-regressor")
    frame = table(200, seed=14)
    explanation = explain(model, frame)
    assert (explanation.method, explanation.output, explanation.classes) == (
        "tree",
        "prediction",
        None,
    )
    predicted = model.predict(frame)["prediction"].to_numpy()
    np.testing.assert_allclose(explanation.predictions, predicted, rtol=0, atol=1e-4)
    assert_additive(explanation, 1e-4)


def test_a_multiclass_model_explains_one_class_margin() -> None:
    model = trained("xgb-multiclass")
    frame = table(120, seed=15)
    margins = model.estimator.predict(matrix(model, frame), output_margin=True)
    first = explain(model, frame)
    assert first.output == "margin of 'high' (before softmax)"
    np.testing.assert_allclose(first.predictions, margins[:, 0], rtol=0, atol=1e-4)
    assert_additive(first, 1e-4)
    mid = explain(model, frame, target_class="mid")
    np.testing.assert_allclose(mid.predictions, margins[:, 2], rtol=0, atol=1e-4)
    assert_additive(mid, 1e-4)
    with pytest.raises(ValueError, match="not one of the model's classes"):
        explain(model, frame, target_class="unknown")


def test_kernel_shap_of_a_linear_classifier_adds_up_to_its_probability() -> None:
    model = trained("linear-binary")
    frame = table(20, seed=16)
    shares: list[float] = []
    explanation = explain(
        model,
        frame,
        background=table(300, seed=17),
        kernel_background_k=8,
        on_progress=shares.append,
    )
    assert explanation.method == "kernel"
    assert explanation.output == "probability of 'yes'"
    assert explanation.features == tuple(FEATURES)  # no city_Paris: one column per source
    proba = model.pipeline.predict_proba(model.inputs(frame))[:, 1]
    np.testing.assert_allclose(explanation.predictions, proba, rtol=0, atol=1e-9)
    assert_additive(explanation, 1e-6)
    assert shares == sorted(shares)
    assert shares[-1] == 1.0


def test_kernel_shap_recovers_a_linear_models_terms() -> None:
    # For a linear model, differences between rows' SHAP values are differences of its
    # terms, whatever the background.
    model = trained("linear-numbers")
    frame = table(20, seed=18)
    explanation = explain(model, frame, kernel_background_k=5)
    assert explanation.method == "kernel"
    assert explanation.output == "prediction"
    assert_additive(explanation, 1e-6)
    terms = matrix(model, frame) * model.estimator.coef_
    np.testing.assert_allclose(
        explanation.attributions - explanation.attributions[0],
        terms - terms[0],
        rtol=0,
        atol=1e-8,
    )


def test_one_hot_columns_are_summed_back_into_their_source() -> None:
    frame = table()
    inputs = frame[FEATURES]
    schema = input_schema(inputs)
    features = preprocessor(schema, "scaled")
    rows = features.fit_transform(prepare(inputs, schema))
    labels = (frame["label"] == "yes").to_numpy(dtype=int)
    booster = xgb.XGBClassifier(n_estimators=20, max_depth=3, n_jobs=1).fit(rows, labels)
    metadata = {
        "algorithm": "xgboost",
        "problem_type": "binary_classification",
        "input_schema": [c.to_dict() for c in schema],
        "number_type": "float64",
        "classes": ["no", "yes"],
    }
    model = TrainedModel(Pipeline([("features", features), ("model", booster)]), metadata)
    shown = table(60, seed=19)
    explanation = explain(model, shown, method="tree")
    assert explanation.features == tuple(FEATURES)
    assert_additive(explanation, 1e-4)

    contributions = tree_shap_matrix(booster, matrix(model, shown))[:, :-1]
    assert contributions.shape[1] == 6  # x, y, noise, then one column per city
    city = features.output_indices_["categories"]
    assert city.stop - city.start == 3
    np.testing.assert_allclose(
        explanation.attributions[:, FEATURES.index("city")],
        contributions[:, city].sum(axis=1),
        rtol=0,
        atol=1e-6,
    )
    mapping = source_map(model.pipeline[:-1], FEATURES, 6)
    assert [FEATURES[i] for i in mapping] == ["x", "y", "noise", "city", "city", "city"]


def test_source_map_follows_the_one_hot_encoders_categories() -> None:
    model = trained("linear-binary")
    names = model.metadata["feature_names"]
    mapping = source_map(model.pipeline[:-1], FEATURES, len(names))
    for name, source in zip(names, mapping, strict=True):
        assert name == FEATURES[source] or name.startswith(f"{FEATURES[source]}_")


def test_a_random_forest_is_explained_exactly_by_tree_shap() -> None:
    model = trained("forest")
    frame = table(100, seed=20)
    explanation = explain(model, frame)
    assert explanation.method == "tree_sklearn"
    assert explanation.output == "probability of 'yes'"
    proba = model.pipeline.predict_proba(model.inputs(frame))[:, 1]
    np.testing.assert_allclose(explanation.predictions, proba, rtol=0, atol=1e-9)
    assert_additive(explanation, 1e-6)
    assert explanation.global_importance()[0]["feature"] == "x"


@pytest.mark.parametrize("name", ["xgb-binary", "xgb-regressor", "linear-binary"])
def test_the_feature_the_label_depends_on_ranks_first_and_noise_last(name: str) -> None:
    frame = table(60, seed=21)
    explanation = explain(trained(name), frame, kernel_background_k=5)
    ranking = explanation.global_importance()
    assert ranking[0]["feature"] == "x"
    assert ranking[-1]["feature"] == "noise"
    shares = [r["mean_abs_shap"] for r in ranking]
    assert shares == sorted(shares, reverse=True)
    expected = np.abs(explanation.attributions).mean(axis=0)
    assert shares[0] == pytest.approx(expected.max())


def test_max_rows_explains_a_seeded_sample_in_frame_order() -> None:
    model = trained("xgb-binary")
    frame = table(300, seed=22)
    frame.index = pd.RangeIndex(1000, 1300)
    first = explain(model, frame, max_rows=40, seed=1)
    again = explain(model, frame, max_rows=40, seed=1)
    other = explain(model, frame, max_rows=40, seed=2)
    assert len(first.values) == len(first.predictions) == 40
    assert list(first.values.index) == list(again.values.index)
    assert list(first.values.index) != list(other.values.index)
    assert first.values.index.is_monotonic_increasing
    assert list(first.values.columns) == FEATURES
    assert len(explain(model, frame, max_rows=None).predictions) == 300


def test_to_dict_is_plain_json_without_nan() -> None:
    model = trained("xgb-binary")
    frame = table(80, seed=23)
    frame.loc[::7, "y"] = np.nan
    frame.loc[::5, "city"] = None
    explanation = explain(model, frame)
    out = explanation.to_dict(max_rows=10, dependence_top=3)
    decoded = json.loads(json.dumps(out, allow_nan=False))
    assert set(decoded) == {
        "method",
        "output",
        "classes",
        "expected_value",
        "features",
        "global_importance",
        "rows",
        "dependence",
    }
    assert decoded["classes"] == ["no", "yes"]
    assert decoded["features"] == FEATURES
    assert len(decoded["rows"]) == 10
    row = decoded["rows"][0]
    assert row["index"] == 0
    assert set(row["attributions"]) == set(FEATURES)
    assert row["prediction"] == pytest.approx(
        sum(row["attributions"].values()) + decoded["expected_value"], abs=1e-4
    )
    top = [r["feature"] for r in decoded["global_importance"][:3]]
    assert list(decoded["dependence"]) == top
    for name, plot in decoded["dependence"].items():
        assert len(plot["x"]) == len(plot["shap"]) == 80
        if name == "city":
            assert {v for v in plot["x"] if v is not None} <= {"Paris", "Lyon", "Nice"}
            assert None in plot["x"]
        if name == "y":
            assert None in plot["x"]
    assert "city" in explain(model, frame).to_dict(dependence_top=4)["dependence"]


def test_text_columns_sum_into_their_column() -> None:
    rng = np.random.default_rng(24)
    good = rng.choice(["great", "lovely", "fine"], size=120)
    bad = rng.choice(["awful", "broken", "late"], size=120)
    positive = rng.random(120) < 0.5
    frame = pd.DataFrame(
        {
            "review": [
                f"{g} product" if p else f"{b} product"
                for g, b, p in zip(good, bad, positive, strict=True)
            ],
            "label": np.where(positive, "good", "bad"),
        }
    )
    model: TrainedModel = _train("text", frame, "text-classifier", "label", {"word_ngrams": 1})
    width = int(matrix(model, frame).shape[1])
    assert width > 1
    assert set(source_map(model.pipeline[:-1], ["review"], width)) == {0}
    explanation = explain(model, frame.head(10), kernel_background_k=4)
    assert explanation.features == ("review",)
    assert explanation.output == "probability of 'good'"
    assert_additive(explanation, 1e-9)


def test_methods_that_do_not_fit_the_model_are_refused() -> None:
    frame = table(10)
    with pytest.raises(ValueError, match="XGBoost"):
        explain(trained("linear-binary"), frame, method="tree")
    with pytest.raises(ValueError, match="scikit-learn trees"):
        explain(trained("xgb-binary"), frame, method="tree_sklearn")
    with pytest.raises(ValueError, match="Unknown explanation method"):
        explain(trained("xgb-binary"), frame, method="lime")
    with pytest.raises(ValueError, match="no column 'city'"):
        explain(trained("xgb-binary"), frame.drop(columns=["city"]))


def test_importing_the_module_does_not_import_shap() -> None:
    code = "import sys, monitor.engine.explain; sys.exit('shap' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True)
    assert result.returncode == 0, result.stderr.decode()
