"""Each built-in algorithm against its library called directly on the same split with the
same settings (scikit-learn's bundled datasets; no database, no Django)."""

from __future__ import annotations

import math
import warnings
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
from sklearn import datasets
from sklearn.cluster import KMeans
from sklearn.compose import TransformedTargetRegressor
from sklearn.decomposition import PCA
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import accuracy_score, mean_squared_error, r2_score
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from tests.training.engine.helpers import run_training
from training.engine import algorithms, get_algorithm, load, read_metadata
from training.engine.artifact import FORMAT

Split = tuple[pd.DataFrame, pd.DataFrame]


@cache
def _split(name: str) -> Split:
    loader = getattr(datasets, f"load_{name}")
    frame = loader(as_frame=True).frame
    train, validation = train_test_split(frame, random_state=0)
    return train.reset_index(drop=True), validation.reset_index(drop=True)


def split(name: str) -> Split:
    train, validation = _split(name)
    return train.copy(), validation.copy()


def xy(frame: pd.DataFrame, target: str = "target") -> tuple[np.ndarray, np.ndarray]:
    return frame.drop(columns=[target]).to_numpy(dtype="float64"), frame[target].to_numpy()


def scaled(estimator: Any) -> Pipeline:
    """What the engine's ``scaled`` encoding does to numbers, then ``estimator``."""
    return make_pipeline(SimpleImputer(strategy="median"), StandardScaler(), estimator)


def rmse(y: np.ndarray, predicted: np.ndarray) -> float:
    return math.sqrt(mean_squared_error(y, predicted))


# --------------------------------------------------------------------------- registry


def test_registry_lists_every_built_in_algorithm() -> None:
    names = {a.name for a in algorithms()}
    assert names == {
        "xgboost",
        "linear-learner",
        "random-forest",
        "knn",
        "mlp",
        "kmeans",
        "pca",
        "isolation-forest",
        "text-classifier",
        "factorization-machines",
        "forecasting",
    }
    assert get_algorithm("nope") is None
    described = get_algorithm("kmeans").to_dict()  # type: ignore[union-attr]
    assert described["supervised"] is False
    assert described["problem_types"] == ["clustering"]
    assert next(hp["name"] for hp in described["hyperparameters"]) == "k"
    assert get_algorithm("xgboost").supervised  # type: ignore[union-attr]


# --------------------------------------------------------------------------- xgboost

XGB_HP = {"num_round": 20, "eta": 0.2, "max_depth": 4}


def direct_xgb(cls: type, train: pd.DataFrame) -> Any:
    x, y = xy(train)
    model = cls(
        n_estimators=20,
        learning_rate=0.2,
        max_depth=4,
        tree_method="hist",
        random_state=0,
        n_jobs=1,
    )
    model.fit(x, y)
    return model


@pytest.mark.parametrize("dataset", ["breast_cancer", "wine"])
def test_xgboost_classification_matches_xgboost(tmp_path: Path, dataset: str) -> None:
    train, validation = split(dataset)
    result, _ = run_training(tmp_path, "xgboost", train, validation=validation, hp=XGB_HP)
    n_classes = train["target"].nunique()
    expected = "binary_classification" if n_classes == 2 else "multiclass_classification"
    assert result["problem_type"] == expected
    assert result["classes"] == list(range(n_classes))

    direct = direct_xgb(xgb.XGBClassifier, train)
    x_val, y_val = xy(validation)
    direct_accuracy = accuracy_score(y_val, direct.predict(x_val))
    assert result["final_metrics"]["validation:accuracy"] == pytest.approx(
        direct_accuracy, abs=1e-12
    )

    # Numbers pass through the ordinal encoding unchanged: the same trees, the same outputs.
    model = load(Path(result["artifact"]))
    predicted = model.predict(validation.drop(columns=["target"]))
    probabilities = predicted[[f"probability_{c}" for c in result["classes"]]].to_numpy()
    np.testing.assert_allclose(probabilities, direct.predict_proba(x_val), rtol=0, atol=1e-6)


def test_xgboost_regression_matches_xgboost(tmp_path: Path) -> None:
    train, validation = split("diabetes")
    result, _ = run_training(tmp_path, "xgboost", train, validation=validation, hp=XGB_HP)
    assert result["problem_type"] == "regression"
    assert result["classes"] is None

    direct = direct_xgb(xgb.XGBRegressor, train)
    x_val, y_val = xy(validation)
    expected = rmse(y_val, direct.predict(x_val))
    assert result["final_metrics"]["validation:rmse"] == pytest.approx(expected, rel=1e-6)
    assert result["final_metrics"]["validation:r2"] == pytest.approx(
        r2_score(y_val, direct.predict(x_val)), abs=1e-6
    )
    predicted = load(Path(result["artifact"])).predict(validation)
    np.testing.assert_allclose(predicted["prediction"], direct.predict(x_val), rtol=1e-6)


def test_xgboost_early_stopping_matches_xgboost(tmp_path: Path) -> None:
    train, validation = split("breast_cancer")
    hp = {"num_round": 300, "eta": 0.3, "max_depth": 3, "early_stopping_rounds": 5}
    result, events = run_training(tmp_path, "xgboost", train, validation=validation, hp=hp)

    x, y = xy(train)
    x_val, y_val = xy(validation)
    direct = xgb.XGBClassifier(
        n_estimators=300,
        learning_rate=0.3,
        max_depth=3,
        tree_method="hist",
        random_state=0,
        n_jobs=1,
        early_stopping_rounds=5,
    )
    direct.fit(x, y, eval_set=[(x, y), (x_val, y_val)], verbose=False)
    rounds_run = direct.best_iteration + 1 + 5
    assert rounds_run < 300
    steps = sorted({p["step"] for p in events_metric(events, "validation:logloss")})
    assert steps == list(range(rounds_run))

    model = load(Path(result["artifact"]))
    assert model.estimator.best_iteration == direct.best_iteration
    predicted = model.predict(validation)
    np.testing.assert_allclose(
        predicted["probability_1"], direct.predict_proba(x_val)[:, 1], rtol=0, atol=1e-6
    )
    # The progress callback is not pickled with the model.
    assert model.estimator.get_params()["callbacks"] is None


def events_metric(events: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [e["metric"] for e in events if "metric" in e and e["metric"]["name"] == name]


# --------------------------------------------------------------------------- random forest


def test_random_forest_classification_matches_scikit_learn(tmp_path: Path) -> None:
    train, validation = split("wine")
    hp = {"num_trees": 50}
    result, _ = run_training(tmp_path, "random-forest", train, validation=validation, hp=hp)
    x, y = xy(train)
    x_val, y_val = xy(validation)
    direct = RandomForestClassifier(n_estimators=50, max_features="sqrt", random_state=0, n_jobs=1)
    direct.fit(x, y)
    expected = accuracy_score(y_val, direct.predict(x_val))
    assert result["final_metrics"]["validation:accuracy"] == pytest.approx(expected, abs=0.02)
    # Same settings and seed: the same forest.
    predicted = load(Path(result["artifact"])).predict(validation)
    np.testing.assert_allclose(
        predicted[["probability_0", "probability_1", "probability_2"]].to_numpy(),
        direct.predict_proba(x_val),
        atol=1e-12,
    )
    importance = result["feature_importance"]
    assert sum(importance.values()) == pytest.approx(1.0, abs=1e-4)
    top = max(importance, key=lambda n: importance[n])
    names = list(train.columns.drop("target"))
    assert top == names[int(np.argmax(direct.feature_importances_))]


def test_random_forest_regression_matches_scikit_learn(tmp_path: Path) -> None:
    train, validation = split("diabetes")
    hp = {"num_trees": 50, "min_samples_leaf": 3}
    result, _ = run_training(tmp_path, "random-forest", train, validation=validation, hp=hp)
    x, y = xy(train)
    x_val, y_val = xy(validation)
    direct = RandomForestRegressor(
        n_estimators=50, min_samples_leaf=3, max_features=1.0, random_state=0, n_jobs=1
    ).fit(x, y)
    predicted = direct.predict(x_val)
    assert result["final_metrics"]["validation:r2"] == pytest.approx(
        r2_score(y_val, predicted), abs=0.02
    )
    assert result["final_metrics"]["validation:rmse"] == pytest.approx(
        rmse(y_val, predicted), rel=0.02
    )


# --------------------------------------------------------------------------- knn


def test_knn_classification_matches_scikit_learn(tmp_path: Path) -> None:
    train, validation = split("breast_cancer")
    hp = {"k": 7, "weights": "distance"}
    result, _ = run_training(tmp_path, "knn", train, validation=validation, hp=hp)
    x, y = xy(train)
    x_val, y_val = xy(validation)
    direct = scaled(KNeighborsClassifier(n_neighbors=7, weights="distance")).fit(x, y)
    expected = accuracy_score(y_val, direct.predict(x_val))
    assert result["final_metrics"]["validation:accuracy"] == pytest.approx(expected, abs=0.02)
    assert result["final_metrics"]["validation:accuracy"] > 0.93


def test_knn_regression_matches_scikit_learn(tmp_path: Path) -> None:
    train, validation = split("diabetes")
    hp = {"k": 10, "metric": "manhattan"}
    result, _ = run_training(tmp_path, "knn", train, validation=validation, hp=hp)
    x, y = xy(train)
    x_val, y_val = xy(validation)
    direct = scaled(KNeighborsRegressor(n_neighbors=10, metric="manhattan")).fit(x, y)
    predicted = direct.predict(x_val)
    assert result["final_metrics"]["validation:r2"] == pytest.approx(
        r2_score(y_val, predicted), abs=0.02
    )
    assert result["final_metrics"]["validation:rmse"] == pytest.approx(
        rmse(y_val, predicted), rel=0.01
    )


# --------------------------------------------------------------------------- linear learner


def test_linear_learner_classification_matches_logistic_regression(tmp_path: Path) -> None:
    train, validation = split("breast_cancer")
    result, _ = run_training(tmp_path, "linear-learner", train, validation=validation)
    x, y = xy(train)
    x_val, y_val = xy(validation)
    # The defaults: wd=1.0, l1=0 → an L2 penalty with C = 1/wd.
    direct = scaled(LogisticRegression(C=1.0, max_iter=1000, tol=1e-4)).fit(x, y)
    expected = accuracy_score(y_val, direct.predict(x_val))
    assert result["final_metrics"]["validation:accuracy"] == pytest.approx(expected, abs=0.02)
    assert result["final_metrics"]["validation:accuracy"] > 0.95
    predicted = load(Path(result["artifact"])).predict(validation)
    np.testing.assert_allclose(
        predicted["probability_1"], direct.predict_proba(x_val)[:, 1], atol=1e-4
    )
    # Linear models rank features by their absolute weights.
    assert sum(result["feature_importance"].values()) == pytest.approx(1.0, abs=1e-4)


def test_linear_learner_multiclass_with_weight_decay(tmp_path: Path) -> None:
    train, validation = split("wine")
    result, _ = run_training(
        tmp_path, "linear-learner", train, validation=validation, hp={"wd": 4.0}
    )
    assert result["problem_type"] == "multiclass_classification"
    x, y = xy(train)
    x_val, y_val = xy(validation)
    direct = scaled(LogisticRegression(C=0.25, max_iter=1000)).fit(x, y)
    expected = accuracy_score(y_val, direct.predict(x_val))
    assert result["final_metrics"]["validation:accuracy"] == pytest.approx(expected, abs=0.02)


def test_linear_learner_regression_matches_ridge(tmp_path: Path) -> None:
    train, validation = split("diabetes")
    result, _ = run_training(tmp_path, "linear-learner", train, validation=validation)
    x, y = xy(train)
    x_val, y_val = xy(validation)
    direct = scaled(Ridge(alpha=1.0)).fit(x, y)
    predicted = direct.predict(x_val)
    assert result["final_metrics"]["validation:r2"] == pytest.approx(
        r2_score(y_val, predicted), abs=1e-6
    )
    assert result["final_metrics"]["validation:rmse"] == pytest.approx(
        rmse(y_val, predicted), rel=1e-6
    )


def test_linear_learner_without_penalty_is_least_squares(tmp_path: Path) -> None:
    from sklearn.linear_model import LinearRegression

    train, validation = split("diabetes")
    result, _ = run_training(
        tmp_path, "linear-learner", train, validation=validation, hp={"wd": 0, "l1": 0}
    )
    x, y = xy(train)
    x_val, y_val = xy(validation)
    predicted = scaled(LinearRegression()).fit(x, y).predict(x_val)
    assert result["final_metrics"]["validation:rmse"] == pytest.approx(
        rmse(y_val, predicted), rel=1e-6
    )


def test_linear_learner_regression_a_negligible_l1_barely_changes_the_model(
    tmp_path: Path,
) -> None:
    train, validation = split("diabetes")
    plain, _ = run_training(tmp_path, "linear-learner", train, hp={"l1": 0.0})
    tiny, _ = run_training(tmp_path, "linear-learner", train, hp={"l1": 1e-9})
    without = load(Path(plain["artifact"])).predict(validation)["prediction"]
    with_l1 = load(Path(tiny["artifact"])).predict(validation)["prediction"]
    np.testing.assert_allclose(with_l1, without, rtol=1e-3)


# --------------------------------------------------------------------------- mlp


def test_mlp_classification_matches_scikit_learn(tmp_path: Path) -> None:
    train, validation = split("breast_cancer")
    hp = {"hidden_layer_sizes": "32,16", "epochs": 60, "learning_rate": 0.01}
    result, events = run_training(tmp_path, "mlp", train, validation=validation, hp=hp)
    x, y = xy(train)
    x_val, y_val = xy(validation)
    network = MLPClassifier(
        hidden_layer_sizes=(32, 16),
        learning_rate_init=0.01,
        max_iter=60,
        batch_size=200,
        alpha=1e-4,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # 60 epochs are few on purpose
        direct = scaled(network).fit(x, y)
    expected = accuracy_score(y_val, direct.predict(x_val))
    assert result["final_metrics"]["validation:accuracy"] == pytest.approx(expected, abs=0.02)
    assert result["final_metrics"]["validation:accuracy"] > 0.93
    # One train:loss point per epoch run, equal to scikit-learn's loss curve.
    losses = [p["value"] for p in events_metric(events, "train:loss")]
    np.testing.assert_allclose(losses, direct[-1].loss_curve_, rtol=1e-6)


def test_mlp_regression_learns_the_standardised_target(tmp_path: Path) -> None:
    train, validation = split("diabetes")
    hp = {"hidden_layer_sizes": [16], "epochs": 80, "learning_rate": 0.01}
    result, _ = run_training(tmp_path, "mlp", train, validation=validation, hp=hp)
    x, y = xy(train)
    x_val, y_val = xy(validation)
    network = MLPRegressor(
        hidden_layer_sizes=(16,), learning_rate_init=0.01, max_iter=80, random_state=0
    )
    direct = TransformedTargetRegressor(regressor=scaled(network), transformer=StandardScaler())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        direct.fit(x, y)
    predicted = direct.predict(x_val)
    assert result["final_metrics"]["validation:r2"] == pytest.approx(
        r2_score(y_val, predicted), abs=0.02
    )
    assert result["final_metrics"]["validation:r2"] > 0.2


# --------------------------------------------------------------------------- kmeans, pca


def test_kmeans_msd_matches_scikit_learn(tmp_path: Path) -> None:
    frame = datasets.load_iris(as_frame=True).frame.drop(columns=["target"])
    hp = {"k": 3, "n_init": 3}
    result, _ = run_training(tmp_path, "kmeans", frame, target=None, hp=hp)
    assert result["problem_type"] == "clustering"
    assert result["classes"] is None
    direct = scaled(KMeans(n_clusters=3, n_init=3, random_state=0)).fit(frame.to_numpy())
    msd = direct[-1].inertia_ / len(frame)
    assert result["final_metrics"]["train:msd"] == pytest.approx(msd, rel=1e-6)
    assert result["final_metrics"]["train:ssd"] == pytest.approx(direct[-1].inertia_, rel=1e-6)

    model = load(Path(result["artifact"]))
    predicted = model.predict(frame)
    assert list(predicted.columns) == ["cluster", "distance"]
    np.testing.assert_array_equal(predicted["cluster"], direct.predict(frame.to_numpy()))
    assert float((predicted["distance"] ** 2).mean()) == pytest.approx(msd, rel=1e-6)


def test_kmeans_measures_a_target_free_run_even_when_a_target_is_named(tmp_path: Path) -> None:
    """A target given to an unsupervised algorithm is left out of its inputs."""
    frame = datasets.load_iris(as_frame=True).frame
    result, _ = run_training(tmp_path, "kmeans", frame, target="target", hp={"k": 3})
    assert read_metadata(Path(result["artifact"]))["target"] == "target"
    schema = read_metadata(Path(result["artifact"]))["input_schema"]
    assert [c["name"] for c in schema] == list(frame.columns.drop("target"))


def test_pca_explained_variance_matches_scikit_learn(tmp_path: Path) -> None:
    frame = datasets.load_digits(as_frame=True).frame.drop(columns=["target"])
    result, _ = run_training(tmp_path, "pca", frame, target=None, hp={"num_components": 10})
    assert result["problem_type"] == "dimensionality_reduction"
    direct = scaled(PCA(n_components=10, svd_solver="full")).fit(frame.to_numpy())
    expected = float(np.sum(direct[-1].explained_variance_ratio_))
    assert result["final_metrics"]["train:explained_variance_ratio"] == pytest.approx(
        expected, rel=1e-9
    )
    assert 0.5 < expected < 0.7
    projected = load(Path(result["artifact"])).predict(frame.head(20))
    assert list(projected.columns) == [f"component_{i}" for i in range(1, 11)]
    np.testing.assert_allclose(
        np.abs(projected.to_numpy()), np.abs(direct.transform(frame.head(20).to_numpy())), atol=1e-8
    )


# --------------------------------------------------------------------------- isolation forest


def test_isolation_forest_ranks_injected_outliers_first(tmp_path: Path) -> None:
    features = datasets.load_breast_cancer(as_frame=True).frame.drop(columns=["target"])
    rng = np.random.default_rng(0)
    signs = rng.choice([-1, 1], size=(10, features.shape[1]))
    far = features.mean().to_numpy() + 8 * features.std().to_numpy() * signs
    frame = pd.concat([features, pd.DataFrame(far, columns=features.columns)], ignore_index=True)
    frame["is_outlier"] = [0] * len(features) + [1] * 10
    hp = {"num_trees": 100}
    result, _ = run_training(tmp_path, "isolation-forest", frame, target="is_outlier", hp=hp)
    assert result["problem_type"] == "anomaly_detection"
    metrics = result["final_metrics"]
    assert metrics["train:auc"] > 0.9
    assert 0 < metrics["train:anomaly_rate"] < 0.5
    assert "train:f1" in metrics

    predicted = load(Path(result["artifact"])).predict(frame.drop(columns=["is_outlier"]))
    assert list(predicted.columns) == ["score", "is_anomaly"]
    assert predicted["is_anomaly"].iloc[-10:].all()
    assert predicted["score"].iloc[-10:].min() > predicted["score"].iloc[:-10].median()


# --------------------------------------------------------------------------- text classifier

POSITIVE = ["great", "excellent", "wonderful", "loved", "superb", "delightful"]
NEGATIVE = ["terrible", "awful", "horrible", "hated", "dreadful", "boring"]
NOISE = ["the", "film", "plot", "actor", "scene", "music", "was", "and", "a", "story"]


def corpus(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        label = "pos" if i % 2 == 0 else "neg"
        words = [
            *list(rng.choice(NOISE, size=8)),
            str(rng.choice(POSITIVE if label == "pos" else NEGATIVE)),
        ]
        rng.shuffle(words)
        # A longer column of pure noise: picked by default, as the longest text.
        notes = " ".join(rng.choice(NOISE, size=20))
        rows.append({"review": " ".join(words), "notes": notes, "sentiment": label})
    return pd.DataFrame(rows)


def test_text_classifier_learns_from_the_chosen_column(tmp_path: Path) -> None:
    train, validation = corpus(160, seed=1), corpus(80, seed=2)
    hp = {"text_column": "review"}
    result, _ = run_training(
        tmp_path, "text-classifier", train, validation=validation, target="sentiment", hp=hp
    )
    assert result["problem_type"] == "binary_classification"
    assert result["classes"] == ["neg", "pos"]
    assert result["final_metrics"]["validation:accuracy"] >= 0.95

    direct = make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), min_df=1, sublinear_tf=True),
        LogisticRegression(C=10.0, max_iter=1000),
    ).fit(train["review"], train["sentiment"])
    expected = accuracy_score(validation["sentiment"], direct.predict(validation["review"]))
    assert result["final_metrics"]["validation:accuracy"] == pytest.approx(expected, abs=0.02)

    metadata = read_metadata(Path(result["artifact"]))
    assert metadata["input_schema"] == [{"name": "review", "kind": "text", "dtype": "str"}]
    # The sentiment words carry the most weight.
    top = list(result["feature_importance"])[:6]
    assert any(word in name for name in top for word in POSITIVE + NEGATIVE)

    model = load(Path(result["artifact"]))
    predicted = model.predict(pd.DataFrame({"review": ["a wonderful film", "awful plot", None]}))
    assert list(predicted["predicted_label"][:2]) == ["pos", "neg"]
    assert len(predicted) == 3  # a gap is empty text, not an error


def test_text_classifier_defaults_to_the_longest_text_column(tmp_path: Path) -> None:
    train, validation = corpus(160, seed=1), corpus(80, seed=2)
    result, _ = run_training(
        tmp_path, "text-classifier", train, validation=validation, target="sentiment"
    )
    schema = read_metadata(Path(result["artifact"]))["input_schema"]
    assert [c["name"] for c in schema] == ["notes"]
    # The notes are noise: no better than chance.
    assert result["final_metrics"]["validation:accuracy"] < 0.7


# --------------------------------------------------------------------------- the artifact


@pytest.mark.parametrize(
    ("algorithm", "hp"),
    [
        ("xgboost", {"num_round": 10}),
        ("random-forest", {"num_trees": 20}),
        ("knn", {}),
        ("linear-learner", {}),
        ("mlp", {"hidden_layer_sizes": [8], "epochs": 30, "learning_rate": 0.05}),
    ],
)
def test_artifact_reproduces_the_reported_metrics(
    tmp_path: Path, algorithm: str, hp: dict[str, Any]
) -> None:
    train, validation = split("iris")
    names = np.array(["setosa", "versicolor", "virginica"])
    train["target"] = names[train["target"]]
    validation["target"] = names[validation["target"]]
    result, _ = run_training(tmp_path, algorithm, train, validation=validation, hp=hp)
    assert result["classes"] == ["setosa", "versicolor", "virginica"]
    assert result["rows"] == {"train": len(train), "validation": len(validation)}

    model = load(Path(result["artifact"]))
    predicted = model.predict(validation.drop(columns=["target"]))
    assert len(predicted) == len(validation)
    accuracy = float((predicted["predicted_label"] == validation["target"]).mean())
    assert accuracy == pytest.approx(result["final_metrics"]["validation:accuracy"], abs=1e-12)
    probabilities = predicted[[f"probability_{c}" for c in result["classes"]]]
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-6)
    assert ((probabilities >= 0) & (probabilities <= 1)).all().all()

    metadata = read_metadata(Path(result["artifact"]))
    assert metadata == model.metadata
    assert metadata["format"] == FORMAT == "sextant-model/1"
    assert metadata["algorithm"] == algorithm
    assert metadata["problem_type"] == "multiclass_classification"
    assert metadata["target"] == "target"
    assert metadata["classes"] == result["classes"]
    assert metadata["input_schema"] == [
        {"name": name, "kind": "numeric", "dtype": "float64"}
        for name in train.columns.drop("target")
    ]
    assert set(metadata["framework"]) == {"python", "scikit-learn", "xgboost", "numpy", "pandas"}
    assert metadata["framework"]["xgboost"] == xgb.__version__
    assert metadata["metrics"] == result["final_metrics"]
    assert metadata["hyperparameters"] == result["hyperparameters"]


def test_artifact_of_a_regression_predicts_the_reported_rmse(tmp_path: Path) -> None:
    train, validation = split("diabetes")
    result, _ = run_training(
        tmp_path, "random-forest", train, validation=validation, hp={"num_trees": 20}
    )
    predicted = load(Path(result["artifact"])).predict(validation)
    assert list(predicted.columns) == ["prediction"]
    assert rmse(validation["target"].to_numpy(), predicted["prediction"].to_numpy()) == (
        pytest.approx(result["final_metrics"]["validation:rmse"], rel=1e-9)
    )
    assert read_metadata(Path(result["artifact"]))["classes"] is None


def test_xgboost_artifact_holds_the_booster_in_its_own_format(tmp_path: Path) -> None:
    import json
    import tarfile

    train, validation = split("breast_cancer")
    result, _ = run_training(tmp_path, "xgboost", train, hp={"num_round": 5})
    with tarfile.open(result["artifact"], "r:gz") as tar:
        assert sorted(tar.getnames()) == ["metadata.json", "model.joblib", "xgboost-model.json"]
        raw = tar.extractfile("xgboost-model.json").read()  # type: ignore[union-attr]
    booster = xgb.Booster()
    booster.load_model(bytearray(raw))
    x_val, _ = xy(validation)
    direct = booster.predict(xgb.DMatrix(x_val))
    predicted = load(Path(result["artifact"])).predict(validation)
    np.testing.assert_allclose(predicted["probability_1"], direct, atol=1e-6)
    assert json.loads(raw)["learner"]["attributes"] is not None


def test_load_refuses_an_unknown_format(tmp_path: Path) -> None:
    import io
    import json
    import tarfile

    path = tmp_path / "model.tar.gz"
    data = json.dumps({"format": "someone-else/9"}).encode()
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo("metadata.json")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    assert read_metadata(path) == {"format": "someone-else/9"}
    with pytest.raises(ValueError, match="someone-else/9"):
        load(path)
    empty = tmp_path / "empty.tar.gz"
    with tarfile.open(empty, "w:gz"):
        pass
    with pytest.raises(ValueError, match=r"no metadata\.json"):
        read_metadata(empty)
