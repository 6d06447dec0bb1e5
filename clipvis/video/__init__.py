"""Reading videos lazily: files, frame folders and zips of frames.

    src = open_video("clip.mp4", stride=2, max_frames=100)
    src.info            # VideoInfo: fps, num_frames, width, height, ... (nothing decoded yet
                        # beyond the first frame, which proves the input readable)
    for i, frame in src:  # frame: RGB uint8 (H, W, 3), one at a time
        ...
"""
from __future__ import annotations

from clipvis.paths import require_readable
from clipvis.video.files import FileVideo
from clipvis.video.frames import IMAGE_EXTENSIONS, FileListVideo, FolderVideo, ZipVideo
from clipvis.video.limits import VideoLimits
from clipvis.video.resize import MAX_SIZE_TEST, MIN_SIZE_TEST, resize_shortest_edge, resized_hw
from clipvis.video.source import (FrameTooLarge, Selection, VideoDecodeError, VideoDecodeWarning, VideoInfo,
                                  VideoSource)

VIDEO_EXTENSIONS = {".mp4", ".webm", ".avi", ".mov", ".mkv", ".gif", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv", ".ts"}

__all__ = [
    "FrameTooLarge", "MAX_SIZE_TEST", "MIN_SIZE_TEST", "VIDEO_EXTENSIONS", "Selection", "VideoDecodeError",
    "VideoDecodeWarning", "VideoInfo", "VideoLimits", "VideoSource", "open_frames", "open_video",
    "resize_shortest_edge", "resized_hw",
]


def open_video(source, *, stride: int = 1, max_frames: int | None = None, start_time: float | None = None,
               end_time: float | None = None, resize: tuple[int, int] | None = None,
               fps: float | None = None, limits: VideoLimits | None = None) -> VideoSource:
    """Open a video file, a folder of frames or a zip of frames.

    stride: keep every stride-th frame; max_frames: stop after this many
    (after stride); start_time / end_time: seconds, frames with
    start <= t < end; resize: (min_size, max_size) of the model's
    shortest-edge rule, e.g. (480, 1333); fps: the frame rate of a frames
    folder or zip (they carry none; default 6, YouTube-VIS's), ignored for files;
    limits: what an input may cost (clipvis/video/limits.py; default:
    `VideoLimits.from_env()`): larger frames are refused or shrunk on load.

    Raises VideoDecodeError (a ValueError) for input that is not a video, has
    no frames, mixes frame sizes, is an unsafe zip, or is beyond the limits
    (FrameTooLarge); FileNotFoundError if `source` does not exist;
    NotARegularFile (a ValueError) for a FIFO, device or socket.
    """
    path = require_readable(source, "video")  # a FIFO would block forever, a device never end
    limits = limits or VideoLimits.from_env()
    args = {"stride": stride, "max_frames": max_frames, "start_time": start_time, "end_time": end_time}
    if resize is not None and (len(resize) != 2 or min(resize) < 1):
        raise ValueError(f"resize must be (min_size, max_size), e.g. (480, 1333); got {resize!r}")
    if path.is_dir():
        src = FolderVideo(path, args, resize, limits, fps=fps)
    elif path.suffix.lower() == ".zip":
        src = ZipVideo(path, args, resize, limits, fps=fps)
    elif path.suffix.lower() in IMAGE_EXTENSIONS:
        raise VideoDecodeError(f"{path}: is a single image; give a video file, or a folder or zip of frames")
    else:
        src = FileVideo(path, args, resize, limits)
    if src.info.num_frames == 0:
        raise VideoDecodeError(
            f"{path}: the options select no frame (start_time={start_time}, end_time={end_time}, "
            f"the input has {src.info.source_num_frames} frames at {src.info.fps:g} fps)")
    return src


def open_frames(paths, *, names=None, stride: int = 1, max_frames: int | None = None,
                start_time: float | None = None, end_time: float | None = None,
                resize: tuple[int, int] | None = None, fps: float | None = None,
                limits: VideoLimits | None = None) -> VideoSource:
    """Frames given as a list of image files, in that order (e.g. a YTVIS
    video's `file_names` joined to its image root). `names` (default: the
    paths) are what `file_names` reports. Same options and errors as open_video."""
    args = {"stride": stride, "max_frames": max_frames, "start_time": start_time, "end_time": end_time}
    return FileListVideo(list(paths), args, resize, limits or VideoLimits.from_env(), fps=fps, names=names)
