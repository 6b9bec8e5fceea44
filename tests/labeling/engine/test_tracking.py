"""Assisted video tracking: boxes filled in between keyframes, and boxes linked into tracks
(no database)."""

from __future__ import annotations

import pytest

from labeling.engine.tracking import interpolate_track, keyframes_of, track_from_boxes


def box(frame: int, x: float, y: float = 0.0, w: float = 10.0, h: float = 10.0) -> dict[str, float]:
    return {"frame": frame, "x": x, "y": y, "w": w, "h": h}


def test_frames_between_keyframes_are_filled_in_linearly() -> None:
    out = interpolate_track([box(6, 40, 8, 20, 30), box(2, 0, 0, 10, 10)], n_frames=10)
    assert [b["frame"] for b in out] == [2, 3, 4, 5, 6]
    assert [b["keyframe"] for b in out] == [True, False, False, False, True]
    middle = out[2]
    assert (middle["x"], middle["y"], middle["w"], middle["h"]) == (20, 4, 15, 20)
    assert out[1]["x"] == pytest.approx(10.0)
    # Keyframes keep their boxes exactly.
    assert out[-1] == {"frame": 6, "x": 40, "y": 8, "w": 20, "h": 30, "keyframe": True}


def test_no_box_before_the_first_keyframe_or_after_the_last() -> None:
    out = interpolate_track([box(3, 5)], n_frames=8)
    assert out == [{"frame": 3, "x": 5, "y": 0, "w": 10, "h": 10, "keyframe": True}]
    assert interpolate_track([], n_frames=8) == []


def test_an_object_that_leaves_the_picture_has_no_boxes_until_it_returns() -> None:
    keys = [box(0, 0), box(2, 20), {**box(3, 30), "outside": True}, box(6, 60), box(7, 70)]
    out = interpolate_track(keys, n_frames=10)
    assert [b["frame"] for b in out] == [0, 1, 2, 6, 7]


def test_interpolating_again_ignores_the_boxes_filled_in_before() -> None:
    first = interpolate_track([box(0, 0), box(4, 40)], n_frames=5)
    # A person moves the last keyframe; the filled-in boxes follow it.
    moved = [b if b["frame"] != 4 else {**b, "x": 80} for b in first]
    again = interpolate_track(moved, n_frames=5)
    assert [b["x"] for b in again] == [0, 20, 40, 60, 80]
    assert keyframes_of(again) == [box(0, 0), box(4, 80)]


def test_keyframes_outside_the_video_or_twice_on_a_frame_are_refused() -> None:
    with pytest.raises(ValueError, match="outside"):
        interpolate_track([box(10, 0)], n_frames=10)
    with pytest.raises(ValueError, match="two keyframes"):
        interpolate_track([box(1, 0), box(1, 5)], n_frames=10)
    with pytest.raises(ValueError, match="numbers"):
        interpolate_track([{"frame": 1, "x": 0}], n_frames=10)


def test_boxes_found_frame_by_frame_become_tracks() -> None:
    frames = [
        [{"label": "car", **box(0, 0)}, {"label": "person", **box(0, 100)}],
        [{"label": "person", **box(1, 102)}, {"label": "car", **box(1, 3)}],
        [{"label": "car", **box(2, 6)}],
        # The car jumps across the picture: a new object, not the same one.
        [{"label": "car", **box(3, 300)}],
    ]
    for boxes in frames:
        for b in boxes:
            b.pop("frame")
    tracks = track_from_boxes(frames)
    assert [(t["id"], t["label"]) for t in tracks] == [(1, "car"), (2, "person"), (3, "car")]
    assert [b["frame"] for b in tracks[0]["boxes"]] == [0, 1, 2]
    assert [b["x"] for b in tracks[0]["boxes"]] == [0, 3, 6]
    assert [b["frame"] for b in tracks[1]["boxes"]] == [0, 1]
    assert tracks[2]["boxes"] == [{"frame": 3, "x": 300, "y": 0, "w": 10, "h": 10}]


def test_a_box_of_another_class_does_not_continue_a_track() -> None:
    frames = [[{"label": "car", "x": 0, "y": 0, "w": 10, "h": 10}],
              [{"label": "person", "x": 0, "y": 0, "w": 10, "h": 10}]]  # fmt: skip
    assert [t["label"] for t in track_from_boxes(frames)] == ["car", "person"]
