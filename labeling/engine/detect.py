"""A small sliding-window object detector, learned from the boxes people drew, for automated
labeling of bounding boxes. No downloaded model: a linear classifier over the pixels of
windows the sizes of the people's boxes.

Each window, resized to ``PATCH`` × ``PATCH``, is described by its colours (standardised,
so the layout counts, not the brightness), its mean colour, and a histogram of gradient
orientations per quadrant (its edges). A multinomial logistic regression tells background
from each class; windows people drew are the positives (with small shifts); the negatives are
random windows that overlap no box by IoU 0.3, and as many windows on part of a box or
around it (IoU under 0.4), which teach the detector to find a box once and whole. Windows
scoring 0.5 or more are kept unless they overlap a better one (non-max suppression), and
each kept box is the score-weighted mean of the windows on the same object.

Invariants: boxes are ``{"label", "x", "y", "w", "h"}`` in image pixels; an image's
confidence is that of its least certain decision (a box kept, or a window rejected), so a
confident image is one where the detector is sure of every box and of every empty place.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view
from PIL import Image

#: A window's side once resized; its stride is STRIDE of those pixels (a quarter window).
PATCH: Final = 12
STRIDE: Final = 3
ORIENTATIONS: Final = 8
#: Most window sizes scanned (clusters of the people's box sizes).
MAX_SIZES: Final = 4
#: Windows scoring below this are not objects; kept ones suppress others overlapping them.
MIN_SCORE: Final = 0.5
NMS_IOU: Final = 0.3
CONTAINED: Final = 0.5
NEGATIVE_IOU: Final = 0.3
#: A share of the negatives lie on or around a box, overlapping it by less than PART_IOU.
PART_SHARE: Final = 0.5
PART_IOU: Final = 0.4
NEGATIVES_PER_IMAGE: Final = 40
SHIFTS_PER_BOX: Final = 6

FloatArray = npt.NDArray[np.float64]
Window = Sequence[float] | FloatArray  # x, y, w, h


@dataclass(frozen=True, eq=False)  # eq=False: it holds a fitted model and arrays
class Detector:
    """A fitted detector: the window sizes it scans and its window classifier."""

    labels: tuple[str, ...]
    sizes: tuple[tuple[float, float], ...]
    scaler: Any
    model: Any


def load_rgb(image: Image.Image | Path) -> FloatArray:
    """An image as a ``height × width × 3`` float array in [0, 1]."""
    if isinstance(image, Path):
        with Image.open(image) as opened:
            image = opened.convert("RGB")
    elif image.mode != "RGB":
        image = image.convert("RGB")
    return np.asarray(image, dtype=np.float64) / 255.0


def train_detector(
    images: Sequence[FloatArray],
    boxes: Sequence[Sequence[Mapping[str, Any]]],
    *,
    labels: Sequence[str],
    seed: int = 0,
) -> Detector | None:
    """A detector learned from images and their boxes; None without a single box."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    flat = [b for image_boxes in boxes for b in image_boxes]
    if not flat:
        return None
    rng = np.random.default_rng(seed)
    sizes = _window_sizes(flat, seed)
    patches, targets = [], []
    for pixels, image_boxes in zip(images, boxes, strict=True):
        height, width = pixels.shape[:2]
        for box in image_boxes:
            x, y, w, h = (float(box[k]) for k in ("x", "y", "w", "h"))
            cls = labels.index(box["label"]) + 1
            # The box itself and small shifts of it: scanned windows never fall exactly on
            # the box, and must still be recognised.
            for dx, dy in [(0.0, 0.0), *rng.uniform(-0.12, 0.12, size=(SHIFTS_PER_BOX, 2))]:
                patches.append(_crop(pixels, x + dx * w, y + dy * h, w, h))
                targets.append(cls)
        near = [_xywh(b) for b in image_boxes]
        negatives: list[tuple[float, float, float, float]] = []
        for _ in range(NEGATIVES_PER_IMAGE * 5):
            if len(negatives) == NEGATIVES_PER_IMAGE:
                break
            w, h = sizes[rng.integers(len(sizes))]
            if w > width or h > height:
                continue
            if near and rng.random() < PART_SHARE:
                # A window on part of a box, or a box and its surroundings: these decide
                # whether a box is found once, well placed, rather than as its pieces.
                bx, by, bw, bh = near[rng.integers(len(near))]
                x = bx + bw / 2 - w / 2 + rng.uniform(-0.7, 0.7) * bw
                y = by + bh / 2 - h / 2 + rng.uniform(-0.7, 0.7) * bh
                w, h = (
                    (w, h)
                    if rng.random() < 0.5
                    else (w * rng.uniform(0.4, 0.7), h * rng.uniform(0.4, 0.7))
                )
                limit = PART_IOU
            else:
                x, y = rng.uniform(0, width - w), rng.uniform(0, height - h)
                limit = NEGATIVE_IOU
            if all(_iou((x, y, w, h), b) < limit for b in near):
                negatives.append((x, y, w, h))
        for x, y, w, h in negatives:
            patches.append(_crop(pixels, x, y, w, h))
            targets.append(0)
    features = _features(np.stack(patches))
    scaler = StandardScaler().fit(features)
    model = LogisticRegression(C=1.0, max_iter=500).fit(scaler.transform(features), targets)
    return Detector(labels=tuple(labels), sizes=tuple(sizes), scaler=scaler, model=model)


def detect(detector: Detector, pixels: FloatArray) -> tuple[list[dict[str, Any]], float]:
    """The boxes found in an image and the image's confidence (see the module's doc)."""
    windows, proba = _scan(detector, pixels)
    if not len(windows):
        return [], 0.0
    full = np.zeros((len(proba), len(detector.labels) + 1))
    full[:, detector.model.classes_] = proba
    score = 1.0 - full[:, 0]
    cls = full[:, 1:].argmax(axis=1)
    candidates = np.flatnonzero(score >= MIN_SCORE)
    candidates = candidates[np.argsort(-score[candidates], kind="stable")]
    kept: list[int] = []
    boxes: list[FloatArray] = []
    for i in candidates:
        if any(_overlaps(windows[i], windows[k]) for k in kept):
            continue
        # Box voting: the score-weighted mean of the windows that saw the same object
        # places the box better than the single best window on its coarse grid.
        near = candidates[
            (cls[candidates] == cls[i]) & (_ious(windows[candidates], windows[i]) >= 0.5)
        ]
        voted = np.average(windows[near], axis=0, weights=score[near])
        # Voting moves boxes: two windows on two corners of one object may end up as one.
        if any(_overlaps(voted, other) for other in boxes):
            continue
        kept.append(int(i))
        boxes.append(voted)
    found = [
        {"label": detector.labels[int(cls[k])], "x": b[0], "y": b[1], "w": b[2], "h": b[3]}
        for k, b in zip(kept, boxes, strict=True)
    ]
    # The least certain decision: a kept box's score, or a lone window's "not an object".
    alone = np.ones(len(windows), dtype=bool)
    for k in kept:
        alone &= _ious(windows, windows[k]) < NMS_IOU
    certainties = np.concatenate([score[kept], 1.0 - score[alone]])
    return [_rounded(b, pixels) for b in found], float(certainties.min())


def boxes_match(
    predicted: Sequence[Mapping[str, Any]],
    truth: Sequence[Mapping[str, Any]],
    *,
    min_iou: float = 0.5,
) -> bool:
    """Whether the boxes pair up one to one, each pair of one label and IoU ≥ ``min_iou``."""
    from scipy.optimize import linear_sum_assignment

    if len(predicted) != len(truth):
        return False
    if not truth:
        return True
    overlap = np.array(
        [
            [_iou(_xywh(p), _xywh(t)) if p["label"] == t["label"] else 0.0 for t in truth]
            for p in predicted
        ]
    )
    rows, cols = linear_sum_assignment(-overlap)
    return bool(np.all(overlap[rows, cols] >= min_iou))


def _window_sizes(boxes: Sequence[Mapping[str, Any]], seed: int) -> list[tuple[float, float]]:
    from sklearn.cluster import KMeans

    sizes = np.log(np.array([[float(b["w"]), float(b["h"])] for b in boxes]))
    k = min(MAX_SIZES, len(np.unique(sizes.round(2), axis=0)))
    # Clustered in log space: 10 px against 12 matters as much as 50 against 60.
    centres = KMeans(n_clusters=k, n_init=4, random_state=seed).fit(sizes).cluster_centers_
    return [(float(w), float(h)) for w, h in np.exp(centres)]


def _crop(pixels: FloatArray, x: float, y: float, w: float, h: float) -> FloatArray:
    height, width = pixels.shape[:2]
    # Kept inside the image, as the scanned windows are.
    w, h = min(w, width), min(h, height)
    x, y = min(max(x, 0.0), width - w), min(max(y, 0.0), height - h)
    image = Image.fromarray((pixels * 255).astype(np.uint8))
    patch = image.resize((PATCH, PATCH), Image.Resampling.BILINEAR, box=(x, y, x + w, y + h))
    return np.asarray(patch, dtype=np.float64) / 255.0


def _scan(detector: Detector, pixels: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Every window of every size: their boxes (x, y, w, h) and class probabilities."""
    height, width = pixels.shape[:2]
    image = Image.fromarray((pixels * 255).astype(np.uint8))
    boxes, features = [], []
    for w, h in detector.sizes:
        # Resize the image so that this window becomes PATCH × PATCH pixels: every window
        # is then a slice of one array, with no crop and resize of its own.
        sx, sy = PATCH / w, PATCH / h
        scaled_w, scaled_h = round(width * sx), round(height * sy)
        if scaled_w < PATCH or scaled_h < PATCH:
            continue
        scaled = np.asarray(
            image.resize((scaled_w, scaled_h), Image.Resampling.BILINEAR), dtype=np.float64
        )
        views = sliding_window_view(scaled / 255.0, (PATCH, PATCH), axis=(0, 1))
        views = views[::STRIDE, ::STRIDE]  # rows, cols, 3, PATCH, PATCH
        rows, cols = views.shape[:2]
        patches = views.transpose(0, 1, 3, 4, 2).reshape(-1, PATCH, PATCH, 3)
        ys, xs = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
        boxes.append(
            np.column_stack(
                [
                    xs.ravel() * STRIDE / sx,
                    ys.ravel() * STRIDE / sy,
                    np.full(rows * cols, w),
                    np.full(rows * cols, h),
                ]
            )
        )
        features.append(_features(patches))
    if not boxes:
        return np.zeros((0, 4)), np.zeros((0, len(detector.model.classes_)))
    x = detector.scaler.transform(np.vstack(features))
    return np.vstack(boxes), detector.model.predict_proba(x)


def _features(patches: FloatArray) -> FloatArray:
    """Features of ``n × PATCH × PATCH × 3`` patches, all at once."""
    n = len(patches)
    gray = patches.mean(axis=3)
    mean, std = gray.mean(axis=(1, 2)), gray.std(axis=(1, 2))
    layout = (patches - mean[:, None, None, None]) / (std[:, None, None, None] + 0.05)
    gy, gx = np.gradient(gray, axis=(1, 2))
    magnitude = np.hypot(gx, gy)
    bins = (np.mod(np.arctan2(gy, gx), np.pi) / np.pi * ORIENTATIONS).astype(np.int64)
    bins = np.minimum(bins, ORIENTATIONS - 1)
    half = PATCH // 2
    quadrant = (np.arange(PATCH) // half)[:, None] * 2 + (np.arange(PATCH) // half)[None, :]
    index = (np.arange(n)[:, None, None] * 4 + quadrant[None]) * ORIENTATIONS + bins
    edges = np.bincount(index.ravel(), weights=magnitude.ravel(), minlength=n * 4 * ORIENTATIONS)
    edges = edges.reshape(n, 4 * ORIENTATIONS)
    edges = edges / (np.linalg.norm(edges, axis=1, keepdims=True) + 1e-6)
    out: FloatArray = np.hstack(
        [layout.reshape(n, -1), patches.mean(axis=(1, 2)), std[:, None], edges]
    )
    return out


def _xywh(box: Mapping[str, Any]) -> tuple[float, float, float, float]:
    return float(box["x"]), float(box["y"]), float(box["w"]), float(box["h"])


def _iou(a: Window, b: Window) -> float:
    """Intersection over union of two (x, y, w, h) boxes (its own: the engine's modules
    share no private helpers)."""
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    width = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    height = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    inter = width * height
    union = aw * ah + bw * bh - inter
    return float(inter / union) if union > 0 else 0.0


def _ious(many: FloatArray, one: Window) -> FloatArray:
    """IoU of each of ``many`` (x, y, w, h) rows with one box."""
    width = np.clip(
        np.minimum(many[:, 0] + many[:, 2], one[0] + one[2]) - np.maximum(many[:, 0], one[0]),
        0,
        None,
    )
    height = np.clip(
        np.minimum(many[:, 1] + many[:, 3], one[1] + one[3]) - np.maximum(many[:, 1], one[1]),
        0,
        None,
    )
    inter = width * height
    union = many[:, 2] * many[:, 3] + one[2] * one[3] - inter
    out: FloatArray = np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)
    return out


def _overlaps(a: Window, b: Window) -> bool:
    """Whether two windows are taken for one object: IoU over NMS_IOU, or half of the
    smaller one inside the other (windows on two corners of one big box overlap little
    by IoU, yet are the same box)."""
    width = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    height = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = width * height
    smaller = min(a[2] * a[3], b[2] * b[3])
    return _iou(a, b) > NMS_IOU or (smaller > 0 and inter / smaller >= CONTAINED)


def _rounded(box: Mapping[str, Any], pixels: FloatArray) -> dict[str, Any]:
    """A box clipped to the image, to a tenth of a pixel."""
    height, width = pixels.shape[:2]
    x, y = max(0.0, float(box["x"])), max(0.0, float(box["y"]))
    w = min(float(box["w"]), width - x)
    h = min(float(box["h"]), height - y)
    return {
        "label": box["label"],
        "x": round(x, 1),
        "y": round(y, 1),
        "w": round(w, 1),
        "h": round(h, 1),
    }
