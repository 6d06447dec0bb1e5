"""RLE helpers: one canonical form, and checks that catch malformed counts."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from pycocotools import mask as mask_api

from clipvis.formats.rle import (
    RLEError, check_rle, decode_counts, mask_to_rle, rle_area, rle_bbox, rle_to_mask, to_compressed,
)


def runs_of(mask: np.ndarray) -> list[int]:
    """Uncompressed COCO runs (column-major, starting with zeros), by brute force."""
    flat = mask.T.ravel().astype(int)
    runs, current, n = [], 0, 0
    for v in flat:
        if v != current:
            runs.append(n)
            current, n = v, 0
        n += 1
    return runs + [n]


@settings(max_examples=60, deadline=None)
@given(arrays(bool, st.tuples(st.integers(1, 12), st.integers(1, 12))))
def test_round_trip_and_run_lengths(mask):
    rle = mask_to_rle(mask)
    assert isinstance(rle["counts"], str) and rle["size"] == list(mask.shape)
    assert np.array_equal(rle_to_mask(rle), mask)
    assert decode_counts(rle["counts"]).tolist() == runs_of(mask)
    assert rle_area(rle) == mask.sum()
    assert check_rle(rle, *mask.shape) == rle
    # Uncompressed runs are accepted and turned into the same compressed form.
    assert check_rle({"size": list(mask.shape), "counts": runs_of(mask)}, *mask.shape) == rle


def test_matches_pycocotools_and_bbox():
    m = np.zeros((20, 30), bool)
    m[5:9, 10:22] = True
    rle = mask_to_rle(m)
    ref = mask_api.encode(np.asfortranarray(m.astype(np.uint8)))
    assert rle["counts"] == ref["counts"].decode()
    assert rle_bbox(rle) == [10.0, 5.0, 12.0, 4.0]
    assert rle_bbox(mask_to_rle(np.zeros((3, 3), bool))) == [0.0, 0.0, 0.0, 0.0]
    assert to_compressed({"size": [20, 30], "counts": ref["counts"]}) == rle


def test_large_runs_decode():
    m = np.zeros((1080, 1920), bool)
    m[100:900, 50:1800] = True
    assert decode_counts(mask_to_rle(m)["counts"]).sum() == 1080 * 1920


GOOD = mask_to_rle(np.eye(4, dtype=bool))


@pytest.mark.parametrize("rle, message", [
    ("not a dict", "must be an object"),
    ({"counts": GOOD["counts"]}, "must be an object with 'size' and 'counts'"),
    ({"size": [4], "counts": GOOD["counts"]}, "must be \\[height, width\\]"),
    ({"size": [5, 4], "counts": GOOD["counts"]}, "differs from the video's"),
    ({"size": [4, 4], "counts": 17}, "must be a string or a list"),
    ({"size": [4, 4], "counts": [3, 2, 1]}, "cover 6 pixels"),
    ({"size": [4, 4], "counts": [3, -2, 15]}, "non-negative"),
    ({"size": [4, 4], "counts": "zzzz~"}, "outside the RLE alphabet"),
    ({"size": [4, 4], "counts": "0"}, "cover 0 pixels"),
    ({"size": [4, 4], "counts": GOOD["counts"] + "1"}, "cover"),
    ({"size": [4, 4], "counts": "01i"}, "ends in the middle"),
])
def test_malformed(rle, message):
    with pytest.raises(RLEError, match=message):
        check_rle(rle, 4, 4)
