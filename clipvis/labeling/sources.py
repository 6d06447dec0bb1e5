"""Opening a VideoJob through the data layer, and sizing it for the shards."""
from __future__ import annotations

from pathlib import Path, PurePosixPath

from clipvis.labeling.discover import VideoJob
from clipvis.video import Selection, VideoDecodeError, VideoSource, open_video
# The data layer's still-frame reader does the header checks and decoding; it
# only lacks a public way to read a given list of frames (see FrameListVideo).
from clipvis.video.frames import _decode_image, _header_size, _StillFrames


class FrameListVideo(_StillFrames):
    """The frames a YouTube-VIS JSON lists for one video, in its order (a
    folder may hold more frames than the JSON names)."""

    kind = "folder"

    def __init__(self, root: Path, names, selection_args: dict, where: str):
        self._paths = [Path(root) / n for n in names]
        self._names = list(names)
        self._labels = [str(p) for p in self._paths]
        missing = next((p for p in self._paths if not p.is_file()), None)
        if missing is not None:
            raise VideoDecodeError(f"{where}: frame {missing} does not exist")
        sizes = [_header_size(p, str(p)) for p in self._paths]
        self._setup(self._labels, sizes, None, selection_args, None, where)

    def _source_names(self) -> list[str]:
        return self._names

    def _read(self, i):
        return _decode_image(str(self._paths[i]))


def open_job(job: VideoJob, *, stride: int = 1, max_frames: int | None = None) -> VideoSource:
    if job.kind == "list":
        return FrameListVideo(Path(job.path), job.frame_files, {"stride": stride, "max_frames": max_frames},
                              job.name)
    return open_video(job.path, stride=stride, max_frames=max_frames)


def output_file_names(job: VideoJob, source: VideoSource) -> list[str]:
    """YTVIS `file_names` of the frames the source yields: a JSON's own names,
    else `<prefix>/<frame>`, where a video file's frames are named
    `<relative path without extension>/00000.jpg` by their source index."""
    names = source.file_names
    if job.kind == "list":
        return names
    return [f"{job.prefix}/{PurePosixPath(n).name}" for n in names]


def count_frames(job: VideoJob, *, stride: int = 1, max_frames: int | None = None) -> int:
    """Frames the job will yield (a best guess for balancing; never raises:
    an unreadable video counts 1 and fails, with its reason, when labelled)."""
    n = job.source_frames
    if n is None:
        try:
            n = open_video(job.path).info.source_num_frames
        except Exception:  # noqa: BLE001 - any failure is reported when the video is labelled
            n = 1
    return max(1, len(Selection(stride=stride, limit=max_frames).indices(n)))
