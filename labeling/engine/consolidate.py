"""Annotation consolidation: several workers' answers to one item become one label with a
confidence, and each worker gets a measure of quality.

Pure compute (NumPy, SciPy): no Django, nothing of the studio's models.

Invariants:

- Class answers are three parallel integer arrays (item, worker, class), indices from 0.
  An item nobody answered gets the label -1, a confidence of 0 and a row of zeros in the
  posteriors; every other row of the posteriors sums to 1.
- Ties between classes go to the lowest class index, so the same answers always give the
  same labels, whatever order they come in.
- Every confidence lies in [0, 1].
- Spans are character ranges ``[start, end)``; boxes are ``(x, y, w, h)`` in pixels with
  ``(x, y)`` the top-left corner; masks are ``height × width`` uint8 arrays in which 0 is the
  background and ``k + 1`` the class ``labels[k]``; brush masks are run lengths over the
  pixels in row-major order, starting with a (possibly empty) background run.
- Geometry is clustered worker by worker in the order given, and a worker gives at most one
  shape to a cluster: a cluster's votes are distinct workers.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

S = TypeVar("S")
R = TypeVar("R")


# --------------------------------------------------------------------------- contracts


@dataclass(frozen=True)
class ClassConsolidation:
    """One class per item, with its confidence and the posterior over the classes."""

    labels: IntArray
    confidence: FloatArray
    posteriors: FloatArray
    iterations: int
    worker_confusion: FloatArray | None = None


@dataclass(frozen=True)
class MultiLabelResult:
    """One item's chosen labels, each label's share of the votes, and a confidence."""

    labels: tuple[str, ...]
    shares: Mapping[str, float]
    confidence: float
    workers: int


@dataclass(frozen=True)
class Span:
    """A labelled character range ``[start, end)`` of a text."""

    label: str
    start: int
    end: int


@dataclass(frozen=True)
class ConsolidatedSpan:
    """A span enough workers marked, its boundaries by vote, and its confidence."""

    label: str
    start: int
    end: int
    confidence: float
    votes: int


@dataclass(frozen=True)
class Box:
    """A labelled rectangle: top-left corner ``(x, y)``, width and height, in pixels."""

    label: str
    x: float
    y: float
    w: float
    h: float


@dataclass(frozen=True)
class ConsolidatedBox:
    """A box enough workers drew, the mean of their boxes, and its confidence."""

    label: str
    x: float
    y: float
    w: float
    h: float
    confidence: float
    votes: int


@dataclass(frozen=True)
class MaskConsolidation:
    """The per-pixel vote of several masks, its confidence and the workers' agreement."""

    mask: npt.NDArray[np.uint8]
    confidence: float
    pixel_agreement: float


@dataclass(frozen=True)
class WorkerQuality:
    """How one worker's answers compare with the consolidated labels and the gold ones."""

    worker: int
    answers: int
    agreement: float | None
    gold_answers: int
    gold_accuracy: float | None
    accuracy_estimate: float | None


# --------------------------------------------------------------------------- classes


def _answers(
    items: npt.ArrayLike,
    workers: npt.ArrayLike,
    classes: npt.ArrayLike,
    *,
    n_items: int,
    n_classes: int,
    n_workers: int | None,
) -> tuple[IntArray, IntArray, IntArray, int]:
    """The answer arrays as int64, checked, and the number of workers."""
    i = np.asarray(items, dtype=np.int64).ravel()
    w = np.asarray(workers, dtype=np.int64).ravel()
    c = np.asarray(classes, dtype=np.int64).ravel()
    if not len(i) == len(w) == len(c):
        raise ValueError("items, workers and classes must have the same length")
    if n_items < 0 or n_classes < 1:
        raise ValueError("n_items must be >= 0 and n_classes >= 1")
    found_workers = int(w.max()) + 1 if len(w) else 0
    n_w = found_workers if n_workers is None else n_workers
    for name, values, bound in (("item", i, n_items), ("worker", w, n_w), ("class", c, n_classes)):
        if len(values) and (int(values.min()) < 0 or int(values.max()) >= bound):
            raise ValueError(f"a {name} index is outside [0, {bound})")
    return i, w, c, n_w


def _finish(posteriors: FloatArray, answered: npt.NDArray[np.bool_]) -> tuple[IntArray, FloatArray]:
    """Labels (argmax, lowest class on ties; -1 where unanswered) and their confidence."""
    labels = posteriors.argmax(axis=1).astype(np.int64)
    labels[~answered] = -1
    confidence = np.where(answered, posteriors.max(axis=1), 0.0).astype(np.float64)
    return labels, confidence


def majority_vote(
    items: npt.ArrayLike,
    workers: npt.ArrayLike,
    classes: npt.ArrayLike,
    *,
    n_items: int,
    n_classes: int,
    weights: npt.ArrayLike | None = None,
) -> ClassConsolidation:
    """The class most (weighted) votes chose, per item.

    ``weights`` holds one non-negative weight per worker (indexed by the worker index), for
    instance their accuracy on gold items. An item whose answers all weigh 0 counts as
    unanswered. Confidence is the winner's share of the item's (weighted) votes.
    """
    i, w, c, n_w = _answers(
        items, workers, classes, n_items=n_items, n_classes=n_classes, n_workers=None
    )
    per_answer: FloatArray | None = None
    if weights is not None:
        worker_weights = np.asarray(weights, dtype=np.float64).ravel()
        if len(worker_weights) < n_w or (worker_weights < 0).any():
            raise ValueError("weights holds one non-negative weight per worker")
        per_answer = worker_weights[w]
    votes = (
        np.bincount(i * n_classes + c, weights=per_answer, minlength=n_items * n_classes)
        .astype(np.float64)
        .reshape(n_items, n_classes)
    )
    totals = votes.sum(axis=1)
    answered = totals > 0
    posteriors = np.divide(
        votes, totals[:, None], out=np.zeros_like(votes), where=answered[:, None]
    )
    labels, confidence = _finish(posteriors, answered)
    return ClassConsolidation(
        labels=labels, confidence=confidence, posteriors=posteriors, iterations=0
    )


def dawid_skene(
    items: npt.ArrayLike,
    workers: npt.ArrayLike,
    classes: npt.ArrayLike,
    *,
    n_items: int,
    n_classes: int,
    n_workers: int | None = None,
    max_iter: int = 100,
    tol: float = 1e-6,
    gold: Mapping[int, int] | None = None,
    smoothing: float = 0.01,
) -> ClassConsolidation:
    """Dawid & Skene (1979): EM over one confusion matrix per worker and the class priors.

    Starts from the (soft) majority vote. Each iteration is an M step (priors and confusion
    matrices from the current posteriors, each count plus ``smoothing`` so no probability is
    0) and an E step (posteriors from them, in log space). It stops after ``max_iter``
    iterations or once the log-likelihood per answer gains less than ``tol``. Gold items
    (item → true class) keep their class as a certain posterior throughout, which anchors
    the workers' matrices. ``worker_confusion[w, k, l]`` is the probability that worker
    ``w`` answers ``l`` for an item of class ``k``; confidence is the chosen class's
    posterior.
    """
    from scipy import sparse

    i, w, c, n_w = _answers(
        items, workers, classes, n_items=n_items, n_classes=n_classes, n_workers=n_workers
    )
    k = n_classes
    gold_items, gold_classes = _gold(gold, n_items=n_items, n_classes=n_classes)
    answered = np.bincount(i, minlength=n_items) > 0
    answered[gold_items] = True
    # One sparse row per item, one column per (worker, answered class): the E step's sums
    # of log-probabilities and the M step's counts are then two small sparse products.
    slots = max(n_w, 1)
    counts = sparse.csr_array((np.ones(len(i)), (i, w * k + c)), shape=(n_items, slots * k))
    counts_t = sparse.csr_array(counts.T)
    unanswered = np.flatnonzero(~answered)
    # Posteriors are held class-major (k × items): reductions over the few classes are then
    # element-wise operations on long contiguous rows, several times quicker than row-wise.
    initial = majority_vote(i, w, c, n_items=n_items, n_classes=k).posteriors
    posteriors = np.ascontiguousarray(initial.T)
    posteriors[:, gold_items] = 0.0
    posteriors[gold_classes, gold_items] = 1.0
    per_answer = max(len(i), 1)
    confusion = np.full((slots, k, k), 1.0 / k)
    previous = -math.inf
    iterations = 0
    while iterations < max_iter:
        iterations += 1
        # M step. counts_t @ posteriors.T is indexed [worker * k + answered, true class].
        seen = (counts_t @ posteriors.T).reshape(slots, k, k).transpose(0, 2, 1)
        confusion = seen + smoothing
        confusion /= confusion.sum(axis=2, keepdims=True)
        # Unanswered items' posteriors are 0: a plain sum counts the answered ones.
        priors = posteriors.sum(axis=1) + smoothing
        priors /= priors.sum()
        # E step, in log space: products of many small probabilities underflow.
        # log_answer[true class, worker * k + answered]
        log_answer = np.log(confusion).transpose(1, 0, 2).reshape(k, slots * k)
        logits = np.ascontiguousarray((counts @ log_answer.T).T)
        logits += np.log(priors)[:, None]
        top = logits.max(axis=0)
        logits -= top
        posteriors = np.exp(logits, out=logits)
        total = posteriors.sum(axis=0)
        posteriors /= total
        # An unanswered item's evidence is log(sum(priors)) = 0: the plain sum is right.
        evidence = float(top.sum() + np.log(total).sum()) / per_answer
        if len(unanswered):
            posteriors[:, unanswered] = 0.0
        posteriors[:, gold_items] = 0.0
        posteriors[gold_classes, gold_items] = 1.0
        if evidence - previous < tol:
            break
        previous = evidence
    result = np.ascontiguousarray(posteriors.T)
    labels, confidence = _finish(result, answered)
    return ClassConsolidation(
        labels=labels,
        confidence=confidence,
        posteriors=result,
        iterations=iterations,
        worker_confusion=confusion[:n_w],
    )


def _gold(
    gold: Mapping[int, int] | None, *, n_items: int, n_classes: int
) -> tuple[IntArray, IntArray]:
    pairs = sorted((gold or {}).items())
    gold_items = np.array([p[0] for p in pairs], dtype=np.int64)
    gold_classes = np.array([p[1] for p in pairs], dtype=np.int64)
    if len(pairs) and not (
        0 <= gold_items.min()
        and gold_items.max() < n_items
        and 0 <= gold_classes.min()
        and gold_classes.max() < n_classes
    ):
        raise ValueError("a gold item or class index is out of range")
    return gold_items, gold_classes


def worker_quality(
    items: npt.ArrayLike,
    workers: npt.ArrayLike,
    classes: npt.ArrayLike,
    *,
    consolidated: npt.ArrayLike,
    gold: Mapping[int, int] | None = None,
    n_workers: int,
    confusion: npt.ArrayLike | None = None,
) -> list[WorkerQuality]:
    """Per worker: answers given, agreement with ``consolidated`` (the label per item, -1
    for none: answers there are not compared), accuracy on the gold items they answered
    and, given Dawid–Skene's ``confusion``, their expected accuracy on the items they
    answered (the mean of their matrix's diagonal at the consolidated class of each of
    their answers). Where a share would divide by zero it is None."""
    labels = np.asarray(consolidated, dtype=np.int64).ravel()
    matrices = None if confusion is None else np.asarray(confusion, dtype=np.float64)
    # Only the indices need checking here: any class the labels, answers or matrices know.
    known = [labels.max(initial=0), np.asarray(classes).max(initial=0), *(gold or {}).values()]
    n_classes = int(max(known)) + 1
    if matrices is not None:
        if matrices.ndim != 3 or len(matrices) < n_workers:
            raise ValueError("confusion holds one square matrix per worker")
        n_classes = max(n_classes, matrices.shape[1])
    i, w, c, n_w = _answers(
        items, workers, classes, n_items=len(labels), n_classes=n_classes, n_workers=n_workers
    )
    answers = np.bincount(w, minlength=n_w)
    # Answers on items left without a label (their weights were all 0) compare with nothing.
    decided = labels[i] >= 0
    compared = np.bincount(w[decided], minlength=n_w)
    agree = np.bincount(w[decided & (labels[i] == c)], minlength=n_w)
    gold_items, gold_classes = _gold(gold, n_items=len(labels), n_classes=n_classes)
    truth = np.full(len(labels), -1, dtype=np.int64)
    truth[gold_items] = gold_classes
    on_gold = truth[i] >= 0
    gold_answers = np.bincount(w[on_gold], minlength=n_w)
    gold_right = np.bincount(w[on_gold & (truth[i] == c)], minlength=n_w)
    estimate: FloatArray | None = None
    if matrices is not None:
        mine = labels[i][decided]
        diagonal = matrices[w[decided], mine, mine]
        estimate = np.bincount(w[decided], weights=diagonal, minlength=n_w) / np.maximum(
            compared, 1
        )
    return [
        WorkerQuality(
            worker=worker,
            answers=int(answers[worker]),
            agreement=float(agree[worker] / compared[worker]) if compared[worker] else None,
            gold_answers=int(gold_answers[worker]),
            gold_accuracy=(
                float(gold_right[worker] / gold_answers[worker]) if gold_answers[worker] else None
            ),
            accuracy_estimate=(
                float(estimate[worker]) if estimate is not None and compared[worker] else None
            ),
        )
        for worker in range(n_w)
    ]


# --------------------------------------------------------------------------- multi-label


def multilabel_vote(
    item_answers: Sequence[Sequence[Collection[str]]],
    *,
    labels: Sequence[str],
    threshold: float = 0.5,
) -> list[MultiLabelResult]:
    """Per item, the labels more than ``threshold`` of its workers chose (in the order of
    ``labels``). Each label's share is its votes over the item's workers; the confidence is
    the mean over all labels of ``max(share, 1 - share)``, how clear the call on each label
    was. An item without workers gets no labels and a confidence of 0."""
    index = {label: k for k, label in enumerate(labels)}
    results = []
    for answers in item_answers:
        votes = np.zeros(len(labels))
        for answer in answers:
            unknown = set(answer) - index.keys()
            if unknown:
                raise ValueError(f"unknown labels {sorted(unknown)}")
            votes[[index[label] for label in set(answer)]] += 1
        n = len(answers)
        shares = votes / n if n else votes
        clarity = float(np.maximum(shares, 1 - shares).mean()) if n and len(labels) else 0.0
        results.append(
            MultiLabelResult(
                labels=tuple(
                    label for label, s in zip(labels, shares, strict=True) if s > threshold
                ),
                shares={label: float(s) for label, s in zip(labels, shares, strict=True)},
                confidence=clarity,
                workers=n,
            )
        )
    return results


# --------------------------------------------------------------------------- clustering


def _cluster(
    per_worker: Sequence[Sequence[S]],
    *,
    label: Callable[[S], str],
    similarity: Callable[[S, R], float],
    representative: Callable[[list[S]], R],
    threshold: float,
) -> list[tuple[str, list[S]]]:
    """Shapes of several workers grouped into clusters, worker by worker: each worker's
    shapes are matched one-to-one (Hungarian, most total similarity) to the clusters of the
    same label, against each cluster's current representative; a match below ``threshold``
    is no match, and an unmatched shape starts a cluster of its own."""
    from scipy.optimize import linear_sum_assignment

    clusters: list[tuple[str, list[S]]] = []
    reps: list[R] = []
    for shapes in per_worker:
        by_label: dict[str, list[S]] = {}
        for shape in shapes:
            by_label.setdefault(label(shape), []).append(shape)
        for name, mine in by_label.items():
            open_ = [n for n, (other, _) in enumerate(clusters) if other == name]
            matched: dict[int, int] = {}
            if open_:
                sim = np.array([[similarity(s, reps[n]) for n in open_] for s in mine])
                sim[sim < threshold] = 0.0
                for row, col in zip(*linear_sum_assignment(sim, maximize=True), strict=True):
                    if sim[row, col] > 0:
                        matched[int(row)] = open_[int(col)]
            for row, shape in enumerate(mine):
                if row in matched:
                    members = clusters[matched[row]][1]
                    members.append(shape)
                    reps[matched[row]] = representative(members)
                else:
                    clusters.append((name, [shape]))
                    reps.append(representative([shape]))
    return clusters


# --------------------------------------------------------------------------- spans


def span_jaccard(a: tuple[int, int], b: tuple[int, int]) -> float:
    """Characters in both ranges over characters in either."""
    inter = max(0, min(a[1], b[1]) - max(a[0], b[0]))
    union = (a[1] - a[0]) + (b[1] - b[0]) - inter
    return inter / union if union > 0 else float(a == b)


def _mode(values: Sequence[int], *, prefer: Callable[[Sequence[int]], int]) -> int:
    counts = Counter(values)
    best = max(counts.values())
    return prefer([v for v, n in counts.items() if n == best])


def _consensus_span(members: list[Span]) -> tuple[int, int]:
    """The most frequent start and end; ties go to the shorter span (the later start, the
    earlier end). Should the two cross, the shortest member span."""
    start = _mode([s.start for s in members], prefer=max)
    end = _mode([s.end for s in members], prefer=min)
    if start < end:
        return start, end
    shortest = min(members, key=lambda s: (s.end - s.start, s.start))
    return shortest.start, shortest.end


def consolidate_spans(
    item_answers: Sequence[Sequence[Span]],
    *,
    min_jaccard: float = 0.5,
    min_share: float = 0.5,
) -> list[ConsolidatedSpan]:
    """One item's spans (NER): ``item_answers`` holds each worker's spans.

    Spans of one label are clustered by character Jaccard (at least ``min_jaccard`` with the
    cluster's current consensus); a cluster more than ``min_share`` of the workers voted for
    is kept, its boundaries the most frequent start and end. Confidence: the share of
    workers in the cluster times their spans' mean Jaccard with the chosen span."""
    for spans in item_answers:
        for span in spans:
            if not 0 <= span.start < span.end:
                raise ValueError(f"{span} is not a span: 0 <= start < end")
    n_workers = len(item_answers)
    clusters = _cluster(
        item_answers,
        label=lambda s: s.label,
        similarity=lambda s, rep: span_jaccard((s.start, s.end), rep),
        representative=_consensus_span,
        threshold=min_jaccard,
    )
    out = []
    for name, members in clusters:
        share = len(members) / n_workers
        if share <= min_share:
            continue
        start, end = _consensus_span(members)
        fit = float(np.mean([span_jaccard((s.start, s.end), (start, end)) for s in members]))
        out.append(ConsolidatedSpan(name, start, end, share * fit, len(members)))
    return sorted(out, key=lambda s: (s.start, s.end, s.label))


# --------------------------------------------------------------------------- boxes


def _iou_xywh(a: Sequence[float], b: Sequence[float]) -> float:
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two boxes' areas (their labels are not compared)."""
    return _iou_xywh((a.x, a.y, a.w, a.h), (b.x, b.y, b.w, b.h))


def _mean_box(members: list[Box]) -> tuple[float, float, float, float]:
    x, y, w, h = np.mean([(b.x, b.y, b.w, b.h) for b in members], axis=0)
    return float(x), float(y), float(w), float(h)


def consolidate_boxes(
    worker_boxes: Sequence[Sequence[Box]],
    *,
    iou_threshold: float = 0.5,
    min_share: float = 0.5,
) -> list[ConsolidatedBox]:
    """One item's boxes: ``worker_boxes`` holds each worker's boxes.

    Boxes of one label are matched worker by worker to the clusters' current mean box
    (Hungarian on IoU, a match needs at least ``iou_threshold``); a cluster more than
    ``min_share`` of the workers drew is kept, as the mean of its boxes. Confidence: the
    share of workers in the cluster times their boxes' mean IoU with the mean box."""
    n_workers = len(worker_boxes)
    clusters = _cluster(
        worker_boxes,
        label=lambda b: b.label,
        similarity=lambda b, rep: _iou_xywh((b.x, b.y, b.w, b.h), rep),
        representative=_mean_box,
        threshold=iou_threshold,
    )
    out = []
    for name, members in clusters:
        share = len(members) / n_workers
        if share <= min_share:
            continue
        mean = _mean_box(members)
        fit = float(np.mean([_iou_xywh((b.x, b.y, b.w, b.h), mean) for b in members]))
        out.append(ConsolidatedBox(name, *mean, confidence=share * fit, votes=len(members)))
    return sorted(out, key=lambda b: (b.y, b.x, b.label))


# --------------------------------------------------------------------------- tracks

Frames = dict[int, tuple[float, float, float, float]]


def _frames(track: Mapping[str, Any]) -> Frames:
    return {
        int(b["frame"]): (float(b["x"]), float(b["y"]), float(b["w"]), float(b["h"]))
        for b in track["boxes"]
    }


def _track_similarity(a: Frames, b: Frames) -> float:
    """Mean IoU over the frames either track has a box in (0 where only one has)."""
    frames = a.keys() | b.keys()
    if not frames:
        return 0.0
    return sum(_iou_xywh(a[f], b[f]) for f in frames if f in a and f in b) / len(frames)


def _mean_track(members: list[tuple[int, Mapping[str, Any], Frames]], *, quorum: float) -> Frames:
    """Per frame, the mean of the members' boxes, where at least ``quorum`` of them have one."""
    frames = sorted(set().union(*(m[2].keys() for m in members)))
    out: Frames = {}
    for frame in frames:
        boxes = [m[2][frame] for m in members if frame in m[2]]
        if len(boxes) >= quorum * len(members):
            x, y, w, h = np.mean(boxes, axis=0)
            out[frame] = (float(x), float(y), float(w), float(h))
    return out


def consolidate_tracks(
    worker_tracks: Sequence[Sequence[Mapping[str, Any]]],
    *,
    iou_threshold: float = 0.5,
    min_share: float = 0.5,
) -> list[dict[str, Any]]:
    """One video's tracks: ``worker_tracks`` holds each worker's tracks
    (``{"id", "label", "boxes": [{"frame", "x", "y", "w", "h"}]}``).

    Tracks of one label are matched worker by worker (Hungarian) to the clusters' current
    mean track by their mean per-frame IoU over the frames either has (a frame only one of
    them has counts as 0), at least ``iou_threshold``. A cluster more than ``min_share`` of
    the workers tracked is kept; its box in each frame at least half its members have one
    in is their mean. Confidence: the share of workers times the members' mean similarity
    with the result. The result's tracks are numbered from 1 and name their ``sources``
    as ``[worker, track id]``."""
    n_workers = len(worker_tracks)
    tagged = [
        [(worker, track, _frames(track)) for track in tracks]
        for worker, tracks in enumerate(worker_tracks)
    ]
    clusters = _cluster(
        tagged,
        label=lambda t: str(t[1]["label"]),
        similarity=lambda t, rep: _track_similarity(t[2], rep),
        representative=lambda members: _mean_track(members, quorum=0.0),
        threshold=iou_threshold,
    )
    kept = []
    for name, members in clusters:
        share = len(members) / n_workers
        if share <= min_share:
            continue
        mean = _mean_track(members, quorum=0.5)
        fit = float(np.mean([_track_similarity(m[2], mean) for m in members]))
        kept.append((name, members, mean, share * fit))
    kept.sort(key=lambda t: (min(t[2], default=0), t[0]))
    return [
        {
            "id": number,
            "label": name,
            "boxes": [
                {"frame": f, "x": x, "y": y, "w": w, "h": h} for f, (x, y, w, h) in mean.items()
            ],
            "confidence": confidence,
            "votes": len(members),
            "sources": [[m[0], m[1].get("id")] for m in members],
        }
        for number, (name, members, mean, confidence) in enumerate(kept, start=1)
    ]


# --------------------------------------------------------------------------- masks


def encode_rle(mask: npt.ArrayLike) -> list[int]:
    """Run lengths of a boolean mask in row-major order, starting with a background run
    (0 when the first pixel is set)."""
    flat = np.asarray(mask, dtype=bool).ravel()
    if not len(flat):
        return []
    changes = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    runs = np.diff(np.concatenate(([0], changes, [len(flat)])))
    return ([0] if flat[0] else []) + [int(r) for r in runs]


def decode_rle(counts: Sequence[int], height: int, width: int) -> npt.NDArray[np.bool_]:
    """The boolean ``height × width`` mask of :func:`encode_rle`'s runs."""
    runs = np.asarray(counts, dtype=np.int64)
    if (runs < 0).any() or int(runs.sum()) != height * width:
        raise ValueError(f"the runs do not cover {height}×{width} pixels")
    values = np.arange(len(runs)) % 2 == 1
    return np.repeat(values, runs).reshape(height, width)


def _fill_polygon(
    points: Sequence[Sequence[float]], *, width: int, height: int
) -> npt.NDArray[np.bool_]:
    """Pixels whose centre lies inside the polygon by the even-odd rule, all rows at once:
    each edge's crossing of each row's centre line toggles the pixels right of it."""
    p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    if len(p) < 3:
        raise ValueError("a polygon has at least 3 points")
    x0, y0 = p[:, 0], p[:, 1]
    x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
    rows = np.arange(height, dtype=np.float64)[:, None] + 0.5
    # Half-open in y, so a vertex on a row's centre line is crossed once, not twice.
    crosses = (y0 <= rows) != (y1 <= rows)
    with np.errstate(divide="ignore", invalid="ignore"):
        at = x0 + (rows - y0) * (x1 - x0) / (y1 - y0)
    r, e = np.nonzero(crosses)
    # The crossing at x toggles the pixels whose centre c + 0.5 lies right of x.
    first = np.clip(np.floor(at[r, e] - 0.5).astype(np.int64) + 1, 0, width)
    toggles = np.zeros((height, width + 1), dtype=np.int64)
    np.add.at(toggles, (r, first), 1)
    inside: npt.NDArray[np.bool_] = np.cumsum(toggles[:, :width], axis=1) % 2 == 1
    return inside


def rasterize(
    shapes: Sequence[Mapping[str, Any]],
    *,
    width: int,
    height: int,
    labels: Sequence[str],
) -> npt.NDArray[np.uint8]:
    """Shapes (polygons ``{"label", "points"}`` and brush masks ``{"label", "rle",
    "size"}``) painted in order onto a ``height × width`` class map: 0 the background,
    ``k + 1`` for ``labels[k]``; a later shape covers an earlier one."""
    if len(labels) > 255:
        raise ValueError("at most 255 classes fit a uint8 mask")
    index = {label: k + 1 for k, label in enumerate(labels)}
    out = np.zeros((height, width), dtype=np.uint8)
    for shape in shapes:
        if shape["label"] not in index:
            raise ValueError(f"unknown label {shape['label']!r}")
        if "points" in shape:
            inside = _fill_polygon(shape["points"], width=width, height=height)
        elif "rle" in shape:
            size = [int(v) for v in shape["size"]]
            if size != [height, width]:
                raise ValueError(f"a brush mask is {size[0]}×{size[1]}, the image {height}×{width}")
            inside = decode_rle(shape["rle"], height, width)
        else:
            raise ValueError("a shape is a polygon (points) or a brush mask (rle, size)")
        out[inside] = index[shape["label"]]
    return out


def mask_to_shapes(mask: npt.ArrayLike, labels: Sequence[str]) -> list[dict[str, Any]]:
    """A class map as brush-mask shapes, one per class present, in the order of ``labels``."""
    m = np.asarray(mask)
    height, width = m.shape
    return [
        {"label": label, "rle": encode_rle(m == k + 1), "size": [height, width]}
        for k, label in enumerate(labels)
        if (m == k + 1).any()
    ]


def consolidate_masks(
    masks: Sequence[npt.ArrayLike], *, n_classes: int, smoothing: float = 1.0
) -> MaskConsolidation:
    """The per-pixel vote of several workers' class maps (values 0 to ``n_classes``).

    Each class's vote map is smoothed by a Gaussian of ``smoothing`` pixels (0: none), so a
    class wins a pixel on the votes of its neighbourhood too and specks and ragged edges
    fall away; ties go to the lower class (the background first). ``confidence`` is the
    winner's mean share of the (smoothed) votes over the foreground pixels, 1.0 without
    any; ``pixel_agreement`` is the share of pixels on which every mask agrees."""
    from scipy import ndimage

    if not masks:
        raise ValueError("no masks to consolidate")
    stack = np.stack([np.asarray(m) for m in masks])
    if stack.ndim != 3:
        raise ValueError("masks are 2-D arrays of one size")
    if int(stack.max(initial=0)) > n_classes or int(stack.min(initial=0)) < 0:
        raise ValueError(f"a mask has a class outside 0..{n_classes}")
    best = np.full(stack.shape[1:], -1.0, dtype=np.float32)
    winner = np.zeros(stack.shape[1:], dtype=np.uint8)
    total = np.zeros(stack.shape[1:], dtype=np.float32)
    for k in range(n_classes + 1):
        votes = (stack == k).sum(axis=0, dtype=np.float32)
        if smoothing > 0:
            votes = ndimage.gaussian_filter(votes, sigma=smoothing, mode="nearest")
        total += votes
        # Only a strictly larger vote takes the pixel over: ties keep the lower class.
        better = votes > best
        winner[better] = k
        best[better] = votes[better]
    foreground = winner > 0
    share = np.divide(best, total, out=np.zeros_like(best), where=total > 0)
    return MaskConsolidation(
        mask=winner,
        confidence=float(share[foreground].mean()) if foreground.any() else 1.0,
        pixel_agreement=float((stack == stack[0]).all(axis=0).mean()) if stack.size else 1.0,
    )
