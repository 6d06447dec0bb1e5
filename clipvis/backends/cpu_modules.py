"""The CPU backend's modules: subclasses of the model's own modules that compute
the same outputs faster at inference on a CPU, with the same parameters.

`use_cpu_modules(model)` swaps them in (as SAM 2's VOS predictor swaps in
compiled components from outside the model); `CLIPVISModel.forward` stays the
one path, and each module still returns what its reference returns. With
autograd on, each falls back to its reference (training never uses them).

- attention: the embedding_bag gather (cpu_sampling.py) instead of grid_sample;
- encoder: the reference points converted to pixels once for all layers, and each
  layer's feed-forward in cache-sized chunks of tokens with in-place adds;
- pixel decoder: the mask features kept as the FPN map and the unapplied last
  1x1 conv (`FactoredMaskFeatures`), so the 256-channel stride-4 map is never made.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..modeling.clipvis import CLIPVISModel
from ..modeling.deform_attn import MSDeformAttn
from ..modeling.mask_features import MaskFeatures, resize_bilinear
from ..modeling.pixel_decoder import DeformEncoder, DeformEncoderLayer, MSDeformAttnPixelDecoder
from .cpu_sampling import GatherMSDeformAttn

FFN_CHUNK = 4096  # tokens per feed-forward step: a (chunk, d_ffn) hidden state stays in the cache


class CPUEncoderLayer(DeformEncoderLayer):
    def forward(self, src, pos, reference_points, spatial_shapes, *, pixel_reference=None):
        if torch.is_grad_enabled():
            return super().forward(src, pos, reference_points, spatial_shapes)
        attn = self.self_attn(src + pos, reference_points, src, spatial_shapes, pixel_reference=pixel_reference)
        src = self.norm1(attn.add_(src))
        # One hidden buffer serves every chunk, and its bias and ReLU are one in-place
        # pass: no fresh 16 MB tensor per chunk, no bias broadcast (8% faster).
        flat = src.reshape(-1, src.shape[-1])
        out = torch.empty_like(flat)
        hidden = flat.new_empty(min(FFN_CHUNK, flat.shape[0]), self.linear1.out_features)
        for i in range(0, flat.shape[0], FFN_CHUNK):
            x = flat[i:i + FFN_CHUNK]
            h = torch.mm(x, self.linear1.weight.t(), out=hidden[:x.shape[0]]).add_(self.linear1.bias).relu_()
            torch.addmm(self.linear2.bias, h, self.linear2.weight.t(), out=out[i:i + FFN_CHUNK])
        return self.norm2(out.add_(flat).view_as(src))


class CPUDeformEncoder(DeformEncoder):
    def forward(self, src, pos, spatial_shapes):
        if torch.is_grad_enabled() or not self.layers:
            return super().forward(src, pos, spatial_shapes)
        ref = self.reference_points(spatial_shapes, src.device)
        # Every layer samples around the same reference points: convert them to pixels once.
        pixel_ref = self.layers[0].self_attn.pixel_reference(ref, spatial_shapes)
        for layer in self.layers:
            src = layer(src, pos, ref, spatial_shapes, pixel_reference=pixel_ref)
        return src


class FactoredMaskFeatures(MaskFeatures):
    """The mask features as the FPN's last map y and the 1x1 conv (W, b) not yet applied.

    The decoder uses mask features only in products with query embeddings E and
    in resizes before such products, all linear, and resizing keeps constants:
    E @ (W y + b) = (E W) @ y + E b. So the 256-channel map at stride 4 (53 MB for
    two 480p frames, and a pass over it) is never made.
    """

    def __init__(self, fpn: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor):
        self.fpn = fpn  # (B, C, H, W)
        self.weight = weight  # (D, C)
        self.bias = bias  # (D,)

    def project(self, mask_embed: torch.Tensor) -> torch.Tensor:
        b, c, h, w = self.fpn.shape
        pixels = self.fpn.permute(0, 2, 3, 1).reshape(b, h * w, c)  # a view when channels-last
        e = torch.matmul(mask_embed, self.weight.to(mask_embed.dtype))
        offset = torch.matmul(mask_embed, self.bias.to(mask_embed.dtype))[..., None]
        return torch.baddbmm(offset, e, pixels.transpose(1, 2).to(e.dtype)).view(b, -1, h, w)

    def resized(self, size) -> "FactoredMaskFeatures":
        return FactoredMaskFeatures(resize_bilinear(self.fpn, size), self.weight, self.bias)

    def dense(self) -> torch.Tensor:
        return F.conv2d(self.fpn, self.weight[:, :, None, None], self.bias).contiguous()


class CPUPixelDecoder(MSDeformAttnPixelDecoder):
    def mask_feature_map(self, fpn: torch.Tensor) -> MaskFeatures:
        if torch.is_grad_enabled():
            return super().mask_feature_map(fpn)
        return FactoredMaskFeatures(fpn, self.mask_features.weight.flatten(1), self.mask_features.bias)


# reference class -> its CPU subclass
CPU_MODULES: dict[type, type] = {
    MSDeformAttn: GatherMSDeformAttn,
    DeformEncoderLayer: CPUEncoderLayer,
    DeformEncoder: CPUDeformEncoder,
    MSDeformAttnPixelDecoder: CPUPixelDecoder,
}


def use_cpu_modules(model: CLIPVISModel) -> CLIPVISModel:
    """Swap the CPU subclasses in, in place; returns the model. Each subclass only
    overrides methods, so the module keeps its parameters, buffers and state-dict
    keys, and only its class changes. Applying it twice changes nothing."""
    for module in model.modules():
        cpu_class = CPU_MODULES.get(type(module))
        if cpu_class is not None:
            module.__class__ = cpu_class
    return model


def uses_cpu_modules(model: nn.Module) -> bool:
    return any(type(m) in CPU_MODULES.values() for m in model.modules())
