"""The monitor's work that needs a model, run in a limited child process: a model archive is
a pickle, and it is loaded only there (``python -m monitor.engine.modelwork spec.json``).

Tasks (``spec["task"]``):

- ``baseline``: the model's predictions on a dataset → its quality against the label, its
  bias (when facets are given) and its SHAP global importance on a sample.
- ``explain``: SHAP global importance of the rows of a Parquet file (attribution drift).
- ``clarify``: a Clarify job's bias report (pre-training, and post-training with the
  model's predictions) and explanations.

The child prints JSON lines (``{"message"}``, ``{"progress"}``) and writes its result as
JSON to ``spec["output"]``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from monitor.engine.bias import Facet, bias_report
from monitor.engine.explain import explain
from monitor.engine.quality import classification_metrics, regression_metrics
from training.engine.artifact import TrainedModel, load

CLASSIFICATION = ("binary_classification", "multiclass_classification")
PREDICTED = "__predicted__"


def emit(**message: Any) -> None:
    sys.stdout.write(json.dumps(message, default=str) + "\n")
    sys.stdout.flush()


def read_rows(path: str, limit: int | None, seed: int = 0) -> pd.DataFrame:
    """The table, or a seeded random sample of ``limit`` of its rows."""
    table = pq.read_table(path)
    if limit is not None and table.num_rows > limit:
        picked = np.sort(np.random.default_rng(seed).choice(table.num_rows, limit, replace=False))
        table = table.take(picked)
    frame: pd.DataFrame = table.to_pandas()
    return frame


def predictions(model: TrainedModel, frame: pd.DataFrame) -> pd.DataFrame:
    """The model's outputs per row (``predicted_label`` and probabilities, or ``prediction``)."""
    out = model.predict(frame)
    out.index = frame.index
    return out


def predicted_values(model: TrainedModel, out: pd.DataFrame) -> pd.Series:
    column = "predicted_label" if model.problem in CLASSIFICATION else "prediction"
    if column not in out.columns:
        raise ValueError(f"A {model.problem} model has no single prediction to measure.")
    return out[column]


def quality(
    model: TrainedModel, frame: pd.DataFrame, out: pd.DataFrame, label: str
) -> dict[str, Any]:
    truth = frame[label]
    keep = truth.notna().to_numpy()
    if model.problem in CLASSIFICATION:
        classes = model.classes
        proba = np.column_stack([out[f"probability_{c}"].to_numpy() for c in classes])
        return classification_metrics(
            truth[keep].tolist(),
            out["predicted_label"][keep].tolist(),
            classes=classes,
            probabilities=proba[keep],
        )
    if model.problem == "regression":
        return regression_metrics(
            truth[keep].to_numpy(dtype="float64"), out["prediction"][keep].to_numpy("float64")
        )
    raise ValueError(
        f"Model quality is measured for classifiers and regressors, not {model.problem}."
    )


def facets_of(spec: list[dict[str, Any]]) -> list[Facet]:
    return [Facet(f["name"], f.get("values_or_threshold")) for f in spec]


def bias(
    frame: pd.DataFrame,
    *,
    label: str,
    positive: Any,
    facets: list[dict[str, Any]],
    predicted: pd.Series | None,
    group_variable: str | None,
    stages: tuple[str, ...],
) -> dict[str, Any]:
    return bias_report(
        frame,
        label=label,
        positive_label_values=positive,
        facets=facets_of(facets),
        predicted_label=predicted,
        group_variable=group_variable or None,
        stages=stages,
    )


def shap_summary(
    model: TrainedModel, frame: pd.DataFrame, *, rows: int, seed: int = 0
) -> dict[str, Any]:
    features = [c.name for c in model.schema]
    explanation = explain(model, frame[features], max_rows=rows, seed=seed)
    return explanation.to_dict(max_rows=0)


def run(spec: dict[str, Any]) -> dict[str, Any]:
    started = time.monotonic()
    task = spec["task"]
    emit(message="Loading the model.")
    model = load(Path(spec["model"]))
    result: dict[str, Any] = {"task": task}
    if task == "explain":
        frame = read_rows(spec["data"], spec.get("rows") or 500)
        emit(message=f"Explaining {len(frame):,} rows.", progress=0.2)
        result["attributions"] = shap_summary(model, frame, rows=len(frame))
    elif task == "baseline":
        frame = read_rows(spec["data"], spec.get("max_rows") or 200_000)
        emit(message=f"Scoring {len(frame):,} rows.", progress=0.1)
        out = predictions(model, frame)
        label = spec.get("label")
        if label:
            result["quality"] = quality(model, frame, out, label)
            emit(message="Measured the model's quality.", progress=0.4)
            if spec.get("bias"):
                request = spec["bias"]
                result["bias"] = bias(
                    frame,
                    label=label,
                    positive=request["positive_label_values"],
                    facets=request["facets"],
                    predicted=predicted_values(model, out),
                    group_variable=None,
                    stages=("post_training_bias",),
                )
                emit(message="Measured the model's bias.", progress=0.6)
        result["attributions"] = shap_summary(model, frame, rows=spec.get("shap_rows") or 500)
    elif task == "clarify":
        frame = read_rows(spec["data"], spec.get("max_rows"))
        methods = set(spec["methods"])
        predicted = None
        if "post_training_bias" in methods:
            emit(message=f"Scoring {len(frame):,} rows.", progress=0.1)
            predicted = predicted_values(model, predictions(model, frame))
        stages = tuple(m for m in ("pre_training_bias", "post_training_bias") if m in methods)
        if stages:
            result["bias"] = bias(
                frame,
                label=spec["label"],
                positive=spec["positive_label_values"],
                facets=spec["facets"],
                predicted=predicted,
                group_variable=spec.get("group_variable"),
                stages=stages,
            )
            emit(message="Measured bias.", progress=0.5)
        if "shap" in methods:
            options = spec.get("shap") or {}
            features = [c.name for c in model.schema]
            explanation = explain(
                model,
                frame[features],
                max_rows=int(options.get("rows", 1000)),
                kernel_background_k=int(options.get("background_k", 10)),
                seed=int(options.get("seed", 0)),
            )
            result["explanations"] = explanation.to_dict(
                max_rows=int(options.get("rows", 1000)), dependence_top=8
            )
            emit(
                message=f"Explained {len(explanation.attributions):,} rows ({explanation.method})."
            )
    else:
        raise ValueError(f"Unknown task {task!r}.")
    result["seconds"] = round(time.monotonic() - started, 3)
    return result


def main(argv: list[str]) -> int:
    spec = json.loads(Path(argv[0]).read_text())
    try:
        result = run(spec)
    except (ValueError, KeyError) as exc:
        emit(error=str(exc))
        return 2
    Path(spec["output"]).write_text(json.dumps(result, allow_nan=False, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
