"""factorization-machines: a recommender that recovers ratings and clicks of user × item
pairs from a low-rank model, and scores pairs it has not seen."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from tests.training.engine.helpers import run_training
from training.engine import load
from training.engine.fm import FactorizationMachine


def ratings(n: int = 20_000, seed: int = 0) -> pd.DataFrame:
    """Users × items rated by biases and three latent factors, plus noise (sd 0.3)."""
    rng = np.random.default_rng(seed)
    users, items, rank = 300, 200, 3
    p, q = rng.normal(size=(users, rank)), rng.normal(size=(items, rank))
    bu, bi = rng.normal(0, 0.5, users), rng.normal(0, 0.5, items)
    u, i = rng.integers(0, users, n), rng.integers(0, items, n)
    rating = 3 + bu[u] + bi[i] + (p[u] * q[i]).sum(axis=1) + rng.normal(0, 0.3, n)
    return pd.DataFrame(
        {"user": [f"u{x}" for x in u], "item": [f"i{x}" for x in i], "rating": rating}
    )


HP = {"num_factors": 8, "epochs": 30, "learning_rate": 0.02}


def test_ratings_are_recovered_near_the_noise_level(tmp_path: Path) -> None:
    frame = ratings()
    train, validation = frame.iloc[:16_000], frame.iloc[16_000:]
    result, events = run_training(
        tmp_path, "factorization-machines", train, validation=validation, target="rating", hp=HP
    )
    assert result["problem_type"] == "regression"
    spread = float(validation["rating"].std())
    assert spread > 1.5  # what predicting the mean would cost
    assert result["final_metrics"]["validation:rmse"] < 0.45  # the noise is 0.3
    epochs = [e["metric"] for e in events if "metric" in e]
    assert [p["step"] for p in epochs] == list(range(30))
    assert epochs[-1]["value"] < epochs[0]["value"]
    model = load(Path(result["artifact"]))
    scored = model.predict(validation.drop(columns="rating"))["prediction"].to_numpy()
    rmse = float(np.sqrt(np.mean((scored - validation["rating"].to_numpy()) ** 2)))
    assert rmse == pytest.approx(result["final_metrics"]["validation:rmse"], rel=1e-9)
    # A user never seen gets the item's side of the model, not an error.
    unseen = model.predict(pd.DataFrame({"user": ["somebody new"], "item": ["i3"]}))
    assert np.isfinite(unseen["prediction"][0])


def test_clicks_are_a_binary_problem_with_probabilities(tmp_path: Path) -> None:
    frame = ratings(seed=1)
    frame["click"] = (frame.pop("rating") > 3).astype(int)
    train, validation = frame.iloc[:16_000], frame.iloc[16_000:]
    result, _ = run_training(
        tmp_path, "factorization-machines", train, validation=validation, target="click", hp=HP
    )
    assert result["problem_type"] == "binary_classification"
    assert result["final_metrics"]["validation:auc"] > 0.93
    model = load(Path(result["artifact"]))
    proba = model.predict(validation.drop(columns="click"))["probability_1"].to_numpy()
    auc = roc_auc_score(validation["click"], proba)
    assert auc == pytest.approx(result["final_metrics"]["validation:auc"], rel=1e-9)


def test_the_pairwise_term_is_rendles_identity() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(5, 4))
    model = FactorizationMachine(num_factors=2)
    model.bias_, model.weights_ = 0.5, rng.normal(size=4)
    model.factors_ = rng.normal(size=(4, 2))
    expected = [
        0.5
        + row @ model.weights_
        + sum(
            model.factors_[i] @ model.factors_[j] * row[i] * row[j]
            for i in range(4)
            for j in range(i + 1, 4)
        )
        for row in x
    ]
    np.testing.assert_allclose(model.predict(x), expected, rtol=1e-12)
