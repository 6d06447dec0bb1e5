"""Build a ready predictor from names and files: the one place that turns
user-facing settings (checkpoint, CLIP model, device) into a model."""
from __future__ import annotations

import difflib
import json
import os
import tempfile
from pathlib import Path

import torch

from .config import InferenceConfig
from .demo import DEMO, build_demo_model
from .modeling import CLIPVISModel, HeadConfig
from .predictor import VideoPredictor
from .text import default_cache_dir
from .weights import (CHECKPOINTS, DEFAULT_CLIP_MODEL, CheckpointMismatch, WeightsUnavailable, _check_network,
                      load_into, offline, read_state_dict, resolve_checkpoint)


class UnknownCLIPModel(ValueError):
    pass


def resolve_device(device: str | None = "auto") -> torch.device:
    if device in (None, "", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"`device` is {device!r}, but no CUDA GPU is available")
    return dev


def register_clip_config(path: str | os.PathLike) -> str:
    """Add an open_clip model config (JSON, open_clip's own format); returns its name (the file stem)."""
    import open_clip
    path = Path(path)
    try:
        cfg = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise UnknownCLIPModel(f"cannot read the CLIP config {path}: {e}") from None
    if not isinstance(cfg, dict) or "vision_cfg" not in cfg or "text_cfg" not in cfg:
        raise UnknownCLIPModel(f"{path} is not an open_clip model config (needs vision_cfg and text_cfg)")
    open_clip.add_model_config(path)
    return path.stem


def create_clip(name: str, *, pretrained: str | None = None, device="cpu"):
    """An open_clip model and its tokenizer; `pretrained` is a tag, a file, or None (random)."""
    import open_clip
    if name not in open_clip.list_models():
        close = difflib.get_close_matches(name, open_clip.list_models(), n=3)
        raise UnknownCLIPModel(f"open_clip knows no model {name!r}" +
                               (f"; did you mean {', '.join(close)}?" if close else
                                "; give its open_clip config as `clip_config`"))
    if pretrained and not Path(pretrained).exists():
        tags = [t for m, t in open_clip.list_pretrained() if m == name]
        if pretrained not in tags:
            raise UnknownCLIPModel(f"{name} has no pretrained tag {pretrained!r} (known: {', '.join(tags) or 'none'})")
        if not offline():
            _check_network("huggingface.co", "Or pass a local CLIP weights file as `clip_pretrained`.")
    try:
        model = open_clip.create_model(name, pretrained=pretrained or None, device=device,
                                       cache_dir=str(default_cache_dir() / "open_clip"))
    except (RuntimeError, OSError) as e:
        if pretrained and not Path(pretrained).exists():
            raise WeightsUnavailable(
                f"could not get CLIP weights {name}/{pretrained} ({type(e).__name__}: {str(e)[:200]}). "
                f"Download them once with network access (cache: {default_cache_dir() / 'open_clip'}), "
                "or pass a local weights file as `clip_pretrained`.") from None
        raise
    return model, open_clip.get_tokenizer(name)


def guess_clip_model(state_dict: dict) -> str | None:
    """The released checkpoints' CLIP models, recognised from their keys."""
    proj = state_dict.get("backbone.clip_model.text_projection")
    if proj is None:
        return None
    if "backbone.clip_model.visual.trunk.stem.0.weight" in state_dict and tuple(proj.shape) == (640, 640):
        return "convnext_base_w_320"
    if "backbone.clip_model.visual.attnpool.c_proj.weight" in state_dict and tuple(proj.shape) == (512, 1024):
        return "RN50"
    return None


def _register_saved_clip_config(name: str, meta: dict):
    """Our safetensors files carry their CLIP config: register it if open_clip lacks the name."""
    import open_clip
    if name in open_clip.list_models() or not meta.get("clip_config") or meta["clip_config"] == "null":
        return
    folder = Path(tempfile.mkdtemp(prefix="clipvis_clipcfg_"))
    (folder / f"{name}.json").write_text(meta["clip_config"])
    open_clip.add_model_config(folder / f"{name}.json")


def build_model(*, checkpoint: str | None, clip_model: str | None = None, clip_config: str | None = None,
                clip_pretrained: str | None = None, device="cpu") -> tuple[CLIPVISModel, object, str]:
    """(model, tokenizer, clip model name). `checkpoint`: a registry name, a file, or
    "demo" (clipvis/demo.py). Without one the head is random (for training) and
    CLIP comes from `clip_pretrained`."""
    if checkpoint == DEMO:
        if clip_model or clip_config or clip_pretrained:
            raise ValueError("the demo model has its own tiny CLIP: leave out `clip_model`, `clip_config` "
                             "and `clip_pretrained`")
        model, tokenizer, name = build_demo_model()
        return model.to(device), tokenizer, name
    if clip_config:
        config_name = register_clip_config(clip_config)
        clip_model = clip_model or config_name
    sd, meta = None, {}
    if checkpoint:
        path = resolve_checkpoint(checkpoint)
        sd, meta = read_state_dict(path)
        info = CHECKPOINTS.get(str(checkpoint))
        clip_model = clip_model or meta.get("clip_model") or (info.clip_model if info else None) or guess_clip_model(sd)
        if clip_model is None:
            raise CheckpointMismatch(f"cannot tell which CLIP model {path.name} was trained with; pass `clip_model`")
        head_cfg = HeadConfig.from_state_dict(sd)
        _register_saved_clip_config(clip_model, meta)
        clip, tokenizer = create_clip(clip_model, pretrained=None)  # weights come from the checkpoint
    else:
        clip_model = clip_model or DEFAULT_CLIP_MODEL
        clip, tokenizer = create_clip(clip_model, pretrained=clip_pretrained)
        head_cfg = HeadConfig()
    model = CLIPVISModel(clip_model=clip, head_cfg=head_cfg)
    if sd is not None:
        load_into(model, sd, source=str(checkpoint))
    return model.to(device).eval(), tokenizer, clip_model


def load_predictor(checkpoint: str | os.PathLike | None = None, *, clip_model: str | None = None,
                   clip_config: str | None = None, clip_pretrained: str | None = None, device: str | None = "auto",
                   config: InferenceConfig | None = None, backend: str = "auto", text_cache_dir=None,
                   **settings) -> VideoPredictor:
    """A ready predictor.

    checkpoint: a released checkpoint's name (`clipvis.CHECKPOINTS`), a .pth or
        .safetensors file, or "demo" (a tiny random model built in memory).
    settings: any `InferenceConfig` field, e.g. `min_size=640, precision="bf16"`;
        they change `config` (default: `InferenceConfig()`).
    backend: "auto" (the CPU backend on a CPU device, else the reference),
        "reference" (the model as written) or "cpu" (clipvis/backends).
    """
    from .backends import check_backend

    config = (config or InferenceConfig()).replace(**settings)
    dev = resolve_device(device)
    check_backend(backend)  # before the model is built
    model, tokenizer, _ = build_model(checkpoint=None if checkpoint is None else str(checkpoint),
                                      clip_model=clip_model, clip_config=clip_config,
                                      clip_pretrained=clip_pretrained, device=dev)
    return predictor_for(model, tokenizer=tokenizer, device=dev, config=config, backend=backend,
                         text_cache_dir=text_cache_dir)


def predictor_for(model: CLIPVISModel, *, tokenizer, device="cpu", config: InferenceConfig = InferenceConfig(),
                  backend: str = "auto", text_cache_dir=None) -> VideoPredictor:
    """The predictor of a built model: the CPU backend on a CPU device unless
    backend="reference" (clipvis/backends)."""
    from .backends import CPUVideoPredictor, check_backend

    check_backend(backend)
    dev = torch.device(device)
    cpu = backend == "cpu" or (backend == "auto" and dev.type == "cpu")
    predictor_class = CPUVideoPredictor if cpu else VideoPredictor
    return predictor_class(model, tokenizer=tokenizer, config=config, device=dev, text_cache_dir=text_cache_dir)
