"""Opening a VideoJob through the data layer, and sizing it for the shards."""
from __future__ import annotations

from pathlib import Path, PurePosixPath

from clipvis.labeling.discover import VideoJob
from clipvis.labeling.frames import frame_name
from clipvis.video import Selection, VideoSource, open_frames, open_video


def open_job(job: VideoJob, *, stride: int = 1, max_frames: int | None = None) -> VideoSource:
    if job.kind == "list":
        # The frames a YouTube-VIS JSON lists for the video, in its order (a folder may hold more).
        return open_frames([Path(job.path) / n for n in job.frame_files], names=list(job.frame_files),
                           stride=stride, max_frames=max_frames)
    return open_video(job.path, stride=stride, max_frames=max_frames)


def output_file_names(job: VideoJob, source: VideoSource) -> list[str]:
    """YTVIS `file_names` of the frames the source yields: a JSON's own names;
    for a video file `<its relative path>/<frame index>.jpg`, where label writes
    them (frames.py); for a frame folder `<prefix>/<its file name>`."""
    names = source.file_names
    if job.kind == "list":
        return names
    if job.kind == "file":
        return [f"{job.prefix}/{frame_name(source.source_index(i))}" for i in range(len(names))]
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
