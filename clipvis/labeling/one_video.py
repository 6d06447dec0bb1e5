"""One video: decode it, run the predictor, keep the result as a one-video
YTVIS dataset (per frame an RLE, or None where the instance is absent);
on the way, write a video file's frames where the output's names point."""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

from clipvis.formats import Video, YTVISDataset
from clipvis.labeling.discover import VideoJob
from clipvis.labeling.frames import FrameWriter
from clipvis.labeling.sources import open_job, output_file_names
from clipvis.video import VideoDecodeError, VideoDecodeWarning
from clipvis.vocab import Vocabulary


@dataclass(frozen=True)
class VideoLabels:
    dataset: YTVISDataset  # the video and every instance the predictor kept
    note: str | None = None  # e.g. a video file that ended before its header said


def _frames(source, writer: FrameWriter | None):
    """The source's frames; each also written as a JPEG first, if asked."""
    for i, frame in source:
        if writer is not None:
            writer.write(source.source_index(i), frame)
        yield frame


def label_video(predictor, job: VideoJob, vocabulary: Vocabulary, *, stride: int = 1,
                max_frames: int | None = None, progress=None, frames_dir: Path | None = None) -> VideoLabels:
    """Raises VideoDecodeError (or any error of the engine) if the video
    cannot be labelled; the caller records it and goes on. With `frames_dir`,
    a video file's frames are written there as they are decoded."""
    source = open_job(job, stride=stride, max_frames=max_frames)
    info = source.info
    if job.size_hw is not None and (info.height, info.width) != job.size_hw:
        raise VideoDecodeError(f"{job.name}: frames are {info.width}x{info.height} but the JSON says "
                               f"{job.size_hw[1]}x{job.size_hw[0]}")
    writer = FrameWriter(frames_dir, job) if frames_dir is not None and job.kind == "file" else None
    with warnings.catch_warnings():
        # An early end is handled below; the warning would only break the progress bars.
        warnings.simplefilter("ignore", VideoDecodeWarning)
        result = predictor.predict(_frames(source, writer), vocabulary, num_frames=info.num_frames,
                                   progress=progress)
    names = output_file_names(job, source)
    note = None
    if source.stopped_at is not None:
        # Video files often promise a frame or two more than they hold: keep
        # what decoded. A frame image that fails to decode is a broken dataset.
        if source.kind != "file":
            raise VideoDecodeError(source.warning)
        names, note = names[: result.num_frames], source.warning
    extra = {} if job.kind == "list" else {"name": job.name}
    video = Video(id=job.video_id, width=result.frame_hw[1], height=result.frame_hw[0], file_names=names,
                  extra=extra)
    return VideoLabels(dataset=result.to_dataset(video, categories="used"), note=note)


def write_frames(job: VideoJob, frames_dir: Path, *, stride: int = 1, max_frames: int | None = None,
                 progress=None) -> int:
    """Write the frames of a video already labelled (a resumed run whose frames
    are missing, or were not asked for before). Returns the frames written."""
    source = open_job(job, stride=stride, max_frames=max_frames)
    writer = FrameWriter(frames_dir, job)
    count = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", VideoDecodeWarning)
        for count, _ in enumerate(_frames(source, writer), start=1):
            if progress is not None:
                progress(count)
    return count
