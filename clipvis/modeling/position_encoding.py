"""Sine position encoding over a 2-D feature map (DETR / Mask2Former style)."""
import functools
import math

import torch
from torch import nn


class PositionEmbeddingSine(nn.Module):
    """Normalised sine/cosine encoding; returns (B, 2*num_pos_feats, H, W).

    It depends only on the map's size, so it is computed once per (size,
    device) and returned expanded over the batch: callers must not write to it.
    """

    def __init__(self, num_pos_feats: int, *, temperature: float = 10000.0):
        super().__init__()
        self.num_pos_feats = num_pos_feats
        self.temperature = temperature
        self.scale = 2 * math.pi

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        pos = _sine_encoding(self.num_pos_feats, self.temperature, self.scale, h, w, x.device)
        return pos.expand(b, -1, -1, -1)


@functools.lru_cache(maxsize=16)
@torch.no_grad()
def _sine_encoding(num_pos_feats: int, temperature: float, scale: float, h: int, w: int, device) -> torch.Tensor:
    ones = torch.ones((1, h, w), device=device, dtype=torch.float32)
    y_embed = ones.cumsum(1)
    x_embed = ones.cumsum(2)
    eps = 1e-6
    y_embed = y_embed / (y_embed[:, -1:, :] + eps) * scale
    x_embed = x_embed / (x_embed[:, :, -1:] + eps) * scale

    dim_t = torch.arange(num_pos_feats, dtype=torch.float32, device=device)
    dim_t = temperature ** (2 * torch.div(dim_t, 2, rounding_mode="floor") / num_pos_feats)
    pos_x = x_embed[:, :, :, None] / dim_t
    pos_y = y_embed[:, :, :, None] / dim_t
    pos_x = torch.stack((pos_x[:, :, :, 0::2].sin(), pos_x[:, :, :, 1::2].cos()), dim=4).flatten(3)
    pos_y = torch.stack((pos_y[:, :, :, 0::2].sin(), pos_y[:, :, :, 1::2].cos()), dim=4).flatten(3)
    return torch.cat((pos_y, pos_x), dim=3).permute(0, 3, 1, 2)
