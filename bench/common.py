"""Helpers shared by the benchmarks: random-weight models, synthetic frames."""
from __future__ import annotations

import numpy as np
import torch


def random_model(clip_model: str = "convnext_base_w_320", *, dec_layers: int = 9):
    """A full-size CLIP-VIS with random weights (no download: CLIP is not pretrained)."""
    from clipvis.build import create_clip
    from clipvis.modeling import CLIPVISModel, HeadConfig
    torch.manual_seed(0)
    clip, tokenizer = create_clip(clip_model, pretrained=None)
    return CLIPVISModel(clip_model=clip, head_cfg=HeadConfig(dec_layers=dec_layers)).eval(), tokenizer


def synthetic_video(num_frames: int, h: int = 480, w: int = 864, seed: int = 0) -> np.ndarray:
    """Moving rectangles on smooth noise: cheap, deterministic frames."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, size=(h // 8, w // 8, 3), dtype=np.uint8)
    base = np.kron(base, np.ones((8, 8, 1), dtype=np.uint8))
    frames = np.repeat(base[None], num_frames, 0)
    for t in range(num_frames):
        frames[t, 100 + t:220 + t, 100 + 3 * t:260 + 3 * t] = (230, 30, 30)
        frames[t, 260:400, 500 - 2 * t:620 - 2 * t] = (30, 200, 60)
    return frames


def median(xs):
    return float(np.median(np.asarray(xs)))
