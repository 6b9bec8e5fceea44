"""What a trained model scores on a channel's rows, by problem type (SageMaker's metric names
where it has them: ``accuracy``, ``f1``, ``auc``, ``logloss``, ``rmse``, ``mae``, ``r2``,
``msd``…); the job names them ``<channel>:<metric>``."""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def _finite(values: dict[str, float]) -> dict[str, float]:
    return {k: float(v) for k, v in values.items() if v is not None and math.isfinite(float(v))}


def classification(codes: np.ndarray, proba: np.ndarray, n_classes: int) -> dict[str, float]:
    """Accuracy, F1 (binary: of the second class; else macro), precision, recall, AUC
    (one-vs-rest macro for several classes, where each class is present) and log loss.

    Counted from one confusion matrix (one pass over the rows) rather than a pass per
    metric: the same numbers scikit-learn gives, at a fraction of the time on big sets.
    """
    from sklearn import metrics as skm

    codes = np.asarray(codes, dtype="int64")
    proba = np.asarray(proba, dtype="float64")
    predicted = proba.argmax(axis=1)
    confusion = np.bincount(codes * n_classes + predicted, minlength=n_classes * n_classes)
    confusion = confusion.reshape(n_classes, n_classes).astype("float64")
    hits = np.diag(confusion)
    predicted_n, actual_n = confusion.sum(axis=0), confusion.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted_n > 0, hits / predicted_n, 0.0)
        recall = np.where(actual_n > 0, hits / actual_n, 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    if n_classes == 2:
        p, r, f = precision[1], recall[1], f1[1]
    else:
        # Macro averages over the classes present in the truth or the predictions.
        seen = (predicted_n + actual_n) > 0
        p, r, f = precision[seen].mean(), recall[seen].mean(), f1[seen].mean()
    out: dict[str, float] = {
        "accuracy": hits.sum() / max(1.0, confusion.sum()),
        "f1": f,
        "precision": p,
        "recall": r,
    }
    present = np.unique(codes)
    if len(present) == n_classes and n_classes >= 2:
        if n_classes == 2:
            out["auc"] = skm.roc_auc_score(codes, proba[:, 1])
        else:
            out["auc"] = skm.roc_auc_score(
                codes, proba, multi_class="ovr", labels=list(range(n_classes))
            )
    picked = np.clip(proba[np.arange(len(codes)), codes] / proba.sum(axis=1), 1e-15, 1.0)
    out["logloss"] = float(-np.mean(np.log(picked))) if len(codes) else math.nan
    return _finite(out)


def regression(y: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    from sklearn import metrics as skm

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
    from sklearn import metrics as skm

    out: dict[str, float] = {
        "score_mean": float(np.mean(scores)),
        "anomaly_rate": float(np.mean(flagged)),
    }
    if labels is not None and len(np.unique(labels)) == 2:
        out["auc"] = skm.roc_auc_score(labels, scores)
        out["f1"] = skm.f1_score(labels, flagged.astype(int), zero_division=0)
    return _finite(out)
