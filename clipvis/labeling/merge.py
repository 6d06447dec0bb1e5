"""Merging the per-video work files into the final JSON, and the run's summary.

The merged file depends only on the work files and the settings: videos in
discovery order with their discovery ids, annotations numbered 1..N in that
order (best score first within a video), no timestamps. So an interrupted
and resumed run writes the very same bytes as an uninterrupted one.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from clipvis.formats import Annotation, Video, YTVISDataset, write_cocovid, write_dataset, write_results
from clipvis.labeling.discover import VideoJob
from clipvis.labeling.frames import missing_frames, output_names
from clipvis.labeling.work import WorkFolder, WorkFolderError
from clipvis.vocab import Vocabulary

FORMATS = ("dataset", "results", "cocovid")
CATEGORIES = ("all", "used")


@dataclass(frozen=True)
class Filters:
    """Which instances of the work files reach the output (applied at the
    merge, so changing them and rerunning labels nothing again).

    min_score: instances scored lower are left out; min_frames: so are tracks
    with a mask on fewer frames; max_per_video: then at most this many per
    video, the best scored (None: no limit).
    """

    min_score: float = 0.0
    min_frames: int = 1
    max_per_video: int | None = None

    def __post_init__(self):
        if not 0.0 <= self.min_score <= 1.0:
            raise ValueError(f"min_score is a score between 0 and 1, got {self.min_score}")
        if self.min_frames < 1:
            raise ValueError(f"min_frames must be >= 1, got {self.min_frames}")
        if self.max_per_video is not None and self.max_per_video < 1:
            raise ValueError(f"max_per_video must be >= 1 or None, got {self.max_per_video}")

    def apply(self, annotations: list[Annotation]) -> list[Annotation]:
        """annotations: one video's, best first (as a work file keeps them)."""
        kept = [a for a in annotations if (a.score is None or a.score >= self.min_score)
                and len(a.frames_present()) >= self.min_frames]
        return kept if self.max_per_video is None else kept[: self.max_per_video]


@dataclass
class Summary:
    out: str
    done: list[str] = field(default_factory=list)  # labelled by this run
    skipped: list[str] = field(default_factory=list)  # labelled by an earlier run (resumed)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (video, reason)
    notes: list[tuple[str, str]] = field(default_factory=list)  # labelled, with a remark
    instances: int = 0
    filtered_out: int = 0  # instances of the work files that the filters left out
    work_dir: str = ""
    image_root: str | None = None  # what the output's file_names are relative to
    frames_written: int = 0  # videos whose frames this run wrote

    @property
    def ok(self) -> bool:
        return not self.failed

    def to_json(self) -> dict:
        return asdict(self)

    def lines(self) -> list[str]:
        total = len(self.done) + len(self.skipped)
        out = [f"{total} videos labelled ({len(self.done)} done now, {len(self.skipped)} skipped: already "
               f"labelled in {self.work_dir}), {len(self.failed)} failed; {self.instances} instances "
               f"written to {self.out}" + (f" ({self.filtered_out} left out by the filters)" if self.filtered_out
                                           else "")]
        if self.image_root:
            written = f"; frames of {self.frames_written} videos written there now" if self.frames_written else ""
            out.append(f"  file_names are relative to {self.image_root}{written}")
        out += [f"  failed: {name}: {reason}" for name, reason in self.failed]
        out += [f"  note: {name}: {note}" for name, note in self.notes]
        if self.failed:
            out.append("  (a rerun with the same command tries the failed videos again and skips the rest)")
        return out


def merge_work(jobs: list[VideoJob], work: WorkFolder, vocabulary: Vocabulary, *, labelled_now: set[str],
               filters: Filters = Filters(), categories: str = "all", image_root: Path | None = None,
               frames_dir: Path | None = None, info: dict | None = None) -> tuple[YTVISDataset, Summary]:
    """The dataset of every finished video, filtered; `labelled_now` (keys)
    tells done from skipped in the summary. `frames_dir`: where video files'
    frames must be (a video whose frames are missing there is failed, so every
    file name the output holds exists); None when frames are not written.
    categories: "all" (the vocabulary) or "used" (the classes of the instances
    written), with the vocabulary's ids either way."""
    if categories not in CATEGORIES:
        raise ValueError(f"categories must be one of {', '.join(CATEGORIES)}, got {categories!r}")
    summary = Summary(out="", work_dir=str(work.root), image_root=None if image_root is None else str(image_root))
    videos, annotations = [], []
    for job in jobs:
        try:
            loaded = work.load_done(job.key)
        except WorkFolderError as e:
            summary.failed.append((job.name, str(e)))
            continue
        if loaded is None:
            reason = work.load_failed(job.key) or "no result: the run stopped before this video"
            summary.failed.append((job.name, reason))
            continue
        dataset, record = loaded
        v = dataset.videos[0]
        if frames_dir is not None and job.kind == "file":
            missing = missing_frames(v.file_names, frames_dir)
            if missing:
                reason = work.load_failed(job.key) or f"{len(missing)} of its frames are missing under {frames_dir}"
                summary.failed.append((job.name, reason))
                continue
        (summary.done if job.key in labelled_now else summary.skipped).append(job.name)
        if record.get("note"):
            summary.notes.append((job.name, record["note"]))
        videos.append(Video(id=job.video_id, width=v.width, height=v.height,
                            file_names=output_names(job, v.file_names, image_root), extra=v.extra))
        kept = filters.apply(dataset.annotations)
        summary.filtered_out += len(dataset.annotations) - len(kept)
        for a in kept:
            annotations.append(Annotation(id=len(annotations) + 1, video_id=job.video_id,
                                          category_id=a.category_id, segmentations=a.segmentations,
                                          score=a.score))
    summary.instances = len(annotations)
    used = None if categories == "all" else {a.category_id for a in annotations}
    merged = YTVISDataset(videos=videos, categories=vocabulary.categories(used=used), annotations=annotations,
                          info=dict(info or {}))
    return merged, summary


def write_output(out, dataset: YTVISDataset, output_format: str) -> Path:
    """Atomically: the dataset form, the results form for an evaluation
    server, or per-frame COCO (cocovid)."""
    if output_format == "dataset":
        return write_dataset(out, dataset)
    if output_format == "results":
        return write_results(out, dataset.annotations)
    if output_format == "cocovid":
        return write_cocovid(out, dataset)
    raise ValueError(f"unknown output format {output_format!r}; use one of {', '.join(FORMATS)}")
