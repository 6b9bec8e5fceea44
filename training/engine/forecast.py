"""Forecasting (the role of SageMaker's DeepAR): one gradient-boosted model for many time
series, on each series' own recent values (its lags), calendar features of the time, and
which series it is. Forecasts of several steps are made one step at a time, each step's
forecast becoming a lag of the next.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

SERIES = "_series"


class LagForecaster(BaseEstimator):  # type: ignore[misc]
    def __init__(
        self,
        *,
        time_column: str = "",
        series_column: str = "",
        target: str = "",
        context_length: int = 14,
        prediction_length: int = 7,
        num_round: int = 200,
        eta: float = 0.1,
        max_depth: int = 6,
        threads: int = 1,
        seed: int = 0,
    ) -> None:
        self.time_column = time_column
        self.series_column = series_column
        self.target = target
        self.context_length = context_length
        self.prediction_length = prediction_length
        self.num_round = num_round
        self.eta = eta
        self.max_depth = max_depth
        self.threads = threads
        self.seed = seed

    # ------------------------------------------------------------------ shaping

    def _tidy(self, frame: pd.DataFrame, *, with_target: bool = True) -> pd.DataFrame:
        for column in (self.time_column, *([self.target] if with_target else [])):
            if column not in frame.columns:
                raise ValueError(f"The data has no column {column!r}.")
        if self.series_column and self.series_column not in frame.columns:
            raise ValueError(f"The data has no column {self.series_column!r} (series_column).")
        out = pd.DataFrame(
            {
                SERIES: frame[self.series_column].astype(str) if self.series_column else "all",
                "time": pd.to_datetime(frame[self.time_column], errors="coerce", format="mixed"),
            }
        )
        if with_target:
            out["y"] = pd.to_numeric(frame[self.target], errors="coerce").astype("float64")
        out = out.dropna(subset=["time"])
        return out.sort_values([SERIES, "time"], kind="stable").reset_index(drop=True)

    def _calendar(self, times: pd.Series) -> np.ndarray:
        return np.column_stack(
            [
                times.dt.day_of_week,
                times.dt.month,
                times.dt.day,
                times.dt.hour,
                times.dt.day_of_year,
            ]
        ).astype("float64")

    def _code(self, series: pd.Series) -> np.ndarray:
        lookup = {name: i for i, name in enumerate(self.series_)}
        codes: np.ndarray = series.map(lambda s: lookup.get(s, -1)).to_numpy(dtype="float64")
        return codes

    def _design(self, tidy: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Lag features of every row with a full context, and its value."""
        grouped = tidy.groupby(SERIES, sort=False)["y"]
        lags = np.column_stack(
            [grouped.shift(k).to_numpy() for k in range(1, self.context_length + 1)]
        )
        x = np.column_stack([lags, self._calendar(tidy["time"]), self._code(tidy[SERIES])])
        keep = ~np.isnan(lags).any(axis=1) & ~np.isnan(tidy["y"].to_numpy())
        return x[keep], tidy["y"].to_numpy()[keep]

    # ------------------------------------------------------------------ fit and forecast

    def fit(self, frame: pd.DataFrame, on_round: Any = None) -> LagForecaster:
        import xgboost as xgb

        tidy = self._tidy(frame)
        self.series_ = sorted(tidy[SERIES].unique().tolist())
        steps = tidy.groupby(SERIES)["time"].diff().dropna()
        if steps.empty:
            raise ValueError("Each series needs at least two time points.")
        self.step_ = pd.Timedelta(steps.median())
        x, y = self._design(tidy)
        if len(y) < 2:
            raise ValueError(
                f"No series is longer than context_length ({self.context_length}) points."
            )
        self.model_ = xgb.XGBRegressor(
            n_estimators=self.num_round,
            learning_rate=self.eta,
            max_depth=self.max_depth,
            n_jobs=self.threads,
            random_state=self.seed,
            tree_method="hist",
        )
        self.model_.fit(x, y, eval_set=[(x, y)], verbose=False)
        if on_round is not None:
            for step, value in enumerate(self.model_.evals_result()["validation_0"]["rmse"]):
                on_round(step, {"train:rmse": float(value)})
        return self

    def one_step(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """One-step-ahead predictions of the rows with a full context, and their values."""
        x, y = self._design(self._tidy(frame))
        return self.model_.predict(x).astype("float64"), y

    def forecast(self, history: pd.DataFrame) -> pd.DataFrame:
        """The next ``prediction_length`` values of each series in ``history``:
        ``series``, ``time``, ``forecast``."""
        tidy = self._tidy(history)
        rows = []
        for name, part in tidy.groupby(SERIES, sort=True):
            values = part["y"].dropna().tolist()
            if len(values) < self.context_length:
                raise ValueError(
                    f"Series {name!r} has {len(values)} values; forecasting needs the last "
                    f"{self.context_length} (context_length)."
                )
            time = part["time"].iloc[-1]
            for _ in range(self.prediction_length):
                time = time + self.step_
                lags = values[::-1][: self.context_length]
                calendar = self._calendar(pd.Series([time]))[0]
                code = self._code(pd.Series([name]))
                x = np.concatenate([lags, calendar, code])[None, :]
                value = float(self.model_.predict(x)[0])
                values.append(value)
                rows.append({"series": name, "time": time, "forecast": value})
        return pd.DataFrame(rows, columns=["series", "time", "forecast"])
