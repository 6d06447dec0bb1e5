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

BAND = 2  # Chebyshev radius of exact values around sign changes


@dataclass
class FrameMaskCode:
    """Q masks of one frame at the low resolution (h, w), in a few flat buffers.

    A long video keeps one of these per frame, so it is a handful of objects
    rather than a few hundred (one RLE dict and array per mask): Python's
    per-object overhead and the heap pages that scattered small objects pin
    were about 100 KB a frame.
    """

    sign_counts: bytes  # the Q compressed pycocotools RLE strings of logits > 0, back to back
    band_counts: bytes  # the Q RLE strings of the pixels whose exact value is kept
    values: np.ndarray  # float32: the band's values, mask after mask, column-major within each
    offsets: np.ndarray  # (3, Q + 1) int64: where mask q starts in sign_counts, band_counts, values
    shape: tuple  # (Q, h, w)

    @property
    def nbytes(self) -> int:
        return len(self.sign_counts) + len(self.band_counts) + self.values.nbytes + self.offsets.nbytes

    @classmethod
    def encode(cls, logits: torch.Tensor) -> "FrameMaskCode":
        """logits: (Q, h, w) float tensor, on any device."""
        return cls.from_pixels(FramePixels.of(logits))

    @classmethod
    def from_pixels(cls, px: "FramePixels") -> "FrameMaskCode":
        """The RLE step, on the CPU only: safe on a worker thread while the GPU runs on."""
        signs, bands = mask_util.encode(px.sign), mask_util.encode(px.band)
        offsets = np.zeros((3, len(signs) + 1), np.int64)
        offsets[0, 1:] = np.cumsum([len(r["counts"]) for r in signs])
        offsets[1, 1:] = np.cumsum([len(r["counts"]) for r in bands])
        offsets[2, 1:] = np.cumsum(px.counts)
        return cls(sign_counts=b"".join(r["counts"] for r in signs), band_counts=b"".join(r["counts"] for r in bands),
                   values=px.values, offsets=offsets, shape=px.shape)

    def _rle(self, which: int, q: int) -> dict:
        counts = self.sign_counts if which == 0 else self.band_counts
        return {"size": list(self.shape[1:]), "counts": counts[self.offsets[which, q]:self.offsets[which, q + 1]]}

    def band_values(self, q: int) -> np.ndarray:
        return self.values[self.offsets[2, q]:self.offsets[2, q + 1]]

    def decode(self, queries=None) -> torch.Tensor:
        """Logits (len(queries), h, w) equal in sign-pattern effect to the originals."""
        q_all, h, w = self.shape
        queries = list(range(q_all)) if queries is None else list(queries)
        if not queries:
            return torch.zeros(0, h, w)
        signs = mask_util.decode([self._rle(0, q) for q in queries])  # (h, w, n)
        bands = mask_util.decode([self._rle(1, q) for q in queries])
        out = np.ascontiguousarray(signs.transpose(2, 1, 0), dtype=np.float32) * 2 - 1  # (n, w, h)
        for row, q in enumerate(queries):
            out[row][bands[:, :, row].T.astype(bool)] = self.band_values(q)
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
