"""SageMaker Ground Truth's output manifest: one JSON line per item, the item's data under
``source`` (text) or ``source-ref`` (an image), the label under the job's label attribute
and what Ground Truth says about it under ``<attribute>-metadata`` (class names, confidence,
``type``, ``job-name``, ``human-annotated``, ``creation-date``).

Where Ground Truth writes a side file and refers to it under ``<attribute>-ref`` (a PNG mask
for semantic segmentation, a SeqLabel JSON for video tracking), so does the manifest when
given ``side_file_ref``, the caller storing :func:`segmentation_png` or
:func:`video_seq_label` under that name. Without it the content goes inline under
``<attribute>`` (a documented deviation): the class mask as row-major runs,
``{"size": [h, w], "values": [class per run], "counts": [run lengths]}``, and the SeqLabel
document itself.

Invariant: an export changes a label's encoding only; class indices are positions in
``labels`` (for masks ``k + 1``, 0 being the background).
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final

from PIL import Image

from labeling.engine.records import (
    CLASSIFICATION,
    MULTILABEL,
    TEXT_TASKS,
    FormatError,
    Label,
    Record,
    check_record,
    check_task_type,
    class_index,
    class_mask,
    image_size,
    label_list,
    plain_number,
    record_confidence,
    value_runs,
)

GROUND_TRUTH_TYPES: Final = {
    "text_classification": "groundtruth/text-classification",
    "image_classification": "groundtruth/image-classification",
    "text_multilabel": "groundtruth/text-classification-multilabel",
    "image_multilabel": "groundtruth/image-classification-multilabel",
    "ner": "groundtruth/text-span",
    "bounding_box": "groundtruth/object-detection",
    "semantic_segmentation": "groundtruth/semantic-segmentation",
    "video_tracking": "groundtruth/video-object-tracking",
    "verification": "groundtruth/label-verification",
}
VERDICTS: Final = ("accept", "adjust")
#: Colours of the classes in segmentation masks (cycled past ten); 0, the background, is
#: white as in Ground Truth's masks.
PALETTE: Final = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
)  # fmt: skip
BACKGROUND: Final = "#ffffff"


def to_ground_truth_manifest(
    records: Iterable[Record],
    *,
    task_type: str,
    labels: Sequence[str],
    job_name: str,
    label_attribute: str,
    created_at: datetime | str,
    verified_task_type: str | None = None,
    side_file_ref: Callable[[Record], str] | None = None,
) -> Iterator[str]:
    """One JSON line per labeled record, in Ground Truth's output manifest format.

    ``verified_task_type`` is the kind of label a verification job reviewed: the verdict is
    written as Ground Truth's label verification (0 accept, 1 adjust) and an adjusted label
    under ``<attribute>-adjusted`` in that kind's encoding. ``side_file_ref`` names the file
    the caller stores a segmentation mask (:func:`segmentation_png`) or a video's SeqLabel
    (:func:`video_seq_label`) in.
    """
    check_task_type(task_type)
    date = _date(created_at)
    job = job_name if job_name.startswith("labeling-job/") else f"labeling-job/{job_name}"
    for record in records:
        check_record(record)
        if record["label"] is None:
            continue  # as in Ground Truth, an item nobody labeled has no line
        kind = verified_task_type if task_type == "verification" else task_type
        if kind is None:
            # Text or image decides only where the item's data goes; the size says which.
            source_key = "source-ref" if record.get("width") else "source"
        else:
            check_task_type(kind)
            source_key = "source" if kind in TEXT_TASKS else "source-ref"
        line: dict[str, Any] = {source_key: record["source_ref"]}
        common = {
            "human-annotated": "yes" if record.get("source") == "human" else "no",
            "creation-date": date,
            "job-name": job,
        }
        if task_type == "verification":
            line.update(
                _verification(
                    record, labels, label_attribute, verified_task_type, common, side_file_ref
                )
            )
        else:
            line.update(
                _attribute(
                    record,
                    record["label"],
                    task_type,
                    labels,
                    label_attribute,
                    common,
                    side_file_ref,
                )
            )
        yield json.dumps(line, ensure_ascii=False)


def _verification(
    record: Record,
    labels: Sequence[str],
    attribute: str,
    verified_task_type: str | None,
    common: dict[str, str],
    side_file_ref: Callable[[Record], str] | None,
) -> dict[str, Any]:
    value = record["label"]
    if not isinstance(value, Mapping) or value.get("verdict") not in VERDICTS:
        raise FormatError(
            "malformed_label", f"Item {record['item_id']}: a verification label has a verdict."
        )
    verdict = str(value["verdict"])
    out: dict[str, Any] = {
        attribute: VERDICTS.index(verdict),
        f"{attribute}-metadata": {
            "class-name": verdict,
            "confidence": record_confidence(record),
            "type": GROUND_TRUTH_TYPES["verification"],
            **common,
        },
    }
    if verdict == "adjust" and verified_task_type is not None and "label" in value:
        out.update(
            _attribute(
                record,
                value["label"],
                verified_task_type,
                labels,
                f"{attribute}-adjusted",
                common,
                side_file_ref,
            )
        )
    return out


def _attribute(
    record: Record,
    label: Label,
    task_type: str,
    labels: Sequence[str],
    attribute: str,
    common: dict[str, str],
    side_file_ref: Callable[[Record], str] | None,
) -> dict[str, Any]:
    """``<attribute>`` (or ``<attribute>-ref``) and its ``-metadata`` for one label."""
    confidence = record_confidence(record)
    meta: dict[str, Any] = {"type": GROUND_TRUTH_TYPES[task_type], **common}
    where = f"Item {record['item_id']}"
    key = attribute
    value: Any
    if task_type in CLASSIFICATION:
        value = class_index(label, labels, where)
        meta.update({"class-name": label, "confidence": confidence})
    elif task_type in MULTILABEL:
        value = [class_index(name, labels, where) for name in label_list(label, where)]
        meta["class-map"] = {str(i): labels[i] for i in value}
        meta["confidence-map"] = {str(i): confidence for i in value}
    elif task_type == "ner":
        spans = label_list(label, where)
        value = {
            "annotations": {
                "labels": [{"label": name} for name in labels],
                "entities": [
                    {
                        "label": labels[class_index(s.get("label"), labels, where)],
                        "startOffset": int(s["start"]),
                        "endOffset": int(s["end"]),
                    }
                    for s in spans
                ],
            }
        }
        meta["entities"] = [{"confidence": confidence} for _ in spans]
    elif task_type == "bounding_box":
        width, height = image_size(record)
        boxes = label_list(label, where)
        value = {
            "image_size": [{"width": width, "height": height, "depth": 3}],
            "annotations": [
                {
                    "class_id": class_index(b.get("label"), labels, where),
                    "left": plain_number(b["x"]),
                    "top": plain_number(b["y"]),
                    "width": plain_number(b["w"]),
                    "height": plain_number(b["h"]),
                }
                for b in boxes
            ],
        }
        meta["objects"] = [{"confidence": confidence} for _ in boxes]
        meta["class-map"] = {str(i): name for i, name in enumerate(labels)}
    elif task_type == "semantic_segmentation":
        width, height = image_size(record)
        meta["internal-color-map"] = {
            str(i): {"class-name": name, "hex-color": colour, "confidence": confidence}
            for i, (name, colour) in enumerate(
                [("BACKGROUND", BACKGROUND), *((n, _colour(k)) for k, n in enumerate(labels))]
            )
        }
        if side_file_ref is not None:
            key, value = f"{attribute}-ref", side_file_ref(record)
        else:
            mask = class_mask(label_list(label, where), labels, width, height)
            values, counts = value_runs(mask.ravel())
            value = {"size": [height, width], "values": values, "counts": counts}
    elif task_type == "video_tracking":
        meta["class-map"] = {str(i): name for i, name in enumerate(labels)}
        if side_file_ref is not None:
            key, value = f"{attribute}-ref", side_file_ref(record)
        else:
            value = video_seq_label(label_list(label, where), labels=labels)
    else:
        raise FormatError(
            "unsupported_task_type",
            f"A verification of {task_type} labels has no Ground Truth form.",
        )
    return {key: value, f"{key}-metadata": meta}


def segmentation_png(
    shapes: Sequence[Mapping[str, Any]], *, labels: Sequence[str], width: int, height: int
) -> bytes:
    """Ground Truth's side file for a segmentation label: a palette PNG whose pixel values
    are the class indices and whose colours are those of ``internal-color-map``."""
    image = Image.fromarray(class_mask(shapes, labels, width, height)).convert("P")
    colours = [BACKGROUND, *(_colour(k) for k in range(len(labels)))]
    palette = [int(c[i : i + 2], 16) for c in colours for i in (1, 3, 5)]
    image.putpalette(palette + [0] * (768 - len(palette)))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def video_seq_label(
    tracks: Sequence[Mapping[str, Any]], *, labels: Sequence[str]
) -> dict[str, Any]:
    """Ground Truth's SeqLabel document for tracks: per frame, the boxes of every object."""
    frames: dict[int, list[dict[str, Any]]] = {}
    for track in tracks:
        label = track.get("label")
        class_id = class_index(label, labels, f"Track {track.get('id')}")
        for box in track.get("boxes") or []:
            frames.setdefault(int(box["frame"]), []).append(
                {
                    "height": plain_number(box["h"]),
                    "width": plain_number(box["w"]),
                    "top": plain_number(box["y"]),
                    "left": plain_number(box["x"]),
                    "class-id": str(class_id),
                    "label-category-attribute": {},
                    "object-id": str(track.get("id")),
                    "object-name": f"{label}:{track.get('id')}",
                }
            )
    return {
        "tracking-annotations": [
            {"frame-no": frame, "annotations": frames[frame], "frame-attributes": {}}
            for frame in sorted(frames)
        ]
    }


def _date(created_at: datetime | str) -> str:
    if isinstance(created_at, str):
        try:
            return _date(datetime.fromisoformat(created_at))
        except ValueError:
            return created_at  # not ISO 8601: the caller's own words, as they are
    if created_at.tzinfo is not None:
        # Ground Truth writes UTC without an offset.
        created_at = created_at.astimezone(UTC).replace(tzinfo=None)
    return created_at.isoformat()


def _colour(k: int) -> str:
    return PALETTE[k % len(PALETTE)]
