"""Point sampling for mask losses (PointRend, as Mask2Former trains).

Losses on a few thousand sampled points instead of every pixel keep training
memory flat in the image size. Coordinates are (x, y) in [0, 1] over the
padded image, so a (H/4, W/4) prediction and an (H, W) target are sampled at
the same places without resizing either.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def point_sample(maps: torch.Tensor, coords: torch.Tensor) -> torch.Tensor:
    """Bilinear values of maps at points.

    maps: (N, H, W); coords: (N, P, 2) as (x, y) in [0, 1]. Returns (N, P).
    align_corners=False: 0 and 1 are the outer edges of the border pixels.
    Border padding keeps a mask that touches the image edge whole up to the
    edge; detectron2's point_sample pads with zeros, which fades the outer
    half pixel (under 0.5% of the points at a 1024 crop).
    """
    grid = (2.0 * coords - 1.0).unsqueeze(2)  # (N, P, 1, 2) in [-1, 1]
    out = F.grid_sample(maps.unsqueeze(1), grid.to(maps.dtype), mode="bilinear", padding_mode="border",
                        align_corners=False)
    return out[:, 0, :, 0]


def uncertain_point_coords(logits: torch.Tensor, *, num_points: int, oversample_ratio: float,
                           importance_ratio: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Points concentrated where the prediction is least certain.

    logits: (N, H, W). Draws num_points * oversample_ratio uniform points, keeps
    the importance_ratio * num_points whose logits are closest to 0 (the mask
    border the model is unsure of), and fills up with fresh uniform points so
    the loss still sees the whole image. Returns (N, num_points, 2).
    """
    n = logits.shape[0]
    device = logits.device
    num_sampled = int(num_points * oversample_ratio)
    candidates = torch.rand(n, num_sampled, 2, device=device, generator=generator)
    uncertainty = -point_sample(logits.detach(), candidates).abs()
    num_uncertain = int(importance_ratio * num_points)
    num_random = num_points - num_uncertain
    top = uncertainty.topk(num_uncertain, dim=1).indices  # (N, k)
    coords = torch.gather(candidates, 1, top.unsqueeze(-1).expand(-1, -1, 2))
    if num_random > 0:
        coords = torch.cat([coords, torch.rand(n, num_random, 2, device=device, generator=generator)], dim=1)
    return coords
