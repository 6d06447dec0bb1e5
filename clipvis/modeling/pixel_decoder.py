"""Mask2Former's pixel decoder: a deformable-attention encoder over res3..res5
plus an FPN step down to res2, giving mask features at stride 4.

Module and parameter names follow the official checkpoints
(`sem_seg_head.pixel_decoder.*`), so their state dicts load as they are.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .deform_attn import MSDeformAttn
from .mask_features import MaskFeatures
from .position_encoding import PositionEmbeddingSine


class NormConv2d(nn.Conv2d):
    """detectron2's Conv2d: a conv with an optional `norm` and ReLU after it."""

    def __init__(self, *args, norm: nn.Module | None = None, relu: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.norm = norm
        self.relu = relu

    def forward(self, x):
        x = super().forward(x)
        if self.norm is not None:
            x = self.norm(x)
        if self.relu:
            x = F.relu(x, inplace=not torch.is_grad_enabled())
        return x


def _conv1x1_to_contiguous(conv: nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
    """A 1x1 conv of a channels-last map as one product per image, W @ X^T, whose
    result is already in the contiguous (B, C, H, W) layout the decoder reads:
    no conv on a large map followed by a layout copy (3x faster on the CPU)."""
    b, c, h, w = x.shape
    pixels = x.permute(0, 2, 3, 1).reshape(b, h * w, c)  # a view when x is channels-last
    weight = conv.weight.view(conv.out_channels, c).expand(b, -1, -1)
    return torch.baddbmm(conv.bias[None, :, None], weight, pixels.transpose(1, 2)).view(b, -1, h, w)


def c2_xavier_fill(module: nn.Conv2d):
    nn.init.kaiming_uniform_(module.weight, a=1)
    if module.bias is not None:
        nn.init.constant_(module.bias, 0)


class DeformEncoderLayer(nn.Module):
    def __init__(self, *, d_model: int, d_ffn: int, n_levels: int, n_heads: int, n_points: int):
        super().__init__()
        self.self_attn = MSDeformAttn(d_model, n_levels, n_heads, n_points)
        self.norm1 = nn.LayerNorm(d_model)
        self.linear1 = nn.Linear(d_model, d_ffn)
        self.linear2 = nn.Linear(d_ffn, d_model)
        self.norm2 = nn.LayerNorm(d_model)

    def forward(self, src, pos, reference_points, spatial_shapes):
        src = self.norm1(src + self.self_attn(src + pos, reference_points, src, spatial_shapes))
        return self.norm2(src + self.linear2(F.relu(self.linear1(src))))


class DeformEncoder(nn.Module):
    def __init__(self, layers: list[DeformEncoderLayer]):
        super().__init__()
        self.layers = nn.ModuleList(layers)

    @staticmethod
    def reference_points(spatial_shapes, device):
        """Pixel centres of every level in [0, 1]; (1, S, L, 2). No padding masks:
        the official model runs with all-valid masks, so valid ratios are 1."""
        refs = []
        for h, w in spatial_shapes:
            ys, xs = torch.meshgrid(
                torch.linspace(0.5, h - 0.5, h, dtype=torch.float32, device=device),
                torch.linspace(0.5, w - 0.5, w, dtype=torch.float32, device=device),
                indexing="ij",
            )
            refs.append(torch.stack((xs.reshape(-1) / w, ys.reshape(-1) / h), -1))
        ref = torch.cat(refs, 0)[None]
        return ref[:, :, None].expand(-1, -1, len(spatial_shapes), -1)

    def forward(self, src, pos, spatial_shapes):
        ref = self.reference_points(spatial_shapes, src.device)
        for layer in self.layers:
            src = layer(src, pos, ref, spatial_shapes)
        return src


class DeformEncoderOnly(nn.Module):
    def __init__(self, *, d_model: int, n_heads: int, n_layers: int, d_ffn: int, n_levels: int, n_points: int = 4):
        super().__init__()
        self.encoder = DeformEncoder(
            [DeformEncoderLayer(d_model=d_model, d_ffn=d_ffn, n_levels=n_levels, n_heads=n_heads, n_points=n_points)
             for _ in range(n_layers)]
        )
        self.level_embed = nn.Parameter(torch.empty(n_levels, d_model))
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)
        for m in self.modules():
            if isinstance(m, MSDeformAttn):
                m._reset_parameters()
        nn.init.normal_(self.level_embed)

    def forward(self, srcs, pos_embeds):
        shapes = [tuple(x.shape[-2:]) for x in srcs]
        src = torch.cat([x.flatten(2).transpose(1, 2) for x in srcs], 1)
        pos = torch.cat(
            [p.flatten(2).transpose(1, 2) + self.level_embed[lvl].view(1, 1, -1) for lvl, p in enumerate(pos_embeds)], 1
        )
        return self.encoder(src, pos, shapes), shapes


class MSDeformAttnPixelDecoder(nn.Module):
    """in_channels: {"res2": C2, "res3": C3, "res4": C4, "res5": C5} (strides 4..32)."""

    def __init__(self, *, in_channels: dict[str, int], conv_dim: int = 256, mask_dim: int = 256,
                 n_heads: int = 8, n_enc_layers: int = 6, d_ffn: int = 1024,
                 transformer_in_features=("res3", "res4", "res5")):
        super().__init__()
        self.transformer_in_features = list(transformer_in_features)
        # res5 -> res3: low to high resolution, as the checkpoints store them.
        self.input_proj = nn.ModuleList(
            nn.Sequential(nn.Conv2d(in_channels[f], conv_dim, kernel_size=1), nn.GroupNorm(32, conv_dim))
            for f in self.transformer_in_features[::-1]
        )
        for proj in self.input_proj:
            nn.init.xavier_uniform_(proj[0].weight, gain=1)
            nn.init.constant_(proj[0].bias, 0)
        self.transformer = DeformEncoderOnly(
            d_model=conv_dim, n_heads=n_heads, n_layers=n_enc_layers, d_ffn=d_ffn,
            n_levels=len(self.transformer_in_features),
        )
        self.pe_layer = PositionEmbeddingSine(conv_dim // 2)
        self.mask_features = nn.Conv2d(conv_dim, mask_dim, kernel_size=1)
        c2_xavier_fill(self.mask_features)

        # FPN levels below the encoder's finest input (res2 when it starts at res3).
        all_features = ["res2", "res3", "res4", "res5"]
        self.fpn_features = all_features[: all_features.index(self.transformer_in_features[0])]
        for idx, f in enumerate(self.fpn_features):
            lateral = NormConv2d(in_channels[f], conv_dim, kernel_size=1, bias=False, norm=nn.GroupNorm(32, conv_dim))
            output = NormConv2d(conv_dim, conv_dim, kernel_size=3, padding=1, bias=False,
                                norm=nn.GroupNorm(32, conv_dim), relu=True)
            c2_xavier_fill(lateral)
            c2_xavier_fill(output)
            self.add_module(f"adapter_{idx + 1}", lateral)
            self.add_module(f"layer_{idx + 1}", output)

    def forward(self, features: dict[str, torch.Tensor]) -> tuple[MaskFeatures, list[torch.Tensor]]:
        """The mask features (B, mask_dim, H/4, W/4) and the three coarsest
        multi-scale maps, low to high resolution, for the transformer decoder."""
        srcs, pos = [], []
        for idx, f in enumerate(self.transformer_in_features[::-1]):
            x = features[f].float()  # deformable attention runs in fp32, as in the official code
            srcs.append(self.input_proj[idx](x))
            pos.append(self.pe_layer(x))
        y, shapes = self.transformer(srcs, pos)
        b = y.shape[0]
        outs = [z.transpose(1, 2).reshape(b, -1, h, w) for z, (h, w) in zip(y.split([h * w for h, w in shapes], 1), shapes)]
        # The FPN's large convolutions run faster on channels-last maps (oneDNN's preferred layout).
        cl = torch.channels_last
        for idx, f in enumerate(self.fpn_features[::-1]):
            n = len(self.fpn_features) - idx
            lateral = getattr(self, f"adapter_{n}")(features[f].float().contiguous(memory_format=cl))
            up = F.interpolate(outs[-1].contiguous(memory_format=cl), size=lateral.shape[-2:], mode="bilinear",
                               align_corners=False)
            outs.append(getattr(self, f"layer_{n}")(up.add_(lateral)))
        return self.mask_feature_map(outs[-1]), outs[:3]

    def mask_feature_map(self, fpn: torch.Tensor) -> MaskFeatures:
        """The last 1x1 conv over the FPN's finest map (B, conv_dim, H/4, W/4)."""
        return MaskFeatures(_conv1x1_to_contiguous(self.mask_features, fpn))
