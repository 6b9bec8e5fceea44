"""What a trained model scores on a channel's rows, by problem type (SageMaker's metric names
where it has them: ``accuracy``, ``f1``, ``auc``, ``logloss``, ``rmse``, ``mae``, ``r2``,
``msd``…); the job names them ``<channel>:<metric>``."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from sklearn import metrics as skm


def _finite(values: dict[str, float]) -> dict[str, float]:
    return {k: float(v) for k, v in values.items() if v is not None and math.isfinite(float(v))}


def classification(codes: np.ndarray, proba: np.ndarray, n_classes: int) -> dict[str, float]:
    """Accuracy, F1 (binary: of the second class; else macro), precision, recall, AUC
    (one-vs-rest macro for several classes, where each class is present) and log loss."""
    predicted = proba.argmax(axis=1)
    average = "binary" if n_classes == 2 else "macro"
    out: dict[str, float] = {
        "accuracy": skm.accuracy_score(codes, predicted),
        "f1": skm.f1_score(codes, predicted, average=average, zero_division=0),
        "precision": skm.precision_score(codes, predicted, average=average, zero_division=0),
        "recall": skm.recall_score(codes, predicted, average=average, zero_division=0),
    }
    labels = list(range(n_classes))
    present = np.unique(codes)
    if len(present) == n_classes and n_classes >= 2:
        if n_classes == 2:
            out["auc"] = skm.roc_auc_score(codes, proba[:, 1])
        else:
            out["auc"] = skm.roc_auc_score(codes, proba, multi_class="ovr", labels=labels)
    out["logloss"] = skm.log_loss(codes, np.clip(proba, 1e-15, 1), labels=labels)
    return _finite(out)


def regression(y: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    out = {
        "rmse": math.sqrt(skm.mean_squared_error(y, predicted)),
        "mae": skm.mean_absolute_error(y, predicted),
    }
    if len(y) >= 2:
        out["r2"] = skm.r2_score(y, predicted)
    return _finite(out)


def clustering(distances: np.ndarray) -> dict[str, float]:
    """``msd``: mean squared distance of rows to their centre; ``ssd``: their sum."""
    squared = distances.astype("float64") ** 2
    return _finite({"msd": squared.mean(), "ssd": squared.sum()})


def reduction(model: Any, x: np.ndarray) -> dict[str, float]:
    """Explained variance of the components, and the mean squared reconstruction error."""
    back = model.inverse_transform(model.transform(x))
    return _finite(
        {
            "explained_variance_ratio": float(np.sum(model.explained_variance_ratio_)),
            "msd": float(np.mean(np.sum((x - back) ** 2, axis=1))),
        }
    )


def anomaly(scores: np.ndarray, flagged: np.ndarray, labels: np.ndarray | None) -> dict[str, float]:
    """The mean score and the share flagged; with 0/1 labels, AUC of the scores and F1 of
    the flags (anomalies are the positive class)."""
    out: dict[str, float] = {
        "score_mean": float(np.mean(scores)),
        "anomaly_rate": float(np.mean(flagged)),
    }
    if labels is not None and len(np.unique(labels)) == 2:
        out["auc"] = skm.roc_auc_score(labels, scores)
        out["f1"] = skm.f1_score(labels, flagged.astype(int), zero_division=0)
    return _finite(out)
