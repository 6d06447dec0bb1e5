"""`python -m clipvis label`: pseudo-label a whole dataset, resumable, scaled out with torchrun."""
from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path

from .model_args import add_model_arguments, predictor_from_args

EXAMPLES = """\
PATH may be:
  a folder of video files (searched recursively; also zips of frames): their
    frames are written as <frames dir>/<relative path>/<frame index>.jpg, the
    YouTube-VIS layout (<frames dir> is --frames-dir, default JPEGImages/ next
    to --out), and file_names are relative to <frames dir>;
  a frames layout such as YouTube-VIS JPEGImages/<video>/00000.jpg (each folder
    holding images is one video): file_names point at those frames;
  a YouTube-VIS JSON: its 'videos' say which frames to read and keep their ids,
    so the output can be evaluated against that dataset's ground truth.

Finished videos are saved one by one in the work folder; run the same command
again after a stop (Ctrl-C, kill, a lost machine) and it skips them (and writes
any frames still missing). Videos that fail to decode are recorded with the
reason and skipped (--debug instead stops at the first one, with its
traceback). Exit status: 0 when every video was labelled, 1 when some failed
(the output holds the others).

--min-score, --min-frames, --max-per-video, --categories and --format apply
when the work files are merged: change them and rerun, and nothing is labelled
again.

Under torchrun every process labels its own share of the videos (balanced by
frame count) on its own GPU (--device auto or cuda means cuda:LOCAL_RANK; on
CPU it uses gloo); rank 0 merges when all are done and alone draws progress bars.

examples:
  python -m clipvis label --videos clips/ --vocab lvvis --out dataset/labels.json
  python -m clipvis label --videos clips/ --vocab "person, car" --min-score 0.3 --min-frames 5 \\
      --categories used --format cocovid --out dataset/labels_cocovid.json
  python -m clipvis label --videos ytvis/valid.json --vocab ytvis2019 \\
      --model clipvis_convnext_b_coco_ytvis19 --format results --out results.json
  torchrun --nproc_per_node=4 -m clipvis label --videos clips/ --vocab lvvis --out labels.json
"""


def add_arguments(p: argparse.ArgumentParser):
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.epilog = EXAMPLES
    p.add_argument("--videos", required=True, metavar="PATH",
                   help="a folder of videos, a JPEGImages/ frames layout, or a YouTube-VIS JSON (see below)")
    p.add_argument("--vocab", required=True,
                   help="the classes: a name (lvvis, ytvis2019, ytvis2021, ovis, burst, coco), a JSON or "
                        "text file, or typed text such as 'person, dog|puppy'; the output's category ids "
                        "are this vocabulary's ids")
    p.add_argument("--out", required=True, help="the JSON to write (atomically, when all videos are done)")
    p.add_argument("--format", default="dataset", choices=["dataset", "results", "cocovid"],
                   help="dataset: YouTube-VIS dataset form (videos, categories, annotations with masks, "
                        "areas, boxes and scores), e.g. to train on; results: the results list an "
                        "evaluation server takes; cocovid: per-frame COCO with videos (images with video_id "
                        "and frame_id, annotations with instance_id), for image trainers (default: dataset)")
    p.add_argument("--categories", default="all", choices=["all", "used"],
                   help="all: the whole vocabulary, as the official files list it; used: only the classes of "
                        "the instances written. Ids are the vocabulary's either way, never renumbered "
                        "(default: all)")
    p.add_argument("--frames-dir", metavar="DIR",
                   help="where the frames of video files are written, as DIR/<relative path>/00000.jpg "
                        "(default: JPEGImages/ in the folder of --out); file_names are relative to it")
    p.add_argument("--no-frames", action="store_true",
                   help="write no frames (file_names still say where they would be)")
    p.add_argument("--frames-root", metavar="DIR",
                   help="with a YouTube-VIS JSON: the folder its file_names are relative to (default: "
                        "found next to the JSON, e.g. train/JPEGImages for train.json)")
    p.add_argument("--work-dir", metavar="DIR",
                   help="where per-video results are kept until the merge (default: OUT.work); under "
                        "torchrun on several nodes it must be on a file system all nodes share")
    p.add_argument("--restart", action="store_true",
                   help="discard the labels in the work folder and start over (needed to reuse it "
                        "with other settings)")
    p.add_argument("--stride", type=int, default=1, help="use every n-th frame (default: 1, all)")
    p.add_argument("--max-frames", type=int, default=None, help="at most this many frames per video, after stride")
    g = p.add_argument_group("filters (applied at the merge: change them and rerun, nothing is labelled again)")
    g.add_argument("--min-score", "--score-threshold", dest="min_score", type=float, default=0.0,
                   help="leave out instances scored below this (0..1; default: 0, keep all --topk)")
    g.add_argument("--min-frames", type=int, default=1,
                   help="leave out tracks with a mask on fewer frames than this (default: 1)")
    g.add_argument("--max-per-video", type=int, default=None,
                   help="then keep at most this many instances per video, the best scored (default: no limit)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars (the summary is still printed)")
    p.add_argument("--dist-timeout", type=float, default=24 * 60, metavar="MINUTES",
                   help="under torchrun: how long a finished rank waits for the others before giving up "
                        "(default: 1440)")
    add_model_arguments(p)


def _model_settings(args) -> dict:
    """The model options that change the labels (recorded in the work folder)."""
    def as_path(value):
        return str(Path(value).resolve()) if value and Path(value).exists() else value
    return {"model": as_path(args.checkpoint) or args.model, "clip_model": args.clip_model,
            "clip_config": as_path(args.clip_config), "precision": args.precision, "min_size": args.min_size,
            "max_size": args.max_size, "window": args.window, "memory": args.memory,
            "top_k_frames": args.top_k_frames, "topk": args.topk}


def run(args) -> int:
    from ..labeling import LabelOptions, Ranks, label_dataset, rank_device
    from ..vocab import load_vocabulary

    ranks = Ranks.from_env()
    device = rank_device(args.device, ranks)
    options = LabelOptions(stride=args.stride, max_frames=args.max_frames, min_score=args.min_score,
                           min_frames=args.min_frames, max_per_video=args.max_per_video, output_format=args.format,
                           categories=args.categories, frames=not args.no_frames, frames_dir=args.frames_dir,
                           restart=args.restart, progress=not args.no_progress, debug=args.debug)
    vocabulary = load_vocabulary(args.vocab)

    def make_predictor(dev):
        own = copy.copy(args)
        own.device = str(dev)
        return predictor_from_args(own)

    def log(text):
        print(text, file=sys.stderr, flush=True)

    summary = label_dataset(videos=args.videos, vocabulary=vocabulary, out=args.out, make_predictor=make_predictor,
                            options=options, model_settings=_model_settings(args), work_dir=args.work_dir,
                            frames_root=args.frames_root, ranks=ranks, device=device,
                            timeout_minutes=args.dist_timeout,
                            info={"vocabulary": vocabulary.name,
                                  "model": Path(args.checkpoint).name if args.checkpoint else args.model},
                            log=log)
    if summary is None:  # not rank 0: rank 0 merges and reports
        return 0
    for line in summary.lines():
        log(line)
    return 0 if summary.ok else 1
