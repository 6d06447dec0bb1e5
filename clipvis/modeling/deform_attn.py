"""Multi-scale deformable attention (Deformable DETR), in PyTorch: the official
formulation, `F.grid_sample` per level. It is the path for training (gradients
reach the sampling locations) and for GPUs, and the reference the CPU backend's
gather sampler (clipvis/backends/cpu_modules.py) is tested against.
"""
import math

import torch
import torch.nn.functional as F
from torch import nn


def ms_deform_attn(value, spatial_shapes, sampling_locations, attention_weights):
    """Sample each level bilinearly at the given locations and mix by weight.

    value: (N, M, D, S) per-head values of all levels, channels first, flattened
    spatial_shapes: list of (H, W) per level, summing to S
    sampling_locations: (N, Lq, M, L, P, 2) in [0, 1], (x, y)
    attention_weights: (N, Lq, M, L, P), softmaxed over L*P
    returns (N, Lq, M*D)
    """
    n, m, d, _ = value.shape
    _, lq, _, n_levels, n_points, _ = sampling_locations.shape
    values = value.reshape(n * m, d, -1).split([h * w for h, w in spatial_shapes], dim=-1)
    # Points before queries, (N*M, L, P, Lq, 2): grid_sample then returns (N*M, D, P, Lq), and
    # each point's slice (N*M, D, Lq) is contiguous, so weighting and summing is a
    # few in-place multiply-adds instead of a big (D, Lq, L*P) temporary.
    grids = (2 * sampling_locations - 1).permute(0, 2, 3, 4, 1, 5).reshape(n * m, n_levels, n_points, lq, 2)
    weights = attention_weights.permute(0, 2, 3, 4, 1).reshape(n * m, 1, n_levels, n_points, lq)
    out = value.new_zeros(n * m, d, lq)
    for lvl, (h, w) in enumerate(spatial_shapes):
        v = values[lvl].view(n * m, d, h, w)  # a view: channels-first values need no copy
        sampled = F.grid_sample(v, grids[:, lvl], mode="bilinear", padding_mode="zeros", align_corners=False)
        for p in range(n_points):
            out.addcmul_(sampled[:, :, p], weights[:, :, lvl, p])
    return out.view(n, m * d, lq).transpose(1, 2).contiguous()


class MSDeformAttn(nn.Module):
    def __init__(self, d_model: int = 256, n_levels: int = 4, n_heads: int = 8, n_points: int = 4):
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model {d_model} is not divisible by n_heads {n_heads}")
        self.d_model, self.n_levels, self.n_heads, self.n_points = d_model, n_levels, n_heads, n_points
        self.sampling_offsets = nn.Linear(d_model, n_heads * n_levels * n_points * 2)
        self.attention_weights = nn.Linear(d_model, n_heads * n_levels * n_points)
        self.value_proj = nn.Linear(d_model, d_model)
        self.output_proj = nn.Linear(d_model, d_model)
        self._reset_parameters()

    def _reset_parameters(self):
        nn.init.constant_(self.sampling_offsets.weight, 0.0)
        thetas = torch.arange(self.n_heads, dtype=torch.float32) * (2.0 * math.pi / self.n_heads)
        grid = torch.stack([thetas.cos(), thetas.sin()], -1)
        grid = (grid / grid.abs().max(-1, keepdim=True)[0]).view(self.n_heads, 1, 1, 2)
        grid = grid.repeat(1, self.n_levels, self.n_points, 1)
        for i in range(self.n_points):
            grid[:, :, i, :] *= i + 1
        with torch.no_grad():
            self.sampling_offsets.bias.copy_(grid.view(-1))
        nn.init.constant_(self.attention_weights.weight, 0.0)
        nn.init.constant_(self.attention_weights.bias, 0.0)
        nn.init.xavier_uniform_(self.value_proj.weight)
        nn.init.constant_(self.value_proj.bias, 0.0)
        nn.init.xavier_uniform_(self.output_proj.weight)
        nn.init.constant_(self.output_proj.bias, 0.0)

    def forward(self, query, reference_points, input_flatten, spatial_shapes):
        """query (N, Lq, C); reference_points (N, Lq, L, 2) in [0, 1]; input_flatten (N, S, C)."""
        n, lq, _ = query.shape
        # Project straight into channels-first layout (N, C, S), which grid_sample reads without a copy.
        value = torch.baddbmm(self.value_proj.bias[None, :, None], self.value_proj.weight.expand(n, -1, -1),
                              input_flatten.transpose(1, 2))
        value = value.view(n, self.n_heads, self.d_model // self.n_heads, -1)
        offsets = self.sampling_offsets(query).view(n, lq, self.n_heads, self.n_levels, self.n_points, 2)
        weights = self.attention_weights(query).view(n, lq, self.n_heads, self.n_levels * self.n_points)
        weights = F.softmax(weights, -1).view(n, lq, self.n_heads, self.n_levels, self.n_points)
        normalizer = torch.tensor([[w, h] for h, w in spatial_shapes], dtype=query.dtype, device=query.device)
        locations = reference_points[:, :, None, :, None, :] + offsets / normalizer[None, None, None, :, None, :]
        out = ms_deform_attn(value, spatial_shapes, locations, weights)
        return self.output_proj(out)
