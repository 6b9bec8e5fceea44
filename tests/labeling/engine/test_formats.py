"""Exports and imports of labels: Ground Truth's output manifest, CSV, COCO and Label Studio
(no database)."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from labeling.engine import brush_rle
from labeling.engine.consolidate import decode_rle, encode_rle, rasterize
from labeling.engine.formats import (
    FormatError,
    from_label_studio,
    label_studio_config,
    segmentation_png,
    to_coco,
    to_csv,
    to_ground_truth_manifest,
    to_label_studio,
    video_seq_label,
)

LABELS = ["car", "person", "tree"]
WHEN = datetime(2025, 3, 1, 12, 30, tzinfo=UTC)
TEXT = "Ada Lovelace drove a car to London"


def record(label: Any, *, item: int = 1, source: str = "human", **extra: Any) -> dict[str, Any]:
    return {
        "item_id": item,
        "row": item - 1,
        "source_ref": extra.pop("source_ref", f"images/{item:06d}.png"),
        "label": label,
        "confidence": extra.pop("confidence", 0.87),
        "source": source,
        "annotations": [{"worker": "ann", "label": label, "submitted_at": "2025-03-01T12:00:00"}],
        "width": extra.pop("width", 200),
        "height": extra.pop("height", 100),
        **extra,
    }


def manifest(records: list[dict[str, Any]], task_type: str, **options: Any) -> list[dict[str, Any]]:
    lines = to_ground_truth_manifest(
        records,
        task_type=task_type,
        labels=LABELS,
        job_name="street-scenes",
        label_attribute="scene",
        created_at=WHEN,
        **options,
    )
    return [json.loads(line) for line in lines]


BOXES = [
    {"label": "car", "x": 10.0, "y": 20.0, "w": 30.0, "h": 40.0},
    {"label": "tree", "x": 150.5, "y": 0.25, "w": 49.5, "h": 99.75},
]
POLYGON = {"label": "person", "points": [[10.0, 10.0], [60.0, 10.0], [60.0, 50.0], [10.0, 50.0]]}
#: Label Studio's brush RLE of a 3×4 mask, as its own encoder writes it.
LS_SMALL = [0, 0, 0, 48, 57, 27, 254, 19, 0, 159, 254, 248, 4, 127, 224]
SPANS = [
    {"label": "person", "start": 0, "end": 12},
    {"label": "car", "start": 21, "end": 24},
]
TRACKS = [
    {
        "id": 1,
        "label": "car",
        "boxes": [
            {"frame": 0, "x": 1.0, "y": 2.0, "w": 30.0, "h": 20.0},
            {"frame": 1, "x": 3.5, "y": 2.0, "w": 30.0, "h": 20.0},
            {"frame": 4, "x": 9.0, "y": 5.0, "w": 31.0, "h": 21.0},
        ],
    },
    {"id": 2, "label": "person", "boxes": [{"frame": 2, "x": 50.0, "y": 40.0, "w": 8, "h": 16}]},
]


# --------------------------------------------------------------------------- Ground Truth


def test_a_text_class_is_written_as_ground_truth_writes_it() -> None:
    (line,) = manifest([record("person", source_ref="She walked home.")], "text_classification")
    assert line["source"] == "She walked home."
    assert line["scene"] == 1
    assert line["scene-metadata"] == {
        "class-name": "person",
        "confidence": 0.87,
        "type": "groundtruth/text-classification",
        "job-name": "labeling-job/street-scenes",
        "human-annotated": "yes",
        "creation-date": "2025-03-01T12:30:00",
    }


def test_an_image_class_refers_to_the_image_and_says_who_labeled_it() -> None:
    lines = manifest(
        [record("tree"), record("car", item=2, source="auto"), record(None, item=3)],
        "image_classification",
    )
    assert [line["source-ref"] for line in lines] == ["images/000001.png", "images/000002.png"]
    assert [line["scene"] for line in lines] == [2, 0]
    assert [line["scene-metadata"]["human-annotated"] for line in lines] == ["yes", "no"]
    assert lines[0]["scene-metadata"]["type"] == "groundtruth/image-classification"


def test_several_classes_are_indices_with_a_class_map() -> None:
    (line,) = manifest([record(["car", "tree"])], "image_multilabel")
    assert line["scene"] == [0, 2]
    meta = line["scene-metadata"]
    assert meta["class-map"] == {"0": "car", "2": "tree"}
    assert meta["confidence-map"] == {"0": 0.87, "2": 0.87}
    assert meta["type"] == "groundtruth/image-classification-multilabel"
    (text,) = manifest([record([], source_ref="nothing")], "text_multilabel")
    assert text["scene"] == [] and text["source"] == "nothing"
    assert text["scene-metadata"]["type"] == "groundtruth/text-classification-multilabel"


def test_spans_are_entities_with_offsets() -> None:
    (line,) = manifest([record(SPANS, source_ref=TEXT)], "ner")
    assert line["source"] == TEXT
    annotations = line["scene"]["annotations"]
    assert annotations["labels"] == [{"label": name} for name in LABELS]
    assert annotations["entities"] == [
        {"label": "person", "startOffset": 0, "endOffset": 12},
        {"label": "car", "startOffset": 21, "endOffset": 24},
    ]
    assert line["scene-metadata"]["entities"] == [{"confidence": 0.87}] * 2
    assert line["scene-metadata"]["type"] == "groundtruth/text-span"


def test_boxes_are_object_detection_with_the_image_size() -> None:
    (line,) = manifest([record(BOXES)], "bounding_box")
    assert line["scene"] == {
        "image_size": [{"width": 200, "height": 100, "depth": 3}],
        "annotations": [
            {"class_id": 0, "left": 10, "top": 20, "width": 30, "height": 40},
            {"class_id": 2, "left": 150.5, "top": 0.25, "width": 49.5, "height": 99.75},
        ],
    }
    meta = line["scene-metadata"]
    assert meta["objects"] == [{"confidence": 0.87}] * 2
    assert meta["class-map"] == {"0": "car", "1": "person", "2": "tree"}
    assert meta["type"] == "groundtruth/object-detection"


def test_boxes_need_the_image_size() -> None:
    with pytest.raises(FormatError) as error:
        manifest([record(BOXES, width=None)], "bounding_box")
    assert error.value.code == "missing_size"


def test_a_segmentation_goes_inline_as_class_runs_or_to_a_side_file() -> None:
    brush = {"label": "tree", "rle": encode_rle(np.eye(100, 200, dtype=bool)), "size": [100, 200]}
    shapes = [POLYGON, brush]
    (line,) = manifest([record(shapes)], "semantic_segmentation")
    inline = line["scene"]
    assert inline["size"] == [100, 200]
    flat = np.repeat(inline["values"], inline["counts"]).reshape(100, 200)
    assert np.array_equal(flat, rasterize(shapes, width=200, height=100, labels=LABELS))
    colours = line["scene-metadata"]["internal-color-map"]
    assert colours["0"]["class-name"] == "BACKGROUND" and colours["0"]["hex-color"] == "#ffffff"
    assert [colours[str(i + 1)]["class-name"] for i in range(3)] == LABELS
    assert line["scene-metadata"]["type"] == "groundtruth/semantic-segmentation"

    (ref,) = manifest(
        [record(shapes)], "semantic_segmentation", side_file_ref=lambda r: f"masks/{r['row']}.png"
    )
    assert ref["scene-ref"] == "masks/0.png" and "scene" not in ref
    assert ref["scene-ref-metadata"]["internal-color-map"] == colours
    png = Image.open(io.BytesIO(segmentation_png(shapes, labels=LABELS, width=200, height=100)))
    assert png.mode == "P"
    assert np.array_equal(np.asarray(png), flat)
    palette = png.getpalette() or []
    assert "#" + bytes(palette[6:9]).hex() == colours["2"]["hex-color"]


def test_tracks_are_a_seq_label_document() -> None:
    (line,) = manifest([record(TRACKS)], "video_tracking")
    frames = line["scene"]["tracking-annotations"]
    assert [f["frame-no"] for f in frames] == [0, 1, 2, 4]
    first = frames[0]["annotations"][0]
    assert first == {
        "height": 20,
        "width": 30,
        "top": 2,
        "left": 1,
        "class-id": "0",
        "label-category-attribute": {},
        "object-id": "1",
        "object-name": "car:1",
    }
    assert frames[2]["annotations"][0]["object-name"] == "person:2"
    assert line["scene-metadata"]["type"] == "groundtruth/video-object-tracking"
    (ref,) = manifest([record(TRACKS)], "video_tracking", side_file_ref=lambda r: "seq.json")
    assert ref["scene-ref"] == "seq.json"
    assert video_seq_label(TRACKS, labels=LABELS) == line["scene"]


def test_a_verdict_is_a_label_verification_with_the_adjusted_label_beside_it() -> None:
    lines = manifest(
        [
            record({"verdict": "accept"}),
            record({"verdict": "adjust", "label": BOXES[:1]}, item=2),
        ],
        "verification",
        verified_task_type="bounding_box",
    )
    assert [line["scene"] for line in lines] == [0, 1]
    assert lines[1]["scene-metadata"]["class-name"] == "adjust"
    assert lines[1]["scene-metadata"]["type"] == "groundtruth/label-verification"
    assert "scene-adjusted" not in lines[0]
    assert lines[1]["scene-adjusted"]["annotations"][0]["class_id"] == 0
    assert lines[1]["scene-adjusted-metadata"]["type"] == "groundtruth/object-detection"


def test_the_creation_date_is_utc_without_an_offset() -> None:
    for when in (WHEN, WHEN.isoformat(), "2025-03-01T14:30:00+02:00"):
        lines = to_ground_truth_manifest(
            [record("car")],
            task_type="image_classification",
            labels=LABELS,
            job_name="labeling-job/x",
            label_attribute="a",
            created_at=when,
        )
        meta = json.loads(next(lines))["a-metadata"]
        assert meta["creation-date"] == "2025-03-01T12:30:00"
        assert meta["job-name"] == "labeling-job/x"


def test_a_label_outside_the_classes_is_refused_by_name() -> None:
    with pytest.raises(FormatError, match="'bus'") as error:
        manifest([record("bus")], "image_classification")
    assert error.value.code == "unknown_label"
    with pytest.raises(FormatError) as error:
        manifest([record("car")], "audio_classification")
    assert error.value.code == "unknown_task_type"


# --------------------------------------------------------------------------- CSV and COCO


def test_csv_reads_back_with_pandas_and_json_labels() -> None:
    records = [
        record(BOXES, confidence=0.5),
        record([], item=2, source="auto", confidence=None),
        record(None, item=3),
    ]
    frame = pd.read_csv(io.StringIO(to_csv(records, task_type="bounding_box")))
    assert list(frame.columns) == ["item_id", "row", "source", "label", "confidence", "source_kind"]
    assert frame["item_id"].tolist() == [1, 2, 3]
    assert frame["row"].tolist() == [0, 1, 2]
    assert frame["source"][0] == "images/000001.png"
    assert json.loads(frame["label"][0]) == BOXES
    assert json.loads(frame["label"][1]) == []
    assert pd.isna(frame["label"][2])
    assert frame["confidence"][0] == 0.5 and pd.isna(frame["confidence"][1])
    assert frame["source_kind"].tolist() == ["human", "auto", "human"]


def test_csv_keeps_class_names_and_awkward_text_as_they_are() -> None:
    text = 'He said "hi",\nthen left'
    out = to_csv([record("car", source_ref=text)], task_type="text_classification")
    frame = pd.read_csv(io.StringIO(out))
    assert frame["label"][0] == "car" and frame["source"][0] == text


def test_coco_has_images_boxes_with_areas_and_categories_from_one() -> None:
    coco = to_coco([record(BOXES), record([], item=7, width=64, height=48)], labels=LABELS)
    assert coco["images"] == [
        {"id": 1, "file_name": "images/000001.png", "width": 200, "height": 100},
        {"id": 7, "file_name": "images/000007.png", "width": 64, "height": 48},
    ]
    assert coco["categories"] == [
        {"id": 1, "name": "car", "supercategory": ""},
        {"id": 2, "name": "person", "supercategory": ""},
        {"id": 3, "name": "tree", "supercategory": ""},
    ]
    first, second = coco["annotations"]
    assert (first["id"], first["image_id"], first["category_id"]) == (1, 1, 1)
    assert first["bbox"] == [10, 20, 30, 40] and first["area"] == 1200 and first["iscrowd"] == 0
    assert (second["id"], second["category_id"]) == (2, 3)
    assert second["area"] == pytest.approx(49.5 * 99.75)
    json.dumps(coco)  # plain JSON all the way down


def test_coco_segmentation_has_polygons_and_column_major_masks() -> None:
    mask = np.zeros((100, 200), dtype=bool)
    mask[5:15, 100:140] = True
    brush = {"label": "tree", "rle": encode_rle(mask), "size": [100, 200]}
    coco = to_coco([record([POLYGON, brush])], labels=LABELS, task_type="semantic_segmentation")
    polygon, crowd = coco["annotations"]
    assert polygon["segmentation"] == [[10, 10, 60, 10, 60, 50, 10, 50]]
    assert polygon["area"] == 2000 and polygon["bbox"] == [10, 10, 50, 40]
    assert polygon["iscrowd"] == 0 and polygon["category_id"] == 2
    assert crowd["iscrowd"] == 1 and crowd["area"] == 400
    assert crowd["bbox"] == [100, 5, 40, 10]
    rle = crowd["segmentation"]
    assert rle["size"] == [100, 200]
    # COCO's runs go down the columns: decoding them as rows of the transpose gives the mask.
    assert np.array_equal(decode_rle(rle["counts"], 200, 100).T, mask)
    with pytest.raises(FormatError):
        to_coco([record("car")], labels=LABELS, task_type="image_classification")


# --------------------------------------------------------------------------- Label Studio


def round_trip(records: list[dict[str, Any]], task_type: str, data_key: str) -> list[Any]:
    tasks = json.loads(
        json.dumps(to_label_studio(records, task_type=task_type, labels=LABELS, data_key=data_key))
    )
    back = from_label_studio(tasks, task_type=task_type, labels=LABELS)
    assert [row for row, _ in back] == [r["row"] for r in records]
    return [label for _, label in back]


def test_classes_survive_a_trip_through_label_studio() -> None:
    records = [record("car"), record("tree", item=2, source="auto")]
    assert round_trip(records, "image_classification", "image") == ["car", "tree"]
    tasks = to_label_studio(
        records, task_type="image_classification", labels=LABELS, data_key="image"
    )
    assert tasks[0]["data"] == {"image": "images/000001.png", "sextant_row": 0}
    (result,) = tasks[0]["annotations"][0]["result"]
    assert result["type"] == "choices" and result["value"] == {"choices": ["car"]}
    assert (result["from_name"], result["to_name"]) == ("label", "image")
    # Auto-labels are predictions, so Label Studio offers them to be checked.
    assert "annotations" not in tasks[1]
    assert tasks[1]["predictions"][0]["score"] == 0.87


def test_several_classes_survive_a_trip_through_label_studio() -> None:
    records = [record(["car", "tree"], source_ref="t1"), record([], item=2, source_ref="t2")]
    assert round_trip(records, "text_multilabel", "text") == [["car", "tree"], []]


def test_spans_survive_a_trip_through_label_studio_with_their_text() -> None:
    records = [record(SPANS, source_ref=TEXT)]
    assert round_trip(records, "ner", "text") == [SPANS]
    (task,) = to_label_studio(records, task_type="ner", labels=LABELS, data_key="text")
    values = [r["value"] for r in task["annotations"][0]["result"]]
    assert [v["text"] for v in values] == ["Ada Lovelace", "car"]
    assert values[0]["labels"] == ["person"]


def test_boxes_survive_a_trip_through_label_studio_in_percent() -> None:
    (back,) = round_trip([record(BOXES, width=333, height=77)], "bounding_box", "image")
    assert [b["label"] for b in back] == ["car", "tree"]
    for got, want in zip(back, BOXES, strict=True):
        for key in ("x", "y", "w", "h"):
            assert got[key] == pytest.approx(want[key], rel=1e-6)
    (task,) = to_label_studio(
        [record(BOXES)], task_type="bounding_box", labels=LABELS, data_key="image"
    )
    first = task["annotations"][0]["result"][0]
    assert first["type"] == "rectanglelabels"
    assert (first["original_width"], first["original_height"]) == (200, 100)
    assert first["value"]["x"] == pytest.approx(5.0) and first["value"]["height"] == 40.0


def test_polygons_survive_a_trip_through_label_studio_in_percent() -> None:
    (back,) = round_trip([record([POLYGON])], "semantic_segmentation", "image")
    assert back[0]["label"] == "person"
    assert np.allclose(back[0]["points"], POLYGON["points"], rtol=1e-6)


def test_brush_masks_survive_a_trip_through_label_studio_in_its_rle() -> None:
    mask = np.zeros((100, 200), dtype=bool)
    mask[20:60, 30:170] = True
    mask[99, 199] = True
    brush = {"label": "tree", "rle": encode_rle(mask), "size": [100, 200]}
    (back,) = round_trip([record([POLYGON, brush])], "semantic_segmentation", "image")
    assert back[0]["label"] == "person"
    assert back[1] == brush
    (task,) = to_label_studio(
        [record([brush])], task_type="semantic_segmentation", labels=LABELS, data_key="image"
    )
    (result,) = task["annotations"][0]["result"]
    assert result["type"] == "brushlabels"
    assert (result["from_name"], result["to_name"]) == ("brush", "image")
    assert (result["original_width"], result["original_height"]) == (200, 100)
    assert result["value"]["format"] == "rle" and result["value"]["brushlabels"] == ["tree"]
    assert np.array_equal(brush_rle.decode(result["value"]["rle"], 100, 200), mask)


def test_a_label_studio_brush_mask_imports_as_our_runs() -> None:
    # Bytes Label Studio's own encoder wrote for a 3×4 mask.
    mask = np.zeros((3, 4), dtype=bool)
    mask[1, 1:3] = True
    mask[2, 3] = True
    value = {"format": "rle", "rle": LS_SMALL, "brushlabels": ["car"]}
    item = {"type": "brushlabels", "value": value, "original_width": 4, "original_height": 3}
    tasks = [{"data": {"image": "a.png"}, "annotations": [{"result": [item]}]}]
    ((row, label),) = from_label_studio(tasks, task_type="semantic_segmentation", labels=LABELS)
    assert row is None
    assert label == [{"label": "car", "rle": encode_rle(mask), "size": [3, 4]}]


def test_tracks_survive_a_trip_through_label_studio() -> None:
    (back,) = round_trip([record(TRACKS, width=640, height=360)], "video_tracking", "video")
    assert [(t["id"], t["label"]) for t in back] == [(1, "car"), (2, "person")]
    for got, want in zip(back, TRACKS, strict=True):
        assert [b["frame"] for b in got["boxes"]] == [b["frame"] for b in want["boxes"]]
        for g, w in zip(got["boxes"], want["boxes"], strict=True):
            assert [g[k] for k in "xywh"] == pytest.approx([w[k] for k in "xywh"], rel=1e-6)
    (task,) = to_label_studio(
        [record(TRACKS)], task_type="video_tracking", labels=LABELS, data_key="video"
    )
    sequence = task["annotations"][0]["result"][0]["value"]["sequence"]
    assert [s["frame"] for s in sequence] == [1, 2, 5]  # Label Studio counts from 1
    assert [s["enabled"] for s in sequence] == [True, True, False]


def test_pre_annotations_come_from_predictions_when_nobody_annotated() -> None:
    choice = {"type": "choices", "value": {"choices": ["tree"]}}
    other = {"type": "choices", "value": {"choices": ["car"]}}
    tasks = [
        {"data": {"image": "a.png"}, "predictions": [{"result": [choice]}]},
        {
            "data": {"image": "b.png", "sextant_row": 4},
            "annotations": [{"was_cancelled": True, "result": []}, {"result": [other]}],
            "predictions": [{"result": [choice]}],
        },
        {"data": {"image": "c.png"}},
    ]
    assert from_label_studio(tasks, task_type="image_classification", labels=LABELS) == [
        (None, "tree"),
        (4, "car"),
        (None, None),
    ]


@pytest.mark.parametrize(
    ("tasks", "task_type", "code"),
    [
        ({"data": {}}, "image_classification", "malformed_tasks"),
        (["not a task"], "image_classification", "malformed_task"),
        ([{"data": {}, "annotations": {"result": []}}], "image_classification", "malformed_task"),
        (
            [{"data": {}, "annotations": [{"result": [{"type": "choices"}]}]}],
            "image_classification",
            "malformed_result",
        ),
        (
            [
                {
                    "data": {},
                    "annotations": [
                        {"result": [{"type": "choices", "value": {"choices": ["bus"]}}]}
                    ],
                }
            ],
            "image_classification",
            "unknown_label",
        ),
        (
            [
                {
                    "data": {},
                    "annotations": [
                        {"result": [{"type": "choices", "value": {"choices": ["car", "tree"]}}]}
                    ],
                }
            ],
            "image_classification",
            "ambiguous_choice",
        ),
        (
            [
                {
                    "data": {},
                    "annotations": [
                        {
                            "result": [
                                {
                                    "type": "rectanglelabels",
                                    "value": {"x": 1, "y": 1, "width": 5, "height": 5,
                                              "rectanglelabels": ["car"]},
                                }
                            ]
                        }
                    ],
                }
            ],
            "bounding_box",
            "missing_size",
        ),
        (
            [
                {
                    "data": {},
                    "annotations": [
                        {"result": [{"type": "brushlabels", "value": {"brushlabels": ["car"]}}]}
                    ],
                }
            ],
            "bounding_box",
            "unsupported_shape",
        ),
        (
            [
                {
                    "data": {},
                    "annotations": [
                        {
                            "result": [
                                {
                                    "type": "brushlabels",
                                    "original_width": 4,
                                    "original_height": 3,
                                    "value": {"brushlabels": ["car"]},
                                }
                            ]
                        }
                    ],
                }
            ],
            "semantic_segmentation",
            "malformed_result",
        ),
        (
            [
                {
                    "data": {},
                    "annotations": [
                        {
                            "result": [
                                {
                                    "type": "brushlabels",
                                    "original_width": 5,  # LS_SMALL is 3×4
                                    "original_height": 3,
                                    "value": {"rle": LS_SMALL, "brushlabels": ["car"]},
                                }
                            ]
                        }
                    ],
                }
            ],
            "semantic_segmentation",
            "malformed_result",
        ),
        (
            [
                {
                    "data": {},
                    "annotations": [
                        {"result": [{"type": "labels", "value": {"start": "0", "end": 3,
                                                                  "labels": ["car"]}}]}
                    ],
                }
            ],
            "ner",
            "malformed_result",
        ),
        ([{"data": {}}], "verification", "unsupported_task_type"),
    ],
)  # fmt: skip
def test_label_studio_input_that_cannot_be_read_is_refused_with_a_reason(
    tasks: Any, task_type: str, code: str
) -> None:
    with pytest.raises(FormatError) as error:
        from_label_studio(tasks, task_type=task_type, labels=LABELS)
    assert error.value.code == code
    assert error.value.message


def test_the_label_studio_config_names_what_the_export_uses() -> None:
    config = label_studio_config(task_type="bounding_box", labels=LABELS, data_key="image")
    assert '<Image name="image" value="$image"/>' in config
    assert '<RectangleLabels name="label" toName="image">' in config
    assert '<Label value="tree"/>' in config
    segmentation = label_studio_config(
        task_type="semantic_segmentation", labels=LABELS, data_key="image"
    )
    assert '<PolygonLabels name="label" toName="image">' in segmentation
    assert '<BrushLabels name="brush" toName="image">' in segmentation
    ner = label_studio_config(task_type="ner", labels=["A&B"], data_key="text")
    assert '<Labels name="label" toName="text"><Label value="A&amp;B"/>' in ner
