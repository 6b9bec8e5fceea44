"""Features for automated labeling, from texts and from pixels (no database, no downloads)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from scipy import sparse
from sklearn.datasets import load_digits

from labeling.engine.features import image_features, text_features


def test_every_text_gets_a_unit_row_of_tf_idf() -> None:
    texts = ["the match ended with a late goal", "stock prices fell", "a late goal again"]
    x = text_features(texts)
    assert sparse.issparse(x) and x.shape[0] == 3
    assert np.allclose(np.sqrt(x.multiply(x).sum(axis=1)).A1, 1.0)
    similarity = (x @ x.T).toarray()
    # Sharing "late goal" makes the first and the last alike, and unlike the second.
    assert similarity[0, 2] > similarity[0, 1]


def test_texts_without_words_still_get_a_row() -> None:
    x = text_features(["", "!", "ok"])
    assert x.shape[0] == 3
    assert text_features(["", ""]).shape[0] == 2


def test_misspelt_words_still_resemble_the_word() -> None:
    x = text_features(["wonderful", "wonderfull", "terrible"])
    similarity = (x @ x.T).toarray()
    # No word in common: only the character n-grams see the likeness.
    assert similarity[0, 1] > 0.3 > similarity[0, 2]


def test_digits_written_as_png_files_become_features(tmp_path: Path) -> None:
    digits = load_digits()
    paths = []
    for i in range(20):
        path = tmp_path / f"{i}.png"
        Image.fromarray((digits.images[i] * 255 / 16).astype(np.uint8)).save(path)
        paths.append(path)
    x = image_features(paths)
    # An 8×8 thumbnail (the images' own size), 9 blocks of 2×2 cells × 9 orientations,
    # 64 colour bins.
    assert x.shape == (20, 64 + 9 * 4 * 9 + 64)
    assert np.isfinite(x).all()
    # The same file gives the same features, alone or among others.
    assert np.allclose(image_features(paths[:1]), x[:1])


def test_images_of_any_size_and_mode_give_rows_of_one_length() -> None:
    images = [
        Image.new("RGB", (40, 30), "red"),
        Image.new("L", (100, 100), 128),
        Image.new("RGBA", (20, 50), (0, 0, 255, 128)),
        Image.new("P", (64, 64)),
    ]
    x = image_features(images)
    assert x.shape == (4, 16 * 16 + 9 * 4 * 9 + 64)
    # The colour histogram tells red from blue.
    assert not np.allclose(x[0, -64:], x[2, -64:])
    assert np.allclose(x[:, -64:].sum(axis=1), 1.0)


def test_a_fainter_copy_has_the_same_layout_and_shapes() -> None:
    rng = np.random.default_rng(0)
    pixels = (rng.random((32, 32)) > 0.7).astype(np.uint8) * 200
    bright, faint = Image.fromarray(pixels), Image.fromarray(pixels // 2)
    x = image_features([bright, faint])
    layout_and_shapes = slice(0, 16 * 16 + 9 * 4 * 9)
    assert np.allclose(x[0, layout_and_shapes], x[1, layout_and_shapes], atol=1e-3)


def test_no_images_give_an_empty_matrix() -> None:
    assert image_features([]).shape[0] == 0
