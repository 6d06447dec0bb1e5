"""A labelling run: plan (rank 0), label this rank's shard, wait, merge (rank 0).

    summary = label_dataset(videos="clips/", vocabulary=load_vocabulary("lvvis"), out="labels.json",
                            make_predictor=lambda device: load_predictor(..., device=device))

Every finished video is saved at once in the work folder, so the run can be
stopped at any moment and started again with the same command.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from clipvis.atomic import write_json
from clipvis.labeling.discover import VideoJob, discover_videos
from clipvis.labeling.distributed import ProcessGroup, Ranks
from clipvis.labeling.one_video import label_video, write_frames
from clipvis.labeling.frames import default_frames_dir, image_root, missing_frames
from clipvis.labeling.merge import CATEGORIES, FORMATS, Filters, Summary, merge_work, write_output
from clipvis.labeling.progress import LabelProgress
from clipvis.labeling.shard import shard_by_frames
from clipvis.labeling.sources import count_frames
from clipvis.labeling.work import WorkFolder, WorkFolderError, default_work_dir
from clipvis.vocab import Vocabulary


@dataclass(frozen=True, kw_only=True)
class LabelOptions:
    stride: int = 1  # use every stride-th frame
    max_frames: int | None = None  # per video, after stride
    min_score: float = 0.0  # filters (merge.Filters): instances scored below are left out,
    min_frames: int = 1  # ... so are tracks with a mask on fewer frames,
    max_per_video: int | None = None  # ... then at most this many per video, best first
    output_format: str = "dataset"  # or "results", "cocovid"
    categories: str = "all"  # or "used": only the classes of the instances written (ids kept)
    frames: bool = True  # write video files' frames (JPEGImages layout, frames.py)
    frames_dir: str | None = None  # where; None: <folder of out>/JPEGImages
    restart: bool = False  # discard the work folder's labels instead of resuming
    progress: bool = True
    debug: bool = False  # raise a video's error instead of recording it

    def __post_init__(self):
        if self.stride < 1:
            raise ValueError(f"stride must be >= 1, got {self.stride}")
        if self.max_frames is not None and self.max_frames < 1:
            raise ValueError(f"max_frames must be >= 1, got {self.max_frames}")
        if self.output_format not in FORMATS:
            raise ValueError(f"output_format must be one of {', '.join(FORMATS)}, got {self.output_format!r}")
        if self.categories not in CATEGORIES:
            raise ValueError(f"categories must be one of {', '.join(CATEGORIES)}, got {self.categories!r}")
        self.filters  # noqa: B018 - checks the filter values now, not after the labelling

    @property
    def filters(self) -> Filters:
        return Filters(min_score=self.min_score, min_frames=self.min_frames, max_per_video=self.max_per_video)

    def resolved_frames_dir(self, out) -> Path:
        return Path(self.frames_dir).resolve() if self.frames_dir is not None else default_frames_dir(out)


@dataclass(frozen=True)
class Plan:
    """What rank 0 found and decided, sent to every rank."""

    jobs: list[VideoJob]
    description: str
    shards: list[list[int]]  # per rank: indices into jobs of the videos still to label (or write frames of)
    frames: dict[int, int]  # job index -> expected frames (pending videos only)
    frames_only: frozenset[int] = frozenset()  # labelled before; only their frames are missing
    image_root: Path | None = None  # what the output's file_names are relative to
    frames_dir: Path | None = None  # where video files' frames are written; None: not written


def run_settings(*, videos, frames_root, vocabulary: Vocabulary, options: LabelOptions, model: dict) -> dict:
    """Everything a video's labels depend on; a work folder only resumes under the same."""
    vocab_json = json.dumps(vocabulary.to_json(), sort_keys=True)
    return {"videos": str(Path(videos).resolve()),
            "frames_root": None if frames_root is None else str(Path(frames_root).resolve()),
            "stride": options.stride, "max_frames": options.max_frames,
            "vocabulary": f"{vocabulary.name} ({len(vocabulary)} classes, "
                          f"sha1 {hashlib.sha1(vocab_json.encode()).hexdigest()[:12]})",
            # Work files keep file_names; this names their layout (older folders named video files' frames
            # <path without extension>/..., which the frames written now would not match).
            "frame_names": "video files: <relative path>/<5-digit index>.jpg",
            **model}


def make_plan(*, videos, frames_root, work: WorkFolder, settings: dict, options: LabelOptions,
              world_size: int, out) -> Plan:
    jobs, description = discover_videos(videos, frames_root=frames_root)
    has_files = any(j.kind == "file" for j in jobs)
    if options.frames_dir is not None and not has_files:
        raise ValueError("frames_dir (--frames-dir) is where video files' frames go, and this input has none: "
                         "frame folders and a JSON's frames are used where they are")
    frames_dir = options.resolved_frames_dir(out) if options.frames and has_files else None
    work.prepare(settings, restart=options.restart)
    frames_only = set()
    if frames_dir is not None:
        for i, job in enumerate(jobs):
            if job.kind == "file" and _frames_missing(work, job, frames_dir):
                frames_only.add(i)
    pending = [i for i, job in enumerate(jobs) if not work.is_done(job.key) or i in frames_only]
    frames = {i: count_frames(jobs[i], stride=options.stride, max_frames=options.max_frames) for i in pending}
    split = shard_by_frames([frames[i] for i in pending], world_size)
    return Plan(jobs=jobs, description=description, shards=[[pending[k] for k in s] for s in split], frames=frames,
                frames_only=frozenset(frames_only), frames_dir=frames_dir,
                image_root=image_root(jobs, options.resolved_frames_dir(out), videos))


def _frames_missing(work: WorkFolder, job: VideoJob, frames_dir: Path) -> bool:
    """A video labelled before whose frames are not all under frames_dir."""
    try:
        loaded = work.load_done(job.key)
    except WorkFolderError:
        return False  # moved aside: the video is labelled again, frames included
    return loaded is not None and bool(missing_frames(loaded[0].videos[0].file_names, frames_dir))


def label_dataset(*, videos, vocabulary: Vocabulary, out, make_predictor: Callable[[torch.device], object],
                  options: LabelOptions = LabelOptions(), model_settings: dict | None = None, work_dir=None,
                  frames_root=None, ranks: Ranks = Ranks(), device: torch.device | str = "cpu",
                  timeout_minutes: float = 24 * 60, info: dict | None = None, log=print) -> Summary | None:
    """Label every video of `videos`; write `out` (rank 0). Returns the summary on rank 0, None elsewhere.

    make_predictor(device) is called only if this rank has videos to label (not
    only frames to write). Video files' frames go to options.frames_dir
    (default <folder of out>/JPEGImages), where the output's file_names point.
    """
    work = WorkFolder(work_dir if work_dir is not None else default_work_dir(out))
    device = torch.device(device)
    settings = run_settings(videos=videos, frames_root=frames_root, vocabulary=vocabulary, options=options,
                            model=model_settings or {})
    with ProcessGroup(ranks, device, timeout_minutes=timeout_minutes) as group:
        plan, error = None, None
        if ranks.is_main:
            try:
                plan = make_plan(videos=videos, frames_root=frames_root, work=work, settings=settings,
                                 options=options, world_size=ranks.world_size, out=out)
            except Exception as e:
                if not group.active:
                    raise
                error = e
        # Every rank learns the plan, or why there is none (so no rank waits forever).
        shared = group.share(plan if error is None else f"{type(error).__name__}: {error}")
        if error is not None:
            raise error
        if isinstance(shared, str):
            raise RuntimeError(f"rank 0 could not plan the run: {shared}")
        plan = shared
        if ranks.is_main:
            pending = sum(len(s) for s in plan.shards) - len(plan.frames_only)
            frames_note = f", {len(plan.frames_only)} labelled but missing frames" if plan.frames_only else ""
            log(f"{plan.description}; {len(plan.jobs) - pending} already labelled in {work.root}, "
                f"{pending} to label on {ranks.world_size} process(es){frames_note}")
        mine = plan.shards[ranks.rank]
        if mine:
            # Videos that only miss their frames need no model.
            predictor = make_predictor(device) if any(i not in plan.frames_only for i in mine) else None
            _label_shard(predictor, plan, mine, vocabulary, work, options, ranks)
        group.barrier()
        if not ranks.is_main:
            return None
        planned = [i for shard in plan.shards for i in shard]
        labelled_now = {plan.jobs[i].key for i in planned if i not in plan.frames_only}
        merged, summary = merge_work(plan.jobs, work, vocabulary, labelled_now=labelled_now,
                                     filters=options.filters, categories=options.categories,
                                     image_root=plan.image_root, frames_dir=plan.frames_dir,
                                     info={"description": "CLIP-VIS pseudo-labels", **(info or {})})
        if plan.frames_dir is not None:
            written = {plan.jobs[i].name for i in planned if plan.jobs[i].kind == "file"}
            summary.frames_written = len(written & set(summary.done + summary.skipped))
        summary.out = str(write_output(out, merged, options.output_format))
        write_json(work.root / "summary.json", summary.to_json(), indent=2)
        return summary


def _label_shard(predictor, plan: Plan, mine: list[int], vocabulary, work: WorkFolder, options: LabelOptions,
                 ranks: Ranks):
    bars = LabelProgress(num_videos=len(mine), num_frames=sum(plan.frames[i] for i in mine),
                         enabled=options.progress and ranks.is_main,
                         rank=ranks.rank if ranks.world_size > 1 else None)
    try:
        for i in mine:
            job = plan.jobs[i]
            bars.start_video(job.name, plan.frames[i])
            try:
                if i in plan.frames_only:
                    write_frames(job, plan.frames_dir, stride=options.stride, max_frames=options.max_frames,
                                 progress=bars.advance)
                else:
                    labels = label_video(predictor, job, vocabulary, stride=options.stride,
                                         max_frames=options.max_frames, progress=bars.update,
                                         frames_dir=plan.frames_dir)
            except Exception as e:  # a bad video is recorded and skipped, never the end of the run
                if options.debug:
                    raise
                reason = f"{type(e).__name__}: {e}"
                work.save_failed(job.key, name=job.name, reason=reason, rank=ranks.rank)
                bars.message(f"failed: {job.name}: {reason}")
            else:
                if i in plan.frames_only:
                    work.clear_failed(job.key)
                else:
                    work.save_done(job.key, name=job.name, dataset=labels.dataset, rank=ranks.rank,
                                   note=labels.note)
            bars.end_video(plan.frames[i])
    finally:
        bars.close()
