"""Progress bars: one over this rank's videos, one within the current video.

The outer bar counts frames (so its rate is frames per second and its time
left is right for videos of any length) and names the video count; the inner
bar shows the current video. Only one process should draw bars (rank 0 under
torchrun); messages of other ranks are printed with a rank prefix.
"""
from __future__ import annotations

import sys

from tqdm import tqdm


class LabelProgress:
    def __init__(self, *, num_videos: int, num_frames: int, enabled: bool = True, rank: int | None = None):
        self.enabled = enabled
        self.prefix = f"[rank {rank}] " if rank is not None else ""
        self.num_videos = num_videos
        self.outer = tqdm(total=num_frames, unit="frame", desc=self._outer_desc(0), disable=not enabled,
                          position=0, dynamic_ncols=True, file=sys.stderr)
        self.inner = None
        self._start = 0
        self._videos = 0

    def _outer_desc(self, n: int) -> str:
        return f"{self.prefix}videos {n}/{self.num_videos}"

    def start_video(self, name: str, num_frames: int):
        self._start = self.outer.n
        short = name if len(name) <= 32 else "…" + name[-31:]
        self.inner = tqdm(total=num_frames, unit="frame", desc=short, disable=not self.enabled, position=1,
                          leave=False, dynamic_ncols=True, file=sys.stderr)

    def update(self, progress):
        """A predictor Progress callback: frames done in the current video."""
        self.advance(progress.frames_done)

    def advance(self, frames_done: int):
        self.inner.update(frames_done - self.inner.n)
        self.outer.update(self._start + frames_done - self.outer.n)

    def end_video(self, num_frames: int):
        """num_frames: the count the outer total was made of (an estimate may differ from what decoded)."""
        if self.inner is not None:
            self.inner.close()
            self.inner = None
        self._videos += 1
        self.outer.update(self._start + num_frames - self.outer.n)
        self.outer.set_description(self._outer_desc(self._videos))

    def message(self, text: str):
        tqdm.write(self.prefix + text, file=sys.stderr)

    def close(self):
        if self.inner is not None:
            self.inner.close()
        self.outer.close()
