"""The model as training sees it: CLIP frozen (no gradients, eval mode), the
pixel decoder and transformer decoder trained, with the official optimizer
groups (no weight decay on norms and embeddings). Training runs
`CLIPVISModel.forward` with every decoder layer's outputs (`with_aux=True`)."""
from __future__ import annotations

from torch import nn

from clipvis.build import build_model, create_clip, register_clip_config
from clipvis.modeling import CLIPVISModel, DecoderOutput, HeadConfig
from clipvis.weights import DEFAULT_CLIP_MODEL

from .config import ModelSpec

NORM_TYPES = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm, nn.GroupNorm, nn.LayerNorm,
              nn.InstanceNorm1d, nn.InstanceNorm2d, nn.InstanceNorm3d, nn.LocalResponseNorm)


def build_training_model(spec: ModelSpec, *, weights: str | None = None) -> tuple[CLIPVISModel, str]:
    """(model on the CPU, CLIP model name). `weights` (a run's own checkpoint)
    takes precedence over spec.init; both load the whole model strictly."""
    checkpoint = weights or spec.init
    if checkpoint:
        if spec.head and not weights:
            raise ValueError("head sizes come from the --init checkpoint; leave out --num-queries / --dec-layers")
        model, _, name = build_model(checkpoint=checkpoint, clip_model=spec.clip_model, clip_config=spec.clip_config)
        return model, name
    name = spec.clip_model
    if spec.clip_config:
        name = name or register_clip_config(spec.clip_config)
    name = name or DEFAULT_CLIP_MODEL
    clip, _ = create_clip(name, pretrained=spec.clip_pretrained)
    try:
        head_cfg = HeadConfig(**spec.head)
    except TypeError as e:
        raise ValueError(f"unknown head setting: {e}") from None
    return CLIPVISModel(clip_model=clip, head_cfg=head_cfg), name


def param_groups(head: nn.Module, *, weight_decay: float) -> list[dict]:
    """Trainable parameters in two groups: with and without weight decay."""
    decay, no_decay, seen = [], [], set()
    for module in head.modules():
        for p in module.parameters(recurse=False):
            if not p.requires_grad or id(p) in seen:
                continue
            seen.add(id(p))
            (no_decay if isinstance(module, NORM_TYPES + (nn.Embedding,)) else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def decoder_layers(out: DecoderOutput) -> list[dict]:
    """Every decoder layer's predictions, earliest first (deep supervision), from
    `CLIPVISModel.forward(..., with_aux=True)`."""
    last = {"object_logits": out.object_logits, "mask_logits": out.mask_logits, "ious": out.ious}
    return [{k: a[k] for k in last} for a in out.aux] + [last]
