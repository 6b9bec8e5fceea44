"""Shared helpers of the training engine's tests: channels written as Parquet into a test's
folder, and ``train`` run on them with its emitted messages collected."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from training.engine.train import train


def write_parquet(df: pd.DataFrame, path: Path) -> str:
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), path)
    return str(path)


def run_training(
    tmp_path: Path,
    algorithm: str,
    train_df: pd.DataFrame,
    *,
    validation: pd.DataFrame | None = None,
    test: pd.DataFrame | None = None,
    target: str | None = "target",
    hp: dict[str, Any] | None = None,
    **spec: Any,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """``train`` on the frames given as channels; the result and every emitted message."""
    folder = tmp_path / f"job-{algorithm}-{len(list(tmp_path.glob('job-*')))}"
    folder.mkdir(parents=True)
    channels = {"train": write_parquet(train_df, folder / "train.parquet")}
    for name, frame in (("validation", validation), ("test", test)):
        if frame is not None:
            channels[name] = write_parquet(frame, folder / f"{name}.parquet")
    events: list[dict[str, Any]] = []
    full_spec: dict[str, Any] = {
        "algorithm": algorithm,
        "hyperparameters": hp or {},
        "channels": channels,
        "target": target,
        "problem_type": "auto",
        "threads": 1,
        "device": "cpu",
        "seed": 0,
        "output_dir": str(folder / "output"),
        **spec,
    }
    result = train(full_spec, events.append)
    return result, events


def messages(events: list[dict[str, Any]]) -> list[str]:
    return [e["message"] for e in events if "message" in e]


def metric_points(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e["metric"] for e in events if "metric" in e]
