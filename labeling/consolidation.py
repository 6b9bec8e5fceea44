"""From stored answers (label JSON) to the engine's consolidation and back.

Two passes: an item is consolidated on its own as soon as its last answer arrives (so the
labels and the dashboard are live), and the finishing pass consolidates single-label
classification jobs as a whole with Dawid–Skene, which needs every worker's answers at once
to learn each worker's confusion matrix. Reviews (items sent back) win over the earlier
answers, and a gold item's label is its known answer.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from labeling.engine.shapes import CLASSIFICATION, MULTILABEL, Geometry
from labeling.models import Consolidation, LabelingItem, LabelingJob, TaskType

if TYPE_CHECKING:
    import numpy as np

# Boxes or spans that match at least this well count as the same in agreement scores.
MATCH_IOU = 0.5


def geometry_of(data: dict[str, Any]) -> Geometry:
    """What an item's labels are checked against: its text's length or image size."""
    text = data.get("text")
    return Geometry(
        text_length=len(text) if isinstance(text, str) else None,
        width=data.get("width"),
        height=data.get("height"),
        frames=len(data["frames"]) if isinstance(data.get("frames"), list) else None,
    )


def consolidate_item(
    job: LabelingJob, item: LabelingItem, answers: Sequence[Any]
) -> tuple[Any, float]:
    """One item's label and confidence from its workers' answers."""
    if job.task_type == TaskType.VERIFICATION:
        return _verification(job, item, answers)
    return consolidate_answers(job.task_type, answers, labels=job.labels, data=item.data)


def consolidate_answers(
    kind: str, answers: Sequence[Any], *, labels: Sequence[str], data: dict[str, Any]
) -> tuple[Any, float]:
    import numpy as np

    from labeling.engine.consolidate import (
        Box,
        Span,
        consolidate_boxes,
        consolidate_masks,
        consolidate_spans,
        consolidate_tracks,
        majority_vote,
        mask_to_shapes,
        multilabel_vote,
        rasterize,
    )

    if not answers:
        return None, 0.0
    if kind in CLASSIFICATION:
        index = {name: k for k, name in enumerate(labels)}
        n = len(answers)
        result = majority_vote(
            np.zeros(n, dtype=np.int64),
            np.arange(n),
            np.array([index[a] for a in answers]),
            n_items=1,
            n_classes=len(labels),
        )
        return labels[int(result.labels[0])], float(result.confidence[0])
    if kind in MULTILABEL:
        multi = multilabel_vote([list(answers)], labels=labels)[0]
        return list(multi.labels), multi.confidence
    if kind == TaskType.NER:
        spans = consolidate_spans(
            [[Span(s["label"], s["start"], s["end"]) for s in a] for a in answers]
        )
        out = [{"label": s.label, "start": s.start, "end": s.end} for s in spans]
        return out, _shapes_confidence([s.confidence for s in spans], answers)
    if kind == TaskType.BOUNDING_BOX:
        boxes = consolidate_boxes(
            [[Box(b["label"], b["x"], b["y"], b["w"], b["h"]) for b in a] for a in answers]
        )
        out = [
            {"label": b.label, "x": b.x, "y": b.y, "w": b.w, "h": b.h, "confidence": b.confidence}
            for b in boxes
        ]
        return out, _shapes_confidence([b.confidence for b in boxes], answers)
    if kind == TaskType.SEMANTIC_SEGMENTATION:
        width, height = _mask_size(answers, data)
        masks = [rasterize(a, width=width, height=height, labels=labels) for a in answers]
        mask = consolidate_masks(masks, n_classes=len(labels))
        return mask_to_shapes(mask.mask, labels), float(mask.confidence)
    if kind == TaskType.VIDEO_TRACKING:
        tracks = consolidate_tracks(list(answers))
        out = [
            {"id": t["id"], "label": t["label"], "boxes": t["boxes"], "confidence": t["confidence"]}
            for t in tracks
        ]
        return out, _shapes_confidence([t["confidence"] for t in tracks], answers)
    raise ValueError(f"unknown label kind {kind!r}")


def _shapes_confidence(confidences: Sequence[float], answers: Sequence[Any]) -> float:
    """The mean confidence of the kept shapes; with none kept, how many workers agreed
    there was nothing to mark."""
    import numpy as np

    if confidences:
        return float(np.mean(confidences))
    return sum(1 for a in answers if not a) / len(answers)


def _mask_size(answers: Sequence[Any], data: dict[str, Any]) -> tuple[int, int]:
    if data.get("width") and data.get("height"):
        return int(data["width"]), int(data["height"])
    for answer in answers:
        for shape in answer:
            if "size" in shape:
                return int(shape["size"][1]), int(shape["size"][0])
    xs = [p[0] for a in answers for s in a for p in s.get("points", [])] or [1]
    ys = [p[1] for a in answers for s in a for p in s.get("points", [])] or [1]
    return int(max(xs)) + 1, int(max(ys)) + 1


def _verification(
    job: LabelingJob, item: LabelingItem, answers: Sequence[Any]
) -> tuple[Any, float]:
    """Accepted by most: the pre-annotation stands. Else the adjusters' labels, consolidated."""
    accepts = sum(1 for a in answers if a.get("verdict") == "accept")
    share = accepts / len(answers)
    if share >= 0.5:
        return item.pre_annotation, share
    adjusted = [a["label"] for a in answers if a.get("verdict") == "adjust"]
    label, confidence = consolidate_answers(
        job.verifies, adjusted, labels=job.labels, data=item.data
    )
    return label, (1 - share) * confidence


# --- agreement ------------------------------------------------------------------------------
def similarity(kind: str, a: Any, b: Any) -> float | None:
    """How far two labels of one item agree, 0 to 1 (None where no simple measure fits)."""
    if kind in CLASSIFICATION:
        return float(a == b)
    if isinstance(a, dict) and "verdict" in a:
        a = a.get("label") if a["verdict"] == "adjust" else b
    if kind in MULTILABEL:
        sa, sb = set(a or []), set(b or [])
        return 1.0 if not sa and not sb else len(sa & sb) / len(sa | sb)
    if kind in (TaskType.BOUNDING_BOX, TaskType.NER):
        return _match_f1(kind, a or [], b or [])
    return None


def _match_f1(kind: str, a: list[dict[str, Any]], b: list[dict[str, Any]]) -> float:
    from labeling.engine.consolidate import (
        Box,
        iou,
    )

    if not a and not b:
        return 1.0
    used: set[int] = set()
    matched = 0
    for x in a:
        for j, y in enumerate(b):
            if j in used or x["label"] != y["label"]:
                continue
            if kind == TaskType.NER:
                inter = max(0, min(x["end"], y["end"]) - max(x["start"], y["start"]))
                union = max(x["end"], y["end"]) - min(x["start"], y["start"])
                score = inter / union if union else 0.0
            else:
                score = iou(
                    Box(x["label"], x["x"], x["y"], x["w"], x["h"]),
                    Box(y["label"], y["x"], y["y"], y["w"], y["h"]),
                )
            if score >= MATCH_IOU:
                used.add(j)
                matched += 1
                break
    return 2 * matched / (len(a) + len(b))


def consolidate_job(
    job: LabelingJob,
    items: Sequence[LabelingItem],
    answers: Sequence[tuple[int, str, Any]],
    *,
    reviewed: set[int],
) -> tuple[list[tuple[int, Any, float]], dict[str, Any]]:
    """The whole-job pass: new (item id, label, confidence) for human-labeled items, and
    each worker's quality (answers, agreement with the consolidated labels, gold accuracy).

    ``answers`` are (item id, worker name, label) of the first-pass (non-review) answers."""
    by_id = {item.pk: item for item in items}
    updates: list[tuple[int, Any, float]] = []
    human = [
        (item_id, worker, label)
        for item_id, worker, label in answers
        if item_id in by_id and by_id[item_id].source == "human"
    ]
    if job.task_type in CLASSIFICATION and job.consolidation == Consolidation.DAWID_SKENE and human:
        updates, quality = _dawid_skene(job, by_id, human, reviewed)
    else:
        quality = _generic_quality(job, by_id, human)
    return updates, quality


@dataclass(frozen=True)
class _Answers:
    """Classification answers as the engine takes them: int arrays and their index maps."""

    labels: list[str]
    item_ids: list[int]
    workers: list[str]
    items: np.ndarray
    worker_of: np.ndarray
    classes: np.ndarray
    gold: dict[int, int]

    @classmethod
    def of(
        cls,
        job: LabelingJob,
        by_id: dict[int, LabelingItem],
        answers: Sequence[tuple[int, str, Any]],
    ) -> _Answers:
        import numpy as np

        classes = {name: k for k, name in enumerate(job.labels)}
        item_ids = sorted({a[0] for a in answers})
        item_index = {pk: i for i, pk in enumerate(item_ids)}
        workers = sorted({a[1] for a in answers})
        worker_index = {w: i for i, w in enumerate(workers)}
        return cls(
            labels=list(job.labels),
            item_ids=item_ids,
            workers=workers,
            items=np.array([item_index[a[0]] for a in answers], dtype=np.int64),
            worker_of=np.array([worker_index[a[1]] for a in answers], dtype=np.int64),
            classes=np.array([classes[a[2]] for a in answers], dtype=np.int64),
            gold={
                item_index[pk]: classes[by_id[pk].gold_label]
                for pk in item_ids
                if by_id[pk].gold_label in classes
            },
        )


def _dawid_skene(
    job: LabelingJob,
    by_id: dict[int, LabelingItem],
    answers: Sequence[tuple[int, str, Any]],
    reviewed: set[int],
) -> tuple[list[tuple[int, Any, float]], dict[str, Any]]:
    """New labels of the human items from Dawid–Skene, and each worker's quality judged
    against them."""
    import numpy as np

    from labeling.engine.consolidate import (
        dawid_skene,
    )

    data = _Answers.of(job, by_id, answers)
    result = dawid_skene(
        data.items,
        data.worker_of,
        data.classes,
        n_items=len(data.item_ids),
        n_classes=len(data.labels),
        n_workers=len(data.workers),
        gold=data.gold,
    )
    updates = [
        (pk, data.labels[int(result.labels[i])], float(result.confidence[i]))
        for i, pk in enumerate(data.item_ids)
        if pk not in reviewed and by_id[pk].gold_label is None and result.labels[i] >= 0
    ]
    # What each item ends as: the new label, or the review's or the gold one it keeps.
    final = np.array(result.labels, dtype=np.int64)
    for i, pk in enumerate(data.item_ids):
        if pk in reviewed or by_id[pk].gold_label is not None:
            final[i] = data.labels.index(by_id[pk].label) if by_id[pk].label in data.labels else -1
    return updates, _class_quality(data, final)


def _class_quality(data: _Answers, consolidated: np.ndarray) -> dict[str, Any]:
    from labeling.engine.consolidate import (
        worker_quality,
    )

    rows = worker_quality(
        data.items,
        data.worker_of,
        data.classes,
        consolidated=consolidated,
        gold=data.gold,
        n_workers=len(data.workers),
    )
    return {
        data.workers[q.worker]: {
            "answers": q.answers,
            "agreement": q.agreement,
            "gold_answers": q.gold_answers,
            "gold_accuracy": q.gold_accuracy,
        }
        for q in rows
    }


def _generic_quality(
    job: LabelingJob, by_id: dict[int, LabelingItem], answers: Sequence[tuple[int, str, Any]]
) -> dict[str, Any]:
    import numpy as np

    kind = job.label_kind
    agree: dict[str, list[float]] = defaultdict(list)
    gold: dict[str, list[float]] = defaultdict(list)
    counts: dict[str, int] = defaultdict(int)
    for item_id, worker, label in answers:
        item = by_id[item_id]
        counts[worker] += 1
        score = similarity(kind, label, item.label)
        if score is not None:
            agree[worker].append(score)
        if item.gold_label is not None:
            gold_score = similarity(kind, label, item.gold_label)
            if gold_score is not None:
                gold[worker].append(gold_score)
    return {
        worker: {
            "answers": n,
            "agreement": float(np.mean(agree[worker])) if agree[worker] else None,
            "gold_answers": len(gold[worker]),
            "gold_accuracy": float(np.mean(gold[worker])) if gold[worker] else None,
        }
        for worker, n in counts.items()
    }
