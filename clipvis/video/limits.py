"""Bounds on what a video input may cost, checked before memory is spent.

A small upload can ask for a lot: a 420 KB PNG that decodes to 12000x12000
pixels (432 MB), a 4 MB zip whose members inflate to 2 GiB each, a zip whose
directory lists millions of entries. Each bound below is checked from headers
(image headers, the zip's directory) before anything large is read, and a
frame that is within the bounds but larger than anything downstream uses is
downscaled once, as it is decoded.

`max_side` (default 3840): frames whose longer side is larger are shrunk (area
averaging) to fit 3840x3840 as they are read. It is above what the model and the
viewer use: the model's input is at most `max_size` (1333 by default) on its
longer side, the studio shows frames at most 1280x720, and masks are made at a
quarter of the model's input, so nothing they see changes. It keeps every frame
of ordinary video (up to 4K UHD, 3840x2160) and of the datasets (YouTube-VIS,
OVIS, LV-VIS, BURST: at most 1920x1080) at its own size, so masks, exports and
evaluation keep the source's size; only larger frames (8K, panoramas, large
stills) are shrunk, and results then have the loaded size, which `VideoInfo`
reports as out_width x out_height. A 3840x3840 RGB frame is 44 MB, where one at
the 8192x8192 cap is 201 MB.

Every bound can be set per call (`open_video(..., limits=VideoLimits(...))`)
or for the process by environment variable (see `VideoLimits.from_env`).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, fields

from clipvis.config import MAX_FRAME_PIXELS

MiB = 2**20


@dataclass(frozen=True)
class VideoLimits:
    max_pixels: int = MAX_FRAME_PIXELS  # per frame, from its header: larger inputs are refused
    max_side: int = 3840  # frames with a longer side are downscaled once, on load
    zip_member_bytes: int = 256 * MiB  # a zip member's size, declared and as read
    zip_ratio: int = 100  # a member above zip_ratio_from bytes inflating more than this is refused
    zip_ratio_from: int = 1 * MiB
    zip_members: int = 100_000  # entries of a zip's directory

    ENV = {"max_pixels": "CLIPVIS_MAX_FRAME_PIXELS", "max_side": "CLIPVIS_LOAD_MAX_SIDE",
           "zip_member_bytes": "CLIPVIS_ZIP_MEMBER_BYTES", "zip_members": "CLIPVIS_ZIP_MEMBERS"}

    def __post_init__(self):
        for f in fields(self):
            if not isinstance(getattr(self, f.name), int) or getattr(self, f.name) < 1:
                raise ValueError(f"video limit `{f.name}` must be a positive integer, got {getattr(self, f.name)!r}")

    @classmethod
    def from_env(cls) -> "VideoLimits":
        """The defaults, with any CLIPVIS_MAX_FRAME_PIXELS, CLIPVIS_LOAD_MAX_SIDE,
        CLIPVIS_ZIP_MEMBER_BYTES or CLIPVIS_ZIP_MEMBERS from the environment."""
        given = {}
        for name, var in cls.ENV.items():
            if os.environ.get(var):
                try:
                    given[name] = int(os.environ[var])
                except ValueError:
                    raise ValueError(f"{var} must be an integer, got {os.environ[var]!r}") from None
        return cls(**given)

    def check_pixels(self, width: int, height: int, what: str):
        """Raise FrameTooLarge (a VideoDecodeError) naming `what` if a frame is too large."""
        if width * height > self.max_pixels:
            from clipvis.video.source import FrameTooLarge
            side = int(self.max_pixels ** 0.5)
            raise FrameTooLarge(f"{what}: a frame of {width}x{height} pixels ({width * height / 1e6:.0f} MP) is "
                                f"larger than this tool reads ({side}x{side}, {self.max_pixels / 1e6:.0f} MP); "
                                "scale it down first")

    def load_size(self, width: int, height: int) -> tuple[int, int]:
        """(width, height) a frame is kept at: its own, or shrunk to fit max_side."""
        longer = max(width, height)
        if longer <= self.max_side:
            return width, height
        scale = self.max_side / longer
        return max(1, round(width * scale)), max(1, round(height * scale))
