"""The frozen CLIP image encoder from open_clip, tapped at several scales.

Taps: stem, res2..res5 and the dense CLIP map (ConvNeXt: `trunk.norm_pre(res5)`;
ResNet: `layer4`). Channel counts are read from the model by a dry run, so any
open_clip ConvNeXt or ModifiedResNet works, custom JSON configs included.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class UnsupportedCLIPModel(ValueError):
    pass


def clip_kind(clip_model: nn.Module) -> str:
    visual = clip_model.visual
    trunk = getattr(visual, "trunk", None)
    if trunk is not None and hasattr(trunk, "stem") and hasattr(trunk, "stages"):
        return "convnext"
    if hasattr(visual, "layer4") and hasattr(visual, "attnpool"):
        return "resnet"
    raise UnsupportedCLIPModel(
        f"CLIP-VIS needs a convolutional CLIP (open_clip ConvNeXt or ResNet); got {type(visual).__name__}")


class CLIPBackbone(nn.Module):
    """Wraps an open_clip model as `clip_model` (the checkpoint key prefix)."""

    def __init__(self, clip_model: nn.Module):
        super().__init__()
        self.clip_model = clip_model
        self.kind = clip_kind(clip_model)
        for p in self.clip_model.parameters():
            p.requires_grad = False
        self.clip_model.eval()
        with torch.no_grad():
            feats = self.extract(torch.zeros(1, 3, 64, 64))
        self.channels = {k: v.shape[1] for k, v in feats.items()}

    def train(self, mode: bool = True):
        super().train(mode)
        self.clip_model.eval()  # frozen, always in eval mode
        return self

    @torch.no_grad()
    def extract(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """x: (B, 3, H, W) normalised, padded to a multiple of 32."""
        return self._convnext(x) if self.kind == "convnext" else self._resnet(x)

    forward = extract

    def _convnext(self, x):
        trunk = self.clip_model.visual.trunk
        out = {}
        x = trunk.stem(x)
        out["stem"] = x
        for i, stage in enumerate(trunk.stages):
            x = stage(x)
            out[f"res{i + 2}"] = x
        out["clip_vis_dense"] = trunk.norm_pre(x)
        return out

    def _resnet(self, x):
        v = self.clip_model.visual
        out = {}
        x = v.act1(v.bn1(v.conv1(x)))
        x = v.act2(v.bn2(v.conv2(x)))
        x = v.act3(v.bn3(v.conv3(x)))
        out["stem"] = x
        x = v.avgpool(x)
        for i, layer in enumerate((v.layer1, v.layer2, v.layer3, v.layer4)):
            x = layer(x)
            out[f"res{i + 2}"] = x
        out["clip_vis_dense"] = x
        return out

    @torch.no_grad()
    def pool(self, dense: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        """CLIP embeddings of mask regions.

        dense: (B, C, h, w) dense CLIP map; masks: (B, Q, h, w) logits at the
        dense map's size, binarised at > 0. Returns (B, Q, D) before normalising.
        """
        if self.kind == "convnext":
            return self._pool_convnext(dense, masks)
        return self._pool_resnet(dense, masks)

    def _pool_convnext(self, dense, masks):
        binary = (masks > 0).to(dense.dtype)
        denom = binary.sum(dim=(-1, -2), keepdim=True) + 1e-8
        pooled = torch.einsum("bchw,bqhw->bqc", dense, binary / denom)
        b, q, c = pooled.shape
        x = self.clip_model.visual.trunk.head(pooled.reshape(b * q, c, 1, 1))  # norm + flatten
        x = self.clip_model.visual.head(x)
        return x.view(b, q, -1)

    def _pool_resnet(self, dense, masks):
        # CLIP's attention pool with one query per mask, attending only inside it.
        attnpool = self.clip_model.visual.attnpool
        b, c, h, w = dense.shape
        q = masks.shape[1]
        pos = attnpool.positional_embedding.to(dense.dtype)
        side = int(math.sqrt(pos.shape[0] - 1))
        spatial = pos[1:].permute(1, 0).reshape(1, c, side, side)
        spatial = F.interpolate(spatial, size=(h, w), mode="bilinear", align_corners=False)
        spatial = spatial.permute(2, 3, 0, 1).reshape(h * w, 1, c)
        x = dense.reshape(b, c, h * w).permute(2, 0, 1)
        key_value = x + spatial
        binary = (masks.reshape(b, q, h * w) > 0).to(masks.dtype)
        query = (x.mean(0, keepdim=True) + pos[:1, None, :]).repeat_interleave(q, dim=0)
        attn_mask = (binary < 0.5).unsqueeze(1).expand(-1, attnpool.num_heads, -1, -1)
        attn_mask = attn_mask.reshape(b * attnpool.num_heads, q, h * w)
        out = F.multi_head_attention_forward(
            query=query, key=key_value, value=key_value, embed_dim_to_check=c,
            num_heads=attnpool.num_heads,
            q_proj_weight=attnpool.q_proj.weight, k_proj_weight=attnpool.k_proj.weight,
            v_proj_weight=attnpool.v_proj.weight, in_proj_weight=None,
            in_proj_bias=torch.cat([attnpool.q_proj.bias, attnpool.k_proj.bias, attnpool.v_proj.bias]),
            bias_k=None, bias_v=None, add_zero_attn=False, dropout_p=0.0,
            out_proj_weight=attnpool.c_proj.weight, out_proj_bias=attnpool.c_proj.bias,
            use_separate_proj_weight=True, training=False, need_weights=False, attn_mask=attn_mask,
        )[0]
        return out.permute(1, 0, 2)
