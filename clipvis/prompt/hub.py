"""Which SAM 2 model, and where its files come from: a local folder, the
Hugging Face cache, or a download into that cache on first use.

A model is named by a Hub repository ("facebook/sam2.1-hiera-tiny") or a local
folder holding the same files. `CLIPVIS_SAM_MODEL` overrides the default (the
studio's `--sam-model` sets it). Only safetensors weights are read, so loading
a model never unpickles anything; every weight must fit the architecture its
config.json describes (a missing or mis-shaped tensor is an error, not a
silently random layer).
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import urlparse

from clipvis.weights import WeightsUnavailable, _check_network, offline

# SAM 2.1 Hiera-Tiny: measured in turns with Hiera-Small (random weights, 480p, this project's CPU),
# a click on a new frame took 28% less time (its image encoder has 4 blocks fewer); a tracked frame took
# about the same, its time being the memory attention both share. See docs/PROMPT.md.
DEFAULT_SAM_MODEL = "facebook/sam2.1-hiera-tiny"
SAM_MODEL_ENV = "CLIPVIS_SAM_MODEL"
KNOWN_SAM_MODELS = ("facebook/sam2.1-hiera-tiny", "facebook/sam2.1-hiera-small",
                    "facebook/sam2.1-hiera-base-plus", "facebook/sam2.1-hiera-large")

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
# What a download fetches: the config, the safetensors weights and the
# processor's JSON settings; never the original .pt (a pickle) of the same repository.
DOWNLOAD_PATTERNS = ["*.json", "*.safetensors"]
# Where a folder keeps its preprocessing settings (transformers 5 writes the first, the Hub repositories may
# hold the older two).
PROCESSOR_FILES = ("processor_config.json", "preprocessor_config.json", "video_preprocessor_config.json")
_REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")


class SamModelUnavailable(WeightsUnavailable):
    """The SAM 2 model cannot be had: not downloaded and no network, a folder
    without its files, or weights that do not fit. The message says what to do."""


def sam_model_name(name: str | None = None) -> str:
    """The model to use: `name`, else $CLIPVIS_SAM_MODEL, else the default."""
    return (name or os.environ.get(SAM_MODEL_ENV, "").strip() or DEFAULT_SAM_MODEL)


def hub_cache_dir(cache_dir: str | os.PathLike | None = None) -> Path:
    if cache_dir is not None:
        return Path(cache_dir)
    from huggingface_hub import constants
    return Path(constants.HF_HUB_CACHE)


def fetch_sam_model(name: str | None = None, *, cache_dir: str | os.PathLike | None = None,
                    tqdm_class=None) -> Path:
    """A local folder with the model's config.json and model.safetensors.

    A folder path is used as it is. A Hub repository is looked up in the Hub
    cache first; if absent it is downloaded there (tqdm progress bars on
    stderr, or `tqdm_class`), unless downloads are off (HF_HUB_OFFLINE or
    CLIPVIS_OFFLINE) or there is no network: then SamModelUnavailable says
    which repository to get and where to put it.
    """
    name = sam_model_name(name)
    folder = Path(name).expanduser()
    if folder.is_dir():
        return _checked_folder(folder, name)
    if not _REPO_ID.match(name):
        raise SamModelUnavailable(
            f"SAM model {name!r} is neither a folder nor a Hugging Face repository name such as "
            f"{DEFAULT_SAM_MODEL!r} (known: {', '.join(KNOWN_SAM_MODELS)})")
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    cache = hub_cache_dir(cache_dir)
    how = (f"Download it once with network access (`hf download {name}`, or run once without "
           f"HF_HUB_OFFLINE) into the Hugging Face cache at {cache}, or put its files ({CONFIG_FILE}, "
           f"{WEIGHTS_FILE} and the preprocessor JSON files) in a folder and pass that folder with "
           f"--sam-model or {SAM_MODEL_ENV}.")
    try:
        return _checked_folder(Path(snapshot_download(name, cache_dir=cache, allow_patterns=DOWNLOAD_PATTERNS,
                                                      local_files_only=True)), name)
    except (LocalEntryNotFoundError, SamModelUnavailable):
        pass  # not (completely) in the cache: download below if we may
    if offline():
        raise SamModelUnavailable(f"The SAM 2 model {name} is not in the Hugging Face cache and downloads "
                                  f"are off. {how}")
    from huggingface_hub import constants
    _check_network_or_explain(name, urlparse(constants.ENDPOINT).hostname or "huggingface.co", how)
    try:
        path = snapshot_download(name, cache_dir=cache, allow_patterns=DOWNLOAD_PATTERNS, tqdm_class=tqdm_class)
    except (HfHubHTTPError, LocalEntryNotFoundError, OSError) as e:
        raise SamModelUnavailable(f"Could not download the SAM 2 model {name} "
                                  f"({type(e).__name__}: {str(e)[:200]}). {how}") from None
    return _checked_folder(Path(path), name)


def _check_network_or_explain(name: str, host: str, how: str):
    try:
        _check_network(host, how)
    except WeightsUnavailable as e:
        raise SamModelUnavailable(f"The SAM 2 model {name} is not in the Hugging Face cache and {e}") from None


def _checked_folder(folder: Path, name: str) -> Path:
    missing = [f for f in (CONFIG_FILE, WEIGHTS_FILE) if not (folder / f).is_file()]
    if missing:
        raise SamModelUnavailable(
            f"The SAM 2 model {name} in {folder} lacks {', '.join(missing)}: a transformers SAM 2 video "
            f"model folder holds {CONFIG_FILE} and {WEIGHTS_FILE} (safetensors; .pt/.bin files are not read)")
    return folder


def load_sam_model(folder: Path, *, device="cpu"):
    """(Sam2VideoModel in eval mode, Sam2VideoProcessor) from a folder that
    fetch_sam_model returned. Strict: every weight present and of its shape."""
    from transformers import Sam2VideoModel

    try:
        # Mismatched shapes are reported below with the rest, not raised one by one.
        model, info = Sam2VideoModel.from_pretrained(folder, use_safetensors=True, output_loading_info=True,
                                                     ignore_mismatched_sizes=True)
    except (OSError, ValueError, RuntimeError) as e:
        raise SamModelUnavailable(f"{folder.name}: not a SAM 2 video model ({type(e).__name__}: "
                                  f"{str(e)[:300]})") from None
    problems = []
    for kind in ("missing_keys", "unexpected_keys", "mismatched_keys"):
        keys = sorted(_describe_key(k) for k in info.get(kind) or ())
        if keys:
            problems.append(f"{len(keys)} {kind.replace('_', ' ')}: {', '.join(keys[:6])}"
                            + (" …" if len(keys) > 6 else ""))
    if problems:
        raise SamModelUnavailable(f"The weights in {folder} do not fit the SAM 2 model its {CONFIG_FILE} "
                                  f"describes: {'; '.join(problems)}.")
    return model.to(device).eval(), _processor_for(folder, model.config)


def _describe_key(key) -> str:
    if isinstance(key, tuple) and len(key) == 3:  # (name, shape in the file, shape in the model)
        return f"{key[0]} (file {tuple(key[1])}, model {tuple(key[2])})"
    return str(key)


def _processor_for(folder: Path, config):
    """The folder's own preprocessing settings when it has them; otherwise
    SAM 2's fixed ones (square resize to the model's image size, ImageNet
    mean/std) built from the model config, so a folder with just the config
    and the weights works too."""
    from transformers import Sam2ImageProcessor, Sam2VideoProcessor, Sam2VideoVideoProcessor

    if any((folder / f).is_file() for f in PROCESSOR_FILES):
        return Sam2VideoProcessor.from_pretrained(folder)
    size = {"height": config.image_size, "width": config.image_size}
    return Sam2VideoProcessor(image_processor=Sam2ImageProcessor(size=size),
                              video_processor=Sam2VideoVideoProcessor(size=size))
