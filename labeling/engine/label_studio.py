"""Label Studio's task JSON, out and back in.

A task is ``{"id", "data": {<data_key>: <the text or image>, "sextant_row": row},
"annotations": [{"result": [...]}]}`` with results in Label Studio's own shapes: ``choices``
for classes, ``labels`` (start, end, text) for spans, ``rectanglelabels`` and
``polygonlabels`` in percent of ``original_width`` × ``original_height``, and
``videorectangle`` sequences for tracks (frames counted from 1; the video's size rides
along as ``original_width`` and ``original_height``, which the import needs and Label
Studio keeps). People's labels are
``annotations``; auto-labels are ``predictions`` with their confidence as ``score``, which
Label Studio shows as pre-annotations to accept or correct.

Brush masks go as ``brushlabels`` in Label Studio's own compressed RLE
(:mod:`labeling.engine.brush_rle`), from a ``BrushLabels`` control named "brush", and come
back as our row-major runs; verification has no Label Studio form.

Invariant: ``from_label_studio(to_label_studio(records))`` gives back the records' labels,
coordinates up to float rounding of the percent conversion.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from labeling.engine import brush_rle
from labeling.engine.consolidate import decode_rle, encode_rle
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
    image_size,
    is_int,
    is_number,
    label_list,
    record_confidence,
)

#: Label Studio's name of the control (``from_name``); objects (``to_name``) are named
#: "text", "image" or "video".
CONTROL: Final = "label"
#: Video boxes come from a VideoRectangle control of their own, labeled by CONTROL.
VIDEO_CONTROL: Final = "box"
#: Brush masks come from a BrushLabels control beside the segmentation's polygons.
BRUSH_CONTROL: Final = "brush"
AUTO_MODEL_VERSION: Final = "sextant-auto"


def label_studio_config(*, task_type: str, labels: Sequence[str], data_key: str) -> str:
    """A Label Studio labeling configuration whose names match the exported results."""
    check_task_type(task_type)
    options = "".join(f'<Label value="{_xml(n)}"/>' for n in labels)
    choices = "".join(f'<Choice value="{_xml(n)}"/>' for n in labels)
    obj = _object(task_type)
    tag = {"text": "Text", "image": "Image", "video": "Video"}[obj]
    named = f'name="{CONTROL}" toName="{obj}"'
    control = {
        "choices": f'<Choices {named} choice="single">{choices}</Choices>',
        "multi": f'<Choices {named} choice="multiple">{choices}</Choices>',
        "labels": f"<Labels {named}>{options}</Labels>",
        "rectanglelabels": f"<RectangleLabels {named}>{options}</RectangleLabels>",
        "polygonlabels": f"<PolygonLabels {named}>{options}</PolygonLabels>"
        f'<BrushLabels name="{BRUSH_CONTROL}" toName="{obj}">{options}</BrushLabels>',
        "videorectangle": f"<Labels {named}>{options}</Labels>"
        f'<VideoRectangle name="{VIDEO_CONTROL}" toName="{obj}"/>',
    }[_kind(task_type)]
    return f'<View><{tag} name="{obj}" value="${_xml(data_key)}"/>{control}</View>'


def to_label_studio(
    records: Iterable[Record], *, task_type: str, labels: Sequence[str], data_key: str
) -> list[dict[str, Any]]:
    """Label Studio tasks: people's labels as ``annotations``, auto-labels as ``predictions``
    (with their confidence as ``score``), so Label Studio shows them as pre-annotations.

    Segmentation polygons go as ``polygonlabels``, brush masks as ``brushlabels``.
    """
    check_task_type(task_type)
    kind = _kind(task_type)
    obj = _object(task_type)
    tasks = []
    for record in records:
        check_record(record)
        task: dict[str, Any] = {
            "id": int(record["item_id"]),
            "data": {data_key: record["source_ref"], "sextant_row": int(record["row"])},
        }
        if record["label"] is not None:
            result = _result(record, kind, obj, labels)
            if record.get("source") == "auto":
                task["predictions"] = [
                    {
                        "result": result,
                        "score": record_confidence(record),
                        "model_version": AUTO_MODEL_VERSION,
                    }
                ]
            else:
                task["annotations"] = [{"result": result}]
        tasks.append(task)
    return tasks


def _result(record: Record, kind: str, obj: str, labels: Sequence[str]) -> list[dict[str, Any]]:
    label = record["label"]
    where = f"Item {record['item_id']}"
    base = {"from_name": CONTROL, "to_name": obj}
    if kind in ("choices", "multi"):
        names = [label] if kind == "choices" else label_list(label, where)
        for name in names:
            class_index(name, labels, where)
        return [{"id": "r1", **base, "type": "choices", "value": {"choices": list(names)}}]
    results = []
    if kind == "labels":
        text = str(record["source_ref"])
        for i, span in enumerate(label_list(label, where)):
            start, end = int(span["start"]), int(span["end"])
            class_index(span.get("label"), labels, where)
            value = {"start": start, "end": end, "text": text[start:end], "labels": [span["label"]]}
            results.append({"id": f"r{i + 1}", **base, "type": "labels", "value": value})
        return results
    width, height = image_size(record)
    sized: dict[str, Any] = {
        "original_width": width,
        "original_height": height,
        "image_rotation": 0,
    }
    for i, shape in enumerate(label_list(label, where)):
        class_index(shape.get("label"), labels, where)
        if kind == "videorectangle":
            results.append(_track(shape, base, width, height))
        elif kind == "rectanglelabels":
            value = {
                "x": 100.0 * float(shape["x"]) / width,
                "y": 100.0 * float(shape["y"]) / height,
                "width": 100.0 * float(shape["w"]) / width,
                "height": 100.0 * float(shape["h"]) / height,
                "rotation": 0,
                "rectanglelabels": [shape["label"]],
            }
            results.append({"id": f"r{i + 1}", **base, **sized, "type": kind, "value": value})
        elif "points" in shape:
            points = [
                [100.0 * float(x) / width, 100.0 * float(y) / height] for x, y in shape["points"]
            ]
            value = {"points": points, "closed": True, "polygonlabels": [shape["label"]]}
            results.append(
                {"id": f"r{i + 1}", **base, **sized, "type": "polygonlabels", "value": value}
            )
        elif "rle" in shape:
            mask_height, mask_width = (int(v) for v in shape["size"])
            mask = decode_rle(shape["rle"], mask_height, mask_width)
            value = {
                "format": "rle",
                "rle": brush_rle.encode(mask),
                "brushlabels": [shape["label"]],
            }
            result: dict[str, Any] = {"id": f"r{i + 1}", **base, "from_name": BRUSH_CONTROL}
            # The mask's own size: its runs cover exactly that many pixels.
            result |= {**sized, "original_width": mask_width, "original_height": mask_height}
            results.append({**result, "type": "brushlabels", "value": value})
    return results


def _track(
    track: Mapping[str, Any], base: dict[str, str], width: int, height: int
) -> dict[str, Any]:
    boxes = sorted(track.get("boxes") or [], key=lambda b: int(b["frame"]))
    sequence = [
        {
            # Label Studio counts frames from 1.
            "frame": int(box["frame"]) + 1,
            "x": 100.0 * float(box["x"]) / width,
            "y": 100.0 * float(box["y"]) / height,
            "width": 100.0 * float(box["w"]) / width,
            "height": 100.0 * float(box["h"]) / height,
            "rotation": 0,
            # The last box ends the track: without it Label Studio keeps the box to the end.
            "enabled": i < len(boxes) - 1,
        }
        for i, box in enumerate(boxes)
    ]
    return {
        "id": str(track.get("id")),
        **base,
        "from_name": VIDEO_CONTROL,
        "original_width": width,
        "original_height": height,
        "type": "videorectangle",
        "value": {"sequence": sequence, "labels": [track.get("label")]},
    }


def from_label_studio(
    tasks: Any, *, task_type: str, labels: Sequence[str]
) -> list[tuple[int | None, Label]]:
    """``(row, label)`` per task, in the order of ``tasks``: the label of the first annotation
    not cancelled, else of the first prediction (a pre-annotation), else None. The row is
    ``data["sextant_row"]`` when the task came from Sextant, else None: the caller matches
    such a task by its data, ``tasks[i]["data"]`` for the i-th answer."""
    check_task_type(task_type)
    kind = _kind(task_type)
    if not isinstance(tasks, list):
        raise FormatError("malformed_tasks", "Label Studio tasks are a JSON list of tasks.")
    out: list[tuple[int | None, Label]] = []
    for index, task in enumerate(tasks):
        where = f"Task {index + 1}"
        if not isinstance(task, Mapping) or not isinstance(task.get("data"), Mapping):
            raise FormatError("malformed_task", f"{where} is an object with data.")
        where = f"Task {task.get('id', index + 1)}"
        row = task["data"].get("sextant_row")
        row = row if is_int(row) else None
        result = _chosen(task, where)
        out.append((row, None if result is None else _parse(result, kind, labels, where)))
    return out


def _chosen(task: Mapping[str, Any], where: str) -> list[Any] | None:
    for key in ("annotations", "predictions"):
        entries = task.get(key) or []
        if not isinstance(entries, list):
            raise FormatError("malformed_task", f"{where}: {key} is a list.")
        for entry in entries:
            if not isinstance(entry, Mapping):
                raise FormatError("malformed_task", f"{where}: each of {key} is an object.")
            if entry.get("was_cancelled"):
                continue  # a skipped task in Label Studio: no answer
            result = entry.get("result")
            if not isinstance(result, list):
                raise FormatError("malformed_task", f"{where}: an annotation's result is a list.")
            return result
    return None


def _parse(result: list[Any], kind: str, labels: Sequence[str], where: str) -> Label:
    known = set(labels)
    picked: list[Any] = []
    for item in result:
        if not isinstance(item, Mapping) or not isinstance(item.get("value"), Mapping):
            raise FormatError("malformed_result", f"{where}: a result is an object with a value.")
        value, rtype = item["value"], item.get("type")
        if rtype == "brushlabels" and kind != "polygonlabels":
            raise FormatError(
                "unsupported_shape", f"{where}: a brush mask only labels a segmentation."
            )
        if rtype == "brushlabels":
            picked.extend(_parse_brush(item, known, where))
        elif kind in ("choices", "multi") and rtype == "choices":
            picked.extend(_names(value, "choices", known, where))
        elif kind == "labels" and rtype == "labels":
            start, end = value.get("start"), value.get("end")
            if not (is_int(start) and is_int(end)):
                raise FormatError("malformed_result", f"{where}: a span has integer start and end.")
            for name in _names(value, "labels", known, where):
                picked.append({"label": name, "start": start, "end": end})
        elif kind == "rectanglelabels" and rtype == "rectanglelabels":
            width, height = _original_size(item, where)
            if float(value.get("rotation") or 0) != 0:
                raise FormatError("rotated_box", f"{where}: rotated boxes cannot be imported.")
            x, y, w, h = (_number(value, k, where) for k in ("x", "y", "width", "height"))
            for name in _names(value, "rectanglelabels", known, where):
                picked.append(
                    {
                        "label": name,
                        "x": x * width / 100.0,
                        "y": y * height / 100.0,
                        "w": w * width / 100.0,
                        "h": h * height / 100.0,
                    }
                )
        elif kind == "polygonlabels" and rtype == "polygonlabels":
            width, height = _original_size(item, where)
            points = value.get("points")
            if not isinstance(points, list) or not all(_is_point(p) for p in points):
                raise FormatError("malformed_result", f"{where}: polygon points are [x, y] pairs.")
            for name in _names(value, "polygonlabels", known, where):
                picked.append(
                    {
                        "label": name,
                        "points": [[x * width / 100.0, y * height / 100.0] for x, y in points],
                    }
                )
        elif kind == "videorectangle" and rtype == "videorectangle":
            picked.append(_parse_track(item, known, where))
    if kind == "choices":
        if len(picked) > 1:
            raise FormatError("ambiguous_choice", f"{where}: one class expected, got {picked}.")
        return picked[0] if picked else None
    if kind == "multi":
        return sorted(set(picked), key=labels.index)
    return picked


def _parse_brush(item: Mapping[str, Any], known: set[str], where: str) -> list[dict[str, Any]]:
    width, height = _original_size(item, where)
    value = item["value"]
    if value.get("format", "rle") != "rle" or "rle" not in value:
        raise FormatError("malformed_result", f"{where}: a brush mask holds its rle bytes.")
    if width != int(width) or height != int(height):
        raise FormatError("malformed_result", f"{where}: a brush mask's image size is whole.")
    try:
        mask = brush_rle.decode(value["rle"], int(height), int(width))
    except brush_rle.BrushError as exc:
        raise FormatError("malformed_result", f"{where}: {exc}.") from None
    runs = encode_rle(mask)
    return [
        {"label": name, "rle": runs, "size": [int(height), int(width)]}
        for name in _names(value, "brushlabels", known, where)
    ]


def _parse_track(item: Mapping[str, Any], known: set[str], where: str) -> dict[str, Any]:
    width, height = _original_size(item, where)
    value = item["value"]
    names = _names(value, "labels", known, where)
    if len(names) != 1:
        raise FormatError("malformed_result", f"{where}: a track has exactly one label.")
    sequence = value.get("sequence")
    if not isinstance(sequence, list):
        raise FormatError("malformed_result", f"{where}: a video box has a sequence.")
    boxes = []
    for step in sequence:
        if not isinstance(step, Mapping) or not is_int(step.get("frame")):
            raise FormatError("malformed_result", f"{where}: each step has a frame number.")
        x, y, w, h = (_number(step, k, where) for k in ("x", "y", "width", "height"))
        boxes.append(
            {
                "frame": int(step["frame"]) - 1,
                "x": x * width / 100.0,
                "y": y * height / 100.0,
                "w": w * width / 100.0,
                "h": h * height / 100.0,
            }
        )
    track_id: Any = item.get("id")
    if isinstance(track_id, str) and track_id.isdigit():
        track_id = int(track_id)
    return {"id": track_id, "label": names[0], "boxes": boxes}


def _names(value: Mapping[str, Any], key: str, known: set[str], where: str) -> list[str]:
    names = value.get(key)
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise FormatError("malformed_result", f"{where}: {key} is a list of class names.")
    for name in names:
        if name not in known:
            raise FormatError(
                "unknown_label", f"{where}: {name!r} is not one of the job's classes."
            )
    return names


def _original_size(item: Mapping[str, Any], where: str) -> tuple[float, float]:
    width, height = item.get("original_width"), item.get("original_height")
    if not (is_number(width) and is_number(height)) or width <= 0 or height <= 0:
        raise FormatError(
            "missing_size", f"{where}: the result lacks original_width and original_height."
        )
    return float(width), float(height)


def _number(value: Mapping[str, Any], key: str, where: str) -> float:
    number = value.get(key)
    if not is_number(number):
        raise FormatError("malformed_result", f"{where}: {key} is a number.")
    return float(number)


def _kind(task_type: str) -> str:
    if task_type in CLASSIFICATION:
        return "choices"
    if task_type in MULTILABEL:
        return "multi"
    kinds = {
        "ner": "labels",
        "bounding_box": "rectanglelabels",
        "semantic_segmentation": "polygonlabels",
        "video_tracking": "videorectangle",
    }
    if task_type not in kinds:
        raise FormatError(
            "unsupported_task_type", f"Label Studio has no form for {task_type} labels."
        )
    return kinds[task_type]


def _object(task_type: str) -> str:
    if task_type in TEXT_TASKS:
        return "text"
    return "video" if task_type == "video_tracking" else "image"


def _xml(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;").replace(">", "&gt;")
    )


def _is_point(value: Any) -> bool:
    return isinstance(value, list | tuple) and len(value) == 2 and all(is_number(v) for v in value)
