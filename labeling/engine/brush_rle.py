"""Label Studio's brush masks: its compressed RLE of an RGBA image, out and back in.

Label Studio stores a ``brushlabels`` mask as ``value.rle``, a list of bytes. They hold a bit
stream (most significant bit first) in the format of thi.ng's ``rle-pack``:

- a header: the number of values (32 bits), the word size minus one (5 bits) and four run
  length sizes minus one (4 bits each); Label Studio writes words of 8 bits and sizes
  3, 4, 8 and 16;
- then chunks until every value is read: a flag bit, the index of a run length size
  (2 bits), the chunk's length minus one in that many bits, then either one word repeated
  over the chunk (flag 1) or that many words (flag 0).

The values are the mask's pixels in row-major order, each repeated for its four RGBA
channels; Label Studio draws a pixel where its alpha is set. :func:`encode` writes the same
bytes as Label Studio's own encoder (one-value runs as literal chunks, longer runs as
repeats of at most 65,536 values, and a final padding that always adds at least one bit);
:func:`decode` reads any stream of the format.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

WORD_BITS: Final = 8
RUN_SIZES: Final = (3, 4, 8, 16)
CHANNELS: Final = 4
#: The longest chunk the largest run length size can count.
MAX_CHUNK: Final = 1 << RUN_SIZES[-1]
#: Alpha from which a decoded pixel belongs to the mask (Label Studio paints 255).
ALPHA_THRESHOLD: Final = 128


class BrushError(ValueError):
    """The bytes are not a brush mask of the expected size."""


def encode(mask: npt.ArrayLike) -> list[int]:
    """The Label Studio RLE bytes of a boolean ``height × width`` mask."""
    pixels = np.asarray(mask, dtype=bool)
    if pixels.ndim != 2:
        raise BrushError("a brush mask is a 2-D array")
    values = np.repeat(pixels.ravel().astype(np.uint8) * np.uint8(255), CHANNELS)
    n = len(values)
    starts = np.flatnonzero(np.r_[True, values[1:] != values[:-1]]) if n else np.zeros(0, int)
    lengths = np.diff(np.r_[starts, n])
    words = values[starts].astype(np.int64)

    fields: list[tuple[int, int]] = [(n, 32), (WORD_BITS - 1, 5)]
    fields += [(size - 1, 4) for size in RUN_SIZES]
    for length, word in zip(lengths.tolist(), words.tolist(), strict=True):
        if length == 1:
            fields += [(0, 1), (0, 2), (0, RUN_SIZES[0]), (word, WORD_BITS)]
            continue
        if length > 1 << RUN_SIZES[2]:
            # Full chunks first; the rest keeps the largest size, however short.
            while length > MAX_CHUNK:
                fields += [(1, 1), (3, 2), (MAX_CHUNK - 1, RUN_SIZES[3]), (word, WORD_BITS)]
                length -= MAX_CHUNK
            index = 3
        else:
            index = next(i for i, size in enumerate(RUN_SIZES) if length <= 1 << size)
        fields += [(1, 1), (index, 2), (length - 1, RUN_SIZES[index]), (word, WORD_BITS)]
    return [int(b) for b in np.packbits(_bits(fields))]


def _bits(fields: list[tuple[int, int]]) -> npt.NDArray[np.uint8]:
    """The fields' bits, most significant first, padded as Label Studio pads them."""
    value = np.array([v for v, _ in fields], dtype=np.uint64)
    width = np.array([w for _, w in fields], dtype=np.int64)
    total = int(width.sum())
    owner = np.repeat(np.arange(len(fields)), width)
    position = np.arange(total) - np.repeat(np.cumsum(width) - width, width)
    shift = (width[owner] - 1 - position).astype(np.uint64)
    bits = ((value[owner] >> shift) & np.uint64(1)).astype(np.uint8)
    padding = 8 - total % 8  # 1..8 zero bits: a whole byte when already aligned
    return np.concatenate([bits, np.zeros(padding, dtype=np.uint8)])


class _Bits:
    def __init__(self, data: bytes) -> None:
        self.bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8))
        self.at = 0

    def read(self, width: int) -> int:
        end = self.at + width
        if end > len(self.bits):
            raise BrushError("the brush RLE ends before its last value")
        chunk = self.bits[self.at : end]
        self.at = end
        return int(chunk.dot(1 << np.arange(width - 1, -1, -1, dtype=np.int64))) if width else 0


def decode(rle: object, height: int, width: int) -> npt.NDArray[np.bool_]:
    """The boolean ``height × width`` mask of Label Studio RLE bytes."""
    if not isinstance(rle, list) or not all(
        isinstance(b, int) and not isinstance(b, bool) and 0 <= b <= 255 for b in rle
    ):
        raise BrushError("a brush RLE is a list of bytes (0 to 255)")
    stream = _Bits(bytes(rle))
    count = stream.read(32)
    word = stream.read(5) + 1
    sizes = [stream.read(4) + 1 for _ in range(4)]
    if count != height * width * CHANNELS:
        raise BrushError(
            f"the brush RLE holds {count} values, not {height}×{width}×{CHANNELS} "
            f"for a {height}×{width} image"
        )
    out = np.zeros(count, dtype=np.int64)
    i = 0
    while i < count:
        repeat = stream.read(1)
        end = min(count, i + 1 + stream.read(sizes[stream.read(2)]))
        if repeat:
            out[i:end] = stream.read(word)
        else:
            for k in range(i, end):
                out[k] = stream.read(word)
        i = end
    alpha = out.reshape(height, width, CHANNELS)[:, :, CHANNELS - 1]
    mask: npt.NDArray[np.bool_] = alpha >= ALPHA_THRESHOLD
    return mask
