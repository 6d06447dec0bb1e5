"""The one place this package reaches into the CLIP-VIS engine.

Labelling a clicked track needs four things from the engine: the dense CLIP
map of a frame as the model computes it (its resize, normalisation, padding
and backbone), the backbone's mask pooling, the text classifier of a
vocabulary (the same prompts and templates as for the model's tracks), and the
classifier's logits. `engine_clip` collects them from a `VideoPredictor`, so
a change in the engine's internals is adapted here and nowhere else.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch


@dataclass(frozen=True)
class DenseMap:
    """A frame's dense CLIP map and where the frame sits in it."""

    features: torch.Tensor  # (1, C, h, w): the padded model input at the backbone's last stride
    input_hw: tuple[int, int]  # the frame resized for the model, before padding
    padded_hw: tuple[int, int]  # the padded model input


@dataclass(frozen=True)
class EngineCLIP:
    kind: str  # "convnext" or "resnet"
    dense_map: Callable[[np.ndarray], DenseMap]  # an RGB frame -> its dense CLIP map
    pool: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (1, C, h, w), (1, Q, h, w) logits -> (1, Q, D)
    text_classifier: Callable[[object], tuple[torch.Tensor, list[int]]]  # Vocabulary -> (rows, synonyms per class)
    class_logits: Callable[[torch.Tensor, torch.Tensor, list[int]], torch.Tensor]  # (.., D), rows, per class -> (.., C)


def engine_clip(predictor) -> EngineCLIP:
    """What labelling a track needs from a `clipvis.predictor.VideoPredictor`."""
    from clipvis.classify import frame_class_logits
    from clipvis.preprocess import padded_hw, resize_frame, to_model_input

    backbone = predictor.model.backbone
    config, device = predictor.config, predictor.device
    logit_scale = backbone.clip_model.logit_scale.detach().float().cpu()

    def autocast():
        if config.precision == "fp32":
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if config.precision == "bf16" else torch.float16
        return torch.autocast(device.type, dtype=dtype)

    @torch.no_grad()
    def dense_map(frame: np.ndarray) -> DenseMap:
        resized = resize_frame(frame, config.min_size, config.max_size)
        x = to_model_input([resized], device=device)
        with autocast():
            dense = backbone.extract(x)["clip_vis_dense"]
        h, w = resized.shape[:2]
        return DenseMap(features=dense.float(), input_hw=(h, w), padded_hw=padded_hw(h, w))

    @torch.no_grad()
    def pool(dense: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        return backbone.pool(dense, masks.to(device=dense.device, dtype=dense.dtype)).float()

    def class_logits(vectors: torch.Tensor, rows: torch.Tensor, per_class: list[int]) -> torch.Tensor:
        return frame_class_logits(vectors.cpu(), rows.cpu(), per_class, logit_scale)

    return EngineCLIP(kind=backbone.kind, dense_map=dense_map, pool=pool,
                      text_classifier=predictor.text_classifier, class_logits=class_logits)
