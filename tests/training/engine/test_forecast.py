"""forecasting: many series, one model on their lags and the calendar; forecasts several
steps ahead that beat repeating the last week."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.training.engine.helpers import run_training
from training.engine import load
from training.engine.train import TrainingError

HP = {"time_column": "day", "series_column": "store", "prediction_length": 14}


def sales(seed: int = 0) -> pd.DataFrame:
    """Five stores, 200 days: a level per store, a weekly cycle, a slow trend, noise 0.3."""
    rng = np.random.default_rng(seed)
    days = pd.date_range("2024-01-01", periods=200, freq="D")
    rows = []
    for store in range(5):
        for t, day in enumerate(days):
            value = 10 + 5 * store + 3 * np.sin(2 * np.pi * day.day_of_week / 7) + 0.02 * t
            rows.append(
                {
                    "store": f"s{store}",
                    "day": day.strftime("%Y-%m-%d"),
                    "sales": value + rng.normal(0, 0.3),
                }
            )
    return pd.DataFrame(rows)


def split(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    when = pd.to_datetime(frame["day"])
    return frame[when < "2024-07-01"], frame[when >= "2024-07-01"]


def test_forecasts_beat_repeating_the_last_week(tmp_path: Path) -> None:
    train, validation = split(sales())
    result, events = run_training(
        tmp_path, "forecasting", train, validation=validation, target="sales", hp=HP
    )
    assert result["problem_type"] == "forecasting"
    rmse = result["final_metrics"]["validation:rmse"]
    # The seasonal naive forecast: each store's last week, repeated.
    naive = []
    for store, part in train.groupby("store"):
        last_week = part["sales"].to_numpy()[-7:]
        future = validation[validation["store"] == store]["sales"].to_numpy()[:14]
        naive.append((np.tile(last_week, 2) - future) ** 2)
    assert rmse < 0.6 and rmse < float(np.sqrt(np.mean(naive)))
    assert [e["metric"]["step"] for e in events if "metric" in e] == list(range(200))

    model = load(Path(result["artifact"]))
    ahead = model.predict(train)
    assert list(ahead.columns) == ["series", "time", "forecast"]
    assert len(ahead) == 5 * 14
    first = ahead[ahead["series"] == "s0"]["time"]
    assert first.iloc[0] == pd.Timestamp("2024-07-01") and first.iloc[-1] == pd.Timestamp(
        "2024-07-14"
    )


def test_forecasting_needs_a_time_column_and_enough_history(tmp_path: Path) -> None:
    train, _ = split(sales())
    with pytest.raises(TrainingError) as caught:
        run_training(tmp_path, "forecasting", train, target="sales", hp={"series_column": "store"})
    assert caught.value.field == "hyperparameters.time_column"
    result, _ = run_training(tmp_path, "forecasting", train, target="sales", hp=HP)
    model = load(Path(result["artifact"]))
    with pytest.raises(ValueError, match="context_length"):
        model.predict(train.groupby("store").tail(5))
    # A store never seen forecasts from its own history, as one series among the others.
    newcomer = train[train["store"] == "s2"].assign(store="s9")
    assert len(model.predict(newcomer)) == 14
