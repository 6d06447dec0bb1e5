"""Click-to-track (clipvis.prompt): SAM 2 at a real checkpoint's size with
random weights, 480p frames, and the labels of a clicked track.

    python bench/bench_prompt.py                      # all of it, as in docs/PERFORMANCE.md
    python bench/bench_prompt.py --sizes              # SAM 2.1 tiny against small (the default's choice)
    python bench/bench_prompt.py --parts propagate --frames 100 455 --device cuda

Parts:
- click: click to mask on a frame not seen yet (the image encoder runs), on a
  frame prepared ahead (`PromptSession.prepare`, as the viewer can do when a
  frame is shown), and a correction on a tracked frame (memory attention too);
- propagate: a click in the middle of N frames, then both directions; each N
  in a fresh process: seconds per frame, peak RSS (and CUDA peak), the most
  tracked frames whose memory was held at once;
- label: a 455-frame clicked track labelled with ConvNeXt-B CLIP-VIS (random
  weights): pooling its CLIP vector from k frames, then classifying it
  against LV-VIS (1,196 classes), the text classifier from its disk cache.

Frames are generated on the fly (bench/common.py) and never held whole.
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import median, synthetic_video  # noqa: E402

# SAM 2.1's real sizes (the official configs sam2.1_hiera_t.yaml / _s.yaml);
# transformers' Sam2VideoConfig defaults are the tiny one.
SIZES = {
    "tiny": {},
    "small": {"blocks_per_stage": [1, 2, 11, 2], "global_attention_blocks": [7, 10, 13]},
}
OUT = Path(__file__).resolve().parent / "out"


class SyntheticFrames:
    """A lazy video of n frames: frame i is generated when asked for."""

    def __init__(self, n: int, h: int, w: int):
        self.n, self.base = n, synthetic_video(20, h, w)

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return self.base[i % 20].copy()


def random_tracker(size: str, device: str, precision: str):
    from transformers import Sam2VideoConfig, Sam2VideoModel

    from clipvis.prompt import PromptTracker
    from clipvis.prompt.hub import _processor_for

    torch.manual_seed(0)
    config = Sam2VideoConfig(vision_config={"model_type": "sam2_vision_model", "backbone_config": {
        "model_type": "sam2_hiera_det_model", **SIZES[size]}})
    model = Sam2VideoModel(config).eval()
    return PromptTracker(model, _processor_for(Path("/nonexistent"), config), device=device, precision=precision,
                         name=f"sam2.1-hiera-{size} (random weights)")


def sync(device):
    if device == "cuda":
        torch.cuda.synchronize()


def timed(fn, device):
    sync(device)
    t0 = time.perf_counter()
    out = fn()
    sync(device)
    return time.perf_counter() - t0, out


def bench_click(tracker, args) -> dict:
    from clipvis.prompt import Prompt
    dev = tracker.device.type
    frames = SyntheticFrames(60, args.height, args.width)
    session = tracker.session(frames)
    cx, cy = 180, 160  # on the red rectangle of bench/common.py's video
    session.prompt(0, Prompt.click(cx, cy))  # warm-up
    first = [timed(lambda i=i: session.prompt(i, Prompt.click(cx, cy)), dev)[0] for i in (5, 10, 15, 20, 25)]
    prepare, _ = timed(lambda: session.prepare(30), dev)
    points = [(cx, cy), (cx + 40, cy + 20), (cx - 60, cy + 50), (cx + 10, cy + 80), (cx + 90, cy - 10)]
    refine = [timed(lambda n=n: session.prompt(30, Prompt(points=tuple(points[:n]), labels=(1,) * n)), dev)[0]
              for n in range(1, 6)]
    # Corrections as a person makes them: one click, a short track, then a click on a tracked frame.
    fresh = tracker.session(frames)
    fresh.prompt(30, Prompt.click(cx, cy))
    for step in fresh.propagate(start=30, direction="forward"):
        if step.frame >= 36:
            break
    correction = [timed(lambda i=i: fresh.prompt(i, Prompt.click(cx + 5, cy)), dev)[0] for i in (33, 34, 35)]
    return {"first": first, "prepare": prepare, "refine": refine, "correction": correction}


def propagate_child(args) -> dict:
    from clipvis.prompt import Prompt
    torch.set_num_threads(args.threads)
    tracker = random_tracker(args.size, args.device, args.precision)
    n, dev = args.child, tracker.device.type
    session = tracker.session(SyntheticFrames(n, args.height, args.width))
    start = n // 2
    session.prompt(start, Prompt.click(180 + start % 20 * 3, 160))
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    if dev == "cuda":
        torch.cuda.reset_peak_memory_stats()
    held, t0 = 0, time.perf_counter()
    for step in session.propagate():
        held = max(held, len(session.held_memory()["tracked"]))
    sync(dev)
    seconds = time.perf_counter() - t0
    return {"frames": n, "seconds": seconds, "peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            "peak_before": rss_before, "held": held, "done": step.done,
            "cuda_peak": torch.cuda.max_memory_allocated() if dev == "cuda" else 0}


def bench_propagate(args) -> list[dict]:
    rows = []
    for n in args.frames:
        cmd = [sys.executable, __file__, "--child", str(n), "--size", args.size, "--device", args.device,
               "--precision", args.precision, "--threads", str(args.threads), "--height", str(args.height),
               "--width", str(args.width)]
        out = subprocess.run(cmd, capture_output=True, text=True)
        if out.returncode != 0:
            raise SystemExit(out.stderr[-3000:])
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return rows


def bench_label(args) -> dict:
    from bench.common import random_model
    from clipvis.formats.rle import mask_to_rle
    from clipvis.predictor import InferenceConfig, VideoPredictor
    from clipvis.prompt import classify_track, engine_clip, pool_track
    from clipvis.vocab import load_vocabulary

    model, tokenizer = random_model()
    predictor = VideoPredictor(model, tokenizer=tokenizer, device=args.device, text_cache_dir=OUT / "text_cache",
                               config=InferenceConfig(precision="bf16" if args.label_bf16 else "fp32"))
    clip, dev = engine_clip(predictor), predictor.device.type
    n = args.label_frames
    frames = SyntheticFrames(n, args.height, args.width)
    masks = {}
    h, w = frames[0].shape[:2]  # the synthetic video rounds its size down to a multiple of 8
    for i in range(n):  # the red rectangle of the synthetic video, as a clicked track would follow it
        m = np.zeros((h, w), bool)
        t = i % 20
        m[100 + t:220 + t, 100 + 3 * t:260 + 3 * t] = True
        masks[i] = mask_to_rle(m)
    vocab = load_vocabulary(args.vocab)
    text_first, _ = timed(lambda: predictor.text_classifier(vocab), dev)  # disk cache, or encoded once
    pool_s, vector = timed(lambda: pool_track(clip, frames, masks, k=args.k), dev)
    classify = [timed(lambda: classify_track(clip, vector, vocab), dev)[0] for _ in range(5)]
    return {"frames": n, "k": args.k, "pool": pool_s, "classify": classify, "text_first": text_first,
            "classes": len(vocab), "precision": predictor.config.precision}


def bench_sizes(args) -> list[dict]:
    """Tiny and small measured in turns (click, click, ..., frame, frame, ...),
    so that a shared machine's changing load falls on both alike."""
    from clipvis.prompt import Prompt
    trackers = {size: random_tracker(size, args.device, args.precision) for size in SIZES}
    sessions = {size: t.session(SyntheticFrames(12, args.height, args.width)) for size, t in trackers.items()}
    dev = args.device
    first = {size: [] for size in SIZES}
    for i in (0, 2, 4, 6):
        for size, session in sessions.items():
            first[size].append(timed(lambda: session.prompt(i, Prompt.click(180, 160)), dev)[0])
    runs = {size: session.propagate(start=6, direction="forward") for size, session in sessions.items()}
    per_frame = {size: [] for size in SIZES}
    for _ in range(6):
        for size, run in runs.items():
            per_frame[size].append(timed(lambda: next(run), dev)[0])
    return [{"size": size, "params": sum(p.numel() for p in trackers[size].model.parameters()),
             "first": median(first[size][1:]), "propagate": median(per_frame[size][1:])} for size in SIZES]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--parts", nargs="+", default=["click", "propagate", "label"],
                    choices=["click", "propagate", "label"])
    ap.add_argument("--sizes", action="store_true", help="only compare SAM 2.1 tiny and small")
    ap.add_argument("--size", default="tiny", choices=sorted(SIZES))
    ap.add_argument("--frames", type=int, nargs="+", default=[100, 455])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16", "fp16"])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--height", type=int, default=480)
    ap.add_argument("--width", type=int, default=854)
    ap.add_argument("--label-frames", type=int, default=455)
    ap.add_argument("--k", type=int, default=8, help="frames pooled for a track's CLIP vector")
    ap.add_argument("--vocab", default="lvvis")
    ap.add_argument("--label-bf16", action="store_true", help="the CLIP-VIS backbone in bf16 autocast")
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.child:
        print(json.dumps(propagate_child(args)))
        return
    OUT.mkdir(exist_ok=True)
    header = (f"{args.height}x{args.width} frames, device {args.device}, precision {args.precision}, "
              f"{args.threads} threads, torch {torch.__version__}")
    if args.sizes:
        print(f"## SAM 2.1 sizes, random weights ({header})\n")
        print("| model | parameters (M) | click on a new frame (s, median of 3) | propagation (s/frame, median of 5) |")
        print("|---|---|---|---|")
        for r in bench_sizes(args):
            print(f"| sam2.1-hiera-{r['size']} | {r['params'] / 1e6:.1f} | {r['first']:.2f} | {r['propagate']:.2f} |")
        return
    tracker = random_tracker(args.size, args.device, args.precision)
    print(f"## {tracker.name}, precision {tracker.precision} ({header})\n")
    if "click" in args.parts:
        c = bench_click(tracker, args)
        print("| click to mask | median s | all (s) |\n|---|---|---|")
        for key, what in (("first", "first click on a frame not seen yet (image encoder included)"),
                          ("refine", "clicks on a prepared frame (1 to 5 points)"),
                          ("correction", "correction click on a tracked frame (1 to 3 prompted frames before)")):
            print(f"| {what} | {median(c[key]):.3f} | {', '.join(f'{x:.3f}' for x in c[key])} |")
        print(f"| preparing a frame (`prepare`, once per frame) | {c['prepare']:.3f} | |\n")
    if "propagate" in args.parts:
        del tracker
        rows = bench_propagate(args)
        mb = 1 / 2**20
        print("| frames | s/frame | peak RSS (MB) | RSS after the click (MB) | CUDA peak (MB) | "
              "tracked frames' memory held at most |\n|---|---|---|---|---|---|")
        for r in rows:
            print(f"| {r['frames']} | {r['seconds'] / r['done']:.3f} | {r['peak'] * mb:.0f} | "
                  f"{r['peak_before'] * mb:.0f} | {r['cuda_peak'] * mb:.0f} | {r['held']} |")
        if len(rows) >= 2:
            a, b = rows[0], rows[-1]
            print(f"\nPeak RSS from {a['frames']} to {b['frames']} frames: {(b['peak'] - a['peak']) * mb:+.0f} MB "
                  f"({100 * (b['peak'] - a['peak']) / a['peak']:+.1f}%)")
        print()
    if "label" in args.parts:
        r = bench_label(args)
        print(f"| labelling a clicked track of {r['frames']} frames (ConvNeXt-B CLIP-VIS, {r['precision']}) | s |")
        print("|---|---|")
        print(f"| pooling its CLIP vector from k = {r['k']} frames | {r['pool']:.2f} |")
        print(f"| classifying the pooled vector, {r['classes']} classes (median of 5) | {median(r['classify']):.4f} |")
        print(f"| (the vocabulary's text classifier, first call: from the disk cache, or encoded once) | "
              f"{r['text_first']:.2f} |")


if __name__ == "__main__":
    main()
