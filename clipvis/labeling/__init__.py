"""Batch pseudo-labelling: a whole dataset through the predictor, resumable,
and split over processes with torchrun (`python -m clipvis label`, docs/LABEL.md).

    discover.py      the videos of a folder / JPEGImages layout / YTVIS JSON, with ids and keys
    sources.py       opening a video through the data layer; frame counts for balancing
    shard.py         splitting videos among ranks by frame count
    one_video.py     one video -> a one-video YTVIS dataset (and its frames, for a video file)
    frames.py        where video files' frames go (JPEGImages layout) and what file_names say
    work.py          the work folder of per-video files that makes runs resumable
    merge.py         per-video files -> the final JSON; the run's summary
    distributed.py   torchrun ranks, devices and the process group
    progress.py      the progress bars
    runner.py        label_dataset: plan, label this rank's shard, merge
"""
from clipvis.labeling.discover import VideoJob, discover_videos
from clipvis.labeling.distributed import ProcessGroup, Ranks, rank_device
from clipvis.labeling.frames import default_frames_dir
from clipvis.labeling.one_video import VideoLabels, label_video, write_frames
from clipvis.labeling.merge import FORMATS, Summary, merge_work, write_output
from clipvis.labeling.runner import LabelOptions, Plan, label_dataset, make_plan, run_settings
from clipvis.labeling.shard import shard_by_frames
from clipvis.labeling.work import WorkFolder, WorkFolderError, default_work_dir

__all__ = [
    "FORMATS", "LabelOptions", "Plan", "ProcessGroup", "Ranks", "Summary", "VideoJob", "VideoLabels",
    "WorkFolder", "WorkFolderError", "default_frames_dir", "default_work_dir", "discover_videos", "label_dataset",
    "label_video", "make_plan", "merge_work", "rank_device", "run_settings", "shard_by_frames", "write_frames",
    "write_output",
]
