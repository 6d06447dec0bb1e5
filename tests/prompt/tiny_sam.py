"""A tiny SAM 2 video model built here from a config, with random weights
(nothing is downloaded): 128-pixel input, the real architecture's wiring
(three feature levels, 2:1 object-pointer split, 7 memories, 16 pointers)."""
from __future__ import annotations

import numpy as np
import torch

TINY_SIZE = 128
HIDDEN = 128  # twice the 64-channel memory, so object pointers are split as in the real model


def tiny_sam_config():
    from transformers import Sam2VideoConfig
    return Sam2VideoConfig(
        vision_config={
            "model_type": "sam2_vision_model",
            "backbone_config": {"model_type": "sam2_hiera_det_model", "hidden_size": 12,
                                "image_size": [TINY_SIZE, TINY_SIZE], "blocks_per_stage": [1, 2, 2, 1],
                                "embed_dim_per_stage": [12, 24, 48, 96], "num_attention_heads_per_stage": [1, 1, 2, 2],
                                "global_attention_blocks": [4], "window_size_per_stage": [8, 4, 4, 2]},
            "backbone_channel_list": [96, 48, 24, 12],
            "backbone_feature_sizes": [[32, 32], [16, 16], [8, 8]],
            "fpn_hidden_size": HIDDEN},
        prompt_encoder_config={"hidden_size": HIDDEN, "image_size": TINY_SIZE, "patch_size": 16},
        mask_decoder_config={"hidden_size": HIDDEN, "mlp_dim": 64, "num_attention_heads": 2,
                             "iou_head_hidden_dim": 32},
        image_size=TINY_SIZE, memory_attention_hidden_size=HIDDEN, memory_attention_num_layers=1,
        memory_attention_feed_forward_hidden_size=64, memory_attention_rope_feat_sizes=[8, 8],
        memory_encoder_hidden_size=HIDDEN, memory_encoder_output_channels=64, mask_downsampler_embed_dim=HIDDEN,
        memory_fuser_embed_dim=HIDDEN, memory_fuser_intermediate_dim=64)


def tiny_sam_model(seed: int = 0):
    """Random weights, with two changes so that masks behave as a trained
    model's do: the object-score head says "present" (a random one often judges
    the object absent, and the masks are then empty), and the mask heads are
    scaled up, so mask logits are of order 10 as a trained model's, not 1e-3
    (where bf16 rounding alone decides each pixel)."""
    from transformers import Sam2VideoModel
    torch.manual_seed(seed)
    model = Sam2VideoModel(tiny_sam_config()).eval()
    with torch.no_grad():
        model.mask_decoder.pred_obj_score_head.proj_out.bias.fill_(4.0)
        for mlp in model.mask_decoder.output_hypernetworks_mlps:
            mlp.proj_out.weight.mul_(3000.0)
    return model


def tiny_sam_processor():
    from transformers import Sam2ImageProcessor, Sam2VideoProcessor, Sam2VideoVideoProcessor
    size = {"height": TINY_SIZE, "width": TINY_SIZE}
    return Sam2VideoProcessor(image_processor=Sam2ImageProcessor(size=size),
                              video_processor=Sam2VideoVideoProcessor(size=size))


def squares_video(num_frames: int = 40, h: int = 72, w: int = 96, seed: int = 0) -> np.ndarray:
    """(T, H, W, 3) uint8: a red square moving right over noise, a green one still."""
    rng = np.random.default_rng(seed)
    frames = rng.integers(0, 60, size=(num_frames, h, w, 3), dtype=np.uint8)
    for t in range(num_frames):
        x = 5 + (t % 40)
        frames[t, 20:40, x:x + 20] = (220, 40, 40)
        frames[t, 45:65, 60:80] = (40, 200, 60)
    return frames
