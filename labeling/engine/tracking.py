"""Assisted video tracking: a person draws an object's box on a few keyframes, and the
frames between them are filled in; boxes found frame by frame are linked into tracks.

Boxes are ``{"frame", "x", "y", "w", "h"}`` in pixels, ``(x, y)`` the top left; frames count
from 0. Invariants: an interpolated track has exactly one box per frame from its first
keyframe to its last (within the video), keyframes keep their boxes exactly, and every box
says whether a person drew it (``"keyframe": True``) or it was filled in (False). A keyframe
marked ``"outside": True`` says the object left the picture: no box is filled in between it
and the next keyframe.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

import numpy as np

COORDINATES: Final = ("x", "y", "w", "h")


def interpolate_track(
    keyframes: Sequence[Mapping[str, Any]], *, n_frames: int
) -> list[dict[str, Any]]:
    """One box per frame between the first and the last keyframe, linear in x, y, w and h.

    Boxes marked ``"keyframe": False`` in the input (the output of an earlier call) are not
    keyframes and are recomputed, so that moving one keyframe and interpolating again
    gives the same track as starting from the keyframes alone.
    """
    keys: dict[int, Mapping[str, Any]] = {}
    for box in keyframes:
        if box.get("keyframe", True) is False:
            continue
        frame = box.get("frame")
        if not isinstance(frame, int) or isinstance(frame, bool):
            raise ValueError(f"A keyframe's frame is a frame number, not {frame!r}.")
        if not 0 <= frame < n_frames:
            raise ValueError(f"Frame {frame} is outside the video's {n_frames} frames.")
        if frame in keys:
            raise ValueError(f"Frame {frame} has two keyframes.")
        keys[frame] = box
    frames = sorted(keys)
    out: list[dict[str, Any]] = []
    for i, frame in enumerate(frames):
        box = keys[frame]
        if box.get("outside"):
            continue
        out.append({"frame": frame, **_coordinates(box), "keyframe": True})
        following = frames[i + 1] if i + 1 < len(frames) else None
        if following is None:
            break
        start, end = _coordinates(box), _coordinates(keys[following])
        span = following - frame
        for step in range(1, span):
            share = step / span
            out.append(
                {
                    "frame": frame + step,
                    **{k: start[k] + (end[k] - start[k]) * share for k in COORDINATES},
                    "keyframe": False,
                }
            )
    return out


def keyframes_of(boxes: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The boxes a person drew, out of a track's boxes (all of them when none is marked)."""
    return [
        {"frame": int(b["frame"]), **_coordinates(b)}
        for b in boxes
        if b.get("keyframe", True) is not False
    ]


def track_from_boxes(
    frames: Sequence[Sequence[Mapping[str, Any]]], *, min_iou: float = 0.3
) -> list[dict[str, Any]]:
    """Tracks ``[{"id", "label", "boxes"}]`` from boxes found frame by frame (``frames[t]``
    the boxes ``{"label", "x", "y", "w", "h"}`` of frame ``t``).

    Each frame's boxes continue the tracks of the frame before with the same label, paired
    to maximise the total overlap (only pairs with IoU ≥ ``min_iou``); a box left over
    starts a track, and a track with no box in a frame ends. Ids count from 1 in order of
    appearance.
    """
    from scipy.optimize import linear_sum_assignment

    tracks: list[dict[str, Any]] = []
    open_tracks: list[int] = []  # indices into tracks continued in the last frame
    for frame, boxes in enumerate(frames):
        boxes = list(boxes)
        pairs: list[tuple[int, int]] = []
        if open_tracks and boxes:
            overlap = np.array(
                [
                    [
                        _iou(tracks[t]["boxes"][-1], box)
                        if tracks[t]["label"] == box.get("label")
                        else 0.0
                        for box in boxes
                    ]
                    for t in open_tracks
                ]
            )
            rows, cols = linear_sum_assignment(-overlap)
            pairs = [
                (open_tracks[r], int(c))
                for r, c in zip(rows, cols, strict=True)
                if overlap[r, c] >= min_iou
            ]
        continued = []
        used = set()
        for track, index in pairs:
            tracks[track]["boxes"].append({"frame": frame, **_coordinates(boxes[index])})
            continued.append(track)
            used.add(index)
        for index, box in enumerate(boxes):
            if index in used:
                continue
            tracks.append(
                {
                    "id": len(tracks) + 1,
                    "label": box.get("label"),
                    "boxes": [{"frame": frame, **_coordinates(box)}],
                }
            )
            continued.append(len(tracks) - 1)
        open_tracks = continued
    return tracks


def _coordinates(box: Mapping[str, Any]) -> dict[str, float]:
    try:
        return {k: float(box[k]) for k in COORDINATES}
    except (KeyError, TypeError, ValueError):
        raise ValueError(f"A box has numbers x, y, w and h, not {dict(box)!r}.")


def _iou(a: Mapping[str, Any], b: Mapping[str, Any]) -> float:
    """Intersection over union of two boxes (its own, so that tracking needs nothing else)."""
    ax, ay, aw, ah = (float(a[k]) for k in COORDINATES)
    bx, by, bw, bh = (float(b[k]) for k in COORDINATES)
    width = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    height = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    inter = width * height
    union = aw * ah + bw * bh - inter
    return inter / union if union > 0 else 0.0
