"""Masks as COCO run-length encoding: the one place that converts them.

The canonical form in memory and on disk is pycocotools' compressed RLE with
the counts as text: `{"size": [h, w], "counts": "<str>"}`. Readers also take
uncompressed RLE (`counts` a list of ints) and bytes counts, and turn them into
the canonical form.

`check_rle` validates what a file says before pycocotools sees it: pycocotools
keeps sizes and runs in 32-bit unsigned ints and allocates height x width bytes
to decode, so a run of 2**32 or a 60000x60000 mask would overflow or exhaust
memory. Masks are limited to the frame limit (MAX_FRAME_PIXELS, 8192x8192).
"""
from __future__ import annotations

import numpy as np
from pycocotools import mask as mask_api

from clipvis.config import MAX_FRAME_PIXELS

MAX_RUN = 2**32 - 1  # pycocotools' run lengths are uint32


class RLEError(ValueError):
    """An RLE that is not well formed, or does not fit its frame."""


def mask_to_rle(mask) -> dict:
    """(H, W) bool/0-1 array -> compressed RLE with str counts."""
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise RLEError(f"a mask must be 2-D (H, W), got shape {mask.shape}")
    rle = mask_api.encode(np.asfortranarray(mask.astype(np.uint8, copy=False)))
    return {"size": [int(mask.shape[0]), int(mask.shape[1])], "counts": rle["counts"].decode("ascii")}


def rle_to_mask(rle: dict, *, order: str = "C") -> np.ndarray:
    """RLE (any accepted form) -> (H, W) bool array.

    pycocotools decodes column-major; order="C" copies to the row-major layout
    numpy callers expect, order="F" skips that copy (for hot loops that only
    use the mask as a `where=` argument against another F-ordered array).
    """
    bits = mask_api.decode(_for_pycocotools(to_compressed(rle))).view(bool)
    return np.ascontiguousarray(bits) if order == "C" else bits


def rle_area(rle: dict) -> int:
    return int(mask_api.area(_for_pycocotools(to_compressed(rle))))


def rle_bbox(rle: dict) -> list[float]:
    """[x, y, w, h] of the mask; [0, 0, 0, 0] for an empty mask (as pycocotools)."""
    return [float(v) for v in mask_api.toBbox(_for_pycocotools(to_compressed(rle)))]


def _for_pycocotools(rle: dict) -> dict:
    # The C code wants bytes counts; str is what JSON gives us.
    counts = rle["counts"]
    return {"size": list(rle["size"]), "counts": counts.encode("ascii") if isinstance(counts, str) else counts}


def to_compressed(rle: dict) -> dict:
    """Any accepted RLE -> compressed RLE with str counts (no validation)."""
    h, w = (int(v) for v in rle["size"])
    counts = rle["counts"]
    if isinstance(counts, list):
        counts = mask_api.frPyObjects({"size": [h, w], "counts": counts}, h, w)["counts"]
    if isinstance(counts, bytes):
        counts = counts.decode("ascii")
    return {"size": [h, w], "counts": counts}


def decode_counts(counts: str) -> np.ndarray:
    """Run lengths of a compressed counts string (the COCO LEB128-like code).

    Each value is written in 5-bit groups (char - 48), low group first; bit
    0x20 says another group follows, bit 0x10 of the last group is the sign.
    From the fourth value on, a value is stored as the difference to the value
    two places before it. Vectorised so validating large files stays fast.
    """
    codes = np.frombuffer(counts.encode("ascii"), dtype=np.uint8).astype(np.int64) - 48
    if codes.size == 0:
        return np.zeros(0, dtype=np.int64)
    if codes.min() < 0 or codes.max() > 63:
        raise RLEError("the counts string holds characters outside the RLE alphabet")
    more = (codes & 0x20) != 0
    if more[-1]:
        raise RLEError("the counts string ends in the middle of a number")
    ends = np.flatnonzero(~more)
    starts = np.concatenate(([0], ends[:-1] + 1))
    group = np.repeat(np.arange(ends.size), ends - starts + 1)
    shift = 5 * (np.arange(codes.size) - starts[group])
    # Seven groups (35 bits) hold any 32-bit run or difference; more is garbage,
    # and keeps the float64 weights of bincount exact.
    if shift.max() > 30:
        raise RLEError("the counts string holds a number too large for a run length")
    values = np.bincount(group, weights=(codes & 0x1F) << shift).astype(np.int64)
    # Sign: the top bit (0x10) of a number's last group extends to the left.
    negative = (codes[ends] & 0x10) != 0
    values[negative] -= np.int64(1) << (shift[ends[negative]] + 5)
    runs = values.copy()
    # Differences from the third value on: x[i] = d[i] + x[i-2] for i > 2.
    if runs.size > 3:
        runs[3::2] = np.cumsum(values[1::2])[1:]
    if runs.size > 4:
        runs[4::2] = np.cumsum(values[2::2])[1:]
    return runs


def check_rle(rle, height: int, width: int) -> dict:
    """Validate one RLE against the frame size; return it compressed.

    Raises RLEError saying what is wrong (caller adds where it is).
    """
    if not isinstance(rle, dict) or "size" not in rle or "counts" not in rle:
        raise RLEError("an RLE must be an object with 'size' and 'counts'")
    size = rle["size"]
    if not (isinstance(size, (list, tuple)) and len(size) == 2 and all(_is_int(v) for v in size)):
        raise RLEError(f"'size' must be [height, width], got {size!r}")
    if [int(size[0]), int(size[1])] != [height, width]:
        raise RLEError(f"RLE size {list(size)} differs from the video's [height, width] = [{height}, {width}]")
    check_mask_size(height, width)
    counts = rle["counts"]
    if isinstance(counts, list):
        if not all(_is_int(v) and 0 <= v <= MAX_RUN for v in counts):
            bad = next(v for v in counts if not (_is_int(v) and 0 <= v <= MAX_RUN))
            raise RLEError(f"uncompressed 'counts' must be non-negative integers up to {MAX_RUN}, got {bad!r}")
        if len(counts) > height * width + 1:
            raise RLEError(f"{len(counts)} runs cannot cover a mask of {height}x{width} pixels")
        runs = np.asarray(counts, dtype=np.int64)
    elif isinstance(counts, (str, bytes)):
        try:
            runs = decode_counts(counts.decode("ascii") if isinstance(counts, bytes) else counts)
        except UnicodeError:
            raise RLEError("the counts string is not ASCII") from None
        if runs.size and runs.min() < 0:
            raise RLEError("the counts string decodes to a negative run length")
        if runs.size and runs.max() > MAX_RUN:
            raise RLEError(f"the counts string decodes to a run of {int(runs.max())} pixels, above {MAX_RUN}")
    else:
        raise RLEError(f"'counts' must be a string or a list of integers, got {type(counts).__name__}")
    total = int(runs.sum())
    if total != height * width:
        raise RLEError(f"the runs cover {total} pixels, but the frame has {height}x{width} = {height * width}")
    return to_compressed(rle)


def check_mask_size(height: int, width: int):
    """RLEError unless a mask of height x width may be decoded (both positive, at most MAX_FRAME_PIXELS)."""
    if height < 1 or width < 1:
        raise RLEError(f"a mask of {height}x{width} pixels is empty")
    if height * width > MAX_FRAME_PIXELS:
        side = int(MAX_FRAME_PIXELS ** 0.5)
        raise RLEError(f"a mask of {height}x{width} pixels ({height * width / 1e6:,.0f} MP) is larger than this tool "
                       f"reads ({side}x{side})")


def _is_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)
