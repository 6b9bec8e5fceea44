"""Label Studio's brush RLE: the bytes its own encoder writes, and back."""

from __future__ import annotations

import numpy as np
import pytest

from labeling.engine.brush_rle import BrushError, _bits, decode, encode

# What Label Studio's encoder (label_studio_sdk.converter.brush.mask2rle) wrote for each mask,
# as hexadecimal.
LABEL_STUDIO_HEX = {
    "small": "00000030391bfe13009ffef8047fe0",
    "square": (
        "00000640391bfc7ffc064c031fffdf00c7fff7c031fffdf00c7fff7c031fffdf00c7fff7"
        "c031fffdf00c7fff7c031fffdf00c7fffc065c00"
    ),
    "long": "00027100391bffffff00ffffe01dc3ec023ff0",
    "empty": "00040000391bffffff00ffffe01ffffc03ffff8000",
}
LABEL_STUDIO_BYTES = {k: list(bytes.fromhex(v)) for k, v in LABEL_STUDIO_HEX.items()}


def masks() -> dict[str, np.ndarray]:
    small = np.zeros((3, 4), dtype=bool)
    small[1, 1:3] = True
    small[2, 3] = True
    square = np.zeros((20, 20), dtype=bool)
    square[5:15, 2:18] = True  # runs of 16×4 values and of more than 256
    square[0, 0] = True
    long = np.zeros((200, 200), dtype=bool)
    long[199, 199] = True  # a background run longer than one 65,536-value chunk
    empty = np.zeros((256, 256), dtype=bool)  # exactly four full chunks
    return {"small": small, "square": square, "long": long, "empty": empty}


@pytest.mark.parametrize("name", ["small", "square", "long", "empty"])
def test_the_bytes_are_label_studios(name: str) -> None:
    mask = masks()[name]
    assert encode(mask) == LABEL_STUDIO_BYTES[name]
    assert np.array_equal(decode(LABEL_STUDIO_BYTES[name], *mask.shape), mask)


@pytest.mark.parametrize("seed", range(8))
def test_any_mask_comes_back(seed: int) -> None:
    rng = np.random.default_rng(seed)
    height, width = (int(v) for v in rng.integers(1, 80, 2))
    mask = rng.random((height, width)) < rng.random()
    assert np.array_equal(decode(encode(mask), height, width), mask)


def test_a_pixel_belongs_to_the_mask_from_half_alpha() -> None:
    # Two pixels written as one literal chunk of eight words: RGBA (255, 255, 255, 127),
    # then (0, 0, 0, 128). Only the alpha channel counts.
    words = [255, 255, 255, 127, 0, 0, 0, 128]
    header = [(8, 32), (7, 5), (2, 4), (3, 4), (7, 4), (15, 4)]
    chunk = [(0, 1), (0, 2), (len(words) - 1, 3)] + [(w, 8) for w in words]
    data = [int(b) for b in np.packbits(_bits(header + chunk))]
    assert decode(data, 1, 2).tolist() == [[False, True]]


def test_bytes_of_another_size_or_cut_short_are_refused() -> None:
    data = LABEL_STUDIO_BYTES["small"]
    with pytest.raises(BrushError, match="holds 48 values, not 4×4×4"):
        decode(data, 4, 4)
    with pytest.raises(BrushError, match="ends before its last value"):
        decode(data[:8], 3, 4)
    with pytest.raises(BrushError, match="list of bytes"):
        decode([300, 1], 3, 4)
    with pytest.raises(BrushError, match="2-D"):
        encode(np.zeros(5, dtype=bool))
