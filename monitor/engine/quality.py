"""Model quality from captured answers: metrics against ground truth once labels arrive, an
estimate from the model's own confidence before they do, and the comparison with a
baseline that raises model-quality violations.

Invariants:

- Labels are compared as text through one helper, :func:`label_key`, applied to both the
  truth and the predictions: a captured ``"1"`` (a CSV answer) and a ground-truth ``1`` (or
  ``1.0``, as pandas reads an integer column with gaps) are the same class. Reported labels
  (confusion matrix, per-class keys, the positive class) are these texts.
- A pair with a missing truth or prediction is left out; ``count`` is the pairs used.
- Binary metrics are those of the positive class; multiclass ones are macro averages over
  the classes seen in the truth or the predictions (scikit-learn's ``average="macro"``).
- A metric that cannot be computed (no rows, one class only for AUC, a zero in the truth
  for MAPE) is ``None``, never NaN, so results are JSON as they are.
- Probability matrices have one column per class in ``classes`` order (the order an
  endpoint's ``labels`` give); a binary model's may also be one column: the positive
  class's probability.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from training.engine import metrics as training_metrics

HIGHER_IS_BETTER = ("accuracy", "precision", "recall", "f1", "auc")
LOWER_IS_BETTER = ("rmse", "mae")
_NAMES = {
    "accuracy": "accuracy",
    "precision": "precision",
    "recall": "recall",
    "f1": "F1",
    "auc": "AUC",
    "rmse": "RMSE",
    "mae": "MAE",
}


def label_key(value: Any) -> str | None:
    """A label as comparable text: ``1``, ``1.0``, ``np.int64(1)`` and ``"1"`` are all
    ``"1"``; ``None``, NaN and ``""`` are missing."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None:
        return None
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if value.is_integer():
            return str(int(value))
        return repr(value)
    if isinstance(value, str):
        text = value.strip()
        return text or None
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return str(value)


def _finite(value: Any) -> float | None:
    number = float(value)
    return number if math.isfinite(number) else None


def _unique(values: Sequence[str | None]) -> list[str]:
    return list(dict.fromkeys(v for v in values if v is not None))


def _per_class(
    labels: list[str], precision: Any, recall: Any, f1: Any, support: Any
) -> dict[str, dict[str, Any]]:
    return {
        label: {
            "precision": _finite(precision[i]),
            "recall": _finite(recall[i]),
            "f1": _finite(f1[i]),
            "support": support[i].item() if isinstance(support[i], np.generic) else support[i],
        }
        for i, label in enumerate(labels)
    }


def _positive_column(proba: np.ndarray, order: list[str], positive: str) -> np.ndarray:
    if proba.ndim == 1:
        return proba
    if proba.ndim == 2 and proba.shape[1] == 1:
        return proba[:, 0]
    if proba.ndim == 2 and proba.shape[1] == len(order) and positive in order:
        column: np.ndarray = proba[:, order.index(positive)]
        return column
    raise ValueError(
        f"probabilities have shape {proba.shape}; a binary model's are one column or one "
        f"per class of {order}."
    )


def classification_metrics(
    y_true: Sequence[Any],
    y_pred: Sequence[Any],
    *,
    classes: list[Any] | None = None,
    positive: Any | None = None,
    probabilities: np.ndarray | None = None,
) -> dict[str, Any]:
    """Accuracy, precision, recall, F1, AUC, the confusion matrix and per-class scores.

    ``{"problem": "binary"|"multiclass", "count", "positive" (binary) | "average": "macro"
    (multiclass), "accuracy", "precision", "recall", "f1", "auc", "confusion_matrix":
    {"labels", "matrix"}, "per_class": {label: {"precision", "recall", "f1", "support"}}}``.
    The matrix's rows are true labels and its columns predicted ones, in ``labels`` order:
    ``classes`` first, then other labels seen, sorted. The positive class is ``positive``,
    else ``classes[1]``, else the lexically larger label. AUC needs ``probabilities`` (rows
    as ``y_true``) and every class in the truth."""
    from sklearn import metrics as skm

    truth = [label_key(v) for v in y_true]
    predicted = [label_key(v) for v in y_pred]
    if len(truth) != len(predicted):
        raise ValueError(f"{len(truth)} true labels but {len(predicted)} predictions.")
    proba = None if probabilities is None else np.asarray(probabilities, dtype=np.float64)
    if proba is not None and proba.shape[0] != len(truth):
        raise ValueError(f"{proba.shape[0]} rows of probabilities for {len(truth)} labels.")
    keep = [
        i
        for i, (t, p) in enumerate(zip(truth, predicted, strict=True))
        if t is not None and p is not None
    ]
    t_arr = np.asarray([truth[i] for i in keep], dtype=object)
    p_arr = np.asarray([predicted[i] for i in keep], dtype=object)
    order = _unique([label_key(c) for c in classes or []])
    seen = set(t_arr.tolist()) | set(p_arr.tolist())
    labels = order + sorted(seen - set(order))
    problem = "binary" if len(labels) <= 2 else "multiclass"
    out: dict[str, Any] = {"problem": problem, "count": len(keep)}
    positive_key: str | None = None
    if problem == "binary":
        positive_key = label_key(positive) if positive is not None else None
        if positive_key is None:
            positive_key = order[1] if len(order) >= 2 else (max(labels) if labels else None)
        if positive_key is not None and positive_key not in labels:
            labels.append(positive_key)
        out["positive"] = positive_key
    else:
        out["average"] = "macro"
    metrics: dict[str, Any] = dict.fromkeys(("accuracy", "precision", "recall", "f1", "auc"))
    per_class: dict[str, dict[str, Any]] = {}
    matrix: list[list[int]] = [[0] * len(labels) for _ in labels]
    if keep:
        precision, recall, f1, support = skm.precision_recall_fscore_support(
            t_arr, p_arr, labels=labels, zero_division=0
        )
        per_class = _per_class(labels, precision, recall, f1, support)
        metrics["accuracy"] = _finite(skm.accuracy_score(t_arr, p_arr))
        if positive_key is not None:
            at = labels.index(positive_key)
            metrics["precision"] = _finite(precision[at])
            metrics["recall"] = _finite(recall[at])
            metrics["f1"] = _finite(f1[at])
        else:
            macro = skm.precision_recall_fscore_support(
                t_arr, p_arr, average="macro", zero_division=0
            )
            metrics["precision"], metrics["recall"], metrics["f1"] = (_finite(v) for v in macro[:3])
        matrix = skm.confusion_matrix(t_arr, p_arr, labels=labels).tolist()
        if proba is not None:
            metrics["auc"] = _auc(t_arr, proba[keep], order or labels, positive_key)
    out.update(metrics)
    out["confusion_matrix"] = {"labels": labels, "matrix": matrix}
    out["per_class"] = per_class
    return out


def _auc(truth: np.ndarray, proba: np.ndarray, order: list[str], positive: str | None) -> Any:
    """ROC AUC: of the positive class (binary), or one-vs-rest macro over ``order``."""
    from sklearn import metrics as skm

    if positive is not None:
        scores = _positive_column(proba, order, positive)
        finite = np.isfinite(scores)
        hits = truth[finite] == positive
        if not hits.any() or hits.all():
            return None
        return _finite(skm.roc_auc_score(hits, scores[finite]))
    if proba.ndim != 2 or proba.shape[1] != len(order):
        raise ValueError(
            f"probabilities have shape {proba.shape}; one column per class of {order}."
        )
    finite = np.isfinite(proba).all(axis=1) & (proba.sum(axis=1) > 0)
    truth, proba = truth[finite], proba[finite]
    if set(truth.tolist()) != set(order):
        return None  # a class missing from the truth (or a label outside the classes)
    # Rounded captured probabilities may not sum to 1, which scikit-learn insists on.
    proba = proba / proba.sum(axis=1, keepdims=True)
    return _finite(skm.roc_auc_score(truth, proba, multi_class="ovr", labels=order))


def _numbers(values: Sequence[Any]) -> np.ndarray:
    series = pd.to_numeric(pd.Series(list(values), dtype=object), errors="coerce")
    out: np.ndarray = series.to_numpy(dtype=np.float64, na_value=np.nan)
    return out


def regression_metrics(y_true: Sequence[Any], y_pred: Sequence[Any]) -> dict[str, Any]:
    """``{"problem": "regression", "count", "rmse", "mae", "r2", "mape"}`` over the pairs
    where both are numbers; MAPE is a fraction (0.1 is 10 %) and ``None`` when a true value
    is 0, R² ``None`` under two pairs."""
    from sklearn import metrics as skm

    truth, predicted = _numbers(y_true), _numbers(y_pred)
    if len(truth) != len(predicted):
        raise ValueError(f"{len(truth)} true values but {len(predicted)} predictions.")
    keep = np.isfinite(truth) & np.isfinite(predicted)
    truth, predicted = truth[keep], predicted[keep]
    out: dict[str, Any] = {
        "problem": "regression",
        "count": int(keep.sum()),
        "rmse": None,
        "mae": None,
        "r2": None,
        "mape": None,
    }
    if not len(truth):
        return out
    # The same RMSE, MAE and R² a training job reports, so the two compare.
    out.update(training_metrics.regression(truth, predicted))
    if not (truth == 0).any():
        out["mape"] = _finite(skm.mean_absolute_percentage_error(truth, predicted))
    return out


# ------------------------------------------------------------------------------- CBPE


def _expected_auc(scores: np.ndarray) -> float | None:
    """The ROC AUC expected when each row is positive with probability ``scores``: the
    curve of expected true and false positives as the threshold falls."""
    ordered = np.sort(scores)[::-1]
    tp = np.cumsum(ordered)
    fp = np.cumsum(1.0 - ordered)
    positives, negatives = tp[-1], fp[-1]
    if positives <= 0 or negatives <= 0:
        return None
    # One point per distinct threshold: tied scores move together.
    ends = np.r_[np.nonzero(np.diff(ordered))[0], len(ordered) - 1]
    tpr = np.r_[0.0, tp[ends] / positives]
    fpr = np.r_[0.0, fp[ends] / negatives]
    return _finite(np.trapezoid(tpr, fpr))


def _ratio(top: float, bottom: float) -> float:
    return top / bottom if bottom > 0 else 0.0


def estimated_classification_metrics(
    probabilities: np.ndarray, classes: list[Any], *, positive: Any | None = None
) -> dict[str, Any]:
    """Confidence-based performance estimation (CBPE, as NannyML defines it): the metrics
    expected from the model's probabilities alone, for when no labels have arrived.

    Each row is taken to belong to class c with its probability of c, so the expected
    confusion matrix has, for true class t and predicted class c, the sum of P(t) over the
    rows predicted c. The prediction is the argmax, and for a binary model the positive
    class when its probability is at least 0.5; expected accuracy is then the mean of the
    largest probability. Binary metrics are the positive class's (expected TP = Σ p over
    predicted positives, FP = Σ (1 − p) over them, FN = Σ p and TN = Σ (1 − p) over
    predicted negatives); multiclass ones are one-vs-rest per class, then macro over all
    classes. AUC is the expected ROC AUC of the same sort.

    CBPE assumes calibrated probabilities: the estimate is as good as the calibration,
    and it cannot see concept drift (the same inputs meaning a different label).

    The same keys as :func:`classification_metrics`, with expected (fractional) counts,
    plus ``"estimated": True``. Rows are normalised to sum to 1; rows with a gap are left
    out."""
    order = [label_key(c) for c in classes]
    if any(c is None for c in order) or len(set(order)) != len(order) or len(order) < 2:
        raise ValueError(f"classes {classes!r} are not two or more distinct labels.")
    labels = [c for c in order if c is not None]
    k = len(labels)
    proba = np.asarray(probabilities, dtype=np.float64)
    binary = k == 2
    positive_key = label_key(positive) if positive is not None else labels[1]
    if binary and positive_key not in labels:
        raise ValueError(f"positive {positive!r} is not one of the classes {labels}.")
    at = labels.index(positive_key) if binary and positive_key is not None else 1
    if proba.ndim == 1 and binary:
        full = np.empty((len(proba), 2))
        full[:, at], full[:, 1 - at] = proba, 1.0 - proba
        proba = full
    if proba.ndim != 2 or proba.shape[1] != k:
        raise ValueError(f"probabilities have shape {proba.shape}; one column per class of {k}.")
    totals = proba.sum(axis=1)
    usable = np.isfinite(proba).all(axis=1) & (totals > 0)
    proba = proba[usable] / totals[usable, None]
    n = len(proba)
    if binary:
        predicted = np.where(proba[:, at] >= 0.5, at, 1 - at)
    else:
        predicted = proba.argmax(axis=1)
    # expected[t, c]: the expected count of rows of true class t predicted as c.
    expected = proba.T @ np.eye(k)[predicted] if n else np.zeros((k, k))
    tp = np.diag(expected)
    predicted_n, actual_n = expected.sum(axis=0), expected.sum(axis=1)
    precision = np.array([_ratio(tp[c], predicted_n[c]) for c in range(k)])
    recall = np.array([_ratio(tp[c], actual_n[c]) for c in range(k)])
    f1 = np.array([_ratio(2 * tp[c], predicted_n[c] + actual_n[c]) for c in range(k)])
    out: dict[str, Any] = {"problem": "binary" if binary else "multiclass", "count": n}
    if binary:
        out["positive"] = positive_key
    else:
        out["average"] = "macro"
    if not n:
        out.update(dict.fromkeys(("accuracy", "precision", "recall", "f1", "auc")))
        out["per_class"] = {}
    else:
        out["accuracy"] = _finite(proba.max(axis=1).mean())
        if binary:
            out["precision"], out["recall"], out["f1"] = (
                _finite(precision[at]),
                _finite(recall[at]),
                _finite(f1[at]),
            )
            out["auc"] = _expected_auc(proba[:, at])
        else:
            out["precision"], out["recall"], out["f1"] = (
                _finite(precision.mean()),
                _finite(recall.mean()),
                _finite(f1.mean()),
            )
            aucs = [_expected_auc(proba[:, c]) for c in range(k)]
            known = [a for a in aucs if a is not None]
            out["auc"] = _finite(np.mean(known)) if len(known) == k else None
        out["per_class"] = _per_class(labels, precision, recall, f1, actual_n.tolist())
    out["confusion_matrix"] = {"labels": labels, "matrix": expected.tolist()}
    out["estimated"] = True
    return out


# --------------------------------------------------------------------------- baseline


def _metric(result: dict[str, Any], name: str) -> float | None:
    value = result.get(name)
    if value is None or isinstance(value, bool):
        return None
    try:
        return _finite(value)
    except (TypeError, ValueError):
        return None


def _title(name: str, estimated: bool) -> str:
    shown = _NAMES.get(name, name)
    if estimated:
        return f"Estimated {shown}"
    return shown[:1].upper() + shown[1:]


def compare_quality(
    current: dict[str, Any], baseline: dict[str, Any], *, tolerance: float = 0.05
) -> list[dict[str, Any]]:
    """Model-quality violations of ``current`` against ``baseline`` (either a result of
    this module or a training job's flat metrics): accuracy, precision, recall, F1 and AUC
    when they fall more than ``tolerance`` below the baseline; RMSE and MAE when they rise
    more than ``tolerance`` (a fraction) above it. Only metrics known on both sides."""
    estimated = bool(current.get("estimated"))
    out: list[dict[str, Any]] = []
    for name in HIGHER_IS_BETTER:
        value, base = _metric(current, name), _metric(baseline, name)
        if value is None or base is None:
            continue
        threshold = base - tolerance
        if value < threshold:
            out.append(
                {
                    "feature": None,
                    "check": "model_quality_check",
                    "description": (
                        f"{_title(name, estimated)} {value:.4g} is below {threshold:.4g}: the "
                        f"baseline's {base:.4g} less the tolerance {tolerance:g}."
                    ),
                    "value": value,
                    "threshold": threshold,
                }
            )
    for name in LOWER_IS_BETTER:
        value, base = _metric(current, name), _metric(baseline, name)
        if value is None or base is None:
            continue
        threshold = base * (1.0 + tolerance)
        if value > threshold:
            out.append(
                {
                    "feature": None,
                    "check": "model_quality_check",
                    "description": (
                        f"{_title(name, estimated)} {value:.4g} is above {threshold:.4g}: the "
                        f"baseline's {base:.4g} plus {tolerance:.0%}."
                    ),
                    "value": value,
                    "threshold": threshold,
                }
            )
    return out


# ------------------------------------------------------------------------- ground truth


def join_ground_truth(
    meta: pd.DataFrame, outputs: pd.DataFrame, truth: pd.DataFrame
) -> pd.DataFrame:
    """The captured rows that have a label: ``event_id``, ``row``, ``label`` and the
    outputs' columns, in capture order.

    ``truth`` has ``event_id``, ``label`` and optionally ``row`` (0 when absent or empty).
    When a key appears more than once the last wins, as a correction would; a last label
    that is empty withdraws the key. Keys with no captured row are ignored."""
    for name in ("event_id", "label"):
        if name not in truth.columns:
            raise ValueError(f"Ground truth needs a column {name!r}.")
    if len(meta) != len(outputs):
        raise ValueError(f"{len(meta)} rows of meta but {len(outputs)} of outputs.")
    rows = (
        pd.to_numeric(truth["row"], errors="coerce").fillna(0).astype("int64")
        if "row" in truth.columns
        else pd.Series(0, index=truth.index, dtype="int64")
    )
    labels = pd.DataFrame(
        {
            "event_id": truth["event_id"].map(str, na_action="ignore").astype(object),
            "row": rows.to_numpy(),
            "label": truth["label"].to_numpy(),
        }
    )
    labels = labels[labels["event_id"].notna()]
    labels = labels.drop_duplicates(subset=["event_id", "row"], keep="last")
    labels = labels[labels["label"].notna()]
    extra = [c for c in outputs.columns if c not in ("event_id", "row", "label")]
    captured = pd.concat(
        [
            pd.DataFrame(
                {
                    "event_id": meta["event_id"].map(str).astype(object).to_numpy(),
                    "row": meta["row"].astype("int64").to_numpy(),
                }
            ),
            outputs[extra].reset_index(drop=True),
        ],
        axis=1,
    )
    joined = captured.merge(labels, on=["event_id", "row"], how="inner", sort=False)
    return joined[["event_id", "row", "label", *extra]].reset_index(drop=True)
