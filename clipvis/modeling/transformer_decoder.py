"""Mask2Former's masked-attention transformer decoder with CLIP-VIS heads:
objectness (object / no object), mask IoU and mask embedding. No class head:
classes come from CLIP afterwards.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .mask_features import MaskFeatures
from .pixel_decoder import c2_xavier_fill
from .position_encoding import PositionEmbeddingSine


def _xavier(module: nn.Module):
    for p in module.parameters():
        if p.dim() > 1:
            nn.init.xavier_uniform_(p)


def attend(mha: nn.MultiheadAttention, query, key, value, allowed=None):
    """nn.MultiheadAttention's math with its own weights, through SDPA.

    query (Lq, B, C), key/value (Lk, B, C) -> (Lq, B, C). `allowed`: (B, 1, Lq, Lk)
    bool, True where a query may attend, shared by all heads (MHA wants one copy
    per head, which costs a large copy per layer).
    """
    c, h = query.shape[-1], mha.num_heads
    w, b = mha.in_proj_weight, mha.in_proj_bias

    def heads(x, i):
        x = F.linear(x, w[i * c:(i + 1) * c], b[i * c:(i + 1) * c])
        return x.view(x.shape[0], x.shape[1], h, c // h).permute(1, 2, 0, 3)  # (B, h, L, c/h)

    out = F.scaled_dot_product_attention(heads(query, 0), heads(key, 1), heads(value, 2), attn_mask=allowed)
    return mha.out_proj(out.permute(2, 0, 1, 3).reshape(query.shape[0], query.shape[1], c))


class SelfAttentionLayer(nn.Module):
    def __init__(self, d_model: int, nhead: int):
        super().__init__()
        self.self_attn = nn.MultiheadAttention(d_model, nhead, dropout=0.0)
        self.norm = nn.LayerNorm(d_model)
        _xavier(self)

    def forward(self, tgt, query_pos):
        q = k = tgt + query_pos
        return self.norm(tgt + attend(self.self_attn, q, k, tgt))


class CrossAttentionLayer(nn.Module):
    def __init__(self, d_model: int, nhead: int):
        super().__init__()
        self.multihead_attn = nn.MultiheadAttention(d_model, nhead, dropout=0.0)
        self.norm = nn.LayerNorm(d_model)
        _xavier(self)

    def forward(self, tgt, memory, *, allowed, memory_key, query_pos):
        """memory_key = memory + its position encoding (the same for every layer of a level)."""
        return self.norm(tgt + attend(self.multihead_attn, tgt + query_pos, memory_key, memory, allowed))


class FFNLayer(nn.Module):
    def __init__(self, d_model: int, dim_feedforward: int):
        super().__init__()
        self.linear1 = nn.Linear(d_model, dim_feedforward)
        self.linear2 = nn.Linear(dim_feedforward, d_model)
        self.norm = nn.LayerNorm(d_model)
        _xavier(self)

    def forward(self, tgt):
        return self.norm(tgt + self.linear2(F.relu(self.linear1(tgt))))


class MLP(nn.Module):
    def __init__(self, input_dim: int, hidden_dim: int, output_dim: int, num_layers: int):
        super().__init__()
        dims = [input_dim] + [hidden_dim] * (num_layers - 1)
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims, dims[1:] + [output_dim]))

    def forward(self, x):
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < len(self.layers) - 1:
                x = F.relu(x)
        return x


@dataclass
class DecoderOutput:
    """Per-frame outputs of the last decoder layer (B = frames in the batch).

    object_logits: (B, Q, 2), index 0 = object
    mask_logits:   (B, Q, H/4, W/4)
    ious:          (B, Q) after sigmoid
    embeddings:    (B, Q, C) after the decoder norm (used for tracking)
    aux: per earlier layer, dicts with the same keys plus 'allowed' (the attention mask it set)
    """

    object_logits: torch.Tensor
    mask_logits: torch.Tensor
    ious: torch.Tensor
    embeddings: torch.Tensor
    aux: list[dict]


class MultiScaleMaskedTransformerDecoder(nn.Module):
    num_feature_levels = 3

    def __init__(self, *, in_channels: int, hidden_dim: int = 256, num_queries: int = 100, nheads: int = 8,
                 dim_feedforward: int = 2048, dec_layers: int = 9, mask_dim: int = 256):
        super().__init__()
        self.num_heads = nheads
        self.num_layers = dec_layers
        self.num_queries = num_queries
        self.pe_layer = PositionEmbeddingSine(hidden_dim // 2)
        self.transformer_self_attention_layers = nn.ModuleList(
            SelfAttentionLayer(hidden_dim, nheads) for _ in range(dec_layers))
        self.transformer_cross_attention_layers = nn.ModuleList(
            CrossAttentionLayer(hidden_dim, nheads) for _ in range(dec_layers))
        self.transformer_ffn_layers = nn.ModuleList(
            FFNLayer(hidden_dim, dim_feedforward) for _ in range(dec_layers))
        self.decoder_norm = nn.LayerNorm(hidden_dim)
        self.query_feat = nn.Embedding(num_queries, hidden_dim)
        self.query_embed = nn.Embedding(num_queries, hidden_dim)
        self.level_embed = nn.Embedding(self.num_feature_levels, hidden_dim)
        self.input_proj = nn.ModuleList()
        for _ in range(self.num_feature_levels):
            if in_channels != hidden_dim:
                conv = nn.Conv2d(in_channels, hidden_dim, kernel_size=1)
                c2_xavier_fill(conv)
                self.input_proj.append(conv)
            else:
                self.input_proj.append(nn.Sequential())
        self.iou_head = MLP(hidden_dim, hidden_dim, 1, 3)
        self.object_embed = MLP(hidden_dim, hidden_dim, 2, 3)
        self.mask_embed = MLP(hidden_dim, hidden_dim, mask_dim, 3)

    def forward(self, features: list[torch.Tensor], mask_features: MaskFeatures, *, with_aux: bool = False
                ) -> DecoderOutput:
        """features: three maps, low to high resolution; mask_features: (B, mask_dim, H/4, W/4)."""
        src, pos, sizes = [], [], []
        for i, x in enumerate(features):
            sizes.append(x.shape[-2:])
            pos.append(self.pe_layer(x).flatten(2).permute(2, 0, 1))
            src.append((self.input_proj[i](x).flatten(2) + self.level_embed.weight[i][None, :, None]).permute(2, 0, 1))
        # Keys are memory + position for every layer that reads a level: add once, contiguous.
        src = [x.contiguous() for x in src]
        keys = [(x + p).contiguous() for x, p in zip(src, pos)]
        bs = src[0].shape[1]
        query_embed = self.query_embed.weight.unsqueeze(1).repeat(1, bs, 1)
        output = self.query_feat.weight.unsqueeze(1).repeat(1, bs, 1)

        # Attention masks are the mask logits resized to each level's size. Resizing
        # is linear, so we resize the mask features once per level instead of the
        # full-resolution masks of every layer (training keeps full masks for the
        # deep-supervision losses).
        if with_aux:
            small_features = None
        else:
            small_features = [mask_features.resized(s) for s in sizes]
        aux = []
        heads = self._heads(output, mask_features, sizes[0], small_features and small_features[0],
                            with_scores=with_aux, with_full_masks=with_aux)
        for i in range(self.num_layers):
            if with_aux:
                aux.append(heads)
            allowed = heads["allowed"]
            level = i % self.num_feature_levels
            output = self.transformer_cross_attention_layers[i](
                output, src[level], allowed=allowed, memory_key=keys[level], query_pos=query_embed)
            output = self.transformer_self_attention_layers[i](output, query_embed)
            output = self.transformer_ffn_layers[i](output)
            last = i == self.num_layers - 1
            nxt = (i + 1) % self.num_feature_levels
            heads = self._heads(output, mask_features, sizes[nxt], small_features and small_features[nxt],
                                with_scores=last or with_aux, with_attn_mask=not last,
                                with_full_masks=last or with_aux)
        return DecoderOutput(
            object_logits=heads["object_logits"], mask_logits=heads["mask_logits"], ious=heads["ious"],
            embeddings=self.decoder_norm(output).transpose(0, 1), aux=aux,
        )

    def _heads(self, output, mask_features, attn_size, small_features=None, *, with_scores: bool,
               with_attn_mask: bool = True, with_full_masks: bool = True):
        decoded = self.decoder_norm(output).transpose(0, 1)  # (B, Q, C)
        mask_embed = self.mask_embed(decoded)
        out = {}
        if with_full_masks:
            out["mask_logits"] = mask_features.project(mask_embed)
        if with_scores:
            out["object_logits"] = self.object_embed(decoded)
            out["ious"] = self.iou_head(decoded).sigmoid().squeeze(-1)
        if with_attn_mask:
            if small_features is not None:
                small = small_features.project(mask_embed)
            else:
                small = F.interpolate(out["mask_logits"], size=attn_size, mode="bilinear", align_corners=False)
            # (B, 1, Q, HW), True = may attend: inside the query's mask (sigmoid >= 0.5).
            allowed = (small.sigmoid().flatten(2) >= 0.5).unsqueeze(1).detach()
            # A query whose mask covers nothing may attend everywhere (else softmax of nothing).
            allowed |= ~allowed.any(-1, keepdim=True)
            out["allowed"] = allowed
        return out
