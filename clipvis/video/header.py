"""What a video file's container says about it, read without decoding a frame.

A deployment that limits a video's length or size must refuse an upload
before it spends the decoding (a 20-minute 1080p clip takes minutes to decode
on two cores). The container's header gives the stream's size, frame rate,
frame count and duration; PyAV reads it without touching a frame.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

try:
    import av
except ImportError:  # pragma: no cover - av is in requirements.txt
    av = None


@dataclass(frozen=True)
class VideoHeader:
    width: int
    height: int
    fps: float
    num_frames: int  # as the header states it (or duration x fps); 0 if it states neither
    duration: float  # seconds

    def selected(self, stride: int = 1, max_frames: int | None = None) -> tuple[int, float]:
        """(frames, seconds of the source they span) after stride and a frame limit."""
        frames = -(-self.num_frames // max(1, stride))
        if max_frames:
            frames = min(frames, max_frames)
        seconds = min(self.duration, frames * max(1, stride) / self.fps) if self.fps else self.duration
        return frames, seconds


def read_header(path) -> VideoHeader | None:
    """The header of a video file, or None if PyAV cannot read it (the decoder then says why)."""
    if av is None:
        return None
    try:
        with av.open(str(Path(path))) as container:
            if not container.streams.video:
                return None
            stream = container.streams.video[0]
            ctx = stream.codec_context
            fps = float(stream.average_rate or stream.guessed_rate or 0)
            duration = 0.0
            if stream.duration and stream.time_base:
                duration = float(stream.duration * stream.time_base)
            elif container.duration:
                duration = container.duration / 1_000_000  # av.time_base: microseconds
            frames = int(stream.frames or 0) or (int(round(duration * fps)) if fps else 0)
            if not duration and fps and frames:
                duration = frames / fps
            return VideoHeader(width=int(ctx.width), height=int(ctx.height), fps=fps, num_frames=frames,
                               duration=duration)
    except (av.FFmpegError, OSError, ValueError, IndexError):
        return None
