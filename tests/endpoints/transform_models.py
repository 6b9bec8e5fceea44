"""Small models and tables for the batch-transform tests: trained once per test session by
the training engine (a fraction of a second each), and a model that fails when it scores."""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from training.engine.artifact import FORMAT, TrainedModel, save
from training.engine.train import train

ROWS = 600


def table(rows: int = ROWS) -> pd.DataFrame:
    """Customers: an id, two numbers, a city, a yes/no label and a spend to predict."""
    rng = np.random.default_rng(7)
    x = rng.normal(size=rows)
    y = rng.normal(size=rows)
    city = np.array(["Paris", "Lyon", "Nice"])[np.arange(rows) % 3]
    return pd.DataFrame(
        {
            "id": np.arange(rows, dtype="int64"),
            "x": x,
            "y": y,
            "city": city,
            "label": np.where(x + 0.5 * y > 0, "yes", "no"),
            "spend": 3.0 * x - 2.0 * y + (city == "Paris") * 1.5,
        }
    )


def features(frame: pd.DataFrame) -> pd.DataFrame:
    """What a model is given to score: the table without what it predicts."""
    return frame.drop(columns=["label", "spend"])


@functools.cache
def _folder() -> Path:
    return Path(tempfile.mkdtemp(prefix="transform-models-"))


@functools.cache
def archive(kind: str) -> Path:
    """``model.tar.gz`` of a classifier (``"classifier"``: a random forest predicting
    ``label``) or a regressor (``"regressor"``: a linear learner predicting ``spend``)."""
    folder = _folder() / kind
    folder.mkdir()
    target, drop, algorithm = {
        "classifier": ("label", "spend", "random-forest"),
        "regressor": ("spend", "label", "linear-learner"),
    }[kind]
    frame = table().drop(columns=[drop, "id"])
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), folder / "train.parquet")
    spec = {
        "algorithm": algorithm,
        "hyperparameters": {"num_trees": 10} if algorithm == "random-forest" else {},
        "channels": {"train": str(folder / "train.parquet")},
        "target": target,
        "problem_type": "auto",
        "threads": 1,
        "device": "cpu",
        "seed": 0,
        "output_dir": str(folder / "output"),
    }
    train(spec, lambda message: None)
    return folder / "output" / "model.tar.gz"


@functools.cache
def failing_archive() -> Path:
    """A "regressor" whose pipeline ends in a transformer: it raises when asked to predict."""
    metadata = {
        "format": FORMAT,
        "algorithm": "linear-learner",
        "problem_type": "regression",
        "input_schema": [
            {"name": "x", "kind": "numeric", "dtype": "float64"},
            {"name": "y", "kind": "numeric", "dtype": "float64"},
        ],
        "number_type": "float64",
        "target": "spend",
        "classes": None,
    }
    pipeline = Pipeline([("model", FunctionTransformer())])
    folder = _folder() / "failing"
    folder.mkdir()
    return save(TrainedModel(pipeline, metadata), folder / "model.tar.gz")


def write_parquet(frame: pd.DataFrame, path: Path, row_group_rows: int) -> Path:
    pq.write_table(
        pa.Table.from_pandas(frame, preserve_index=False), path, row_group_size=row_group_rows
    )
    return path
