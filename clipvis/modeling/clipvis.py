"""CLIP-VIS per-frame model: frozen CLIP backbone -> pixel decoder -> decoder.

Attribute names (`backbone.clip_model`, `sem_seg_head.pixel_decoder`,
`sem_seg_head.predictor`) match the official checkpoints' keys.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass

import torch
from torch import nn

from .backbone import CLIPBackbone
from .mask_features import MaskFeatures
from .pixel_decoder import MSDeformAttnPixelDecoder
from .transformer_decoder import DecoderOutput, MultiScaleMaskedTransformerDecoder


@dataclass(frozen=True)
class HeadConfig:
    """Sizes of the trainable head. Official ConvNeXt-B / R50 models use the
    defaults with dec_layers 9 (DEC_LAYERS 10) or 6 (DEC_LAYERS 7)."""

    conv_dim: int = 256
    mask_dim: int = 256
    enc_layers: int = 6
    enc_heads: int = 8
    enc_ffn: int = 1024  # the official code fixes 1024 for the deformable encoder
    hidden_dim: int = 256
    num_queries: int = 100
    dec_heads: int = 8
    dec_ffn: int = 2048
    dec_layers: int = 9

    @classmethod
    def from_state_dict(cls, sd: dict, *, dec_heads: int = 8) -> "HeadConfig":
        """Read every size from the weights, never from a setting a user can get
        wrong: a 6-layer checkpoint run with 9 layers scores AP ~0.04."""
        pd, pr = "sem_seg_head.pixel_decoder.", "sem_seg_head.predictor."

        def count(prefix):
            pat = re.compile(re.escape(prefix) + r"(\d+)\.")
            return len({m.group(1) for k in sd if (m := pat.match(k))})

        try:
            n_points = 4
            n_levels = sd[pd + "transformer.level_embed"].shape[0]
            return cls(
                conv_dim=sd[pd + "input_proj.0.0.weight"].shape[0],
                mask_dim=sd[pd + "mask_features.weight"].shape[0],
                enc_layers=count(pd + "transformer.encoder.layers."),
                enc_heads=sd[pd + "transformer.encoder.layers.0.self_attn.attention_weights.weight"].shape[0]
                // (n_levels * n_points),
                enc_ffn=sd[pd + "transformer.encoder.layers.0.linear1.weight"].shape[0],
                hidden_dim=sd[pr + "query_feat.weight"].shape[1],
                num_queries=sd[pr + "query_feat.weight"].shape[0],
                dec_heads=dec_heads,
                dec_ffn=sd[pr + "transformer_ffn_layers.0.linear1.weight"].shape[0],
                dec_layers=count(pr + "transformer_self_attention_layers."),
            )
        except KeyError as e:
            raise ValueError(f"not a CLIP-VIS checkpoint: it has no {e.args[0]!r}") from None

    def to_dict(self) -> dict:
        return asdict(self)


class MaskFormerHead(nn.Module):
    def __init__(self, *, in_channels: dict[str, int], cfg: HeadConfig):
        super().__init__()
        self.pixel_decoder = MSDeformAttnPixelDecoder(
            in_channels=in_channels, conv_dim=cfg.conv_dim, mask_dim=cfg.mask_dim, n_heads=cfg.enc_heads,
            n_enc_layers=cfg.enc_layers, d_ffn=cfg.enc_ffn)
        self.predictor = MultiScaleMaskedTransformerDecoder(
            in_channels=cfg.conv_dim, hidden_dim=cfg.hidden_dim, num_queries=cfg.num_queries,
            nheads=cfg.dec_heads, dim_feedforward=cfg.dec_ffn, dec_layers=cfg.dec_layers, mask_dim=cfg.mask_dim)

    def forward(self, features: dict[str, torch.Tensor], *, with_aux: bool = False
                ) -> tuple[DecoderOutput, MaskFeatures, list[torch.Tensor]]:
        """(decoder output, mask features, multi-scale maps) of backbone features."""
        device_type = next(iter(features.values())).device.type
        # The pixel decoder runs in fp32 under autocast, as in the official code (Mask2Former
        # turns autocast off there: deformable attention is fragile in half precision).
        with torch.autocast(device_type, enabled=False):
            mask_features, multi_scale = self.pixel_decoder(features)
        return self.predictor(multi_scale, mask_features, with_aux=with_aux), mask_features, multi_scale


@dataclass
class FrameStages:
    """What the stages of a forward computed on the way (for the fidelity tests)."""

    features: dict[str, torch.Tensor]  # the backbone's taps: stem, res2..res5, clip_vis_dense
    mask_features: MaskFeatures  # (B, mask_dim, H/4, W/4)
    multi_scale: list[torch.Tensor]  # the pixel decoder's three coarsest maps, low to high resolution


@dataclass
class FrameBatchOutput:
    """Outputs for a batch of B frames."""

    decoder: DecoderOutput
    dense: torch.Tensor  # (B, C, H/32, W/32) dense CLIP map
    stages: FrameStages | None = None  # with_stages=True only


class CLIPVISModel(nn.Module):
    """The one forward pass that inference, training and the fidelity tests all run.
    Backends change how some modules compute (clipvis/backends), never this path."""

    def __init__(self, *, clip_model: nn.Module, head_cfg: HeadConfig):
        super().__init__()
        self.backbone = CLIPBackbone(clip_model)
        self.head_cfg = head_cfg
        self.sem_seg_head = MaskFormerHead(
            in_channels={k: self.backbone.channels[k] for k in ("res2", "res3", "res4", "res5")}, cfg=head_cfg)

    @property
    def num_queries(self) -> int:
        return self.head_cfg.num_queries

    def forward(self, images: torch.Tensor, *, with_aux: bool = False, with_stages: bool = False
                ) -> FrameBatchOutput:
        """images: (B, 3, H, W) normalised and padded to a multiple of 32.
        with_aux: every decoder layer's outputs too (training's deep supervision);
        with_stages: keep the intermediate stages (they hold large maps: tests only)."""
        features = self.backbone(images)
        decoder, mask_features, multi_scale = self.sem_seg_head(features, with_aux=with_aux)
        stages = FrameStages(features, mask_features, multi_scale) if with_stages else None
        return FrameBatchOutput(decoder=decoder, dense=features["clip_vis_dense"], stages=stages)
