"""The model's resize rule: detectron2's ResizeShortestEdge, to the pixel.

The engine imports these two functions for preprocessing, so they must give
exactly the sizes and pixels the official CLIP-VIS pipeline gives: the output
size arithmetic of `ResizeShortestEdge.get_output_shape` and the PIL bilinear
resize that detectron2's `ResizeTransform` applies to uint8 images.
"""
from __future__ import annotations

import numpy as np
from PIL import Image

from clipvis.config import InferenceConfig

# The model's defaults, from their one home (clipvis/config.py).
MIN_SIZE_TEST = InferenceConfig().min_size
MAX_SIZE_TEST = InferenceConfig().max_size


def resized_hw(h: int, w: int, min_size: int = MIN_SIZE_TEST, max_size: int = MAX_SIZE_TEST) -> tuple[int, int]:
    """(h, w) after scaling the short side to min_size, unless the long side
    would then pass max_size (then the long side is max_size).

    The float steps follow detectron2 exactly (short side set to min_size,
    long side scaled; then both rescaled), because rounding with int(x + 0.5)
    can differ by a pixel under any other order of operations.
    """
    if h < 1 or w < 1:
        raise ValueError(f"cannot resize an empty frame of {h}x{w}")
    if min_size < 1 or max_size < 1:
        raise ValueError(f"min_size and max_size must be positive, got {min_size} and {max_size}")
    scale = min_size * 1.0 / min(h, w)
    if h < w:
        new_h, new_w = min_size, scale * w
    else:
        new_h, new_w = scale * h, min_size
    if max(new_h, new_w) > max_size:
        rescale = max_size * 1.0 / max(new_h, new_w)
        new_h, new_w = new_h * rescale, new_w * rescale
    return int(new_h + 0.5), int(new_w + 0.5)


def resize_shortest_edge(frame: np.ndarray, min_size: int = MIN_SIZE_TEST, max_size: int = MAX_SIZE_TEST) -> np.ndarray:
    """(H, W, 3) uint8 -> (h, w, 3) uint8 with (h, w) = resized_hw(H, W, ...)."""
    frame = np.asarray(frame)
    if frame.dtype != np.uint8 or frame.ndim != 3:
        raise ValueError(f"expected an (H, W, C) uint8 frame, got {frame.dtype} {frame.shape}")
    h, w = resized_hw(frame.shape[0], frame.shape[1], min_size, max_size)
    if (h, w) == frame.shape[:2]:
        return frame
    return np.asarray(Image.fromarray(frame).resize((w, h), Image.BILINEAR))
