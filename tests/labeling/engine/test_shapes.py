"""The label shapes of each task type and their checks (no database)."""

from __future__ import annotations

import pytest

from labeling.engine.shapes import Geometry, LabelError, check_label, check_verdict

LABELS = ["car", "person", "tree"]


def test_a_class_must_be_one_of_the_labels() -> None:
    assert check_label("text_classification", "car", labels=LABELS) == "car"
    with pytest.raises(LabelError, match="Unknown class 'bus'"):
        check_label("image_classification", "bus", labels=LABELS)
    with pytest.raises(LabelError, match="by its name"):
        check_label("text_classification", 1, labels=LABELS)


def test_multilabel_answers_are_distinct_and_kept_in_label_order() -> None:
    assert check_label("text_multilabel", ["tree", "car"], labels=LABELS) == ["car", "tree"]
    assert check_label("image_multilabel", [], labels=LABELS) == []
    with pytest.raises(LabelError, match="twice"):
        check_label("text_multilabel", ["car", "car"], labels=LABELS)


def test_spans_lie_inside_the_text_and_come_back_sorted() -> None:
    spans = [{"label": "person", "start": 10, "end": 14}, {"label": "car", "start": 0, "end": 3}]
    out = check_label("ner", spans, labels=LABELS, geometry=Geometry(text_length=20))
    assert [s["start"] for s in out] == [0, 10]
    with pytest.raises(LabelError, match="not a span"):
        check_label(
            "ner",
            [{"label": "car", "start": 5, "end": 25}],
            labels=LABELS,
            geometry=Geometry(text_length=20),
        )
    with pytest.raises(LabelError, match="not a span"):
        check_label("ner", [{"label": "car", "start": 5, "end": 5}], labels=LABELS)


def test_boxes_are_positive_and_inside_the_image() -> None:
    box = {"label": "car", "x": 1, "y": 2, "w": 10, "h": 5, "extra": "dropped"}
    out = check_label("bounding_box", [box], labels=LABELS, geometry=Geometry(width=20, height=10))
    assert out == [{"label": "car", "x": 1.0, "y": 2.0, "w": 10.0, "h": 5.0}]
    for bad, message in [
        ({**box, "w": 0}, "positive"),
        ({**box, "x": -3}, "outside"),
        ({**box, "x": 15}, "width"),
        ({**box, "h": "5"}, "number"),
        ({**box, "h": float("nan")}, "number"),
    ]:
        with pytest.raises(LabelError, match=message):
            check_label(
                "bounding_box", [bad], labels=LABELS, geometry=Geometry(width=20, height=10)
            )


def test_masks_are_polygons_or_run_lengths_covering_the_image() -> None:
    polygon = {"label": "tree", "points": [[0, 0], [4, 0], [4, 3]]}
    brush = {"label": "car", "rle": [5, 2, 5], "size": [3, 4]}
    out = check_label(
        "semantic_segmentation",
        [polygon, brush],
        labels=LABELS,
        geometry=Geometry(width=4, height=3),
    )
    assert out[0]["points"][1] == [4.0, 0.0] and out[1]["rle"] == [5, 2, 5]
    with pytest.raises(LabelError, match="cover 11 pixels"):
        check_label("semantic_segmentation", [{**brush, "rle": [5, 1, 5]}], labels=LABELS)
    with pytest.raises(LabelError, match="3 to"):
        check_label("semantic_segmentation", [{"label": "car", "points": [[0, 0]]}], labels=LABELS)


def test_tracks_have_one_box_per_frame_within_the_sequence() -> None:
    track = {
        "id": 1,
        "label": "car",
        "boxes": [
            {"frame": 2, "x": 1, "y": 1, "w": 2, "h": 2, "keyframe": True},
            {"frame": 0, "x": 0, "y": 0, "w": 2, "h": 2},
        ],
    }
    out = check_label("video_tracking", [track], labels=LABELS, geometry=Geometry(frames=3))
    assert [b["frame"] for b in out[0]["boxes"]] == [0, 2]
    assert out[0]["boxes"][1]["keyframe"] is True
    with pytest.raises(LabelError, match="only 3 frames"):
        check_label(
            "video_tracking",
            [{**track, "boxes": [{"frame": 3, "x": 0, "y": 0, "w": 1, "h": 1}]}],
            labels=LABELS,
            geometry=Geometry(frames=3),
        )
    with pytest.raises(LabelError, match="used twice"):
        check_label("video_tracking", [track, track], labels=LABELS)


def test_a_verdict_accepts_or_adjusts_with_a_label_of_the_reviewed_kind() -> None:
    assert check_verdict("text_classification", {"verdict": "accept"}, labels=LABELS) == {
        "verdict": "accept"
    }
    adjusted = check_verdict(
        "text_classification", {"verdict": "adjust", "label": "tree"}, labels=LABELS
    )
    assert adjusted == {"verdict": "adjust", "label": "tree"}
    with pytest.raises(LabelError):
        check_verdict("text_classification", {"verdict": "adjust"}, labels=LABELS)
    with pytest.raises(LabelError):
        check_verdict("text_classification", "yes", labels=LABELS)
