"""Video files (mp4, webm, avi, mov, mkv, animated gif, ...): OpenCV, PyAV as fallback.

OpenCV (its FFmpeg backend) decodes and honours rotation metadata by itself.
PyAV takes over where OpenCV cannot open or decode a file; it does not rotate,
so its frames are turned by the display matrix here.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from clipvis.video.frames import bgr_to_rgb
from clipvis.video.limits import VideoLimits
from clipvis.video.source import Selection, VideoDecodeError, VideoSource

try:  # PyAV is the fallback only; a missing install must not break OpenCV reading.
    import av
except ImportError:  # pragma: no cover - av is in requirements.txt
    av = None

DEFAULT_FPS = 30.0  # when a file states no usable frame rate


def _usable_fps(fps) -> float | None:
    return float(fps) if fps and np.isfinite(fps) and 0 < fps < 1000 else None


def _rotate(rgb: np.ndarray, degrees: int) -> np.ndarray:
    # PyAV reports the display matrix angle counter-clockwise; np.rot90 turns
    # counter-clockwise too.
    k = (int(round(degrees / 90.0)) % 4) if degrees else 0
    return np.ascontiguousarray(np.rot90(rgb, k)) if k else rgb


class FileVideo(VideoSource):
    kind = "file"

    def __init__(self, path: Path, selection_args: dict, resize, limits: VideoLimits):
        self.path = Path(path)
        self._check_stream_size(limits)
        opened = self._probe_opencv() or self._probe_pyav()
        if not opened:
            raise VideoDecodeError(self._why_unreadable)
        super().__init__(str(self.path), Selection.make(self.fps, **selection_args), resize, limits)

    def _check_stream_size(self, limits: VideoLimits):
        """Refuse frames beyond the limits from the container's header, before a decoder
        allocates one (the probes below decode the first frame)."""
        if av is None:
            return
        try:
            with av.open(str(self.path)) as container:
                streams = container.streams.video
                size = (streams[0].codec_context.width, streams[0].codec_context.height) if streams else (0, 0)
        except (av.FFmpegError, OSError, ValueError):
            return  # not for PyAV: the probes say why, or OpenCV reads it (its frame is checked after)
        limits.check_pixels(*size, str(self.path))

    def _probe_opencv(self) -> bool:
        cap = cv2.VideoCapture(str(self.path), cv2.CAP_FFMPEG)
        try:
            if not cap.isOpened():
                return False
            ok, bgr = cap.read()
            if not ok or bgr is None:
                return False
            self.backend = "opencv"
            self.height, self.width = bgr.shape[:2]  # the decoded, already rotated size
            self.fps = _usable_fps(cap.get(cv2.CAP_PROP_FPS)) or DEFAULT_FPS
            self.rotation = int(cap.get(cv2.CAP_PROP_ORIENTATION_META) or 0)
            count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
            self.source_num_frames = count if count > 0 else self._count_packets()
            return True
        finally:
            cap.release()

    def _probe_pyav(self) -> bool:
        self._why_unreadable = (f"{self.path}: cannot be read as a video by OpenCV or PyAV "
                                "(not a video, or truncated/corrupt before its first frame)")
        if av is None:
            return False
        try:
            with av.open(str(self.path)) as container:
                if not container.streams.video:
                    self._why_unreadable = f"{self.path}: the file has no video stream"
                    return False
                stream = container.streams.video[0]
                first = next(container.decode(stream), None)
                if first is None:
                    self._why_unreadable = f"{self.path}: the video contains no frames"
                    return False
                self.rotation = int(getattr(first, "rotation", 0) or 0)
                rgb = _rotate(first.to_ndarray(format="rgb24"), self.rotation)
                self.height, self.width = rgb.shape[:2]
                self.fps = _usable_fps(float(stream.average_rate or 0)) or DEFAULT_FPS
                count = stream.frames or 0
                if count <= 0 and stream.duration and stream.time_base:
                    count = int(round(float(stream.duration * stream.time_base) * self.fps))
        except (av.FFmpegError, StopIteration, OSError) as e:
            self._why_unreadable = (f"{self.path}: cannot be read as a video by OpenCV or PyAV (not a "
                                    f"video, or truncated/corrupt before its first frame): {e}")
            return False
        self.backend = "pyav"
        self.source_num_frames = count if count > 0 else self._count_packets()
        return True

    def _count_packets(self) -> int:
        # The container states no frame count: count the video packets, which
        # reads the file but decodes nothing.
        if av is None:
            return 0
        try:
            with av.open(str(self.path)) as container:
                stream = container.streams.video[0]
                return sum(1 for p in container.demux(stream) if p.size)
        except (av.FFmpegError, OSError, IndexError):
            return 0

    def _source_names(self) -> list[str]:
        return [f"{self.path.stem}/{i:05d}.jpg" for i in range(self.source_num_frames)]

    def _decode(self):
        decode = self._decode_opencv if self.backend == "opencv" else self._decode_pyav
        last_i = -1
        for i, rgb in decode():
            last_i = i
            yield i, rgb
        if self._stop_reason is None and self._expected_more(last_i + 1):
            self._stop_reason = (f"the file ends at frame {last_i + 1} but its header promises "
                                 f"{self.source_num_frames}: truncated or corrupt")

    def _decode_opencv(self):
        sel, cap = self.selection, cv2.VideoCapture(str(self.path), cv2.CAP_FFMPEG)
        last = sel.last_needed()
        try:
            i = self._seek(cap, sel.start)
            while last is None or i <= last:
                if sel.wants(i):
                    ok, bgr = cap.read()
                    if not ok or bgr is None:
                        return
                    yield i, bgr_to_rgb(bgr, self.loaded_hw)
                elif not cap.grab():  # skipped frames are decoded but not converted
                    return
                i += 1
        finally:
            cap.release()

    def _seek(self, cap, start: int) -> int:
        """Jump to `start` if OpenCV lands exactly there (its FFmpeg backend
        decodes forward from the previous key frame); else stay at 0 and let
        the caller skip frame by frame. Returns the position reached."""
        if start > 0 and cap.set(cv2.CAP_PROP_POS_FRAMES, start):
            if int(cap.get(cv2.CAP_PROP_POS_FRAMES)) == start:
                return start
            cap.open(str(self.path), cv2.CAP_FFMPEG)
        return 0

    def _decode_pyav(self):
        sel, last = self.selection, self.selection.last_needed()
        with av.open(str(self.path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            i = 0
            try:
                for frame in container.decode(stream):
                    if last is not None and i > last:
                        return
                    if sel.wants(i):
                        yield i, _rotate(frame.to_ndarray(format="rgb24"), self.rotation)
                    i += 1
            except av.FFmpegError as e:
                self._stop_reason = f"decoder error at frame {i}: {e}"
