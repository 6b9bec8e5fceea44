"""A trained model as one file, ``model.tar.gz``, that serves or scores new data alone.

It holds:

- ``model.joblib``: a scikit-learn ``Pipeline`` of the preprocessing (the fitted
  ``ColumnTransformer``: encodings, column order) and the estimator. Only scikit-learn and
  xgboost classes are in it, so loading it needs those libraries, not the training code.
- ``metadata.json``: the format, the algorithm and problem type, framework versions, the
  input schema (each column's name, kind and type), the target and its classes, the
  feature names after preprocessing, the hyperparameters and the final metrics.
- ``xgboost-model.json`` for XGBoost: the booster in XGBoost's own format as well.

Columns go through :func:`features.prepare` before the pipeline: numbers and booleans as
numbers (float32 for trees, float64 otherwise: ``number_type``), dates and times as seconds
since 1970, text as strings. A pickle runs code when it
loads: load only artifacts this studio's workers made, and never in the web process.
"""

from __future__ import annotations

import io
import json
import platform
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from training.engine.features import InputColumn, prepare

FORMAT = "sextant-model/1"
MODEL_FILE = "model.joblib"
META_FILE = "metadata.json"
XGB_FILE = "xgboost-model.json"


def framework_versions() -> dict[str, str]:
    import sklearn
    import xgboost

    return {
        "python": platform.python_version(),
        "scikit-learn": sklearn.__version__,
        "xgboost": xgboost.__version__,
        "numpy": np.__version__,
        "pandas": pd.__version__,
    }


@dataclass
class TrainedModel:
    """A fitted pipeline with its metadata; predicts from a frame of the input columns."""

    pipeline: Any
    metadata: dict[str, Any]

    @property
    def problem(self) -> str:
        return str(self.metadata["problem_type"])

    @property
    def schema(self) -> list[InputColumn]:
        return [
            InputColumn(c["name"], c["kind"], c["dtype"]) for c in self.metadata["input_schema"]
        ]

    @property
    def classes(self) -> list[Any]:
        return list(self.metadata.get("classes") or [])

    @property
    def estimator(self) -> Any:
        return self.pipeline[-1]

    def inputs(self, df: pd.DataFrame) -> pd.DataFrame:
        return prepare(df, self.schema, str(self.metadata.get("number_type", "float64")))

    def predict(self, df: pd.DataFrame) -> pd.DataFrame:
        """One row of output per input row:

        - classification: ``predicted_label`` and ``probability_<class>`` for each class;
        - regression: ``prediction``;
        - clustering: ``cluster`` and ``distance`` (to its centre);
        - dimensionality reduction: ``component_1`` …;
        - anomaly detection: ``score`` (higher is more anomalous) and ``is_anomaly``;
        - forecasting: from each series' history, its next values: ``series``, ``time``,
          ``forecast``.
        """
        problem = self.problem
        if problem == "forecasting":
            forecast: pd.DataFrame = self.estimator.forecast(df)
            return forecast
        x = self.inputs(df)
        if problem in ("binary_classification", "multiclass_classification"):
            proba = self.pipeline.predict_proba(x)
            out = pd.DataFrame(
                {"predicted_label": np.asarray(self.classes, dtype=object)[proba.argmax(axis=1)]}
            )
            for i, label in enumerate(self.classes):
                out[f"probability_{label}"] = proba[:, i]
            return out
        if problem == "regression":
            return pd.DataFrame({"prediction": self.pipeline.predict(x).astype("float64")})
        if problem == "clustering":
            distances = self.pipeline.transform(x)
            return pd.DataFrame(
                {"cluster": distances.argmin(axis=1), "distance": distances.min(axis=1)}
            )
        if problem == "dimensionality_reduction":
            projected = self.pipeline.transform(x)
            return pd.DataFrame(
                projected, columns=[f"component_{i + 1}" for i in range(projected.shape[1])]
            )
        scores = -self.pipeline.score_samples(x)
        return pd.DataFrame({"score": scores, "is_anomaly": self.pipeline.predict(x) == -1})


def save(model: TrainedModel, dest: Path) -> Path:
    """Write ``model.tar.gz`` at ``dest``."""
    import joblib

    buffer = io.BytesIO()
    joblib.dump(model.pipeline, buffer, compress=3)
    files = {MODEL_FILE: buffer.getvalue()}
    files[META_FILE] = json.dumps(model.metadata, indent=2, default=_json_default).encode()
    if model.metadata.get("algorithm") == "xgboost":
        raw = model.estimator.get_booster().save_raw(raw_format="json")
        files[XGB_FILE] = bytes(raw)
    with tarfile.open(dest, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return dest


def read_metadata(path: Path) -> dict[str, Any]:
    """The artifact's metadata, without loading the model (safe anywhere)."""
    with tarfile.open(path, "r:gz") as tar:
        return dict(json.loads(_member(tar, META_FILE)))


def load(path: Path) -> TrainedModel:
    """The model in ``model.tar.gz`` (only its known files are read)."""
    import joblib

    with tarfile.open(path, "r:gz") as tar:
        metadata = json.loads(_member(tar, META_FILE))
        if metadata.get("format") != FORMAT:
            raise ValueError(f"Not a model this version can load ({metadata.get('format')!r}).")
        pipeline = joblib.load(io.BytesIO(_member(tar, MODEL_FILE)))
    return TrainedModel(pipeline, metadata)


def _member(tar: tarfile.TarFile, name: str) -> bytes:
    try:
        member = tar.getmember(name)
    except KeyError:
        raise ValueError(f"The model archive has no {name}.") from None
    handle = tar.extractfile(member) if member.isfile() else None
    if handle is None:
        raise ValueError(f"{name} in the model archive is not a file.")
    return handle.read()


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return str(value)
