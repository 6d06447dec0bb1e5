"""The session's video: the upload kept under a generated name, and a cache of
downscaled frames for display.

The video is decoded once when it is loaded: every selected frame is written
as a JPEG no larger than DISPLAY_MAX, so scrubbing is a file read and never a
seek into the video, and memory holds only a few recent frames. The model
reads the original file again, at full resolution, when it runs.
"""
from __future__ import annotations

import dataclasses
import re
import shutil
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from clipvis.atomic import atomic_dir, write_bytes
from clipvis.video import VIDEO_EXTENSIONS, VideoLimits, open_video
from clipvis.video.header import read_header
from clipvis.video.frames import IMAGE_EXTENSIONS, natural_key

DISPLAY_MAX = (1280, 720)  # (width, height) the viewer never needs more than
DISPLAY_MIN_WIDTH = 640  # smaller videos are enlarged, or they show as a stamp in the viewer
JPEG_QUALITY = 90


class UploadError(ValueError):
    """An upload the studio cannot take; the message says why and what to do."""


@dataclass(frozen=True)
class Limits:
    max_frames: int = 2000  # frames per session, after stride
    max_upload_mb: float = 1024.0
    max_seconds: float = 0.0  # of the source a session spans (after stride and frame limit); 0: no limit
    max_resolution: int = 0  # frames are kept at most this many pixels on their short side (480: 480p); 0: as is

    def check(self, frames: int, seconds: float, stride: int) -> None:
        """Refuse a selection beyond the limits, saying what they are and what to change."""
        if frames > self.max_frames:
            raise UploadError(f"the video has {frames} frames at stride {stride}; this studio takes at most "
                              f"{self.max_frames}. Raise the stride or set a maximum number of frames.")
        if self.max_seconds and seconds > self.max_seconds + 1e-6:
            fit = int(self.max_seconds * frames / seconds) if seconds else 0  # frames of the selection that fit
            how = f"Set Max frames to {fit} or fewer" if fit else "Raise the stride"
            raise UploadError(f"the video is {seconds:.1f} s long; this studio takes at most {self.max_seconds:g} s "
                              f"of video. {how} to load a shorter part, or trim the video first.")

    def max_side(self, width: int, height: int) -> int | None:
        """The longer side a frame of width x height is kept at, or None if it stays as it is."""
        short, long = min(width, height), max(width, height)
        if not self.max_resolution or short <= self.max_resolution:
            return None
        return max(1, round(long * self.max_resolution / short))


def check_header(path: Path, stride: int, max_frames: int | None, limits: Limits) -> None:
    """Refuse a video file beyond the limits from its container's header, before any frame is decoded."""
    if Path(path).suffix.lower() not in VIDEO_EXTENSIONS:
        return  # frames (zip, folder): counted from their names and image headers when opened, no pixel read
    header = read_header(path)
    if header is not None and header.num_frames:
        frames, seconds = header.selected(stride, max_frames)
        limits.check(frames, seconds, stride)


def display_size(width: int, height: int) -> tuple[int, int]:
    scale = min(DISPLAY_MAX[0] / width, DISPLAY_MAX[1] / height)
    if scale > 1:
        scale = min(scale, max(1.0, DISPLAY_MIN_WIDTH / width))
    return max(1, round(width * scale)), max(1, round(height * scale))


def store_upload(paths: list[Path], folder: Path, limits: Limits) -> Path:
    """Copy an upload into `folder` under generated names; return what to open.

    One video file -> source<ext>; one zip -> source.zip; several images (a
    folder of frames) -> source_frames/00000<ext>, ... in natural order of
    their names. The user's names are never part of a path.
    """
    paths = [Path(p) for p in paths]
    if not paths:
        raise UploadError("no file was uploaded")
    total_mb = sum(p.stat().st_size for p in paths) / 2**20
    if total_mb > limits.max_upload_mb:
        raise UploadError(f"the upload is {total_mb:.0f} MB; this studio takes at most {limits.max_upload_mb:.0f} MB")
    exts = [p.suffix.lower() for p in paths]
    if len(paths) == 1 and (exts[0] in VIDEO_EXTENSIONS or exts[0] == ".zip"):
        target = folder / f"source{exts[0]}"
        shutil.copyfile(paths[0], target)
        return target
    images = sorted((p for p in paths if p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith(".")),
                    key=lambda p: natural_key(p.name))
    if not images:
        raise UploadError(f"{', '.join(p.name for p in paths[:3])}: not a video ({', '.join(sorted(VIDEO_EXTENSIONS))}), "
                          "a zip of frames, or a folder of JPEG/PNG frames")
    target = folder / "source_frames"
    with atomic_dir(target) as tmp:
        for i, p in enumerate(images):
            shutil.copyfile(p, tmp / f"{i:05d}{p.suffix.lower()}")
    return target


def open_selected(source: Path, stride: int, max_frames: int | None, limits: Limits, max_side: int | None = None):
    """open_video with the user's stride and frame limit, checked against the
    studio's limits; frames longer than `max_side` are shrunk as they are read."""
    video = open_video(source, stride=stride, max_frames=max_frames, limits=_video_limits(max_side))
    info = video.info
    seconds = min(info.duration, info.num_frames * stride / info.fps) if info.fps else 0.0
    limits.check(info.num_frames, seconds, stride)
    return video


def _video_limits(max_side: int | None) -> VideoLimits:
    base = VideoLimits.from_env()
    return base if max_side is None else dataclasses.replace(base, max_side=min(base.max_side, max_side))


def frame_count_note(decoded: int, announced: int) -> str:
    """What to tell the user when the video holds fewer frames than its header
    announces. One frame short is common (encoders count differently) and
    harmless: a quiet note. More means decoding stopped early."""
    if decoded >= announced:
        return ""
    if decoded == announced - 1:
        return f"{decoded} frames (the file's header counts {announced}; the last one is not in the file)"
    return (f"decoding stopped after {decoded} of the {announced} frames the file's header announces; "
            "the frames before it are good")


def cache_frames(video, folder: Path, progress=None) -> tuple[int, tuple[int, int]]:
    """Decode the selected frames once into folder/00000.jpg, ... at display size.

    Returns (frames written, (height, width) of the full-size frames).
    """
    full_hw = None
    count = 0
    with atomic_dir(folder) as tmp:
        for i, rgb in video:
            if full_hw is None:
                full_hw = rgb.shape[:2]
                w, h = display_size(rgb.shape[1], rgb.shape[0])
            if (w, h) == (rgb.shape[1], rgb.shape[0]):
                shown = rgb
            else:
                shrink = w < rgb.shape[1]
                shown = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
            ok, buf = cv2.imencode(".jpg", cv2.cvtColor(shown, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
            if not ok:
                raise UploadError(f"could not cache frame {i} for display")
            write_bytes(tmp / f"{i:05d}.jpg", buf.tobytes())
            count += 1
            if progress is not None:
                progress(count, video.info.num_frames)
    if count == 0:
        raise UploadError("the video yielded no frames")
    return count, full_hw


class FrameCache:
    """Display frames by index, the most recent few kept in memory."""

    def __init__(self, folder: Path, num_frames: int, keep: int = 48):
        self.folder = Path(folder)
        self.num_frames = num_frames
        self.keep = keep
        self._lru: OrderedDict[int, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return self.num_frames

    def path(self, t: int) -> Path:
        return self.folder / f"{int(t):05d}.jpg"

    def get(self, t: int) -> np.ndarray:
        """(h, w, 3) uint8 RGB at display size."""
        t = int(min(max(t, 0), self.num_frames - 1))
        with self._lock:
            if t in self._lru:
                self._lru.move_to_end(t)
                return self._lru[t]
        bgr = cv2.imread(str(self.path(t)), cv2.IMREAD_COLOR)
        if bgr is None:
            raise FileNotFoundError(f"display frame {t} is missing from {self.folder}")
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        with self._lock:
            self._lru[t] = rgb
            while len(self._lru) > self.keep:
                self._lru.popitem(last=False)
        return rgb


SAFE_ID = re.compile(r"^[0-9a-f]{8,64}$")


def safe_id(value: str) -> str:
    """Ids that become folder names come from us (uuid hex); refuse anything else."""
    if not isinstance(value, str) or not SAFE_ID.match(value):
        raise ValueError(f"not a valid id: {value!r}")
    return value
