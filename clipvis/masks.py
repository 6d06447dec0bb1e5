"""Compact, exact storage of per-query mask logits while streaming a video.

The final masks are `resize(crop(upsample(logits))) > 0` (both resizes
bilinear). Each output pixel is a convex combination of at most a 3x3 patch of
low-resolution logits, so it depends on exact logit values only where that
patch changes sign. We keep the sign map as RLE and the exact values only
within 2 pixels (Chebyshev) of a sign change; elsewhere any value of the right
sign gives the same binary mask. Decoding is therefore exact, at a fraction of
the memory of dense logits.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pycocotools.mask as mask_util
import torch
import torch.nn.functional as F

from .native import mask_pixels

BAND = 2  # Chebyshev radius of exact values around sign changes


@dataclass
class FrameMaskCode:
    """Q masks of one frame at the low resolution (h, w)."""

    sign_rles: list  # Q pycocotools RLEs of logits > 0
    band_rles: list  # Q RLEs of the pixels whose exact value is kept
    band_values: list  # Q float32 arrays: those values, in column-major (RLE) order
    shape: tuple  # (Q, h, w)

    @property
    def nbytes(self) -> int:
        return sum(len(r["counts"]) for r in self.sign_rles + self.band_rles) + sum(v.nbytes for v in self.band_values)

    @classmethod
    def encode(cls, logits: torch.Tensor) -> "FrameMaskCode":
        """logits: (Q, h, w) float tensor, on any device."""
        return cls.from_pixels(FramePixels.of(logits))

    @classmethod
    def from_pixels(cls, px: "FramePixels") -> "FrameMaskCode":
        """The RLE step, on the CPU only: safe on a worker thread while the GPU runs on."""
        return cls(
            sign_rles=mask_util.encode(px.sign),
            band_rles=mask_util.encode(px.band),
            band_values=np.split(px.values, np.cumsum(px.counts)[:-1]) if px.counts else [],
            shape=px.shape,
        )

    def decode(self, queries=None) -> torch.Tensor:
        """Logits (len(queries), h, w) equal in sign-pattern effect to the originals."""
        q_all, h, w = self.shape
        queries = list(range(q_all)) if queries is None else list(queries)
        if not queries:
            return torch.zeros(0, h, w)
        signs = mask_util.decode([self.sign_rles[q] for q in queries])  # (h, w, n)
        bands = mask_util.decode([self.band_rles[q] for q in queries])
        out = np.ascontiguousarray(signs.transpose(2, 1, 0), dtype=np.float32) * 2 - 1  # (n, w, h)
        for row, q in enumerate(queries):
            out[row][bands[:, :, row].T.astype(bool)] = self.band_values[q]
        return torch.from_numpy(np.ascontiguousarray(out.transpose(0, 2, 1)))


@dataclass
class FramePixels:
    """The pixel work of encoding one frame, done where the logits are (so on a
    GPU only two bit maps and the band's values cross to the CPU), as the CPU
    arrays that `FrameMaskCode.from_pixels` needs."""

    sign: np.ndarray  # (h, w, Q) uint8, Fortran order: logits > 0
    band: np.ndarray  # (h, w, Q) uint8, Fortran order: within BAND of a sign change
    values: np.ndarray  # float32: the band's logits, query by query, column-major within each
    counts: list  # band pixels per query
    shape: tuple  # (Q, h, w)

    @classmethod
    def of(cls, logits: torch.Tensor) -> "FramePixels":
        logits = logits.float()
        if logits.is_cpu:  # the C kernel: 3x faster than the tensor ops below
            native = mask_pixels(logits, BAND)
            if native is not None:
                sign, band, values, counts = native
                return cls(sign=sign.transpose(2, 1, 0), band=band.transpose(2, 1, 0), values=values,
                           counts=counts, shape=tuple(logits.shape))
        positive = logits > 0
        # In the band: both signs within the (2*BAND+1)^2 window around the pixel.
        band = _dilate(positive) & _dilate(~positive)
        # pycocotools wants (h, w, Q) in Fortran order: that is (Q, w, h) in C order.
        pos_qwh, band_qwh = positive.transpose(1, 2).contiguous(), band.transpose(1, 2).contiguous()
        if logits.is_cpu:  # numpy's boolean indexing is 4x faster than torch's here
            values = logits.transpose(1, 2).contiguous().numpy()[band_qwh.numpy()]
        else:
            values = logits.transpose(1, 2)[band_qwh].cpu().numpy()
        return cls(sign=_fortran_bits(pos_qwh), band=_fortran_bits(band_qwh), values=values,
                   counts=torch.count_nonzero(band_qwh, dim=(1, 2)).tolist(), shape=tuple(logits.shape))


def _fortran_bits(qwh: torch.Tensor) -> np.ndarray:
    """Contiguous (Q, w, h) bools -> (h, w, Q) uint8 in Fortran order, a view on the CPU."""
    return qwh.view(torch.uint8).cpu().numpy().transpose(2, 1, 0)


def _dilate(b: torch.Tensor) -> torch.Tensor:
    """OR over the (2*BAND+1)^2 window around each pixel of (Q, h, w) bools, as
    shifted ORs along each axis (much faster than max pooling floats)."""
    for dim in (1, 2):
        out = b.clone()
        n = b.shape[dim]
        for d in range(1, BAND + 1):
            if d >= n:
                break
            out.narrow(dim, d, n - d).logical_or_(b.narrow(dim, 0, n - d))
            out.narrow(dim, 0, n - d).logical_or_(b.narrow(dim, d, n - d))
        b = out
    return b


def logits_to_frame_masks(logits: torch.Tensor, *, input_hw, padded_hw, frame_hw) -> torch.Tensor:
    """The official path from low-resolution logits to masks at the frame size.

    logits: (N, h, w) at padded/4. Upsample bilinearly to the padded input size,
    crop to the resized (unpadded) input, resize bilinearly to the frame size,
    threshold at 0. Returns (N, H, W) bool.
    """
    if logits.shape[0] == 0:
        return torch.zeros(0, *frame_hw, dtype=torch.bool)
    x = F.interpolate(logits[None].float(), size=tuple(padded_hw), mode="bilinear", align_corners=False)
    x = x[:, :, : input_hw[0], : input_hw[1]]
    x = F.interpolate(x, size=tuple(frame_hw), mode="bilinear", align_corners=False)
    return x[0] > 0
