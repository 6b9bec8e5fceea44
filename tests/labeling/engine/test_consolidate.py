"""Annotation consolidation (``labeling.engine.consolidate``): classes, labels, spans, boxes,
masks, tracks and worker quality, on small made-up answers; no database."""

from __future__ import annotations

import numpy as np
import pytest

from labeling.engine.consolidate import (
    Box,
    Span,
    consolidate_boxes,
    consolidate_masks,
    consolidate_spans,
    consolidate_tracks,
    dawid_skene,
    decode_rle,
    encode_rle,
    iou,
    majority_vote,
    mask_to_shapes,
    multilabel_vote,
    rasterize,
    worker_quality,
)

K = 5


def confusions(rng: np.random.Generator, *, good: int, spammers: int, biased: int) -> np.ndarray:
    """``[worker, true class, answered class]`` for diligent workers, spammers (uniform
    answers) and biased workers (the next class 60% of the time, right 30%)."""
    out = []
    for _ in range(good):
        accuracy = rng.uniform(0.7, 0.9)
        m = np.full((K, K), (1 - accuracy) / (K - 1))
        np.fill_diagonal(m, accuracy)
        out.append(m)
    out.extend(np.full((K, K), 1 / K) for _ in range(spammers))
    for _ in range(biased):
        m = np.full((K, K), 0.1 / (K - 2))
        np.fill_diagonal(m, 0.3)
        m[np.arange(K), (np.arange(K) + 1) % K] = 0.6
        out.append(m)
    return np.array(out)


def simulate(
    rng: np.random.Generator, confusion: np.ndarray, *, n_items: int, per_item: int = 3
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Truth, then the (item, worker, class) answers of ``per_item`` distinct workers."""
    n_workers = len(confusion)
    truth = rng.integers(0, K, n_items)
    workers = np.argsort(rng.random((n_items, n_workers)), axis=1)[:, :per_item].ravel()
    items = np.repeat(np.arange(n_items), per_item)
    cumulative = confusion[workers, truth[items]].cumsum(axis=1)
    classes = np.minimum((rng.random(len(items))[:, None] > cumulative).sum(axis=1), K - 1)
    return truth, items, workers, classes


# --------------------------------------------------------------------------- classes


def test_dawid_skene_beats_majority_vote_on_workers_with_known_confusion_matrices() -> None:
    rng = np.random.default_rng(3)
    confusion = confusions(rng, good=14, spammers=8, biased=8)
    truth, items, workers, classes = simulate(rng, confusion, n_items=2000)

    vote = majority_vote(items, workers, classes, n_items=2000, n_classes=K)
    ds = dawid_skene(items, workers, classes, n_items=2000, n_classes=K, n_workers=30)

    vote_accuracy = (vote.labels == truth).mean()
    ds_accuracy = (ds.labels == truth).mean()
    assert ds_accuracy > vote_accuracy + 0.1
    assert ds_accuracy > 0.7
    assert 1 < ds.iterations <= 100
    # The confusion matrices come back roughly: ~200 answers a worker, ~40 per row.
    assert ds.worker_confusion is not None
    assert np.abs(ds.worker_confusion - confusion).mean() < 0.1
    diagonal = np.diagonal(ds.worker_confusion, axis1=1, axis2=2).mean(axis=1)
    assert diagonal[:14].min() > 0.55  # the diligent
    assert diagonal[14:22].max() < 0.35  # the spammers
    # The biased workers' strongest answer is the next class, for most true classes.
    strongest = ds.worker_confusion[22:].argmax(axis=2)
    assert (strongest == (np.arange(K) + 1) % K).mean() > 0.8
    np.testing.assert_allclose(ds.posteriors.sum(axis=1), 1.0)
    np.testing.assert_allclose(ds.confidence, ds.posteriors.max(axis=1))


def test_dawid_skene_clamps_gold_items_to_their_class() -> None:
    rng = np.random.default_rng(5)
    confusion = confusions(rng, good=6, spammers=2, biased=2)
    truth, items, workers, classes = simulate(rng, confusion, n_items=300)
    # Item 0: every answer says class 1, the gold says 4. Item 300 has no answers at all.
    classes = classes.copy()
    classes[items == 0] = 1
    gold = {0: 4, 300: 2, **{int(i): int(truth[i]) for i in range(1, 60)}}

    ds = dawid_skene(items, workers, classes, n_items=301, n_classes=K, gold=gold)

    assert ds.labels[0] == 4
    assert ds.confidence[0] == 1.0
    np.testing.assert_array_equal(ds.posteriors[0], np.eye(K)[4])
    assert ds.labels[300] == 2
    assert (ds.labels[list(gold)] == list(gold.values())).all()


def test_gold_items_teach_dawid_skene_a_workers_habit() -> None:
    # Worker 0 answers 0 whatever the truth; worker 1 is always right. The majority vote
    # ties on every item of class 1 and gives it 0; gold on half the items shows the habit.
    items = np.repeat(np.arange(40), 2)
    workers = np.tile([0, 1], 40)
    truth = np.tile([0, 1], 20)
    classes = np.where(workers == 0, 0, truth[items])
    gold = {i: int(truth[i]) for i in range(20)}

    vote = majority_vote(items, workers, classes, n_items=40, n_classes=2)
    ds = dawid_skene(items, workers, classes, n_items=40, n_classes=2, gold=gold)

    assert (vote.labels[20:] == 0).all()
    np.testing.assert_array_equal(ds.labels[20:], truth[20:])
    assert ds.worker_confusion is not None
    assert ds.worker_confusion[0, 1, 0] > 0.95
    assert ds.worker_confusion[1, 1, 1] > 0.95


def test_ties_go_to_the_lowest_class() -> None:
    items = np.array([0, 0, 1, 1, 1, 1])
    workers = np.array([0, 1, 0, 1, 2, 3])
    classes = np.array([3, 1, 2, 0, 2, 0])

    vote = majority_vote(items, workers, classes, n_items=2, n_classes=4)

    assert vote.labels.tolist() == [1, 0]
    assert vote.confidence.tolist() == [0.5, 0.5]
    assert vote.iterations == 0
    assert vote.worker_confusion is None


def test_weighted_majority_vote_follows_the_heavier_worker() -> None:
    items, workers, classes = np.array([0, 0, 0]), np.array([0, 1, 2]), np.array([2, 1, 1])

    vote = majority_vote(items, workers, classes, n_items=1, n_classes=3, weights=[3, 1, 1])

    assert vote.labels.tolist() == [2]
    assert vote.confidence[0] == pytest.approx(0.6)
    np.testing.assert_allclose(vote.posteriors[0], [0.0, 0.4, 0.6])


def test_unanswered_items_get_no_label_and_zero_confidence() -> None:
    items, workers, classes = np.array([1, 1, 3]), np.array([0, 1, 0]), np.array([2, 2, 0])

    for result in (
        majority_vote(items, workers, classes, n_items=5, n_classes=3),
        dawid_skene(items, workers, classes, n_items=5, n_classes=3),
    ):
        assert result.labels.tolist() == [-1, 2, -1, 0, -1]
        assert result.confidence[[0, 2, 4]].tolist() == [0.0, 0.0, 0.0]
        assert not result.posteriors[[0, 2, 4]].any()
        np.testing.assert_allclose(result.posteriors[[1, 3]].sum(axis=1), 1.0)

    nothing = dawid_skene([], [], [], n_items=2, n_classes=3)
    assert nothing.labels.tolist() == [-1, -1]


def test_answers_out_of_range_are_refused() -> None:
    with pytest.raises(ValueError, match="class index"):
        majority_vote([0], [0], [3], n_items=1, n_classes=3)
    with pytest.raises(ValueError, match="same length"):
        dawid_skene([0, 1], [0], [0], n_items=2, n_classes=2)
    with pytest.raises(ValueError, match="gold"):
        dawid_skene([0], [0], [0], n_items=1, n_classes=2, gold={0: 5})


# --------------------------------------------------------------------------- multi-label


def test_multilabel_vote_keeps_the_labels_more_than_half_the_workers_chose() -> None:
    labels = ["cat", "dog", "car"]
    answers = [
        [{"cat", "dog"}, {"cat"}, {"cat", "car"}],
        [{"dog"}, set(), {"dog", "car"}, {"car"}],
        [],
    ]

    first, second, empty = multilabel_vote(answers, labels=labels)

    assert first.labels == ("cat",)
    assert first.shares == pytest.approx({"cat": 1.0, "dog": 1 / 3, "car": 1 / 3})
    assert first.confidence == pytest.approx((1 + 2 / 3 + 2 / 3) / 3)
    assert first.workers == 3
    assert second.labels == ()  # 2 of 4 is not more than half
    assert second.confidence == pytest.approx((0.5 + 0.5 + 1.0) / 3)
    assert (empty.labels, empty.confidence) == ((), 0.0)
    assert multilabel_vote(answers[1:2], labels=labels, threshold=0.4)[0].labels == ("dog", "car")
    with pytest.raises(ValueError, match="unknown"):
        multilabel_vote([[{"bird"}]], labels=labels)


# --------------------------------------------------------------------------- spans


def test_span_boundaries_are_the_most_frequent_start_and_end() -> None:
    answers = [
        [Span("PER", 0, 11), Span("LOC", 20, 26)],
        [Span("PER", 0, 11), Span("LOC", 20, 26)],
        [Span("PER", 1, 11), Span("LOC", 19, 27)],
        [Span("PER", 0, 12)],
    ]

    per, loc = consolidate_spans(answers)

    assert (per.label, per.start, per.end, per.votes) == ("PER", 0, 11, 4)
    jaccards = [1, 1, 10 / 11, 11 / 12]
    assert per.confidence == pytest.approx(np.mean(jaccards))
    assert (loc.label, loc.start, loc.end, loc.votes) == ("LOC", 20, 26, 3)
    assert loc.confidence == pytest.approx(3 / 4 * np.mean([1, 1, 6 / 8]))


def test_a_span_only_one_worker_marked_is_dropped() -> None:
    answers = [
        [Span("ORG", 5, 10)],
        [Span("ORG", 5, 10), Span("ORG", 40, 45)],
        [Span("ORG", 5, 10)],
    ]

    (org,) = consolidate_spans(answers)

    assert (org.start, org.end, org.confidence) == (5, 10, 1.0)


def test_span_ties_go_to_the_shorter_span_and_labels_never_merge() -> None:
    answers = [[Span("PER", 10, 20)], [Span("PER", 12, 20)], [Span("LOC", 10, 20)]]

    (per,) = consolidate_spans(answers)

    # 2 of 3 workers marked PER; starts 10 and 12 tie, and 12 gives the shorter span.
    assert (per.label, per.start, per.end, per.votes) == ("PER", 12, 20, 2)


# --------------------------------------------------------------------------- boxes


def test_iou_of_boxes() -> None:
    a = Box("car", 0, 0, 10, 10)
    assert iou(a, a) == 1.0
    assert iou(a, Box("car", 20, 20, 5, 5)) == 0.0
    assert iou(a, Box("car", 5, 0, 10, 10)) == pytest.approx(50 / 150)
    assert iou(a, Box("car", 2, 2, 5, 5)) == pytest.approx(25 / 100)


def test_three_workers_jittered_boxes_average_to_the_truth() -> None:
    truth = Box("car", 100, 50, 40, 30)
    rng = np.random.default_rng(1)
    jitter = rng.normal(scale=2, size=(3, 4))
    jitter -= jitter.mean(axis=0)  # the three errors cancel out
    boxes = [
        [Box("car", truth.x + dx, truth.y + dy, truth.w + dw, truth.h + dh)]
        for dx, dy, dw, dh in jitter
    ]
    boxes[1].append(Box("person", 10, 10, 15, 40))  # only one of three drew it

    (car,) = consolidate_boxes(boxes)

    assert car.label == "car"
    assert (car.x, car.y, car.w, car.h) == pytest.approx((100, 50, 40, 30))
    assert car.votes == 3
    expected = np.mean([iou(b[0], Box("car", 100, 50, 40, 30)) for b in boxes])
    assert car.confidence == pytest.approx(expected)
    assert 0.7 < car.confidence < 1.0


def test_a_worker_gives_at_most_one_box_to_a_cluster() -> None:
    # Worker 0 drew two overlapping boxes around one object, the others one each.
    boxes = [
        [Box("car", 0, 0, 10, 10), Box("car", 1, 1, 10, 10)],
        [Box("car", 0, 0, 10, 10)],
        [Box("car", 0, 0.5, 10, 10)],
    ]

    found = consolidate_boxes(boxes)

    assert [b.votes for b in found] == [3]


def test_boxes_below_the_iou_threshold_stay_apart() -> None:
    boxes = [[Box("car", 0, 0, 10, 10)], [Box("car", 6, 0, 10, 10)]]

    assert len(consolidate_boxes(boxes, min_share=0.4)) == 2  # IoU 0.25 < 0.5
    assert len(consolidate_boxes(boxes, min_share=0.4, iou_threshold=0.2)) == 1


# --------------------------------------------------------------------------- masks


def test_rasterize_fills_polygons_and_brush_masks() -> None:
    brush = np.zeros((8, 10), dtype=bool)
    brush[6:, 7:] = True
    shapes = [
        {"label": "road", "points": [[2, 2], [6, 2], [6, 5], [2, 5]]},
        {"label": "car", "rle": encode_rle(brush), "size": [8, 10]},
    ]

    mask = rasterize(shapes, width=10, height=8, labels=["car", "road"])

    assert mask.dtype == np.uint8 and mask.shape == (8, 10)
    expected = np.zeros((8, 10), dtype=np.uint8)
    expected[2:5, 2:6] = 2
    expected[6:, 7:] = 1
    np.testing.assert_array_equal(mask, expected)


def test_rasterize_fills_by_the_even_odd_rule() -> None:
    # One path around a square and back around a smaller one inside: the inner is a hole.
    ring = [[0, 0], [10, 0], [10, 10], [0, 10], [0, 0], [3, 3], [7, 3], [7, 7], [3, 7], [3, 3]]

    mask = rasterize([{"label": "a", "points": ring}], width=10, height=10, labels=["a"])

    assert mask[1, 1] == 1 and mask[8, 8] == 1
    assert not mask[3:7, 3:7].any()
    assert mask.sum() == 100 - 16


def test_rasterize_refuses_unknown_labels_and_mismatched_brushes() -> None:
    with pytest.raises(ValueError, match="unknown label"):
        rasterize(
            [{"label": "x", "points": [[0, 0], [1, 0], [1, 1]]}], width=2, height=2, labels=[]
        )
    with pytest.raises(ValueError, match="brush mask"):
        rasterize([{"label": "a", "rle": [4], "size": [1, 4]}], width=2, height=2, labels=["a"])


def test_rle_round_trips() -> None:
    rng = np.random.default_rng(0)
    for mask in (
        rng.random((13, 17)) > 0.6,
        np.ones((3, 4), dtype=bool),
        np.zeros((3, 4), dtype=bool),
    ):
        runs = encode_rle(mask)
        assert sum(runs) == mask.size
        np.testing.assert_array_equal(decode_rle(runs, *mask.shape), mask)
    assert encode_rle(np.array([[True, True, False]])) == [0, 2, 1]
    with pytest.raises(ValueError):
        decode_rle([1, 2], 2, 2)


def test_mask_to_shapes_gives_back_the_mask() -> None:
    mask = np.zeros((6, 6), dtype=np.uint8)
    mask[1:3, 1:4] = 1
    mask[4:, :] = 3

    shapes = mask_to_shapes(mask, ["a", "b", "c"])

    assert [s["label"] for s in shapes] == ["a", "c"]
    assert all(s["size"] == [6, 6] for s in shapes)
    np.testing.assert_array_equal(
        rasterize(shapes, width=6, height=6, labels=["a", "b", "c"]), mask
    )


def test_smoothing_removes_a_one_pixel_speck_the_majority_agrees_on() -> None:
    base = np.zeros((20, 20), dtype=np.uint8)
    base[5:15, 5:15] = 1
    specked = base.copy()
    specked[2, 17] = 2
    masks = [specked, specked.copy(), base]

    raw = consolidate_masks(masks, n_classes=2, smoothing=0)
    smooth = consolidate_masks(masks, n_classes=2, smoothing=1.0)

    assert raw.mask[2, 17] == 2
    assert smooth.mask[2, 17] == 0
    np.testing.assert_array_equal(smooth.mask[6:14, 6:14], 1)
    assert raw.pixel_agreement == pytest.approx(399 / 400)
    # Every foreground pixel is unanimous, but for the speck's 2 of 3.
    assert raw.confidence == pytest.approx((100 + 2 / 3) / 101)
    assert 0.8 < smooth.confidence < 1.0


def test_mask_confidence_is_the_winners_share_and_one_without_foreground() -> None:
    a = np.zeros((4, 4), dtype=np.uint8)
    b = a.copy()
    a[:2, :] = 1
    b[:2, :2] = 1

    result = consolidate_masks([a, b, a], n_classes=1, smoothing=0)

    assert result.mask[:2].all() and not result.mask[2:].any()
    assert result.confidence == pytest.approx((4 * 1.0 + 4 * 2 / 3) / 8)
    assert result.pixel_agreement == pytest.approx(12 / 16)
    blank = consolidate_masks([np.zeros((3, 3), dtype=np.uint8)] * 2, n_classes=1)
    assert (blank.confidence, blank.pixel_agreement) == (1.0, 1.0)


# --------------------------------------------------------------------------- tracks


def track(track_id: object, label: str, frames: range, dx: float = 0.0) -> dict[str, object]:
    boxes = [{"frame": f, "x": 10.0 + 5 * f + dx, "y": 20.0, "w": 30.0, "h": 30.0} for f in frames]
    return {"id": track_id, "label": label, "boxes": boxes}


def test_tracks_are_matched_across_workers_and_averaged_per_frame() -> None:
    workers = [
        [track(1, "car", range(10), dx=-1), track(2, "person", range(3, 8))],
        [track("a", "car", range(10), dx=1), track("b", "car", range(10), dx=200)],
        [track(7, "car", range(1, 11))],
    ]

    (car,) = consolidate_tracks(workers)

    assert (car["id"], car["label"], car["votes"]) == (1, "car", 3)
    assert car["sources"] == [[0, 1], [1, "a"], [2, 7]]
    # Frame 0 has two boxes of three, frame 10 one of three: only frame 0 is kept.
    assert [b["frame"] for b in car["boxes"]] == list(range(10))
    assert car["boxes"][0]["x"] == pytest.approx(10.0)
    assert car["boxes"][5]["x"] == pytest.approx(35.0)
    assert 0.7 < car["confidence"] < 1.0


def test_a_track_only_one_worker_followed_is_dropped() -> None:
    workers = [[track(1, "car", range(5))], [], [track(1, "car", range(5))]]

    (car,) = consolidate_tracks(workers)

    assert car["votes"] == 2
    assert car["confidence"] == pytest.approx(2 / 3)
    assert consolidate_tracks([[track(1, "car", range(5))], [], []]) == []


# --------------------------------------------------------------------------- workers


def test_worker_quality_counts_agreement_gold_and_the_confusion_estimate() -> None:
    items = np.array([0, 0, 0, 1, 1, 1, 2, 2])
    workers = np.array([0, 1, 2, 0, 1, 2, 0, 1])
    classes = np.array([1, 1, 0, 2, 2, 2, 0, 1])
    consolidated = np.array([1, 2, 0, -1])
    confusion = np.stack([np.eye(3) * 0.9 + 0.1 / 3] * 4)
    confusion[2] = np.full((3, 3), 1 / 3)

    quality = worker_quality(
        items,
        workers,
        classes,
        consolidated=consolidated,
        gold={0: 1, 2: 1},
        n_workers=4,
        confusion=confusion,
    )

    first, second, third, idle = quality
    assert (first.answers, first.agreement) == (3, 1.0)
    assert (first.gold_answers, first.gold_accuracy) == (2, 0.5)
    assert (second.answers, second.agreement) == (3, pytest.approx(2 / 3))
    assert (second.gold_answers, second.gold_accuracy) == (2, 1.0)
    assert (third.agreement, third.gold_accuracy) == (pytest.approx(1 / 2), 0.0)
    assert first.accuracy_estimate == pytest.approx(0.9 + 0.1 / 3)
    assert third.accuracy_estimate == pytest.approx(1 / 3)
    assert idle.answers == 0
    assert (idle.agreement, idle.gold_accuracy, idle.accuracy_estimate) == (None, None, None)
    without = worker_quality(items, workers, classes, consolidated=consolidated, n_workers=3)
    assert without[0].accuracy_estimate is None
