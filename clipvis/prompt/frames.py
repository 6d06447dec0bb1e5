"""Frames for the tracker, read one at a time in the order propagation needs.

Propagation walks forward from the prompted frame, then backward from it, so
the frames must be reachable by index. Three kinds of input:

- a sequence with random access (a list or (T, H, W, 3) array of RGB frames,
  or any object with `__len__` and `__getitem__`, e.g. a lazy reader of
  stored frames): read by index, nothing copied;
- a `clipvis.video` source (a video file, frame folder or zip): decoded again
  when needed, never held whole; a backward walk decodes up to the chunk it
  needs and buffers `chunk` frames, so memory stays at `chunk` frames;
- any other iterable of frames: read once into a list (fine for short clips;
  for long videos pass one of the two above, which stream).

Every frame must be an RGB uint8 (H, W, 3) array of the first frame's size.
"""
from __future__ import annotations

from typing import Iterable, Iterator, Sequence

import numpy as np


class FrameError(ValueError):
    """Frames the tracker cannot use; the message says which and why."""


class FrameSource:
    """Random and ordered access to a video's frames, each checked."""

    def __len__(self) -> int:
        raise NotImplementedError

    def _get(self, index: int) -> np.ndarray:
        raise NotImplementedError

    @property
    def frame_hw(self) -> tuple[int, int]:
        if not hasattr(self, "_hw"):
            self._hw = check_frame(self._get(0), 0, None).shape[:2]
        return self._hw

    def frame(self, index: int) -> np.ndarray:
        if not 0 <= index < len(self):
            raise FrameError(f"frame {index} does not exist: the video has frames 0 to {len(self) - 1}")
        return check_frame(self._get(index), index, self.frame_hw)

    def read(self, order: Sequence[int]) -> Iterator[tuple[int, np.ndarray]]:
        """(index, frame) for each index in `order`, a run of consecutive indices up or down."""
        for i in _checked_run(order, len(self)):
            yield i, self.frame(i)

    def frames_at(self, indices: Sequence[int]) -> Iterator[tuple[int, np.ndarray]]:
        """(index, frame) for a few indices, ascending."""
        for i in sorted(indices):
            yield i, self.frame(i)


class SequenceFrames(FrameSource):
    def __init__(self, frames):
        self._frames = frames
        if len(frames) == 0:
            raise FrameError("the video has no frames")

    def __len__(self) -> int:
        return len(self._frames)

    def _get(self, index: int) -> np.ndarray:
        return self._frames[index]


class DecodedFrames(FrameSource):
    """A clipvis.video source: each pass decodes from the start (the readers
    cannot seek), so reads are planned to need few passes."""

    def __init__(self, video, chunk: int = 32):
        self._video = video
        self._n = len(video)
        self._chunk = chunk
        self._last: tuple[int, np.ndarray] | None = None  # the frame read last (prompts repeat on one frame)
        if self._n == 0:
            raise FrameError(f"{getattr(video, 'name', 'the video')} has no frames")

    def __len__(self) -> int:
        return self._n

    def _get(self, index: int) -> np.ndarray:
        if self._last is None or self._last[0] != index:
            self._last = next(self._decode_range(index, index + 1))
        return self._last[1]

    def frames_at(self, indices: Sequence[int]) -> Iterator[tuple[int, np.ndarray]]:
        wanted = sorted(set(indices))  # one pass for all of them
        if not wanted:
            return
        if wanted[0] < 0 or wanted[-1] >= self._n:
            raise FrameError(f"frame {wanted[-1] if wanted[-1] >= self._n else wanted[0]} does not exist: "
                             f"the video has frames 0 to {self._n - 1}")
        want = set(wanted)
        for i, frame in self._decode_range(wanted[0], wanted[-1] + 1):
            if i in want:
                yield i, check_frame(frame, i, self.frame_hw)

    def _decode_range(self, start: int, stop: int) -> Iterator[tuple[int, np.ndarray]]:
        last = start - 1
        for i, frame in self._video.frames():
            if i >= stop:
                return
            if i >= start:
                last = i
                yield i, frame
        if last < stop - 1:
            raise FrameError(f"{getattr(self._video, 'name', 'the video')}: decoding stopped before frame "
                             f"{last + 1} (the file is shorter than its header said)")

    def read(self, order: Sequence[int]) -> Iterator[tuple[int, np.ndarray]]:
        order = _checked_run(order, len(self))
        if not order:
            return
        if order[-1] >= order[0]:  # forward: one pass
            for i, frame in self._decode_range(order[0], order[-1] + 1):
                yield i, check_frame(frame, i, self.frame_hw)
            return
        # Backward: decode the chunk just below the previous one, then hand it out in reverse.
        high = order[0] + 1
        while high > order[-1]:
            low = max(order[-1], high - self._chunk)
            chunk = [check_frame(f, i, self.frame_hw) for i, f in self._decode_range(low, high)]
            for j in range(len(chunk) - 1, -1, -1):
                yield low + j, chunk[j]
            high = low


def _checked_run(order: Sequence[int], n: int) -> list[int]:
    order = [int(i) for i in order]
    step = 1 if len(order) < 2 or order[1] > order[0] else -1
    if any(b - a != step for a, b in zip(order, order[1:])) or any(not 0 <= i < n for i in order[:1] + order[-1:]):
        raise ValueError(f"frames are read in runs of consecutive indices within 0..{n - 1}")
    return order


def frame_source(frames) -> FrameSource:
    """Wrap whatever the caller gave (see the module docstring)."""
    if isinstance(frames, FrameSource):
        return frames
    if hasattr(frames, "frames") and hasattr(frames, "selection") and hasattr(frames, "__len__"):
        return DecodedFrames(frames)  # a clipvis.video.VideoSource
    if isinstance(frames, np.ndarray) or (hasattr(frames, "__len__") and hasattr(frames, "__getitem__")):
        return SequenceFrames(frames)
    if isinstance(frames, Iterable):
        return SequenceFrames([f for f in frames])
    raise FrameError(f"frames must be a sequence of RGB arrays, a clipvis.video source or an iterable; "
                     f"got {type(frames).__name__}")


def check_frame(frame, index: int, hw: tuple[int, int] | None) -> np.ndarray:
    frame = np.asarray(frame)
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise FrameError(f"frame {index} is not an RGB uint8 image (H, W, 3): got {frame.dtype} {frame.shape}")
    if hw is not None and frame.shape[:2] != tuple(hw):
        raise FrameError(f"frame {index} is {frame.shape[1]}x{frame.shape[0]}, but the video's first frame is "
                         f"{hw[1]}x{hw[0]}")
    return frame
