"""Automated data labeling (active learning), one round at a time, as Ground Truth does it.

A job sets aside a random validation sample labeled by people (:func:`validation_sample_size`)
and has people label a first training batch of the same size. Then each round:

1. trains a calibrated linear model on every human label so far (never on auto-labels: a
   model taught its own mistakes grows surer of them);
2. predicts the validation items and picks the lowest confidence threshold at which the
   items at or above it are at least ``target_accuracy`` correct, allowing for the noise
   of that estimate (one standard error) and for the waiting items being harder than the
   validation items once the easy ones are gone;
3. auto-labels the waiting items whose confidence reaches that threshold;
4. sends the least certain of the rest (smallest margin between the two likeliest classes)
   to people, whose labels the next round learns from.

:func:`run_box_round` does the same for bounding boxes, with the sliding-window detector of
``labeling.engine.detect`` in place of the linear model, and an image counted right when its
boxes and the people's pair up one to one at IoU ≥ 0.5.

Invariants: a round is a pure function of its inputs and ``seed``; ``auto_indices`` and
``next_for_humans`` are disjoint indices into the pool; nothing is auto-labeled without a
threshold, and no threshold is chosen on fewer validation items than :func:`min_support`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import numpy.typing as npt
from PIL import Image
from threadpoolctl import threadpool_limits

from labeling.engine.detect import boxes_match, detect, load_rgb, train_detector

if TYPE_CHECKING:
    from sklearn.linear_model import LogisticRegression

#: Fewest validation items above a threshold for its accuracy to be believed …
MIN_SUPPORT: Final = 20
#: … or this share of the validation items, when that is more.
MIN_SUPPORT_SHARE: Final = 0.10
#: How many standard errors below its measured accuracy a threshold is judged at.
CAUTION: Final = 1.0
#: Regularisation strengths tried: dense features are standardised first (unit scale per
#: column), TF-IDF rows have unit norm, so the useful strengths differ by about 100×.
DENSE_C: Final = (0.01, 0.1, 1.0)
SPARSE_C: Final = (1.0, 10.0, 100.0)
#: Fewest training rows for which tuning C by cross-validation is worth more than its noise.
TUNE_MIN_ROWS: Final = 30
FOLDS: Final = 3

Matrix = Any  # a 2-D numpy array or a scipy sparse matrix, rows are items
IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, eq=False)  # eq=False: arrays have no single truth value to compare
class AutoLabelRound:
    """What one round decided: the threshold, its estimated accuracy, and who labels what."""

    threshold: float | None
    estimated_accuracy: float | None
    validation_accuracy: float
    coverage: float
    auto_indices: IntArray
    auto_labels: IntArray
    auto_confidence: FloatArray
    next_for_humans: IntArray


@dataclass(frozen=True, eq=False)  # eq=False: arrays have no single truth value to compare
class BoxRound:
    """What one round of box auto-labeling decided, image by image."""

    threshold: float | None
    estimated_accuracy: float | None
    validation_accuracy: float
    coverage: float
    auto_indices: IntArray
    auto_boxes: tuple[list[dict[str, Any]], ...]
    auto_confidence: FloatArray
    next_for_humans: IntArray


def validation_sample_size(n_items: int) -> int:
    """How many items are set aside for validation: 20%, or 10% of a job over 5,000 items."""
    share = 0.10 if n_items > 5000 else 0.20
    return max(1, round(n_items * share))


def min_support(n_validation: int) -> int:
    """Fewest validation items at or above a threshold for the threshold to be chosen."""
    wanted = max(MIN_SUPPORT, math.ceil(MIN_SUPPORT_SHARE * n_validation))
    return max(1, min(n_validation, wanted))


def run_round(
    *,
    x_train: Matrix,
    y_train: npt.ArrayLike,
    x_validation: Matrix,
    y_validation: npt.ArrayLike,
    x_pool: Matrix,
    n_classes: int,
    target_accuracy: float,
    batch_size: int,
    seed: int = 0,
) -> AutoLabelRound:
    """One round of automated labeling; labels are class indices in ``range(n_classes)``.

    Preconditions: at least one training and one validation item. Classes absent from the
    training labels get probability 0 (the model cannot propose what it never saw).
    """
    y_train = _classes(y_train, n_classes, "y_train")
    y_validation = _classes(y_validation, n_classes, "y_validation")
    if len(y_train) == 0 or len(y_validation) == 0:
        raise ValueError("A round needs training items and validation items.")
    rng = np.random.default_rng(seed)
    # Small linear models run far faster on one BLAS thread than on several: the threads'
    # start-up costs more than they save at these sizes (40× on a 2-core machine).
    with threadpool_limits(limits=1):
        predict = _fit(x_train, y_train, n_classes, seed)
        validation_proba = predict(x_validation)
        pool_proba = predict(x_pool) if _rows(x_pool) else np.zeros((0, n_classes))

    validation_confidence = validation_proba.max(axis=1)
    correct = validation_proba.argmax(axis=1) == y_validation
    pool_confidence = pool_proba.max(axis=1)
    threshold, estimated = _threshold(
        validation_confidence,
        correct,
        pool_confidence,
        target_accuracy=target_accuracy,
        support=min_support(len(y_validation)),
    )
    coverage = 0.0 if threshold is None else float(np.mean(validation_confidence >= threshold))

    if threshold is None:
        auto = np.zeros(len(pool_proba), dtype=bool)
    else:
        auto = pool_confidence >= threshold
    auto_indices = np.flatnonzero(auto).astype(np.int64)
    rest = np.flatnonzero(~auto).astype(np.int64)
    ranked = np.sort(pool_proba[rest], axis=1)
    margin = ranked[:, -1] - (ranked[:, -2] if n_classes > 1 else 0.0)
    # Least confident first; ties (common when the model knows nothing yet) in a seeded
    # random order rather than in dataset order, so people don't get one stretch of it.
    order = np.lexsort((rng.permutation(len(rest)), margin))
    return AutoLabelRound(
        threshold=threshold,
        estimated_accuracy=estimated,
        validation_accuracy=float(np.mean(correct)),
        coverage=coverage,
        auto_indices=auto_indices,
        auto_labels=pool_proba[auto_indices].argmax(axis=1).astype(np.int64),
        auto_confidence=pool_confidence[auto_indices].astype(np.float64),
        next_for_humans=rest[order[: max(0, batch_size)]],
    )


def run_box_round(
    *,
    train_images: Sequence[Image.Image | Path],
    train_boxes: Sequence[Sequence[Mapping[str, Any]]],
    validation_images: Sequence[Image.Image | Path],
    validation_boxes: Sequence[Sequence[Mapping[str, Any]]],
    pool_images: Sequence[Image.Image | Path],
    labels: Sequence[str],
    target_accuracy: float,
    batch_size: int,
    seed: int = 0,
) -> BoxRound:
    """One round of automated labeling of boxes, like :func:`run_round` for classes.

    A validation image counts as right when the boxes found and the people's boxes pair up
    one to one, each pair of one label with IoU ≥ 0.5; the threshold is on the images'
    confidence (their detector's least certain decision).
    """
    if not validation_images:
        raise ValueError("A round needs validation images.")
    with threadpool_limits(limits=1):
        detector = train_detector(
            [load_rgb(i) for i in train_images], train_boxes, labels=labels, seed=seed
        )
        if detector is None:
            validation, pool = [], []
        else:
            validation = [detect(detector, load_rgb(i)) for i in validation_images]
            pool = [detect(detector, load_rgb(i)) for i in pool_images]
    if detector is None:
        # No box to learn from: nothing to auto-label; people take the images in a seeded
        # random order, as good as any other when nothing is known.
        n = len(pool_images)
        order = np.random.default_rng(seed).permutation(n)[: max(0, batch_size)]
        return BoxRound(
            threshold=None,
            estimated_accuracy=None,
            validation_accuracy=0.0,
            coverage=0.0,
            auto_indices=np.zeros(0, dtype=np.int64),
            auto_boxes=(),
            auto_confidence=np.zeros(0),
            next_for_humans=order.astype(np.int64),
        )
    correct = np.array(
        [
            boxes_match(found, truth)
            for (found, _), truth in zip(validation, validation_boxes, strict=True)
        ]
    )
    confidence = np.array([c for _, c in validation], dtype=np.float64)
    pool_confidence = np.array([c for _, c in pool], dtype=np.float64)
    threshold, estimated = _threshold(
        confidence,
        correct,
        pool_confidence,
        target_accuracy=target_accuracy,
        support=min_support(len(validation)),
    )
    auto = (
        pool_confidence >= threshold if threshold is not None else np.zeros(len(pool), dtype=bool)
    )
    auto_indices = np.flatnonzero(auto).astype(np.int64)
    rest = np.flatnonzero(~auto).astype(np.int64)
    order = np.lexsort((np.random.default_rng(seed).permutation(len(rest)), pool_confidence[rest]))
    return BoxRound(
        threshold=threshold,
        estimated_accuracy=estimated,
        validation_accuracy=float(np.mean(correct)),
        coverage=0.0 if threshold is None else float(np.mean(confidence >= threshold)),
        auto_indices=auto_indices,
        auto_boxes=tuple(pool[i][0] for i in auto_indices),
        auto_confidence=pool_confidence[auto_indices],
        next_for_humans=rest[order[: max(0, batch_size)]],
    )


def _classes(y: npt.ArrayLike, n_classes: int, name: str) -> IntArray:
    out = np.asarray(y, dtype=np.int64).ravel()
    if len(out) and (out.min() < 0 or out.max() >= n_classes):
        raise ValueError(f"{name} holds a class outside 0–{n_classes - 1}.")
    return out


def _rows(x: Matrix) -> int:
    return int(x.shape[0])


def _threshold(
    confidence: FloatArray,
    correct: npt.NDArray[np.bool_],
    pool_confidence: FloatArray,
    *,
    target_accuracy: float,
    support: int,
) -> tuple[float | None, float | None]:
    """The lowest confidence at which the validation items at or above it reach the target
    accuracy (:func:`_wilson_lower` of it does), with their measured accuracy; (None, None)
    when no threshold with enough support does.

    The pool must reach the target too, as far as the validation items can tell: after the
    first round the easy items are gone, and what waits is bunched just above the threshold,
    where the model is right less often than on the validation items above it on average.
    So each pool item is counted at the accuracy of validation items as confident as it
    (a monotone fit of right/wrong on confidence), and the threshold rises until the
    auto-labeled items' expected accuracy reaches the target as well.
    """
    from sklearn.isotonic import IsotonicRegression

    order = np.argsort(-confidence, kind="stable")
    ranked, hits = confidence[order], np.cumsum(correct[order])
    counts = np.arange(1, len(ranked) + 1)
    accuracy = hits / counts
    # A cut is only possible after the last of a run of equal confidences: a threshold
    # takes all of them or none.
    boundary = np.append(ranked[:-1] > ranked[1:], True)
    lower = _wilson_lower(accuracy, counts)
    # The small epsilon keeps a bound equal to the target from failing to a rounding error.
    ok = boundary & (counts >= support) & (lower >= target_accuracy - 1e-12)
    if len(pool_confidence) and ok.any():
        expected = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(
            confidence, correct.astype(np.float64)
        )
        pool_order = np.sort(pool_confidence)[::-1]
        pool_hits = np.cumsum(expected.predict(pool_order))
        # Pool items at or above each candidate threshold (pool_order is descending).
        taken = np.searchsorted(-pool_order, -ranked, side="right")
        pool_accuracy = np.where(
            taken > 0, pool_hits[np.maximum(taken - 1, 0)] / np.maximum(taken, 1), 1.0
        )
        ok &= pool_accuracy >= target_accuracy - 1e-12
    if not ok.any():
        return None, None
    last = int(np.flatnonzero(ok)[-1])
    return float(ranked[last]), float(accuracy[last])


def _wilson_lower(accuracy: FloatArray, counts: IntArray) -> FloatArray:
    """The lower end of the Wilson score interval, :data:`CAUTION` standard errors down.

    Taking the lowest threshold whose validation accuracy reaches the target takes the
    luckiest of many noisy estimates, and the items labeled then fall short of the target
    by about one standard error (measured: 0.93–0.95 for a 0.95 target). Asking the same of
    the interval's lower end instead brings them back to the target.
    """
    z2 = CAUTION**2
    centre = accuracy + z2 / (2 * counts)
    spread = CAUTION * np.sqrt(accuracy * (1 - accuracy) / counts + z2 / (4 * counts**2))
    out: FloatArray = (centre - spread) / (1 + z2 / counts)
    return out


def _fit(x: Matrix, y: IntArray, n_classes: int, seed: int) -> Callable[[Matrix], FloatArray]:
    """A function giving class probabilities (all ``n_classes`` columns) for rows of x."""
    from scipy import sparse
    from sklearn.preprocessing import StandardScaler

    present = np.unique(y)
    if len(present) == 1:
        # One class seen: nothing to tell apart. Certain of it, which the validation
        # accuracy then judges like any other model.
        only = int(present[0])

        def constant(rows: Matrix) -> FloatArray:
            out = np.zeros((_rows(rows), n_classes))
            out[:, only] = 1.0
            return out

        return constant
    is_sparse = sparse.issparse(x)
    scaler = None if is_sparse else StandardScaler().fit(x)
    x = x if scaler is None else scaler.transform(x)
    c = _tune_c(x, y, n_classes, SPARSE_C if is_sparse else DENSE_C, seed)
    model = _model(c).fit(x, y)

    def predict(rows: Matrix) -> FloatArray:
        rows = rows if scaler is None else scaler.transform(rows)
        return _full(model, rows, n_classes)

    return predict


def _model(c: float) -> LogisticRegression:
    from sklearn.linear_model import LogisticRegression

    # A loose tolerance: the threshold reads probabilities to two digits at best, and the
    # last iterations to a tight optimum cost more than the whole rest of the round.
    return LogisticRegression(C=c, max_iter=300, tol=1e-3)


def _full(model: LogisticRegression, rows: Matrix, n_classes: int) -> FloatArray:
    out = np.zeros((_rows(rows), n_classes))
    out[:, model.classes_] = model.predict_proba(rows)
    return out


def _tune_c(x: Matrix, y: IntArray, n_classes: int, grid: tuple[float, ...], seed: int) -> float:
    """The C of ``grid`` with the best cross-validated log loss on the training rows.

    Log loss rather than accuracy: the threshold trusts the probabilities, so the model
    whose probabilities are honest is the one wanted. Tuned on training rows only, so the
    validation items stay an unbiased judge of the threshold.
    """
    from sklearn.model_selection import KFold

    middle = grid[len(grid) // 2]
    if len(y) < TUNE_MIN_ROWS:
        return middle
    losses, folds = np.zeros(len(grid)), 0
    for train, test in KFold(FOLDS, shuffle=True, random_state=seed).split(y):
        if len(np.unique(y[train])) < 2:
            continue
        folds += 1
        for i, c in enumerate(grid):
            proba = _full(_model(c).fit(x[train], y[train]), x[test], n_classes)
            losses[i] -= np.sum(np.log(np.clip(proba[np.arange(len(test)), y[test]], 1e-6, 1)))
    return float(grid[int(np.argmin(losses))]) if folds else middle
