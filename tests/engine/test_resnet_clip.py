"""A ResNet CLIP (open_clip ModifiedResNet) through the whole engine: CLIP's
attention pool restricted to each mask, and the official rule that a mask
empty at the dense map's size gets all-zero class logits."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from clipvis import InferenceConfig, VideoPredictor, parse_vocabulary_text
from clipvis.build import create_clip, register_clip_config
from clipvis.modeling import CLIPVISModel, HeadConfig

from tests.conftest import TINY_HEAD, moving_squares_video

TINY_RN = {"embed_dim": 32, "quick_gelu": True,
           "vision_cfg": {"image_size": 64, "layers": [1, 1, 1, 1], "width": 16, "patch_size": None},
           "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1}}


@pytest.fixture(scope="module")
def rn_predictor(tmp_path_factory):
    folder = tmp_path_factory.mktemp("rn")
    cfg = folder / "clipvis_tiny_rn_test.json"
    cfg.write_text(json.dumps(TINY_RN))
    torch.manual_seed(0)
    clip, tok = create_clip(register_clip_config(cfg))
    model = CLIPVISModel(clip_model=clip, head_cfg=HeadConfig(**TINY_HEAD))
    return VideoPredictor(model, tokenizer=tok, config=InferenceConfig(min_size=64, topk=6), text_cache_dir=folder)


def test_resnet_taps_and_channels(rn_predictor):
    bb = rn_predictor.model.backbone
    assert bb.kind == "resnet"
    assert bb.channels["res5"] == bb.channels["clip_vis_dense"] == 32 * 16  # width * 32 after layer4
    feats = bb.extract(torch.zeros(1, 3, 64, 96))
    assert [tuple(feats[k].shape[-2:]) for k in ("res2", "res3", "res4", "res5")] == [(16, 24), (8, 12), (4, 6), (2, 3)]


def test_resnet_video_pass(rn_predictor):
    result = rn_predictor.predict(list(moving_squares_video(5)), parse_vocabulary_text("red, green, blue"))
    assert len(result.instances) == 6
    assert np.isfinite(result.class_scores).all()


def test_empty_masks_get_zero_logits(rn_predictor):
    """With every mask empty, each query's class probabilities are uniform, so
    its final score is the same for every class (official ResNet rule)."""
    last = rn_predictor.model.sem_seg_head.predictor.mask_embed.layers[-1]
    saved = (last.weight.detach().clone(), last.bias.detach().clone())
    with torch.no_grad():
        last.weight.zero_()
        last.bias.zero_()  # all mask logits 0: nothing is > 0
    try:
        result = rn_predictor.predict(list(moving_squares_video(3)), parse_vocabulary_text("red, green, blue"))
    finally:
        with torch.no_grad():
            last.weight.copy_(saved[0])
            last.bias.copy_(saved[1])
    assert result.analysis.pool_empty.all()
    scores = result.class_scores
    np.testing.assert_allclose(scores, scores[:, :1].repeat(scores.shape[1], 1), rtol=1e-6)
