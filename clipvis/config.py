"""Inference settings: the one place their defaults, limits and help texts live.

`InferenceConfig` is what the predictor runs with; the command-line flags
(clipvis/commands/model_args.py), the studio and the labeller are generated
from or built by it, so a default is written once. No torch here: the CLI
reads it before deciding what to import.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

PRECISIONS = ("fp32", "bf16", "fp16")
# The largest frame (and mask) read, in pixels: clipvis/video/limits.py, clipvis/formats/rle.py.
MAX_FRAME_PIXELS = 8192 * 8192


def _setting(default, help: str, *, flag: str | None = None, env: str | None = None, choices=None, minimum=None):
    """A field with what its command-line flag needs (None help: no flag)."""
    return field(default=default, metadata={"help": help, "flag": flag, "env": env, "choices": choices,
                                            "minimum": minimum})


@dataclass(frozen=True)
class InferenceConfig:
    min_size: int = _setting(480, "shortest edge of the model input, pixels", minimum=32)
    max_size: int = _setting(1333, "longest edge of the model input at most, pixels", minimum=32)
    window: int = _setting(10, "frames per window: read, run and stored together, then memory is handed back",
                           minimum=1)
    # Frames per pass through the network within a window. None: the whole window on a GPU, 2 on
    # the CPU backend, where larger batches gain nothing (the products are large already) and lose
    # the cache: the pixel decoder took 20% longer per frame in batches of 10 (bench_engine.py).
    batch: int | None = _setting(None, None, minimum=1)
    memory_size: int = _setting(9, "frames in the tracking memory", flag="--memory", minimum=1)
    top_k_frames: int = _setting(5, "memory frames averaged when matching", minimum=1)
    topk: int = _setting(50, "instances kept per video", minimum=1)
    precision: str = _setting("fp32", "autocast precision: fp32 (IEEE, TF32 off on CUDA), bf16, or fp16 (CUDA only)",
                              env="CLIPVIS_PRECISION", choices=PRECISIONS)
    # Compress a window's masks (pycocotools, CPU) on a worker thread while the next window
    # runs on the device. None: on CUDA only (on the CPU both would share the same cores).
    overlap_encoding: bool | None = _setting(None, None)

    def __post_init__(self):
        for f in dataclasses.fields(self):
            value, meta = getattr(self, f.name), f.metadata
            if meta["minimum"] is not None and value is not None and (
                    not isinstance(value, int) or isinstance(value, bool) or value < meta["minimum"]):
                raise ValueError(f"`{f.name}` must be an integer >= {meta['minimum']}, got {value!r}")
            if meta["choices"] and value not in meta["choices"]:
                raise ValueError(f"`{f.name}` must be one of {', '.join(meta['choices'])}, got {value!r}")

    def replace(self, **settings) -> "InferenceConfig":
        """A copy with some settings changed; unknown names are an error that lists the known ones."""
        unknown = sorted(set(settings) - {f.name for f in dataclasses.fields(self)})
        if unknown:
            raise TypeError(f"unknown inference setting(s) {', '.join(unknown)}; "
                            f"known: {', '.join(f.name for f in dataclasses.fields(self))}")
        return dataclasses.replace(self, **settings)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def inference_fields_with_flags():
    """The settings that are command-line flags: (field, flag)."""
    for f in dataclasses.fields(InferenceConfig):
        if f.metadata["help"] is not None:
            yield f, f.metadata["flag"] or "--" + f.name.replace("_", "-")
