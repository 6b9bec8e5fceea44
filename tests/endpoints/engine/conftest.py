"""Model archives trained once per session by the training engine, for the serving tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification, make_regression

from tests.training.engine.helpers import run_training

FEATURES = [f"f{i}" for i in range(6)]


def numeric_frame(rows: int = 400) -> pd.DataFrame:
    x, y = make_classification(rows, len(FEATURES), n_informative=4, random_state=0)
    frame = pd.DataFrame(x, columns=FEATURES)
    frame["target"] = np.where(y == 1, "churn", "stay")
    return frame


def mixed_frame(rows: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    plan = rng.choice(["basic", "pro", "team"], size=rows)
    usage = rng.normal(10, 3, size=rows)
    frame = pd.DataFrame({"plan": plan, "usage": usage, "age": rng.integers(18, 80, rows)})
    frame["target"] = np.where((plan == "basic") & (usage < 10), "churn", "stay")
    return frame


def regression_frame(rows: int = 300) -> pd.DataFrame:
    x, y = make_regression(rows, 4, noise=0.1, random_state=0)
    frame = pd.DataFrame(x, columns=["a", "b", "c", "d"])
    frame["target"] = y
    return frame


def _archive(folder: Path, algorithm: str, frame: pd.DataFrame, hp: dict) -> Path:
    run_training(folder, algorithm, frame, hp=hp)
    return sorted(folder.glob(f"job-{algorithm}-*/output/model.tar.gz"))[-1]


@pytest.fixture(scope="session")
def xgb_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _archive(tmp_path_factory.mktemp("xgb"), "xgboost", numeric_frame(), {"num_round": 20})


@pytest.fixture(scope="session")
def mixed_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _archive(tmp_path_factory.mktemp("mixed"), "xgboost", mixed_frame(), {"num_round": 10})


@pytest.fixture(scope="session")
def linear_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _archive(tmp_path_factory.mktemp("linear"), "linear-learner", regression_frame(), {})
