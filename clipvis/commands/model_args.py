"""Model options shared by `predict`, `label` and the studio (`app.py`)."""
from __future__ import annotations

import argparse
import os

from ..weights import CHECKPOINTS, DEFAULT_CHECKPOINT


def add_model_arguments(p: argparse.ArgumentParser):
    g = p.add_argument_group("model")
    g.add_argument("--model", default=os.environ.get("CLIPVIS_MODEL", DEFAULT_CHECKPOINT),
                   help=f"a released checkpoint: {', '.join(CHECKPOINTS)} (env CLIPVIS_MODEL)")
    g.add_argument("--checkpoint", default=os.environ.get("CLIPVIS_CHECKPOINT"),
                   help="a checkpoint file (.pth official, or .safetensors); overrides --model (env CLIPVIS_CHECKPOINT)")
    g.add_argument("--clip-model", default=os.environ.get("CLIPVIS_CLIP_MODEL"),
                   help="open_clip model name (default: the checkpoint's own) (env CLIPVIS_CLIP_MODEL)")
    g.add_argument("--clip-config", default=os.environ.get("CLIPVIS_CLIP_CONFIG"),
                   help="an open_clip model config JSON for a custom CLIP (env CLIPVIS_CLIP_CONFIG)")
    g.add_argument("--device", default=os.environ.get("CLIPVIS_DEVICE", "auto"), help="auto, cpu, cuda, cuda:1, ...")
    g.add_argument("--precision", default=os.environ.get("CLIPVIS_PRECISION", "fp32"),
                   choices=["fp32", "bf16", "fp16"], help="autocast precision (fp16 on CUDA only)")
    g.add_argument("--min-size", type=int, default=480, help="shortest edge of the model input")
    g.add_argument("--max-size", type=int, default=1333, help="longest edge of the model input at most")
    g.add_argument("--window", type=int, default=10,
                   help="frames per window: run and stored together (one batch on a GPU, batches of 2 on the CPU)")
    g.add_argument("--memory", type=int, default=9, help="frames in the tracking memory")
    g.add_argument("--top-k-frames", type=int, default=5, help="memory frames averaged when matching")
    g.add_argument("--topk", type=int, default=50, help="instances kept per video")
    g.add_argument("--debug", action="store_true", help="show tracebacks")


def predictor_from_args(args):
    from ..build import load_predictor
    from ..predictor import InferenceConfig
    cfg = InferenceConfig(min_size=args.min_size, max_size=args.max_size, window=args.window,
                          memory_size=args.memory, top_k_frames=args.top_k_frames, topk=args.topk,
                          precision=args.precision)
    return load_predictor(args.checkpoint or args.model, clip_model=args.clip_model, clip_config=args.clip_config,
                          device=args.device, config=cfg)
