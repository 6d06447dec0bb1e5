"""What every video reader shares: the info, the frame selection and the lazy loop.

A reader (file, frames folder, zip) only knows how to decode its frames in
order; this module turns stride, maximum frames, start/end times, the
downscaling of oversized frames (limits.py) and the resize rule into the
frames it yields, and records where decoding stopped if the input ends early.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Iterator

import cv2
import numpy as np

from clipvis.video.limits import VideoLimits
from clipvis.video.resize import resize_shortest_edge, resized_hw


class VideoDecodeError(ValueError):
    """Input that cannot be read as a video (says which input and why)."""


class FrameTooLarge(VideoDecodeError):
    """Frames (or a zip) beyond VideoLimits: refused before they are read."""


class VideoDecodeWarning(UserWarning):
    """Decoding stopped before the end of the input (truncated or corrupt)."""


@dataclass(frozen=True)
class VideoInfo:
    """Known before any frame is yielded. Sizes are after rotation metadata."""

    fps: float
    num_frames: int  # frames the iteration will yield (after stride and limits), best known
    width: int
    height: int
    source_num_frames: int  # frames in the input, best known
    duration: float  # seconds, source_num_frames / fps
    kind: str  # "file", "folder" or "zip"
    out_width: int  # size of the yielded frames (differs with `resize`, or when limits.max_side shrinks them)
    out_height: int
    backend: str = ""  # "opencv", "pyav", "opencv-imread"
    rotation: int = 0  # degrees of rotation metadata that was applied


@dataclass(frozen=True)
class Selection:
    """Which source frames to yield: range(start, stop, stride)[:limit]."""

    start: int = 0
    stop: int | None = None  # exclusive; None = to the end
    stride: int = 1
    limit: int | None = None

    @classmethod
    def make(cls, fps, *, stride=1, max_frames=None, start_time=None, end_time=None) -> "Selection":
        if not isinstance(stride, int) or isinstance(stride, bool) or stride < 1:
            raise ValueError(f"stride must be an integer >= 1, got {stride!r}")
        if max_frames is not None and (not isinstance(max_frames, int) or max_frames < 1):
            raise ValueError(f"max_frames must be an integer >= 1 or None, got {max_frames!r}")
        if start_time is not None and not start_time >= 0:
            raise ValueError(f"start_time must be >= 0 seconds, got {start_time!r}")
        if end_time is not None and not end_time > (start_time or 0):
            raise ValueError(f"end_time ({end_time!r} s) must be after start_time ({start_time or 0} s)")
        # Frame i shows at i / fps; keep frames with start <= t < end. The
        # epsilon absorbs float noise such as 0.3 * 10 = 3.0000000000000004.
        start = math.ceil(start_time * fps - 1e-6) if start_time else 0
        stop = math.ceil(end_time * fps - 1e-6) if end_time is not None else None
        return cls(start=start, stop=stop, stride=stride, limit=max_frames)

    def indices(self, n_source: int) -> range:
        stop = n_source if self.stop is None else min(self.stop, n_source)
        r = range(self.start, max(stop, self.start), self.stride)
        return r if self.limit is None else r[: self.limit]

    def last_needed(self) -> int | None:
        """The last source index that could be wanted, if bounded."""
        bounds = [b for b in (self.stop, None if self.limit is None else
                              self.start + (self.limit - 1) * self.stride + 1) if b is not None]
        return min(bounds) - 1 if bounds else None

    def wants(self, i: int) -> bool:
        return i >= self.start and (i - self.start) % self.stride == 0 and (
            self.last_needed() is None or i <= self.last_needed())


class VideoSource:
    """A lazily decoded video. Iterate for `(index, frame)`: index counts the
    yielded frames 0..num_frames-1 (`source_index(i)` maps back to the
    input's own frame number); frame is an RGB uint8 (H, W, 3) array.

    Each iteration decodes afresh and holds one frame at a time. After an
    iteration that ended early, `stopped_at` is the index of the first frame
    that could not be decoded and `warning` says why (a VideoDecodeWarning is
    also issued); both are None after a complete iteration.
    """

    kind = "?"

    def __init__(self, name: str, selection: Selection, resize, limits: VideoLimits):
        self.name = name
        self.selection = selection
        self.resize = tuple(resize) if resize is not None else None
        self.limits = limits
        limits.check_pixels(self.width, self.height, name)
        self.stopped_at: int | None = None
        self.warning: str | None = None
        self._stop_reason: str | None = None

    # Readers fill these in.
    fps: float = 0.0
    width = height = 0
    source_num_frames = 0
    backend = ""
    rotation = 0

    def _decode(self) -> Iterator[tuple[int, np.ndarray]]:
        """Yield (source index, RGB frame) for the selected frames, in order;
        on an early end set self._stop_reason and return."""
        raise NotImplementedError

    def _source_names(self) -> list[str]:
        raise NotImplementedError

    @property
    def loaded_hw(self) -> tuple[int, int]:
        """(h, w) of the frames as read: the source's, or shrunk to limits.max_side."""
        w, h = self.limits.load_size(self.width, self.height)
        return h, w

    @property
    def info(self) -> VideoInfo:
        h, w = self.loaded_hw
        out_h, out_w = resized_hw(h, w, *self.resize) if self.resize else (h, w)
        return VideoInfo(
            fps=self.fps, num_frames=len(self.selection.indices(self.source_num_frames)),
            width=self.width, height=self.height, source_num_frames=self.source_num_frames,
            duration=self.source_num_frames / self.fps if self.fps else 0.0, kind=self.kind,
            out_width=out_w, out_height=out_h, backend=self.backend, rotation=self.rotation)

    @property
    def file_names(self) -> list[str]:
        """Names of the yielded frames, for a YTVIS video's `file_names`."""
        names = self._source_names()
        return [names[i] for i in self.selection.indices(len(names))]

    def source_index(self, i: int) -> int:
        return self.selection.start + i * self.selection.stride

    def __len__(self) -> int:
        return self.info.num_frames

    def __iter__(self) -> Iterator[tuple[int, np.ndarray]]:
        return self.frames()

    def frames(self) -> Iterator[tuple[int, np.ndarray]]:
        self.stopped_at = self.warning = self._stop_reason = None
        count = 0
        loaded_h, loaded_w = self.loaded_hw
        for _, rgb in self._decode():
            if rgb.shape[:2] != (loaded_h, loaded_w):  # larger than anything downstream uses: shrink once
                rgb = cv2.resize(rgb, (loaded_w, loaded_h), interpolation=cv2.INTER_AREA)
            if self.resize:
                rgb = resize_shortest_edge(rgb, *self.resize)
            yield count, rgb
            count += 1
        if self._stop_reason is not None:
            self.stopped_at = count
            self.warning = (f"{self.name}: decoding stopped after {count} of {len(self)} frames "
                            f"({self._stop_reason}); the frames before it are good")
            warnings.warn(self.warning, VideoDecodeWarning, stacklevel=2)
            if count == 0:
                raise VideoDecodeError(f"{self.name}: no frame could be decoded ({self._stop_reason})")

    def _expected_more(self, next_source_index: int) -> bool:
        """True if frames from next_source_index on were still wanted."""
        wanted = self.selection.indices(self.source_num_frames)
        return len(wanted) > 0 and next_source_index <= wanted[-1]
