"""Features for automated labeling, computed from the items alone: no downloaded model, no
network, so a labeling job on an air-gapped machine learns as well as anywhere else.

- Text: TF-IDF of words and word pairs plus character n-grams (which carry misspellings,
  inflections and words too rare to weigh on their own), fitted on all of the job's texts.
  Fitting on the unlabeled items too is deliberate (transductive): the items are known up
  front, and the vocabulary of the items still to label is what the model must read.
- Images: a small standardised grayscale thumbnail (the layout), a histogram of gradient
  orientations per cell (the shapes, robust to brightness; the idea of HOG) and a coarse
  colour histogram (what the layout and shapes ignore).

Invariants: row ``i`` of the result describes item ``i``; every row has the same length,
whatever the sizes of the images; the same inputs give the same features.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt
from PIL import Image

#: The side of the grayscale thumbnail; images smaller than this keep their own size.
THUMBNAIL: Final = 16
#: Gradients are measured on a square of this side, split into CELLS × CELLS cells.
GRADIENT_SIDE: Final = 32
CELLS: Final = 4
ORIENTATIONS: Final = 9
#: Levels per colour channel of the colour histogram (LEVELS³ bins).
LEVELS: Final = 4


def text_features(texts: Sequence[str]) -> Any:
    """A sparse CSR matrix, one L2-normalised row of TF-IDF weights per text."""
    from scipy import sparse
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.preprocessing import normalize

    texts = [t if isinstance(t, str) else "" for t in texts]
    blocks = []
    for vectorizer in (
        TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1),
        TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True, min_df=1),
    ):
        try:
            blocks.append(vectorizer.fit_transform(texts))
        except ValueError:
            # An empty vocabulary (no text has a word of two letters or more): this block
            # says nothing, and the other may still.
            continue
    if not blocks:
        return sparse.csr_matrix((len(texts), 1), dtype=np.float64)
    # Words and characters weigh the same; the row norm keeps long texts from dominating.
    return normalize(sparse.hstack(blocks, format="csr"), norm="l2")


def image_features(images: Sequence[Image.Image | Path]) -> npt.NDArray[np.float64]:
    """A dense matrix, one row per image: thumbnail, gradient histograms, colour histogram."""
    loaded = [_rgb(image) for image in images]
    # One thumbnail size for the whole job, so that every row has the same length: an image
    # smaller than THUMBNAIL is not blown up into pixels it does not have.
    width = min([THUMBNAIL, *(image.width for image in loaded)])
    height = min([THUMBNAIL, *(image.height for image in loaded)])
    rows = [
        np.concatenate([_thumbnail(image, width, height), _gradients(image), _colours(image)])
        for image in loaded
    ]
    if not rows:
        return np.zeros((0, width * height + _gradient_length() + LEVELS**3), dtype=np.float64)
    out: npt.NDArray[np.float64] = np.vstack(rows)
    return out


def _rgb(image: Image.Image | Path) -> Image.Image:
    if isinstance(image, Path):
        with Image.open(image) as opened:
            return opened.convert("RGB")
    return image if image.mode == "RGB" else image.convert("RGB")


def _thumbnail(image: Image.Image, width: int, height: int) -> npt.NDArray[np.float64]:
    # Resized as floats ("F"): in 8 bits a faint image would lose detail to rounding.
    gray = np.asarray(
        image.convert("L").convert("F").resize((width, height), Image.Resampling.BILINEAR),
        dtype=np.float64,
    )
    # Standardised per image: the same digit in faint or in heavy ink looks the same.
    out: npt.NDArray[np.float64] = ((gray - gray.mean()) / (gray.std() + 1e-6)).ravel()
    return out


def _gradient_length() -> int:
    blocks = CELLS - 1
    return blocks * blocks * 4 * ORIENTATIONS


def _gradients(image: Image.Image) -> npt.NDArray[np.float64]:
    gray = (
        np.asarray(
            image.convert("L")
            .convert("F")
            .resize((GRADIENT_SIDE, GRADIENT_SIDE), Image.Resampling.BILINEAR),
            dtype=np.float64,
        )
        / 255.0
    )
    gy, gx = np.gradient(gray)
    magnitude = np.hypot(gx, gy)
    # Unsigned orientation (0–180°): a dark stroke on light and a light one on dark match.
    angle = np.mod(np.arctan2(gy, gx), np.pi) / np.pi * ORIENTATIONS
    lower = np.floor(angle).astype(np.int64) % ORIENTATIONS
    upper = (lower + 1) % ORIENTATIONS
    share = angle - np.floor(angle)
    cell = GRADIENT_SIDE // CELLS
    cell_index = (np.arange(GRADIENT_SIDE) // cell)[:, None] * CELLS + (
        np.arange(GRADIENT_SIDE) // cell
    )[None, :]
    # Each pixel votes into its two nearest orientation bins, so a small rotation moves
    # weight smoothly from one bin to the next instead of jumping.
    histogram = np.bincount(
        (cell_index * ORIENTATIONS + lower).ravel(),
        weights=(magnitude * (1 - share)).ravel(),
        minlength=CELLS * CELLS * ORIENTATIONS,
    ) + np.bincount(
        (cell_index * ORIENTATIONS + upper).ravel(),
        weights=(magnitude * share).ravel(),
        minlength=CELLS * CELLS * ORIENTATIONS,
    )
    cells = histogram.reshape(CELLS, CELLS, ORIENTATIONS)
    # Normalised over overlapping 2×2 blocks of cells, as HOG does: contrast changes
    # across the image are cancelled locally, not only globally.
    out = []
    for row in range(CELLS - 1):
        for col in range(CELLS - 1):
            block = cells[row : row + 2, col : col + 2].ravel()
            out.append(block / np.sqrt(np.sum(block**2) + 1e-6))
    return np.concatenate(out)


def _colours(image: Image.Image) -> npt.NDArray[np.float64]:
    small = np.asarray(image.resize((GRADIENT_SIDE, GRADIENT_SIDE)), dtype=np.int64)
    levels = small * LEVELS // 256
    bins = (levels[..., 0] * LEVELS + levels[..., 1]) * LEVELS + levels[..., 2]
    counts = np.bincount(bins.ravel(), minlength=LEVELS**3).astype(np.float64)
    out: npt.NDArray[np.float64] = counts / counts.sum()
    return out
