"""The CLIP-VIS training objective for the class-agnostic mask generator.

Per decoder layer (deep supervision: every layer's prediction, the learnable
queries' own included, is matched and supervised on its own):

- loss_object_ce: 2-way cross-entropy, matched queries -> object (index 0),
  the rest -> no object (index 1), the no-object class weighted by
  `no_object_weight` (a weighted mean, as F.cross_entropy takes it);
- loss_mask: BCE on importance-sampled points, mean per mask, summed over
  masks, divided by the number of ground-truth masks (averaged over ranks);
- loss_dice: dice loss (+1 smoothing) on the same points, same normalisation;
- loss_iou: |iou head - true IoU| for matched queries, averaged over those
  whose true IoU is > 0. The true IoU is the official one: the prediction
  binarised at sigmoid > 0.5 against the target, on the same sampled points.

Weights (official config): object 2, mask 5, dice 5, iou 2. The official
config says NO_OBJECT_WEIGHT 0.1, but its criterion ignores it and hard-codes
0.4 (its checkpoints carry criterion.empty_object_weight = [1, 0.4]); we
follow the config by default and take 0.4 when asked.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from .matcher import MatchCosts, match_image
from .points import point_sample, uncertain_point_coords

LOSS_NAMES = ("loss_object_ce", "loss_mask", "loss_dice", "loss_iou")


@dataclass(frozen=True)
class LossConfig:
    object_weight: float = 2.0
    mask_weight: float = 5.0
    dice_weight: float = 5.0
    iou_weight: float = 2.0
    no_object_weight: float = 0.1
    num_points: int = 12544
    oversample_ratio: float = 3.0
    importance_ratio: float = 0.75
    match: MatchCosts = field(default_factory=MatchCosts)

    def weights(self) -> dict[str, float]:
        return dict(zip(LOSS_NAMES, (self.object_weight, self.mask_weight, self.dice_weight, self.iou_weight)))


def mask_bce(point_logits: torch.Tensor, point_labels: torch.Tensor, num_masks: float) -> torch.Tensor:
    """(M, P) logits and labels -> mean over points, summed over masks, / num_masks."""
    return F.binary_cross_entropy_with_logits(point_logits, point_labels, reduction="none").mean(1).sum() / num_masks


def mask_dice(point_logits: torch.Tensor, point_labels: torch.Tensor, num_masks: float) -> torch.Tensor:
    p = point_logits.sigmoid()
    dice = 1 - (2 * (p * point_labels).sum(-1) + 1) / (p.sum(-1) + point_labels.sum(-1) + 1)
    return dice.sum() / num_masks


def hard_iou(point_logits: torch.Tensor, point_labels: torch.Tensor) -> torch.Tensor:
    """(M,) IoU of sigmoid > 0.5 with the labels; 0 where both are empty. No gradient flows."""
    pred = (point_logits.detach().sigmoid() > 0.5).to(point_labels.dtype)
    inter = (pred * point_labels).sum(-1)
    union = pred.sum(-1) + point_labels.sum(-1) - inter
    return torch.where(union > 0, inter / union.clamp(min=1e-12), torch.zeros_like(inter))


def iou_regression(pred_iou: torch.Tensor, true_iou: torch.Tensor) -> torch.Tensor:
    """Mean |pred - true| over masks whose true IoU is > 0 (a zero loss, still in the graph, if none)."""
    keep = true_iou > 0
    if not keep.any():
        return pred_iou.sum() * 0.0
    return (pred_iou[keep] - true_iou[keep]).abs().sum() / keep.sum()


def global_num_masks(targets: list[torch.Tensor], device) -> float:
    """Ground-truth masks per process, averaged over all processes (at least 1)."""
    n = torch.tensor([float(sum(len(t) for t in targets))], device=device)
    world = 1
    if dist.is_available() and dist.is_initialized():
        dist.all_reduce(n)
        world = dist.get_world_size()
    return max(n.item() / world, 1.0)


class SetCriterion(nn.Module):
    def __init__(self, *, config: LossConfig = LossConfig()):
        super().__init__()
        self.config = config
        # Index 0 = object, 1 = no object; the checkpoints' key name.
        self.register_buffer("empty_object_weight", torch.tensor([1.0, config.no_object_weight]))

    def forward(self, layers: list[dict], targets: list[torch.Tensor], *,
                generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """layers: per decoder layer, earliest first, dicts with object_logits (B, Q, 2),
        mask_logits (B, Q, h, w), ious (B, Q). targets: per image (N_b, H, W) in {0, 1}.

        Returns weighted losses: the last layer's under LOSS_NAMES, earlier
        layers' with a suffix _0, _1, ... (official naming). Their sum is the
        training loss.
        """
        num_masks = global_num_masks(targets, layers[-1]["mask_logits"].device)
        weights = self.config.weights()
        out = {}
        for i, layer in enumerate(layers):
            suffix = "" if i == len(layers) - 1 else f"_{i}"
            for name, value in self.layer_losses(layer, targets, num_masks, generator=generator).items():
                out[name + suffix] = value * weights[name]
        return out

    def layer_losses(self, layer: dict, targets: list[torch.Tensor], num_masks: float, *,
                     generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """Unweighted losses of one layer."""
        c = self.config
        object_logits = layer["object_logits"].float()
        mask_logits = layer["mask_logits"].float()
        ious = layer["ious"].float()
        pairs = [match_image(object_logits[b], mask_logits[b], t, c.match, generator=generator)
                 for b, t in enumerate(targets)]

        labels = torch.ones(object_logits.shape[:2], dtype=torch.int64, device=object_logits.device)
        for b, (src, _) in enumerate(pairs):
            labels[b, src.to(labels.device)] = 0
        loss_object = F.cross_entropy(object_logits.transpose(1, 2), labels, self.empty_object_weight)

        batch = torch.cat([torch.full_like(src, b) for b, (src, _) in enumerate(pairs)]).to(mask_logits.device)
        src = torch.cat([s for s, _ in pairs]).to(mask_logits.device)
        if len(src) == 0:
            # No ground truth anywhere: zero mask losses that still reach every
            # parameter, so DistributedDataParallel sees the same graph on all ranks.
            zero = mask_logits.sum() * 0.0 + ious.sum() * 0.0
            return dict(zip(LOSS_NAMES, (loss_object, zero, zero, zero)))
        pred = mask_logits[batch, src]  # (M, h, w)
        tgt = torch.cat([t[j.to(t.device)] for t, (_, j) in zip(targets, pairs)]).to(pred)  # (M, H, W)
        with torch.no_grad():
            coords = uncertain_point_coords(pred, num_points=c.num_points, oversample_ratio=c.oversample_ratio,
                                            importance_ratio=c.importance_ratio, generator=generator)
            point_labels = point_sample(tgt, coords)
        point_logits = point_sample(pred, coords)
        return {
            "loss_object_ce": loss_object,
            "loss_mask": mask_bce(point_logits, point_labels, num_masks),
            "loss_dice": mask_dice(point_logits, point_labels, num_masks),
            "loss_iou": iou_regression(ious[batch, src], hard_iou(point_logits, point_labels)),
        }
