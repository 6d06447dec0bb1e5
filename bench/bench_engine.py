"""Time per frame by stage for ConvNeXt-B (random weights) at 480x864 on CPU.

    python bench/bench_engine.py [--frames 12] [--threads 2] [--precision fp32|bf16] [--device cpu|cuda]
                                 [--backend auto|reference|cpu]

Prints a markdown table: for each stage, the median over the windows after the
first (warm-up) of its seconds per frame, and the share of everything after the
backbone relative to the backbone: the median of that share per window, so the
two sides of each ratio come from the same window of the same run.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import median, random_model, synthetic_video  # noqa: E402
from clipvis import InferenceConfig, predictor_for  # noqa: E402
from clipvis.backends import CPUVideoPredictor  # noqa: E402
from clipvis.predictor import STAGES  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=12)
    ap.add_argument("--window", type=int, default=2)
    ap.add_argument("--batch", type=int, default=None, help="frames per pass (default: the predictor's)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--precision", default="fp32")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--clip-model", default="convnext_base_w_320")
    ap.add_argument("--backend", default="auto", help="auto (the CPU backend on the CPU), reference or cpu")
    ap.add_argument("--no-trim", action="store_true", help="keep freed memory between windows (no malloc_trim)")
    args = ap.parse_args()
    if args.no_trim:
        CPUVideoPredictor._window_done = lambda self: None
    torch.set_num_threads(args.threads)
    model, tok = random_model(args.clip_model)
    pred = predictor_for(model, tokenizer=tok, device=args.device, backend=args.backend,
                         config=InferenceConfig(window=args.window, batch=args.batch, precision=args.precision))
    frames = synthetic_video(args.frames + args.window)
    state = pred.init_state()
    per_window = []
    last = dict.fromkeys(STAGES, 0.0)
    t0 = time.perf_counter()
    for _ in pred.propagate(list(frames), state):
        per_window.append({k: state.timings[k] - last[k] for k in STAGES})
        last = dict(state.timings)
    wall = time.perf_counter() - t0
    windows = per_window[1:]  # the first window warms up
    n = len(windows) * args.window
    per_frame = {k: median([w[k] / args.window for w in windows]) for k in STAGES}
    after = median([sum(v for k, v in w.items() if k != "backbone") / args.window for w in windows])
    share = median([sum(v for k, v in w.items() if k != "backbone") / w["backbone"] for w in windows])
    print(f"{type(pred).__name__}, device {args.device}, threads {torch.get_num_threads()}, precision {args.precision}, "
          f"input {state.input_hw}, {n} timed frames, wall {wall:.1f}s for {len(frames)} frames")
    print("| stage | s/frame |\n|---|---|")
    for k in STAGES:
        print(f"| {k} | {per_frame[k]:.3f} |")
    print(f"| **after the backbone** | **{after:.3f}** ({100 * share:.0f}% of the backbone) |")
    total = sum(per_frame.values())
    print(f"| all stages | {total:.3f} ({1 / total:.2f} frames/s) |")


if __name__ == "__main__":
    main()
