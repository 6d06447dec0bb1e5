"""`python -m clipvis predict`: one video in, YTVIS results JSON out.

video_id is chosen as `label` chooses it: with `--dataset JSON` (a YouTube-VIS
JSON that lists this video's frames), that dataset's id for the video, as
`label --videos JSON` keeps them, so the results evaluate against its ground
truth; otherwise 1, as `label` numbers a single video; `--video-id` overrides.
The command says which it took, and why.
"""
from __future__ import annotations

import sys
from pathlib import Path, PurePosixPath

from .model_args import add_model_arguments, predictor_from_args


def add_arguments(p):
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--video", help="a video file (mp4, webm, avi, mov, mkv, gif) or a zip of frames")
    src.add_argument("--frames", help="a folder of JPEG/PNG frames (YTVIS JPEGImages/<video>/ layout)")
    p.add_argument("--vocab", required=True,
                   help="a vocabulary: a name (lvvis, ytvis2019, ...), a JSON or text file, or 'person, dog|puppy'")
    p.add_argument("--out", required=True, help="results JSON to write (YTVIS results form, with boxes)")
    p.add_argument("--dataset", metavar="JSON",
                   help="a YouTube-VIS JSON that lists this video (its frames folder's name): video_id is its "
                        "id there, as `label --videos JSON` keeps the dataset's ids")
    p.add_argument("--video-id", type=int, default=None,
                   help="the video_id to write (default: from --dataset, else 1, as `label` numbers one video)")
    p.add_argument("--stride", type=int, default=1, help="use every n-th frame")
    p.add_argument("--max-frames", type=int, default=None)
    add_model_arguments(p)


def choose_video_id(args) -> tuple[int, str]:
    """(video_id, why), the way `label` numbers videos."""
    if args.video_id is not None:
        return args.video_id, "given with --video-id"
    if args.dataset:
        from ..formats.validate import Where, check_videos, load_json

        obj = load_json(args.dataset)
        videos = check_videos(obj.get("videos") if isinstance(obj, dict) else None, Where(args.dataset))
        name = Path(args.video or args.frames).name
        for vid, v in videos.items():
            if PurePosixPath(v["file_names"][0]).parent.name == name:
                return vid, f"the id of {name} in {args.dataset}, as label keeps a dataset's ids"
        raise ValueError(f"{args.dataset} lists no video whose frames are in a folder named {name!r}; "
                         "give --video-id")
    return 1, "label numbers a single video 1; --dataset or --video-id choose another"


def run(args) -> int:
    from ..video import open_video
    from ..vocab import load_vocabulary

    vocabulary = load_vocabulary(args.vocab)
    video_id, why = choose_video_id(args)
    video = open_video(args.video or args.frames, stride=args.stride, max_frames=args.max_frames)
    info = video.info
    print(f"{args.video or args.frames}: {info.num_frames} frames, {info.width}x{info.height}, "
          f"{info.fps or '?'} fps; {len(vocabulary)} classes; video_id {video_id} ({why})", file=sys.stderr)
    predictor = predictor_from_args(args)

    def show(p):
        eta = f", {p.eta:.0f}s left" if p.eta is not None else ""
        print(f"\r{p.frames_done}/{p.num_frames or '?'} frames{eta}   ", end="", file=sys.stderr, flush=True)

    result = predictor.predict((f for _, f in video), vocabulary, num_frames=info.num_frames, progress=show)
    print(file=sys.stderr)
    result.save(args.out, format="results", video_id=video_id)
    print(f"wrote {len(result)} instances of video_id {video_id} to {args.out}", file=sys.stderr)
    return 0
