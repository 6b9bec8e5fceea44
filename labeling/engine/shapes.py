"""The shape of a label, by task type, and its check.

What a labeler submits and what a labeling job stores take one of these forms (a public
contract of the API; see docs/labeling.md):

- ``text_classification``, ``image_classification``: a class name.
- ``text_multilabel``, ``image_multilabel``: a list of distinct class names (may be empty).
- ``ner``: spans ``[{"label", "start", "end"}]``, character offsets, ``end`` exclusive.
- ``bounding_box``: boxes ``[{"label", "x", "y", "w", "h"}]`` in pixels, (x, y) the top left.
- ``semantic_segmentation``: shapes, each a polygon ``{"label", "points": [[x, y], ...]}`` or
  a brush mask ``{"label", "rle": [runs...], "size": [height, width]}``.
- ``video_tracking``: tracks ``[{"id", "label", "boxes": [{"frame", "x", "y", "w", "h"}]}]``.
- ``verification``: ``{"verdict": "accept"}`` or ``{"verdict": "adjust", "label": <label of
  the reviewed kind>}``.

:func:`check_label` returns the label normalised (numbers as floats, keys in a fixed set) or
raises :class:`LabelError` naming what is wrong, so nothing malformed is ever stored.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

CLASSIFICATION: Final = frozenset({"text_classification", "image_classification"})
MULTILABEL: Final = frozenset({"text_multilabel", "image_multilabel"})
TEXT_TASKS: Final = frozenset({"text_classification", "text_multilabel", "ner"})
IMAGE_TASKS: Final = frozenset(
    {
        "image_classification",
        "image_multilabel",
        "bounding_box",
        "semantic_segmentation",
    }
)
LABEL_KINDS: Final = (
    CLASSIFICATION | MULTILABEL | {"ner", "bounding_box", "semantic_segmentation", "video_tracking"}
)
MAX_SHAPES: Final = 1000
MAX_POINTS: Final = 10_000


@dataclass(frozen=True)
class Geometry:
    """What a label is checked against: the text's length or the image's size, if known."""

    text_length: int | None = None
    width: int | None = None
    height: int | None = None
    frames: int | None = None


class LabelError(ValueError):
    """A label that does not fit its task; ``message`` says what to fix."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def check_label(
    kind: str, value: Any, *, labels: Sequence[str], geometry: Geometry | None = None
) -> Any:
    """``value`` normalised for a label of ``kind``, or :class:`LabelError`."""
    geometry = geometry or Geometry()
    known = set(labels)
    if kind in CLASSIFICATION:
        return _class_name(value, known)
    if kind in MULTILABEL:
        if not isinstance(value, list):
            raise LabelError("A multi-label answer is a list of class names.")
        names = [_class_name(v, known) for v in value]
        if len(set(names)) != len(names):
            raise LabelError("A class is listed twice.")
        return sorted(names, key=labels.index)
    if kind == "ner":
        return _spans(value, known, geometry)
    if kind == "bounding_box":
        return [_box(b, known, geometry, where=f"box {i + 1}") for i, b in enumerate(_list(value))]
    if kind == "semantic_segmentation":
        return [_shape(s, known, geometry, i) for i, s in enumerate(_list(value))]
    if kind == "video_tracking":
        return _tracks(value, known, geometry)
    raise LabelError(f"Unknown label kind {kind!r}.")


def check_verdict(
    kind: str, value: Any, *, labels: Sequence[str], geometry: Geometry | None = None
) -> dict[str, Any]:
    """A verification answer: accept the pre-annotation, or adjust it to a new label."""
    if not isinstance(value, Mapping) or value.get("verdict") not in ("accept", "adjust"):
        raise LabelError(
            'A verification answer is {"verdict": "accept"} or {"verdict": "adjust", "label": ...}.'
        )
    if value["verdict"] == "accept":
        return {"verdict": "accept"}
    if "label" not in value:
        raise LabelError("An adjusted answer gives the corrected label.")
    return {
        "verdict": "adjust",
        "label": check_label(kind, value["label"], labels=labels, geometry=geometry),
    }


def _class_name(value: Any, known: set[str]) -> str:
    if not isinstance(value, str):
        raise LabelError("A class is given by its name, a string.")
    if value not in known:
        raise LabelError(f"Unknown class {value!r}; one of {', '.join(sorted(known))}.")
    return value


def _list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise LabelError("This answer is a list.")
    if len(value) > MAX_SHAPES:
        raise LabelError(f"At most {MAX_SHAPES} shapes per item.")
    return value


def _number(obj: Mapping[str, Any], key: str, where: str) -> float:
    value = obj.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise LabelError(f"{where}: {key!r} is a number.")
    return float(value)


def _spans(value: Any, known: set[str], geometry: Geometry) -> list[dict[str, Any]]:
    spans = []
    for i, span in enumerate(_list(value)):
        where = f"span {i + 1}"
        if not isinstance(span, Mapping):
            raise LabelError(f"{where} is an object with label, start and end.")
        label = _class_name(span.get("label"), known)
        start, end = span.get("start"), span.get("end")
        if not (isinstance(start, int) and isinstance(end, int)) or isinstance(start, bool):
            raise LabelError(f"{where}: start and end are character offsets (integers).")
        if not 0 <= start < end or (
            geometry.text_length is not None and end > geometry.text_length
        ):
            raise LabelError(f"{where}: {start}–{end} is not a span of the text.")
        spans.append({"label": label, "start": start, "end": end})
    spans.sort(key=lambda s: (s["start"], s["end"], s["label"]))
    return spans


def _box(box: Any, known: set[str], geometry: Geometry, *, where: str) -> dict[str, Any]:
    if not isinstance(box, Mapping):
        raise LabelError(f"{where} is an object with label, x, y, w and h.")
    label = _class_name(box.get("label"), known)
    x, y, w, h = (_number(box, key, where) for key in ("x", "y", "w", "h"))
    if w <= 0 or h <= 0:
        raise LabelError(f"{where}: width and height are positive.")
    if x < 0 or y < 0:
        raise LabelError(f"{where} starts outside the image.")
    # Half a pixel of slack: a box dragged to the image's edge may round past it.
    if geometry.width is not None and x + w > geometry.width + 0.5:
        raise LabelError(f"{where} ends past the image's width ({geometry.width}).")
    if geometry.height is not None and y + h > geometry.height + 0.5:
        raise LabelError(f"{where} ends past the image's height ({geometry.height}).")
    return {"label": label, "x": x, "y": y, "w": w, "h": h}


def _shape(shape: Any, known: set[str], geometry: Geometry, index: int) -> dict[str, Any]:
    where = f"shape {index + 1}"
    if not isinstance(shape, Mapping):
        raise LabelError(f"{where} is a polygon (points) or a brush mask (rle, size).")
    label = _class_name(shape.get("label"), known)
    if "points" in shape:
        points = shape["points"]
        if not isinstance(points, list) or not 3 <= len(points) <= MAX_POINTS:
            raise LabelError(f"{where}: a polygon has 3 to {MAX_POINTS} points.")
        out = []
        for point in points:
            if (
                not isinstance(point, list | tuple)
                or len(point) != 2
                or not all(
                    isinstance(c, int | float) and not isinstance(c, bool) and math.isfinite(c)
                    for c in point
                )
            ):
                raise LabelError(f"{where}: each point is [x, y].")
            out.append([float(point[0]), float(point[1])])
        return {"label": label, "points": out}
    if "rle" in shape:
        size, runs = shape.get("size"), shape["rle"]
        if (
            not isinstance(size, list | tuple)
            or len(size) != 2
            or not all(isinstance(v, int) and v > 0 for v in size)
        ):
            raise LabelError(f"{where}: size is [height, width].")
        height, width = int(size[0]), int(size[1])
        if (geometry.height, geometry.width) != (None, None) and (height, width) != (
            geometry.height,
            geometry.width,
        ):
            raise LabelError(
                f"{where}: the mask is {height}×{width}, "
                f"the image {geometry.height}×{geometry.width}."
            )
        if not isinstance(runs, list) or not all(isinstance(r, int) and r >= 0 for r in runs):
            raise LabelError(f"{where}: rle is a list of run lengths.")
        if sum(runs) != height * width:
            raise LabelError(f"{where}: the runs cover {sum(runs)} pixels, not {height * width}.")
        return {"label": label, "rle": [int(r) for r in runs], "size": [height, width]}
    raise LabelError(f"{where} is a polygon (points) or a brush mask (rle, size).")


def _tracks(value: Any, known: set[str], geometry: Geometry) -> list[dict[str, Any]]:
    tracks = []
    seen: set[str] = set()
    for i, track in enumerate(_list(value)):
        where = f"track {i + 1}"
        if not isinstance(track, Mapping):
            raise LabelError(f"{where} is an object with id, label and boxes.")
        track_id = track.get("id", i + 1)
        if not isinstance(track_id, int | str) or isinstance(track_id, bool):
            raise LabelError(f"{where}: id is a number or a string.")
        if str(track_id) in seen:
            raise LabelError(f"{where}: the id {track_id!r} is used twice.")
        seen.add(str(track_id))
        label = _class_name(track.get("label"), known)
        boxes, frames = [], set()
        for j, box in enumerate(_list(track.get("boxes"))):
            at = f"{where}, box {j + 1}"
            if not isinstance(box, Mapping):
                raise LabelError(f"{at} is an object with frame, x, y, w and h.")
            frame = box.get("frame")
            if not isinstance(frame, int) or isinstance(frame, bool) or frame < 0:
                raise LabelError(f"{at}: frame is a frame number.")
            if geometry.frames is not None and frame >= geometry.frames:
                raise LabelError(f"{at}: there are only {geometry.frames} frames.")
            if frame in frames:
                raise LabelError(f"{at}: frame {frame} has two boxes in one track.")
            frames.add(frame)
            checked = _box({**box, "label": label}, known, geometry, where=at)
            checked.pop("label")
            out = {"frame": frame, **checked}
            if box.get("keyframe") is not None:
                out["keyframe"] = bool(box["keyframe"])
            boxes.append(out)
        boxes.sort(key=lambda b: b["frame"])
        tracks.append({"id": track_id, "label": label, "boxes": boxes})
    return tracks
