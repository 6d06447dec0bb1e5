"""Training the class-agnostic mask generator (pixel decoder + transformer
decoder with objectness, IoU and mask heads) on a frozen CLIP, and
fine-tuning it on corrected pseudo-labels.

    from clipvis.train import TrainConfig, ModelSpec, train
    result = train(TrainConfig(data=("labels.json",), model=ModelSpec(init="clipvis_convnext_b_lvis")), out="runs/ft")

Layout: sources (COCO/LVIS and YTVIS readers) -> augment (large-scale
jitter) -> data (deterministic sampling) -> model (frozen CLIP, trained head)
-> matcher + criterion (+ points) -> loop (optimizer, AMP, DDP) -> state
(checkpoints) and history (loss log).
"""
from .config import AugmentConfig, ModelSpec, TrainConfig
from .criterion import LossConfig, SetCriterion
from .loop import TrainResult, Trainer, train
from .matcher import MatchCosts, match_image
from .sources import DataError, load_sources

__all__ = ["TrainConfig", "ModelSpec", "AugmentConfig", "LossConfig", "MatchCosts", "SetCriterion",
           "match_image", "Trainer", "TrainResult", "train", "DataError", "load_sources"]
