"""The consolidated record that every export reads, its checks, and :class:`FormatError`.

A record describes one labeled item::

    {"item_id": int, "row": int, "source_ref": str, "label": <label>, "confidence": float,
     "source": "human" | "auto", "annotations": [...], "width": int | None,
     "height": int | None}

``source_ref`` is the item's data: the text itself, or the image's storage name. Labels take
the shapes of ``labeling.engine.shapes`` (class names, spans, boxes in pixels, polygons and
brush masks, tracks, verdicts). Class indices are positions in the job's ``labels``; in a
class mask 0 is the background and ``k + 1`` is ``labels[k]``, as in Ground Truth.

Invariant: a check either passes the value through or raises :class:`FormatError` naming
the item and what is wrong; nothing is dropped or guessed silently.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Final, TypeGuard

import numpy as np
import numpy.typing as npt

from labeling.engine.consolidate import rasterize

CLASSIFICATION: Final = frozenset({"text_classification", "image_classification"})
MULTILABEL: Final = frozenset({"text_multilabel", "image_multilabel"})
TEXT_TASKS: Final = frozenset({"text_classification", "text_multilabel", "ner"})
TASK_TYPES: Final = CLASSIFICATION | MULTILABEL | {
    "ner", "bounding_box", "semantic_segmentation", "video_tracking", "verification"
}  # fmt: skip

Record = Mapping[str, Any]
Label = Any


class FormatError(ValueError):
    """Input an exporter or importer cannot read: ``code`` for programs, ``message`` for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def check_task_type(task_type: str) -> None:
    """Raise unless ``task_type`` is one of :data:`TASK_TYPES`."""
    if task_type not in TASK_TYPES:
        raise FormatError("unknown_task_type", f"Unknown task type {task_type!r}.")


def check_record(record: Any) -> None:
    """Raise unless ``record`` has the keys every export reads."""
    if not isinstance(record, Mapping):
        raise FormatError("malformed_record", "A record is an object.")
    missing = [k for k in ("item_id", "row", "source_ref", "label") if k not in record]
    if missing:
        raise FormatError(
            "malformed_record",
            f"Item {record.get('item_id', '?')}: the record lacks {', '.join(missing)}.",
        )


def class_index(name: Any, labels: Sequence[str], where: str) -> int:
    """The position of class ``name`` in ``labels``; ``where`` starts the error message."""
    if not isinstance(name, str) or name not in labels:
        raise FormatError("unknown_label", f"{where}: {name!r} is not one of the job's classes.")
    return list(labels).index(name)


def label_list(value: Any, where: str) -> list[Any]:
    """``value``, checked to be a list (of spans, boxes, shapes, tracks or class names)."""
    if not isinstance(value, list):
        raise FormatError("malformed_label", f"{where}: the label is a list.")
    return value


def image_size(record: Record) -> tuple[int, int]:
    """The record's ``(width, height)``, which pixel coordinates need."""
    width, height = record.get("width"), record.get("height")
    if not (is_int(width) and is_int(height)) or width <= 0 or height <= 0:
        raise FormatError(
            "missing_size",
            f"Item {record.get('item_id')}: the image's width and height are needed.",
        )
    return int(width), int(height)


def record_confidence(record: Record) -> float:
    """The record's confidence, 0 when it has none."""
    value = record.get("confidence")
    return float(value) if is_number(value) else 0.0


def plain_number(value: Any) -> int | float:
    """A coordinate as an int when it is whole (Ground Truth and COCO write pixels as
    integers), else as the float it is."""
    number = float(value)
    return int(number) if number.is_integer() else number


def is_int(value: Any) -> TypeGuard[int]:
    """An int, and not a bool (which JSON would have written as true or false)."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> TypeGuard[int | float]:
    """A finite int or float, and not a bool."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def class_mask(
    shapes: Sequence[Mapping[str, Any]], labels: Sequence[str], width: int, height: int
) -> npt.NDArray[np.uint8]:
    """The class mask of the shapes, painted as the labeling canvas and consolidation do."""
    try:
        return rasterize(shapes, width=width, height=height, labels=labels)
    except (KeyError, TypeError, ValueError) as exc:
        raise FormatError("malformed_label", f"A segmentation label cannot be drawn: {exc}.")


def value_runs(
    flat: npt.NDArray[Any], *, start_with_zero: bool = False
) -> tuple[list[int], list[int]]:
    """Run values and lengths of a flat array; with ``start_with_zero`` a first run of
    zeros is always there (empty if need be), as COCO's RLE wants."""
    if len(flat) == 0:
        return [], []
    change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    starts = np.concatenate([[0], change])
    lengths = np.diff(np.concatenate([starts, [len(flat)]]))
    values = [int(v) for v in flat[starts]]
    counts = [int(n) for n in lengths]
    if start_with_zero and values[0] != 0:
        values, counts = [0, *values], [0, *counts]
    return values, counts
