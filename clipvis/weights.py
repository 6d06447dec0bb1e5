"""Model weights: the registry of released CLIP-VIS checkpoints, downloads into
a cache folder, and strict loading that names what does not fit.

Nothing is unpickled: `.pth` files load with `torch.load(weights_only=True)`,
which rebuilds tensors, containers and numbers but runs no code from the file
(the official checkpoints, `{"model": state_dict}`, need nothing more: no numpy
types are allowed); `.safetensors` files hold tensors only. A file that needs
more is refused with how to convert it, once, if its source is trusted:
`python -m clipvis convert-checkpoint --trust-pickle IN.pth OUT.safetensors`
(clipvis/commands/convert.py, the one place that unpickles).

An official checkpoint (detectron2 `.pth`, state dict under "model") holds the
CLIP weights too (`backbone.clip_model.*`), so loading one needs no CLIP
download: the CLIP model is only built (random init) and then overwritten.
"""
from __future__ import annotations

import json
import os
import pickle
import re
import socket
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import torch

from .atomic import atomic_path
from .paths import require_readable
from .text import default_cache_dir


class WeightsUnavailable(RuntimeError):
    """Weights that cannot be had: offline, not downloaded, or not found."""


class CheckpointMismatch(ValueError):
    """A checkpoint that does not fit the model it is loaded into."""


class UnsafeCheckpoint(CheckpointMismatch):
    """A pickled file that holds more than tensors: loading it would run code from it."""


@dataclass(frozen=True)
class CheckpointInfo:
    name: str
    title: str
    clip_model: str
    clip_pretrained: str
    dec_layers: int  # DEC_LAYERS - 1; read from the keys at load time anyway
    train_data: str
    google_drive_id: str
    filename: str

    @property
    def url(self) -> str:
        return f"https://drive.usercontent.google.com/download?id={self.google_drive_id}&export=download&confirm=t"


# The four checkpoints of the official README (github zwq456/CLIP-VIS).
CHECKPOINTS = {c.name: c for c in (
    CheckpointInfo("clipvis_convnext_b_lvis", "ConvNeXt-B, trained on LVIS (32.2 AP on LV-VIS val)",
                   "convnext_base_w_320", "laion_aesthetic_s13b_b82k", 6, "LVIS (rare classes removed)",
                   "1R7qGowGbY9Al7ygU2fZ-Y5uG5xfgmDyT", "clipvis_convnext_b_lvis.pth"),
    CheckpointInfo("clipvis_r50_lvis", "ResNet-50, trained on LVIS (19.5 AP on LV-VIS val)",
                   "RN50", "openai", 6, "LVIS (rare classes removed)",
                   "1taVBPVTX-MVQkp5nc0QgreiaJqFhYgtJ", "clipvis_r50_lvis.pth"),
    CheckpointInfo("clipvis_convnext_b_coco_ytvis19", "ConvNeXt-B, COCO then YTVIS19 (50.0 AP on YTVIS19)",
                   "convnext_base_w_320", "laion_aesthetic_s13b_b82k", 9, "COCO, then YTVIS19",
                   "1fxujJmjMLAkXubzYSqiv2cVgDYIIp64f", "clipvis_convnext_b_coco_ytvis19.pth"),
    CheckpointInfo("clipvis_r50_coco_ytvis19", "ResNet-50, COCO then YTVIS19 (39.7 AP on YTVIS19)",
                   "RN50", "openai", 9, "COCO, then YTVIS19",
                   "14Oed2SbCVZcAtV1yaZIzuc7adGXuHiyZ", "clipvis_r50_coco_ytvis19.pth"),
)}
DEFAULT_CHECKPOINT = "clipvis_convnext_b_lvis"
DEFAULT_CLIP_MODEL = "convnext_base_w_320"

# Saved by detectron2 training but not part of the network.
IGNORED_KEYS = {"criterion.empty_object_weight", "pixel_mean", "pixel_std"}


def offline() -> bool:
    return any(os.environ.get(v, "") not in ("", "0") for v in ("HF_HUB_OFFLINE", "CLIPVIS_OFFLINE"))


def checkpoint_dir() -> Path:
    return default_cache_dir() / "checkpoints"


def resolve_checkpoint(spec: str | os.PathLike, *, download: bool = True) -> Path:
    """A registry name or a file path -> a local file, downloading if needed."""
    path = Path(spec).expanduser()
    if path.exists():
        if path.is_dir():
            raise CheckpointMismatch(f"{path} is a folder, not a checkpoint file")
        return require_readable(path, "checkpoint")  # a FIFO or device would block or never end
    info = CHECKPOINTS.get(str(spec))
    if info is None:
        raise WeightsUnavailable(
            f"checkpoint {str(spec)!r} is neither a file nor a known name ({', '.join(CHECKPOINTS)})")
    target = checkpoint_dir() / info.filename
    if target.exists():
        return target
    how = (f"Download it from {info.url} (Google Drive file {info.google_drive_id}) "
           f"and place it at {target}, or pass its path as `checkpoint`.")
    if not download or offline():
        raise WeightsUnavailable(f"{info.name} is not downloaded and downloads are off. {how}")
    _check_network(urlparse(info.url).hostname, how)
    _download(info.url, target)
    return target


def _check_network(host: str, how: str, timeout: float = 3.0):
    # Fail in seconds rather than after long retries when there is no network.
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
    except OSError as e:
        raise WeightsUnavailable(f"no network to reach {host} ({e}). {how}") from None


def _download(url: str, target: Path):
    print(f"downloading {url}\n  -> {target}", file=sys.stderr)
    with atomic_path(target) as tmp:
        torch.hub.download_url_to_file(url, str(tmp), progress=True)
        _check_is_checkpoint(tmp)


def _check_is_checkpoint(path: Path):
    with open(path, "rb") as f:
        head = f.read(64)
    if head.lstrip().startswith(b"<"):
        raise WeightsUnavailable(f"the download of {path.name} returned a web page, not weights "
                                 "(Google Drive may ask for a manual confirmation); download it by hand")


def read_state_dict(path: Path) -> tuple[dict, dict]:
    """(state dict, metadata) from an official .pth or our .safetensors; never unpickles."""
    path = Path(path)
    if path.suffix == ".safetensors":
        from safetensors import SafetensorError, safe_open
        try:
            with safe_open(str(path), framework="pt") as f:
                meta = f.metadata() or {}
                return {k: f.get_tensor(k) for k in f.keys()}, meta
        except SafetensorError as e:
            raise CheckpointMismatch(f"{path} is not a readable safetensors file ({e})") from None
    if not _looks_like_torch_file(path):
        raise CheckpointMismatch(f"{path} is not a model checkpoint (neither a PyTorch nor a safetensors file)")
    obj = load_tensors_only(path)
    sd = state_dict_of(obj)
    if sd is None:
        raise CheckpointMismatch(f"{path} holds no state dict (expected a dict with a 'model' entry)")
    return sd, {}


def load_tensors_only(path: Path):
    """`torch.load(weights_only=True)`, with UnsafeCheckpoint for a file that needs more."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        found = re.search(r"Unsupported global: GLOBAL ([\w.]+)", str(e))
        what = f"it refers to {found.group(1)}" if found else "it holds more than tensors"
        raise UnsafeCheckpoint(
            f"{path.name} is not a plain checkpoint ({what}): loading it would run code from the file. If you "
            f"trust where it came from, convert it once: python -m clipvis convert-checkpoint --trust-pickle "
            f"{path.name} {path.stem}.safetensors") from None
    except (RuntimeError, EOFError, OSError, ValueError) as e:
        raise CheckpointMismatch(f"{path} is not a readable PyTorch checkpoint ({type(e).__name__}: "
                                 f"{str(e).splitlines()[0][:200] if str(e) else 'truncated'})") from None


def state_dict_of(obj) -> dict | None:
    """The state dict in a loaded checkpoint: detectron2's {"model": sd}, or sd itself."""
    if isinstance(obj, dict) and isinstance(obj.get("model"), dict):
        obj = obj["model"]
    if isinstance(obj, dict) and obj and all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                             for k, v in obj.items()):
        return obj
    return None


def _looks_like_torch_file(path: Path) -> bool:
    with open(path, "rb") as f:
        head = f.read(4)
    return head.startswith(b"PK") or head[:1] == b"\x80"


def load_into(model: torch.nn.Module, state_dict: dict, *, source: str = "checkpoint"):
    """Strict load: any missing, unexpected or mis-shaped key is an error that names them."""
    sd = {k: v for k, v in state_dict.items() if k not in IGNORED_KEYS}
    own = model.state_dict()
    missing = sorted(set(own) - set(sd))
    unexpected = sorted(set(sd) - set(own))
    shapes = sorted(k for k in set(own) & set(sd) if tuple(own[k].shape) != tuple(sd[k].shape))
    if missing or unexpected or shapes:
        def show(keys):
            return ", ".join(keys[:8]) + (f" … (+{len(keys) - 8} more)" if len(keys) > 8 else "")
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing keys: {show(missing)}")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected keys: {show(unexpected)}")
        if shapes:
            parts.append("shape mismatches: " + ", ".join(
                f"{k} {tuple(sd[k].shape)} vs model {tuple(own[k].shape)}" for k in shapes[:5]))
        hint = ""
        if any(k.startswith("backbone.clip_model.") for k in missing + unexpected + shapes):
            hint = " The CLIP part does not fit: is `clip_model` the one this checkpoint was trained with?"
        raise CheckpointMismatch(f"{source} does not fit the model.{hint} " + "; ".join(parts) + ".")
    model.load_state_dict(sd, strict=True)


def clip_config_of(name: str) -> dict | None:
    """open_clip's config of a CLIP model (the demo's is built in, not registered)."""
    import open_clip

    from .demo import DEMO_CLIP_CONFIG, DEMO_CLIP_NAME
    return DEMO_CLIP_CONFIG if name == DEMO_CLIP_NAME else open_clip.get_model_config(name)


def save_checkpoint(path, model, *, clip_model_name: str, extra: dict | None = None):
    """Our own format: safetensors, with the CLIP model name and head sizes as metadata."""
    from safetensors.torch import save_file
    sd = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    meta = {"format": "clipvis", "clip_model": clip_model_name, "head": json.dumps(model.head_cfg.to_dict()),
            # The CLIP architecture itself, so a custom CLIP loads without its JSON file.
            "clip_config": json.dumps(clip_config_of(clip_model_name))}
    meta.update({k: json.dumps(v) for k, v in (extra or {}).items()})
    with atomic_path(path) as tmp:
        save_file(sd, str(tmp), metadata=meta)
