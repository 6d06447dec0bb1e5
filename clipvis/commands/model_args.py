"""Model options shared by `predict`, `label` and the studio (`app.py`).

The inference flags are generated from `clipvis.config.InferenceConfig`, so
their defaults and help texts are written once, there."""
from __future__ import annotations

import argparse
import os

from ..config import InferenceConfig, inference_fields_with_flags
from ..demo import DEMO
from ..weights import CHECKPOINTS, DEFAULT_CHECKPOINT


def add_model_arguments(p: argparse.ArgumentParser):
    g = p.add_argument_group("model")
    g.add_argument("--model", default=os.environ.get("CLIPVIS_MODEL", DEFAULT_CHECKPOINT),
                   help=f"a released checkpoint ({', '.join(CHECKPOINTS)}), or '{DEMO}': a tiny random model "
                        "built in memory, to try every step without weights (env CLIPVIS_MODEL)")
    g.add_argument("--checkpoint", default=os.environ.get("CLIPVIS_CHECKPOINT"),
                   help="a checkpoint file (.pth official, or .safetensors); overrides --model (env CLIPVIS_CHECKPOINT)")
    g.add_argument("--clip-model", default=os.environ.get("CLIPVIS_CLIP_MODEL"),
                   help="open_clip model name (default: the checkpoint's own) (env CLIPVIS_CLIP_MODEL)")
    g.add_argument("--clip-config", default=os.environ.get("CLIPVIS_CLIP_CONFIG"),
                   help="an open_clip model config JSON for a custom CLIP (env CLIPVIS_CLIP_CONFIG)")
    g.add_argument("--device", default=os.environ.get("CLIPVIS_DEVICE", "auto"), help="auto, cpu, cuda, cuda:1, ...")
    for f, flag in inference_fields_with_flags():
        env = f.metadata["env"]
        default = os.environ.get(env) or f.default if env else f.default
        g.add_argument(flag, dest=f.name, type=type(f.default), default=default, choices=f.metadata["choices"],
                       help=f"{f.metadata['help']} (default: {f.default}" + (f"; env {env})" if env else ")"))
    g.add_argument("--debug", action="store_true", help="show tracebacks")


def inference_config(args) -> InferenceConfig:
    """The InferenceConfig the parsed flags describe."""
    return InferenceConfig(**{f.name: getattr(args, f.name) for f, _ in inference_fields_with_flags()})


def model_name(args) -> str:
    """What to load: --checkpoint if given, else --model."""
    return args.checkpoint or args.model


def predictor_from_args(args, *, device=None):
    from ..build import load_predictor
    return load_predictor(model_name(args), clip_model=args.clip_model, clip_config=args.clip_config,
                          device=device or args.device, config=inference_config(args))
