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
from clipvis.labeling.one_video import label_video
from clipvis.labeling.merge import FORMATS, Summary, merge_work, write_output
from clipvis.labeling.progress import LabelProgress
from clipvis.labeling.shard import shard_by_frames
from clipvis.labeling.sources import count_frames
from clipvis.labeling.work import WorkFolder, default_work_dir
from clipvis.vocab import Vocabulary


@dataclass(frozen=True, kw_only=True)
class LabelOptions:
    stride: int = 1  # use every stride-th frame
    max_frames: int | None = None  # per video, after stride
    score_threshold: float = 0.0  # instances scored below are left out of the output
    output_format: str = "dataset"  # or "results"
    restart: bool = False  # discard the work folder's labels instead of resuming
    progress: bool = True
    debug: bool = False  # raise a video's error instead of recording it

    def __post_init__(self):
        if self.stride < 1:
            raise ValueError(f"--stride must be >= 1, got {self.stride}")
        if self.max_frames is not None and self.max_frames < 1:
            raise ValueError(f"--max-frames must be >= 1, got {self.max_frames}")
        if self.output_format not in FORMATS:
            raise ValueError(f"--format must be one of {', '.join(FORMATS)}, got {self.output_format!r}")


@dataclass(frozen=True)
class Plan:
    """What rank 0 found and decided, sent to every rank."""

    jobs: list[VideoJob]
    description: str
    shards: list[list[int]]  # per rank: indices into jobs of the videos still to label
    frames: dict[int, int]  # job index -> expected frames (pending videos only)


def run_settings(*, videos, frames_root, vocabulary: Vocabulary, options: LabelOptions, model: dict) -> dict:
    """Everything a video's labels depend on; a work folder only resumes under the same."""
    vocab_json = json.dumps(vocabulary.to_json(), sort_keys=True)
    return {"videos": str(Path(videos).resolve()),
            "frames_root": None if frames_root is None else str(Path(frames_root).resolve()),
            "stride": options.stride, "max_frames": options.max_frames,
            "vocabulary": f"{vocabulary.name} ({len(vocabulary)} classes, "
                          f"sha1 {hashlib.sha1(vocab_json.encode()).hexdigest()[:12]})",
            **model}


def make_plan(*, videos, frames_root, work: WorkFolder, settings: dict, options: LabelOptions,
              world_size: int) -> Plan:
    jobs, description = discover_videos(videos, frames_root=frames_root)
    work.prepare(settings, restart=options.restart)
    pending = [i for i, job in enumerate(jobs) if not work.is_done(job.key)]
    frames = {i: count_frames(jobs[i], stride=options.stride, max_frames=options.max_frames) for i in pending}
    split = shard_by_frames([frames[i] for i in pending], world_size)
    return Plan(jobs=jobs, description=description, shards=[[pending[k] for k in s] for s in split], frames=frames)


def label_dataset(*, videos, vocabulary: Vocabulary, out, make_predictor: Callable[[torch.device], object],
                  options: LabelOptions = LabelOptions(), model_settings: dict | None = None, work_dir=None,
                  frames_root=None, ranks: Ranks = Ranks(), device: torch.device | str = "cpu",
                  timeout_minutes: float = 24 * 60, info: dict | None = None, log=print) -> Summary | None:
    """Label every video of `videos`; write `out` (rank 0). Returns the summary on rank 0, None elsewhere.

    make_predictor(device) is called only if this rank has videos to label.
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
                                 options=options, world_size=ranks.world_size)
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
            pending = sum(len(s) for s in plan.shards)
            log(f"{plan.description}; {len(plan.jobs) - pending} already labelled in {work.root}, "
                f"{pending} to label on {ranks.world_size} process(es)")
        mine = plan.shards[ranks.rank]
        if mine:
            predictor = make_predictor(device)
            _label_shard(predictor, plan, mine, vocabulary, work, options, ranks)
        group.barrier()
        if not ranks.is_main:
            return None
        labelled_now = {plan.jobs[i].key for shard in plan.shards for i in shard}
        merged, summary = merge_work(plan.jobs, work, vocabulary, labelled_now=labelled_now,
                                     score_threshold=options.score_threshold,
                                     info={"description": "CLIP-VIS pseudo-labels", **(info or {})})
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
                labels = label_video(predictor, job, vocabulary, stride=options.stride,
                                     max_frames=options.max_frames, progress=bars.update)
            except Exception as e:  # a bad video is recorded and skipped, never the end of the run
                if options.debug:
                    raise
                reason = f"{type(e).__name__}: {e}"
                work.save_failed(job.key, name=job.name, reason=reason, rank=ranks.rank)
                bars.message(f"failed: {job.name}: {reason}")
            else:
                work.save_done(job.key, name=job.name, dataset=labels.dataset, rank=ranks.rank, note=labels.note)
            bars.end_video(plan.frames[i])
    finally:
        bars.close()
