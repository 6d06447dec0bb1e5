"""Batch pseudo-labelling: a whole dataset through the predictor, resumable,
and split over processes with torchrun (`python -m clipvis label`, docs/LABEL.md).

    discover.py      the videos of a folder / JPEGImages layout / YTVIS JSON, with ids and keys
    sources.py       opening a video through the data layer; frame counts for balancing
    shard.py         splitting videos among ranks by frame count
    one_video.py     one video -> a one-video YTVIS dataset
    work.py          the work folder of per-video files that makes runs resumable
    merge.py         per-video files -> the final JSON; the run's summary
    distributed.py   torchrun ranks, devices and the process group
    progress.py      the progress bars
    runner.py        label_dataset: plan, label this rank's shard, merge
"""
from clipvis.labeling.discover import VideoJob, discover_videos
from clipvis.labeling.distributed import ProcessGroup, Ranks, rank_device
from clipvis.labeling.one_video import VideoLabels, label_video, result_to_dataset
from clipvis.labeling.merge import FORMATS, Summary, merge_work, write_output
from clipvis.labeling.runner import LabelOptions, Plan, label_dataset, make_plan, run_settings
from clipvis.labeling.shard import shard_by_frames
from clipvis.labeling.work import WorkFolder, WorkFolderError, default_work_dir

__all__ = [
    "FORMATS", "LabelOptions", "Plan", "ProcessGroup", "Ranks", "Summary", "VideoJob", "VideoLabels",
    "WorkFolder", "WorkFolderError", "default_work_dir", "discover_videos", "label_dataset", "label_video",
    "make_plan", "merge_work", "rank_device", "result_to_dataset", "run_settings", "shard_by_frames",
    "write_output",
]
