"""Python side of mask_pixels.c: the sign and band maps and the band's values of
a frame's masks, as `clipvis.masks.FramePixels` wants them."""
from __future__ import annotations

import ctypes

import numpy as np
import torch

from .build import load_library

_ptr, _i64 = ctypes.c_void_p, ctypes.c_int64


def _library():
    lib = load_library("mask_pixels")
    if lib is not None and not getattr(lib, "_typed", False):
        lib.mask_bands.argtypes = [_ptr] + [_i64] * 4 + [_ptr] * 3
        lib.mask_bands.restype = ctypes.c_int
        lib.band_values.argtypes = [_ptr] + [_i64] * 3 + [_ptr] * 3
        lib.band_values.restype = None
        lib._typed = True
    return lib


def mask_pixels(logits: torch.Tensor, radius: int):
    """logits (Q, h, w) float32 on the CPU -> (sign, band, values, counts), or None
    without the C library. sign and band are (Q, w, h) uint8 arrays (column by
    column), values the band's logits mask after mask, counts their number per mask."""
    lib = _library()
    if lib is None:
        return None
    if logits.dtype != torch.float32 or not logits.is_cpu or logits.dim() != 3:
        raise TypeError(f"mask_pixels: (Q, h, w) float32 CPU logits, got {logits.dtype} {tuple(logits.shape)}")
    x = logits.contiguous()
    q, h, w = x.shape
    sign, band = np.empty((q, w, h), np.uint8), np.empty((q, w, h), np.uint8)
    counts = np.empty(q, np.int64)
    if lib.mask_bands(x.data_ptr(), q, h, w, radius, sign.ctypes.data, band.ctypes.data, counts.ctypes.data):
        raise MemoryError("mask_pixels: no memory for the scratch maps")
    starts = np.cumsum(counts) - counts
    values = np.empty(int(counts.sum()), np.float32)
    lib.band_values(x.data_ptr(), q, h, w, band.ctypes.data, starts.ctypes.data, values.ctypes.data)
    return sign, band, values, counts.tolist()
