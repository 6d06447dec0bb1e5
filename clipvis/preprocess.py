"""The official test-time preprocessing: resize, normalise, pad.

detectron2's ResizeShortestEdge(min_size, max_size) with PIL bilinear resizing
of uint8 frames, then (x - mean) / std per RGB channel, then zero padding at
the bottom and right to a multiple of 32.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .video.resize import resize_shortest_edge as resize_frame  # noqa: F401 - the engine's resize rule

PIXEL_MEAN = (122.7709383, 116.7460125, 104.09373615)
PIXEL_STD = (68.5005327, 66.6321579, 70.32316305)
SIZE_DIVISIBILITY = 32


def padded_hw(h: int, w: int) -> tuple[int, int]:
    d = SIZE_DIVISIBILITY
    return (h + d - 1) // d * d, (w + d - 1) // d * d


def to_model_input(frames: list[np.ndarray], *, device="cpu") -> torch.Tensor:
    """Resized uint8 frames of one size -> (B, 3, Hp, Wp) normalised, zero-padded."""
    x = torch.from_numpy(np.stack(frames)).to(device).permute(0, 3, 1, 2).float()
    mean = torch.tensor(PIXEL_MEAN, device=device).view(1, 3, 1, 1)
    std = torch.tensor(PIXEL_STD, device=device).view(1, 3, 1, 1)
    x = (x - mean) / std
    h, w = x.shape[-2:]
    ph, pw = padded_hw(h, w)
    return F.pad(x, (0, pw - w, 0, ph - h), value=0.0)
