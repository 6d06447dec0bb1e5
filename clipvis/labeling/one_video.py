"""One video: decode it, run the predictor, keep the result as a one-video
YTVIS dataset (per frame an RLE, or None where the instance is absent)."""
from __future__ import annotations

import warnings
from dataclasses import dataclass

from clipvis.formats import Annotation, Category, Video, YTVISDataset, mask_to_rle
from clipvis.labeling.discover import VideoJob
from clipvis.labeling.sources import open_job, output_file_names
from clipvis.video import VideoDecodeError, VideoDecodeWarning
from clipvis.vocab import Vocabulary, vocabulary_categories


@dataclass(frozen=True)
class VideoLabels:
    dataset: YTVISDataset  # the video and every instance the predictor kept
    note: str | None = None  # e.g. a video file that ended before its header said


def label_video(predictor, job: VideoJob, vocabulary: Vocabulary, *, stride: int = 1,
                max_frames: int | None = None, progress=None) -> VideoLabels:
    """Raises VideoDecodeError (or any error of the engine) if the video
    cannot be labelled; the caller records it and goes on."""
    source = open_job(job, stride=stride, max_frames=max_frames)
    info = source.info
    if job.size_hw is not None and (info.height, info.width) != job.size_hw:
        raise VideoDecodeError(f"{job.name}: frames are {info.width}x{info.height} but the JSON says "
                               f"{job.size_hw[1]}x{job.size_hw[0]}")
    with warnings.catch_warnings():
        # An early end is handled below; the warning would only break the progress bars.
        warnings.simplefilter("ignore", VideoDecodeWarning)
        result = predictor.predict((frame for _, frame in source), vocabulary, num_frames=info.num_frames,
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
    return VideoLabels(dataset=result_to_dataset(result, video), note=note)


def result_to_dataset(result, video: Video) -> YTVISDataset:
    """A VideoResult as a one-video dataset. Instances whose masks are empty
    on every frame are left out: they label nothing."""
    instances = result.instances
    segs = [[None] * result.num_frames for _ in instances]
    for t in range(result.num_frames):
        masks = result.frame_masks(t)  # (N, H, W): decodes the frame once for all instances
        for i, inst in enumerate(instances):
            if inst.present[t] and masks[i].any():
                segs[i][t] = mask_to_rle(masks[i])
        # The analysis caches up to 4096 full-size masks for a UI that revisits frames; going
        # through once, that cache would only grow (GBs at 720p), so it is emptied per frame.
        result.analysis.clear_mask_cache()  # the cache is bounded anyway; this frees it early
    annotations = []
    for inst, seg in zip(instances, segs):
        if any(s is not None for s in seg):
            annotations.append(Annotation(id=len(annotations) + 1, video_id=video.id,
                                          category_id=int(inst.category_id), segmentations=seg,
                                          score=float(inst.score)))
    used = {a.category_id for a in annotations}
    categories = [Category.from_json(c) for c in vocabulary_categories(result.vocabulary) if c["id"] in used]
    return YTVISDataset(videos=[video], categories=categories, annotations=annotations)
