"""Merging the per-video work files into the final JSON, and the run's summary.

The merged file depends only on the work files and the settings: videos in
discovery order with their discovery ids, annotations numbered 1..N in that
order (best score first within a video), no timestamps. So an interrupted
and resumed run writes the very same bytes as an uninterrupted one.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from clipvis.formats import Annotation, Category, Video, YTVISDataset, write_dataset, write_results
from clipvis.labeling.discover import VideoJob
from clipvis.labeling.work import WorkFolder, WorkFolderError
from clipvis.vocab import Vocabulary, vocabulary_categories

FORMATS = ("dataset", "results")


@dataclass
class Summary:
    out: str
    done: list[str] = field(default_factory=list)  # labelled by this run
    skipped: list[str] = field(default_factory=list)  # labelled by an earlier run (resumed)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (video, reason)
    notes: list[tuple[str, str]] = field(default_factory=list)  # labelled, with a remark
    instances: int = 0
    work_dir: str = ""

    @property
    def ok(self) -> bool:
        return not self.failed

    def to_json(self) -> dict:
        return asdict(self)

    def lines(self) -> list[str]:
        total = len(self.done) + len(self.skipped)
        out = [f"{total} videos labelled ({len(self.done)} done now, {len(self.skipped)} skipped: already "
               f"labelled in {self.work_dir}), {len(self.failed)} failed; {self.instances} instances "
               f"written to {self.out}"]
        out += [f"  failed: {name}: {reason}" for name, reason in self.failed]
        out += [f"  note: {name}: {note}" for name, note in self.notes]
        if self.failed:
            out.append("  (a rerun with the same command tries the failed videos again and skips the rest)")
        return out


def merge_work(jobs: list[VideoJob], work: WorkFolder, vocabulary: Vocabulary, *, labelled_now: set[str],
               score_threshold: float = 0.0, info: dict | None = None) -> tuple[YTVISDataset, Summary]:
    """The dataset of every finished video, instances under `score_threshold`
    left out; `labelled_now` (keys) tells done from skipped in the summary."""
    summary = Summary(out="", work_dir=str(work.root))
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
        (summary.done if job.key in labelled_now else summary.skipped).append(job.name)
        if record.get("note"):
            summary.notes.append((job.name, record["note"]))
        v = dataset.videos[0]
        videos.append(Video(id=job.video_id, width=v.width, height=v.height, file_names=v.file_names,
                            extra=v.extra))
        for a in dataset.annotations:
            if a.score is None or a.score >= score_threshold:
                annotations.append(Annotation(id=len(annotations) + 1, video_id=job.video_id,
                                              category_id=a.category_id, segmentations=a.segmentations,
                                              score=a.score))
    summary.instances = len(annotations)
    categories = [Category.from_json(c) for c in vocabulary_categories(vocabulary)]
    merged = YTVISDataset(videos=videos, categories=categories, annotations=annotations, info=dict(info or {}))
    return merged, summary


def write_output(out, dataset: YTVISDataset, output_format: str) -> Path:
    """Atomically: the dataset form, or the results form for an evaluation server."""
    if output_format == "dataset":
        return write_dataset(out, dataset)
    if output_format == "results":
        return write_results(out, dataset.annotations)
    raise ValueError(f"unknown output format {output_format!r}; use one of {', '.join(FORMATS)}")
