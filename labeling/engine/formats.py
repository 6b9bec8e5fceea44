"""Labels out of Sextant and back in, the one import for every format: SageMaker Ground
Truth's output manifest (:mod:`labeling.engine.ground_truth`), Label Studio's task JSON
(:mod:`labeling.engine.label_studio`), and here CSV and COCO.

Every export reads consolidated records (:mod:`labeling.engine.records`). Invariants: an
export changes a label's encoding, never the label; malformed input raises
:class:`FormatError` naming the item and what is wrong.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

import numpy as np

from labeling.engine.ground_truth import (
    segmentation_png,
    to_ground_truth_manifest,
    video_seq_label,
)
from labeling.engine.label_studio import from_label_studio, label_studio_config, to_label_studio
from labeling.engine.records import (
    CLASSIFICATION,
    FormatError,
    Record,
    check_record,
    check_task_type,
    class_index,
    class_mask,
    image_size,
    label_list,
    plain_number,
    value_runs,
)

__all__ = [
    "FormatError",
    "from_label_studio",
    "label_studio_config",
    "segmentation_png",
    "to_coco",
    "to_csv",
    "to_ground_truth_manifest",
    "to_label_studio",
    "video_seq_label",
]

CSV_COLUMNS: Final = ("item_id", "row", "source", "label", "confidence", "source_kind")


def to_csv(records: Iterable[Record], *, task_type: str) -> str:
    """CSV with a header; class names as they are, every other label as a JSON string."""
    check_task_type(task_type)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for record in records:
        check_record(record)
        label = record["label"]
        if label is None:
            text = ""
        elif task_type in CLASSIFICATION and isinstance(label, str):
            text = label
        else:
            text = json.dumps(label, ensure_ascii=False)
        confidence = record.get("confidence")
        writer.writerow(
            [
                record["item_id"],
                record["row"],
                record["source_ref"],
                text,
                "" if confidence is None else float(confidence),
                record.get("source") or "",
            ]
        )
    return out.getvalue()


def to_coco(
    records: Iterable[Record],
    *,
    labels: Sequence[str],
    task_type: str = "bounding_box",
    description: str = "Exported by Sextant",
) -> dict[str, Any]:
    """COCO's detection JSON: boxes, or for segmentation polygons (``iscrowd`` 0) and brush
    masks (uncompressed column-major RLE, ``iscrowd`` 1, as COCO keeps masks)."""
    if task_type not in ("bounding_box", "semantic_segmentation"):
        raise FormatError(
            "unsupported_task_type", f"COCO holds boxes and segmentation, not {task_type} labels."
        )
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    for record in records:
        check_record(record)
        width, height = image_size(record)
        images.append(
            {
                "id": int(record["item_id"]),
                "file_name": record["source_ref"],
                "width": width,
                "height": height,
            }
        )
        where = f"Item {record['item_id']}"
        for shape in label_list(record["label"] or [], where):
            category = class_index(shape.get("label"), labels, where) + 1
            if task_type == "bounding_box":
                geometry = _coco_box(shape)
            elif "points" in shape:
                geometry = _coco_polygon(shape)
            elif "rle" in shape:
                geometry = _coco_mask(shape, labels, width, height)
            else:
                raise FormatError("malformed_label", f"{where}: a shape is a polygon or a mask.")
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": int(record["item_id"]),
                    "category_id": category,
                    **geometry,
                }
            )
    return {
        "info": {"description": description, "version": "1.0"},
        "licenses": [],
        "images": images,
        "annotations": annotations,
        "categories": [
            {"id": i + 1, "name": name, "supercategory": ""} for i, name in enumerate(labels)
        ],
    }


def _coco_box(box: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "bbox": [plain_number(box[k]) for k in ("x", "y", "w", "h")],
        "segmentation": [],
        "area": plain_number(float(box["w"]) * float(box["h"])),
        "iscrowd": 0,
    }


def _coco_polygon(shape: Mapping[str, Any]) -> dict[str, Any]:
    points = np.asarray(shape["points"], dtype=np.float64).reshape(-1, 2)
    low, high = points.min(axis=0), points.max(axis=0)
    x, y = points[:, 0], points[:, 1]
    # The shoelace formula: the polygon's own area, not that of its pixels.
    area = abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2.0
    return {
        "bbox": [plain_number(v) for v in (*low, *(high - low))],
        "segmentation": [[plain_number(v) for v in points.ravel()]],
        "area": plain_number(area),
        "iscrowd": 0,
    }


def _coco_mask(
    shape: Mapping[str, Any], labels: Sequence[str], width: int, height: int
) -> dict[str, Any]:
    mask = class_mask([shape], labels, width, height) > 0
    ys, xs = np.nonzero(mask)
    bbox = (
        [int(xs.min()), int(ys.min()), int(np.ptp(xs)) + 1, int(np.ptp(ys)) + 1]
        if len(xs)
        else [0, 0, 0, 0]
    )
    # COCO counts runs down the columns (Fortran order), starting with zeros; a mask is
    # a crowd region in COCO's terms.
    _, counts = value_runs(mask.T.ravel().astype(np.uint8), start_with_zero=True)
    return {
        "bbox": bbox,
        "segmentation": {"size": [height, width], "counts": counts},
        "area": int(mask.sum()),
        "iscrowd": 1,
    }
