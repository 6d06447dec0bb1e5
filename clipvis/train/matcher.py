"""Hungarian matching of query predictions to ground-truth masks.

Each ground-truth mask gets the one query whose prediction costs least to
turn into it; the other queries learn "no object". The cost of query q for
target t, as the official CLIP-VIS matcher computes it on points shared by all
masks of an image:

    C = object * (-p_object(q)) + mask * BCE(q, t) + dice * Dice(q, t) [+ iou * (1 - softIoU(q, t))]

The official matcher computes the soft-IoU cost but leaves it out of the sum
(the line is commented out), so `iou` defaults to 0 here; set it to use it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from scipy.optimize import linear_sum_assignment

from .points import point_sample


@dataclass(frozen=True)
class MatchCosts:
    object: float = 2.0
    mask: float = 5.0
    dice: float = 5.0
    iou: float = 0.0  # official: computed, not used
    num_points: int = 12544  # 112 x 112


def pairwise_bce(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """logits (Q, P), targets (N, P) in [0, 1] -> (Q, N) mean BCE over the points."""
    pos = F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits), reduction="none")
    neg = F.binary_cross_entropy_with_logits(logits, torch.zeros_like(logits), reduction="none")
    return (pos @ targets.T + neg @ (1 - targets).T) / logits.shape[1]


def pairwise_dice(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """(Q, N) of 1 - (2|p·t| + 1) / (|p| + |t| + 1), p = sigmoid(logits); +1 keeps empty pairs finite."""
    p = logits.sigmoid()
    inter = p @ targets.T
    return 1 - (2 * inter + 1) / (p.sum(-1)[:, None] + targets.sum(-1)[None, :] + 1)


def pairwise_soft_iou(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """(Q, N) of 1 - (|p·t| + 1) / (|p| + |t| - |p·t| + 1) with p = sigmoid(logits)."""
    p = logits.sigmoid()
    inter = p @ targets.T
    union = p.sum(-1)[:, None] + targets.sum(-1)[None, :] - inter
    return 1 - (inter + 1) / (union + 1)


def cost_matrix(object_logits: torch.Tensor, point_logits: torch.Tensor, point_targets: torch.Tensor,
                costs: MatchCosts) -> torch.Tensor:
    """object_logits (Q, 2) with index 0 = object; point_logits (Q, P); point_targets (N, P) -> (Q, N)."""
    p_object = object_logits.float().softmax(-1)[:, 0]
    c = costs.object * -p_object[:, None].expand(-1, point_targets.shape[0])
    c = c + costs.mask * pairwise_bce(point_logits, point_targets)
    c = c + costs.dice * pairwise_dice(point_logits, point_targets)
    if costs.iou:
        c = c + costs.iou * pairwise_soft_iou(point_logits, point_targets)
    return c


@torch.no_grad()
def match_image(object_logits: torch.Tensor, mask_logits: torch.Tensor, target_masks: torch.Tensor,
                costs: MatchCosts, *, generator: torch.Generator | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """One image: object_logits (Q, 2), mask_logits (Q, h, w), target_masks (N, H, W) in [0, 1].

    Returns (query indices, target indices), int64 on the CPU, sorted by query;
    min(Q, N) pairs. All masks share one set of uniform random points.
    """
    q, n = mask_logits.shape[0], target_masks.shape[0]
    if n == 0:
        empty = torch.zeros(0, dtype=torch.int64)
        return empty, empty.clone()
    coords = torch.rand(1, costs.num_points, 2, device=mask_logits.device, generator=generator)
    point_logits = point_sample(mask_logits.float(), coords.expand(q, -1, -1))
    point_targets = point_sample(target_masks.float(), coords.expand(n, -1, -1))
    c = cost_matrix(object_logits, point_logits, point_targets, costs).cpu().numpy()
    # Overflowed logits (fp16) must not stop training: a huge finite cost just
    # makes that pair the last choice.
    c = np.nan_to_num(c, nan=1e8, posinf=1e8, neginf=-1e8)
    rows, cols = linear_sum_assignment(c)
    return torch.as_tensor(rows, dtype=torch.int64), torch.as_tensor(cols, dtype=torch.int64)
