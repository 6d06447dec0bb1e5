"""The demo model's speed: load it, then analyse and classify a 100-frame 854x480 video.

    python bench/bench_demo.py [--frames 100] [--threads 2]

The issue's figure: a 100-frame 480p video in well under a minute on a CPU.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import synthetic_video  # noqa: E402
from clipvis import DEMO, load_predictor, parse_vocabulary_text  # noqa: E402
from clipvis.predictor import STAGES  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=100)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    predictor = load_predictor(DEMO, device="cpu")
    loaded = time.perf_counter() - t0
    frames = synthetic_video(args.frames)  # 480x864
    vocab = parse_vocabulary_text("person, car, bike|bicycle, dog")
    predictor.text_classifier(vocab)  # the text cache, once
    state = predictor.init_state()
    t1 = time.perf_counter()
    for _ in predictor.propagate(list(frames), state):
        pass
    result = predictor.classify(predictor.finish(state), vocab)
    run = time.perf_counter() - t1
    print(f"{type(predictor).__name__}, threads {torch.get_num_threads()}, {args.frames} frames "
          f"{frames.shape[2]}x{frames.shape[1]}, input {state.input_hw}, {len(result.instances)} instances")
    print(f"| step | seconds |\n|---|---|\n| build the demo model | {loaded:.1f} |")
    print(f"| analyse + classify {args.frames} frames | {run:.1f} ({run / args.frames:.3f} s/frame) |")
    for k in STAGES:
        print(f"| {k} | {state.timings[k]:.1f} |")


if __name__ == "__main__":
    main()
