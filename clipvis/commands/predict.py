"""`python -m clipvis predict`: one video in, YTVIS results JSON out."""
from __future__ import annotations

import sys

from .model_args import add_model_arguments, predictor_from_args


def add_arguments(p):
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--video", help="a video file (mp4, webm, avi, mov, mkv, gif) or a zip of frames")
    src.add_argument("--frames", help="a folder of JPEG/PNG frames (YTVIS JPEGImages/<video>/ layout)")
    p.add_argument("--vocab", required=True,
                   help="a vocabulary: a name (lvvis, ytvis2019, ...), a JSON or text file, or 'person, dog|puppy'")
    p.add_argument("--out", required=True, help="results JSON to write (YTVIS results form)")
    p.add_argument("--video-id", type=int, default=1)
    p.add_argument("--stride", type=int, default=1, help="use every n-th frame")
    p.add_argument("--max-frames", type=int, default=None)
    add_model_arguments(p)


def run(args) -> int:
    from ..atomic import write_json
    from ..paths import check_output_file
    from ..video import open_video
    from ..vocab import load_vocabulary

    check_output_file(args.out)  # before any decoding or model work
    vocabulary = load_vocabulary(args.vocab)
    video = open_video(args.video or args.frames, stride=args.stride, max_frames=args.max_frames)
    info = video.info
    print(f"{args.video or args.frames}: {info.num_frames} frames, {info.width}x{info.height}, "
          f"{info.fps or '?'} fps; {len(vocabulary)} classes", file=sys.stderr)
    predictor = predictor_from_args(args)

    def show(p):
        eta = f", {p.eta:.0f}s left" if p.eta is not None else ""
        print(f"\r{p.frames_done}/{p.num_frames or '?'} frames{eta}   ", end="", file=sys.stderr, flush=True)

    result = predictor.predict(video, vocabulary, progress=show)
    print(file=sys.stderr)
    write_json(args.out, result.to_results_json(args.video_id))
    print(f"wrote {len(result.instances)} instances to {args.out}", file=sys.stderr)
    return 0
