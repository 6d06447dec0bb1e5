"""Shared fixtures: tiny CLIP-VIS models built locally with random weights, and
the oracle bundle (outputs of the official implementation)."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing may download at test time
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

REPO = Path(__file__).resolve().parents[1]

TINY_CLIP_CONFIG = {
    "embed_dim": 32,
    "vision_cfg": {"timm_model_name": "convnext_atto", "timm_model_pretrained": False, "timm_pool": "",
                   "timm_proj": "linear", "timm_drop": 0.0, "timm_drop_path": 0.0, "image_size": 224},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}
TINY_HEAD = dict(conv_dim=32, mask_dim=32, enc_layers=1, enc_heads=4, enc_ffn=64, hidden_dim=32,
                 num_queries=10, dec_heads=4, dec_ffn=64, dec_layers=2)


def oracle_dir() -> Path:
    return Path(os.environ.get("CLIPVIS_ORACLE", REPO.parent / "shared" / "oracle")).resolve()


@pytest.fixture(scope="session")
def oracle() -> Path:
    d = oracle_dir()
    if not (d / "model_final.pth").exists():
        pytest.skip(f"no oracle bundle at {d}")
    return d


@pytest.fixture(scope="session")
def tiny_clip_config(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("clip") / "clipvis_tiny_test.json"
    path.write_text(json.dumps(TINY_CLIP_CONFIG))
    return path


def make_tiny_checkpoint(path: Path, clip_config: Path, *, seed: int = 0, **head_overrides) -> Path:
    """A detectron2-style checkpoint ({"model": state_dict}) of a random tiny model."""
    from clipvis.build import create_clip, register_clip_config
    from clipvis.modeling import CLIPVISModel, HeadConfig

    torch.manual_seed(seed)
    name = register_clip_config(clip_config)
    clip, _ = create_clip(name)
    model = CLIPVISModel(clip_model=clip, head_cfg=HeadConfig(**{**TINY_HEAD, **head_overrides}))
    sd = model.state_dict()
    sd["criterion.empty_object_weight"] = torch.tensor([1.0, 0.1])
    torch.save({"model": sd}, path)
    return path


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory, tiny_clip_config) -> Path:
    return make_tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny.pth", tiny_clip_config)


@pytest.fixture(scope="session")
def tiny_predictor(tiny_checkpoint, tiny_clip_config, tmp_path_factory):
    from clipvis import InferenceConfig, load_predictor
    return load_predictor(str(tiny_checkpoint), clip_config=str(tiny_clip_config), device="cpu",
                          config=InferenceConfig(min_size=64, topk=10),
                          text_cache_dir=tmp_path_factory.mktemp("textcache"))


def moving_squares_video(num_frames: int = 8, h: int = 72, w: int = 96, seed: int = 0) -> np.ndarray:
    """(T, H, W, 3) uint8: two coloured squares moving over a noisy background."""
    rng = np.random.default_rng(seed)
    frames = rng.integers(0, 60, size=(num_frames, h, w, 3), dtype=np.uint8)
    for t in range(num_frames):
        frames[t, 10 + t:30 + t, 5 + 2 * t:25 + 2 * t] = (220, 40, 40)
        frames[t, 40:60, 60 - t:80 - t] = (40, 200, 60)
    return frames
