"""The demo model: a tiny CLIP-VIS with random weights, built in memory.

`load_predictor("demo")`, `--model demo` and the studio's "demo" entry give it,
so every step of the studio and the command-line tools can be tried with no
files and no network. Its masks and classes mean nothing. It is the same model
code as the released checkpoints (open_clip ModifiedResNet CLIP, the full
CLIP-VIS head), only small, and seeded, so every build is the same model.

Speed (docs/PERFORMANCE.md): a 100-frame 480p video runs in well under a
minute on two CPU cores.
"""
from __future__ import annotations

import torch

DEMO = "demo"
DEMO_CLIP_NAME = "clipvis_demo_rn"
DEMO_SEED = 0
# A ModifiedResNet (the RN50 family) of width 8 with one block per stage: taps of
# 32, 64, 128 and 256 channels at strides 4..32, where RN50's have 256..2048.
DEMO_CLIP_CONFIG = {
    "embed_dim": 64,
    "quick_gelu": True,
    "vision_cfg": {"image_size": 64, "layers": [1, 1, 1, 1], "width": 8, "patch_size": None},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 1},
}
# One sampling head in the encoder: a quarter of the deformable sampling, its largest cost at this size.
DEMO_HEAD = dict(conv_dim=32, mask_dim=32, enc_layers=1, enc_heads=1, enc_ffn=64, hidden_dim=32,
                 num_queries=20, dec_heads=4, dec_ffn=64, dec_layers=3)


def build_demo_model():
    """(model, tokenizer, CLIP name): the same weights on every call, global RNG untouched."""
    import open_clip

    from .modeling import CLIPVISModel, HeadConfig

    cfg = DEMO_CLIP_CONFIG
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(DEMO_SEED)
        clip = open_clip.model.CLIP(embed_dim=cfg["embed_dim"], vision_cfg=cfg["vision_cfg"],
                                    text_cfg=cfg["text_cfg"], quick_gelu=cfg["quick_gelu"])
        model = CLIPVISModel(clip_model=clip, head_cfg=HeadConfig(**DEMO_HEAD))
    tokenizer = open_clip.tokenizer.SimpleTokenizer(context_length=cfg["text_cfg"]["context_length"])
    return model.eval(), tokenizer, DEMO_CLIP_NAME
