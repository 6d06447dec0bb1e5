"""Where the studio runs, and the limits that follow from it.

The rule (docs/STUDIO.md, "Running it as a Space"): a Hugging Face Space is
recognised by the SPACE_ID variable Spaces set. There, shared by strangers,
the defaults limit what one upload may cost: on CPU hardware (2 cores) 10 s
of video, 300 frames, kept at 480p; on a GPU (ZeroGPU included) 120 s, 3600
frames, 720p; and sessions expire a week after their last use. Anywhere else (`python app.py` on a laptop or a server) there
is no length or resolution limit by default, only the frame cap of 2000 the
studio always had, and sessions are kept. Every one of them is set explicitly by its flag or
environment variable, which wins over both.
"""
from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class DefaultLimits:
    max_seconds: float  # 0: none
    max_frames: int
    max_resolution: int  # short side, pixels; 0: as the video is
    session_ttl_days: float = 0  # 0: sessions are kept


LOCAL = DefaultLimits(max_seconds=0, max_frames=2000, max_resolution=0)
# A public Space collects strangers' uploads: they go a week after their last use.
SPACE_CPU = DefaultLimits(max_seconds=10, max_frames=300, max_resolution=480, session_ttl_days=7)
SPACE_GPU = DefaultLimits(max_seconds=120, max_frames=3600, max_resolution=720, session_ttl_days=7)


def on_space() -> bool:
    """Running as a Hugging Face Space (Spaces set SPACE_ID, e.g. "user/clip-vis")."""
    return bool(os.environ.get("SPACE_ID", "").strip())


def on_zero_gpu() -> bool:
    """A ZeroGPU Space: as the `spaces` package decides it (spaces/config.py)."""
    return os.environ.get("SPACES_ZERO_GPU", "").lower() in ("1", "t", "true")


def has_gpu() -> bool:
    if on_zero_gpu():
        return True
    import torch
    return torch.cuda.is_available()


def default_limits() -> DefaultLimits:
    if not on_space():
        return LOCAL
    return SPACE_GPU if has_gpu() else SPACE_CPU
