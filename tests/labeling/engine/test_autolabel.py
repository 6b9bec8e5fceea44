"""Automated labeling, round by round, measured against the known truth (no database)."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np
import pytest
from PIL import Image
from sklearn.datasets import load_digits

from labeling.engine.autolabel import (
    min_support,
    run_box_round,
    run_round,
    validation_sample_size,
)
from labeling.engine.detect import boxes_match
from labeling.engine.features import image_features, text_features


@dataclass
class Outcome:
    """What a whole simulated job did: who labeled each item, and how well."""

    auto: dict[int, int] = field(default_factory=dict)
    humans: set[int] = field(default_factory=set)
    rounds: list[dict[str, Any]] = field(default_factory=list)

    def auto_share(self, n: int) -> float:
        return len(self.auto) / n

    def auto_accuracy(self, truth: np.ndarray) -> float:
        items = np.array(list(self.auto))
        return float(np.mean(truth[items] == np.array(list(self.auto.values()))))


def simulate(
    x: Any,
    truth: np.ndarray,
    *,
    n_classes: int,
    target: float = 0.95,
    first_batch: int | None = None,
    batch_size: int | None = None,
    seed: int = 0,
) -> Outcome:
    """Ground Truth's loop: people label a random validation sample and a first training
    batch; then each round auto-labels what it can and people label the least certain
    ``batch_size`` items (here: their true labels), until every item has a label."""
    n = len(truth)
    k = validation_sample_size(n)
    order = np.random.default_rng(seed).permutation(n)
    validation = order[:k]
    train = list(order[k : k + (first_batch or k)])
    pool = order[k + (first_batch or k) :]
    out = Outcome(humans=set(validation.tolist()) | set(train))
    while len(pool):
        result = run_round(
            x_train=x[train],
            y_train=truth[train],
            x_validation=x[validation],
            y_validation=truth[validation],
            x_pool=x[pool],
            n_classes=n_classes,
            target_accuracy=target,
            batch_size=batch_size or k,
            seed=seed + len(out.rounds),
        )
        auto, humans = pool[result.auto_indices], pool[result.next_for_humans]
        assert not set(auto) & set(humans)
        out.auto.update(zip(auto.tolist(), result.auto_labels.tolist(), strict=True))
        out.humans.update(humans.tolist())
        train.extend(humans.tolist())
        out.rounds.append({"auto": len(auto), "humans": len(humans), "threshold": result.threshold})
        pool = np.setdiff1d(pool, np.concatenate([auto, humans]), assume_unique=True)
        assert len(out.rounds) < 50, "the loop must end"
    assert len(out.auto) + len(out.humans) == n
    return out


@cache
def digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 8×8 digits, each written as a PNG and read back, as features."""
    data = load_digits()
    images = []
    for pixels in data.images:
        png = io.BytesIO()
        Image.fromarray((pixels * 255 / 16).round().astype(np.uint8)).save(png, format="PNG")
        png.seek(0)
        images.append(Image.open(png))
    return image_features(images), data.target.astype(np.int64)


def corpus(n: int, seed: int = 0) -> tuple[list[str], np.ndarray]:
    """Sentences of a topic's own words, a stray word of another topic now and then, and
    common words shared by all, with the topic as the truth."""
    topics = [
        "match goal team player coach league score season referee stadium".split(),
        "market stock price bank interest rate investor profit shares trading".split(),
        "rain storm forecast cloud sunny wind temperature snow humid degrees".split(),
        "recipe oven flour sugar taste dinner cook spicy sauce bake".split(),
    ]
    noise = "the a of and to in is was for on with that this it as at by from very".split()
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, len(topics), n)
    texts = []
    for topic in truth:
        words = list(rng.choice(topics[topic], size=rng.integers(1, 4)))
        if rng.random() < 0.4:
            words.append(rng.choice(topics[rng.integers(0, len(topics))]))
        words += list(rng.choice(noise, size=rng.integers(4, 10)))
        rng.shuffle(words)
        texts.append(" ".join(words))
    return texts, truth


def test_validation_sample_is_a_fifth_and_a_tenth_past_five_thousand() -> None:
    assert validation_sample_size(1) == 1
    assert validation_sample_size(3) == 1
    assert validation_sample_size(100) == 20
    assert validation_sample_size(5000) == 1000
    assert validation_sample_size(5001) == 500
    assert validation_sample_size(20_000) == 2000


def test_a_threshold_needs_twenty_validation_items_or_a_tenth_of_them() -> None:
    assert min_support(5) == 5
    assert min_support(100) == 20
    assert min_support(1000) == 100


def test_digits_are_mostly_auto_labeled_at_the_target_accuracy() -> None:
    x, truth = digits()
    outcome = simulate(x, truth, n_classes=10, target=0.95)
    # 40% of the items go to people before any model round (validation + first batch).
    assert outcome.auto_share(len(truth)) >= 0.50
    assert outcome.auto_accuracy(truth) >= 0.95


def test_a_model_taught_ten_digits_waits_for_people_to_teach_it_more() -> None:
    x, truth = digits()
    outcome = simulate(x, truth, n_classes=10, target=0.95, first_batch=10, batch_size=60)
    # Ten examples of ten classes: not to be trusted with anything yet.
    assert outcome.rounds[0]["auto"] == 0 and outcome.rounds[0]["threshold"] is None
    assert outcome.rounds[0]["humans"] == 60
    assert sum(r["auto"] for r in outcome.rounds[1:]) > 0
    assert outcome.auto_share(len(truth)) >= 0.60
    # Most auto-labels come from one model taught 70 digits, whose accuracy the 359
    # validation items measure to about ±1.5 points: the target holds within that.
    assert outcome.auto_accuracy(truth) >= 0.93


def test_a_stricter_target_auto_labels_less_and_better() -> None:
    x, truth = digits()
    outcome = simulate(x, truth, n_classes=10, target=0.99, first_batch=30, batch_size=60)
    assert len(outcome.rounds) >= 2
    assert outcome.auto_share(len(truth)) >= 0.50
    assert outcome.auto_accuracy(truth) >= 0.98


def test_texts_are_auto_labeled_from_tf_idf_at_about_the_target() -> None:
    texts, truth = corpus(1500)
    outcome = simulate(text_features(texts), truth, n_classes=4, target=0.95, batch_size=150)
    assert outcome.auto_share(len(truth)) >= 0.50
    assert outcome.auto_accuracy(truth) >= 0.95


def test_without_a_threshold_nothing_is_auto_labeled_and_the_least_sure_go_first() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(300, 5))
    y = rng.integers(0, 3, 300)  # labels unrelated to the features: nothing to learn
    result = run_round(
        x_train=x[:100],
        y_train=y[:100],
        x_validation=x[100:200],
        y_validation=y[100:200],
        x_pool=x[200:],
        n_classes=3,
        target_accuracy=0.95,
        batch_size=10,
    )
    assert result.threshold is None and result.estimated_accuracy is None
    assert result.coverage == 0.0
    assert len(result.auto_indices) == 0 and len(result.auto_labels) == 0
    assert 0.0 <= result.validation_accuracy <= 0.6
    assert len(result.next_for_humans) == 10
    assert len(set(result.next_for_humans.tolist())) == 10


def test_people_get_the_items_with_the_smallest_margin_between_two_classes() -> None:
    rng = np.random.default_rng(2)
    # Labeled items lie clear of the boundary x = 0; the pool crosses it.
    side = rng.uniform(1, 3, size=400) * rng.choice([-1, 1], size=400)
    x = np.column_stack([side, rng.normal(size=400)])
    y = (x[:, 0] > 0).astype(int)
    pool = np.column_stack([np.linspace(-3, 3, 61), np.zeros(61)])
    result = run_round(
        x_train=x[:200],
        y_train=y[:200],
        x_validation=x[200:],
        y_validation=y[200:],
        x_pool=pool,
        n_classes=2,
        target_accuracy=0.99,
        batch_size=5,
    )
    assert result.threshold is not None
    assert result.estimated_accuracy == pytest.approx(1.0)
    # The nearest the boundary, nearest first.
    chosen = np.abs(pool[result.next_for_humans, 0]).round(6)
    assert np.all(np.diff(chosen) >= 0) and chosen.max() <= 0.25
    # As sure as the validation items, the model labels those itself, and rightly.
    auto = pool[result.auto_indices, 0]
    assert len(auto) >= 30 and np.all(np.abs(auto) >= 0.5)
    assert np.all(result.auto_labels == (auto > 0))
    assert np.all(result.auto_confidence >= result.threshold)
    assert not set(result.auto_indices.tolist()) & set(result.next_for_humans.tolist())


def test_classes_nobody_labeled_yet_get_no_probability_and_no_auto_label() -> None:
    rng = np.random.default_rng(3)
    centres = np.array([[0, 0], [6, 0], [0, 6], [6, 6]])
    y = rng.integers(0, 4, 800)
    x = centres[y] + rng.normal(scale=0.5, size=(800, 2))
    seen = y[:400] < 3  # class 3 is in the validation items and the pool, not in training
    result = run_round(
        x_train=x[:400][seen],
        y_train=y[:400][seen],
        x_validation=x[400:600],
        y_validation=y[400:600],
        x_pool=x[600:],
        n_classes=5,
        target_accuracy=0.7,
        batch_size=20,
    )
    assert set(result.auto_labels.tolist()) <= {0, 1, 2}
    assert result.validation_accuracy < 0.85  # class 3 is always wrong


def test_one_class_in_training_is_trusted_only_if_validation_agrees() -> None:
    x = np.arange(60, dtype=float).reshape(-1, 1)
    result = run_round(
        x_train=x[:20],
        y_train=np.zeros(20, dtype=int),
        x_validation=x[20:40],
        y_validation=np.r_[np.zeros(10, dtype=int), np.ones(10, dtype=int)],
        x_pool=x[40:],
        n_classes=2,
        target_accuracy=0.9,
        batch_size=5,
    )
    assert result.threshold is None
    assert result.validation_accuracy == 0.5


def test_labels_outside_the_classes_and_empty_inputs_are_refused() -> None:
    x = np.zeros((4, 2))
    with pytest.raises(ValueError, match="outside"):
        run_round(
            x_train=x,
            y_train=[0, 1, 2, 3],
            x_validation=x,
            y_validation=[0, 1, 0, 1],
            x_pool=x,
            n_classes=2,
            target_accuracy=0.9,
            batch_size=1,
        )
    with pytest.raises(ValueError, match="validation"):
        run_round(
            x_train=x,
            y_train=[0, 1, 0, 1],
            x_validation=x[:0],
            y_validation=[],
            x_pool=x,
            n_classes=2,
            target_accuracy=0.9,
            batch_size=1,
        )


def test_an_empty_pool_gives_an_empty_round() -> None:
    x, truth = digits()
    result = run_round(
        x_train=x[:300],
        y_train=truth[:300],
        x_validation=x[300:600],
        y_validation=truth[300:600],
        x_pool=x[:0],
        n_classes=10,
        target_accuracy=0.95,
        batch_size=10,
    )
    assert len(result.auto_indices) == 0 and len(result.next_for_humans) == 0
    assert result.threshold is not None and result.coverage > 0.5


# --------------------------------------------------------------------------- boxes

COLOURS = {"red": (220, 40, 40), "blue": (40, 60, 220)}


def scene(rng: np.random.Generator, size: int = 64) -> tuple[Image.Image, list[dict[str, Any]]]:
    """Noise with one or two coloured rectangles (14–22 pixels a side) that do not touch."""
    pixels = rng.integers(0, 140, size=(size, size, 3)).astype(np.uint8)
    boxes: list[dict[str, Any]] = []
    for _ in range(rng.integers(1, 3)):
        for _attempt in range(20):
            w, h = (int(v) for v in rng.integers(14, 23, size=2))
            x, y = int(rng.integers(0, size - w)), int(rng.integers(0, size - h))
            if all(
                x + w <= b["x"] or b["x"] + b["w"] <= x or y + h <= b["y"] or b["y"] + b["h"] <= y
                for b in boxes
            ):
                label = str(rng.choice(list(COLOURS)))
                noise = rng.integers(-30, 30, size=(h, w, 3))
                pixels[y : y + h, x : x + w] = np.clip(np.array(COLOURS[label]) + noise, 0, 255)
                boxes.append({"label": label, "x": x, "y": y, "w": w, "h": h})
                break
    return Image.fromarray(pixels), boxes


def test_rectangles_on_noise_are_boxed_automatically_at_the_target_accuracy() -> None:
    rng = np.random.default_rng(0)
    images, truth = zip(*(scene(rng) for _ in range(200)), strict=True)
    n, k = len(images), validation_sample_size(len(images))
    validation, train, pool = list(range(k)), list(range(k, 2 * k)), list(range(2 * k, n))
    auto: dict[int, list[dict[str, Any]]] = {}
    while pool:
        result = run_box_round(
            train_images=[images[i] for i in train],
            train_boxes=[truth[i] for i in train],
            validation_images=[images[i] for i in validation],
            validation_boxes=[truth[i] for i in validation],
            pool_images=[images[i] for i in pool],
            labels=list(COLOURS),
            target_accuracy=0.95,
            batch_size=60,
        )
        auto.update(
            (pool[i], b) for i, b in zip(result.auto_indices, result.auto_boxes, strict=True)
        )
        humans = [pool[i] for i in result.next_for_humans]
        train += humans
        pool = [p for p in pool if p not in auto and p not in humans]
    # About half of the images come back boxed (40% went to people before any round).
    assert len(auto) / n >= 0.30
    assert np.mean([boxes_match(boxes, truth[i]) for i, boxes in auto.items()]) >= 0.95


def test_without_boxes_to_learn_from_people_box_the_first_images() -> None:
    rng = np.random.default_rng(1)
    images = [scene(rng)[0] for _ in range(6)]
    result = run_box_round(
        train_images=images[:2],
        train_boxes=[[], []],
        validation_images=images[2:4],
        validation_boxes=[[], []],
        pool_images=images[4:],
        labels=list(COLOURS),
        target_accuracy=0.95,
        batch_size=1,
    )
    assert result.threshold is None and len(result.auto_indices) == 0
    assert len(result.next_for_humans) == 1


def test_boxes_match_one_to_one_by_label_and_overlap() -> None:
    a = {"label": "red", "x": 0, "y": 0, "w": 10, "h": 10}
    b = {"label": "blue", "x": 20, "y": 20, "w": 10, "h": 10}
    shifted = {**a, "x": 2}  # IoU 0.67
    far = {**a, "x": 6}  # IoU 0.25
    assert boxes_match([b, shifted], [a, b])
    assert not boxes_match([far, b], [a, b])
    assert not boxes_match([{**a, "label": "blue"}], [a])
    assert not boxes_match([a, a], [a])
    assert boxes_match([], [])
