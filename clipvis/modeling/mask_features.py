"""Mask features for the transformer decoder, and the resize it applies to them."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def resize_bilinear(x: torch.Tensor, size) -> torch.Tensor:
    """`F.interpolate(x, size, mode="bilinear", align_corners=False)`, faster when
    `size` divides x's size by one even factor f (the decoder's case: stride 4 to
    8, 16, 32). Each output pixel then lies halfway between input pixels
    f*i + f/2 - 1 and f*i + f/2 in both directions, so it is the mean of those four
    (interpolate's weights are all 0.5): equal to interpolate up to float rounding
    (bit for bit at f = 2), and 3.5x faster at the decoder's sizes on the CPU."""
    (h, w), (oh, ow) = x.shape[-2:], size
    f = h // oh
    if f < 2 or f % 2 or h != f * oh or w != f * ow:
        return F.interpolate(x, size=size, mode="bilinear", align_corners=False)
    o = f // 2 - 1
    top, bottom = x[..., o::f, :], x[..., o + 1::f, :]
    return (top[..., o::f] + top[..., o + 1::f]).add_(bottom[..., o::f] + bottom[..., o + 1::f]).mul_(0.25)


class MaskFeatures:
    """The pixel decoder's per-pixel embeddings, (B, D, H/4, W/4), as the
    transformer decoder uses them: only in products with query embeddings
    (`project`) and in resizes before such products (`resized`). Keeping those
    two steps here lets a backend hold the features in another form (the CPU
    backend keeps the last 1x1 conv unapplied: clipvis/backends/cpu_modules.py)."""

    def __init__(self, dense: torch.Tensor):
        self._dense = dense

    def project(self, mask_embed: torch.Tensor) -> torch.Tensor:
        """(B, Q, D) embeddings -> (B, Q, H, W) mask logits, as one batched matmul on the
        features' own layout (einsum may copy the large feature map first)."""
        b, c, h, w = self._dense.shape
        return torch.bmm(mask_embed, self._dense.reshape(b, c, h * w)).view(b, -1, h, w)

    def resized(self, size) -> "MaskFeatures":
        return MaskFeatures(resize_bilinear(self._dense, size))

    def dense(self) -> torch.Tensor:
        """(B, D, H/4, W/4), as the official pixel decoder returns it."""
        return self._dense
