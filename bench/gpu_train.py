"""Training speed and memory of the full ConvNeXt-B CLIP-VIS (random CLIP
weights: none can be downloaded; 100 queries, 9 decoder layers) at a 1024
crop with AMP, on generated shapes (COCO form, 480x640).

    bash bench/gpu_train.sh                 # ~200 iterations on the GPU, under 10 minutes
    bash bench/gpu_train.sh --smoke         # 2 iterations of a tiny model on the CPU: the script works

Prints iterations/s over the iterations after the first log window (warm-up:
cuDNN autotuning, allocator growth), images/s, the peak GPU memory, and a
markdown table row for docs/PERFORMANCE.md.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from clipvis.train import AugmentConfig, LossConfig, MatchCosts, ModelSpec, TrainConfig  # noqa: E402
from clipvis.train.loop import Trainer  # noqa: E402
from clipvis.train.synthetic import write_coco_shapes  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--smoke", action="store_true", help="tiny model, 2 iterations, CPU: checks the script runs")
    ap.add_argument("--iters", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=20, help="iterations left out of the timing (one log window)")
    ap.add_argument("--batch-size", type=int, default=2, help="images per iteration (official: 16 over 8 GPUs)")
    ap.add_argument("--crop", type=int, default=1024)
    ap.add_argument("--amp", default="auto", help="auto = fp16 on CUDA (official), off on CPU")
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--device", default="auto")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="gpu_train_") as tmp:
        return run(args, Path(tmp))


def run(args, work: Path) -> int:
    if args.smoke:
        from tests.conftest import TINY_CLIP_CONFIG, TINY_HEAD
        clip_config = work / "clipvis_bench_tiny.json"
        clip_config.write_text(json.dumps(TINY_CLIP_CONFIG))
        spec = ModelSpec(clip_config=str(clip_config), head=dict(TINY_HEAD))
        loss = LossConfig(num_points=2048, match=MatchCosts(num_points=2048))
        args.iters, args.warmup, args.crop, args.workers = 2, 1, 64, 0
        args.device = "cpu" if args.device == "auto" else args.device
        data = write_coco_shapes(work / "data", num_images=4, height=96, width=128)
    else:
        spec = ModelSpec(clip_model="convnext_base_w_320", head={"num_queries": 100, "dec_layers": 9})
        loss = LossConfig()  # official: 12,544 points
        data = write_coco_shapes(work / "data", num_images=64, height=480, width=640, max_objects=6)
    config = TrainConfig(data=(str(data),), model=spec, max_iter=args.iters, batch_size=args.batch_size,
                         lr_steps=(), amp=args.amp, num_workers=args.workers, log_period=args.warmup,
                         checkpoint_period=args.iters, augment=AugmentConfig(crop_size=args.crop), loss=loss)
    t0 = time.perf_counter()
    trainer = Trainer(config, work / "run", device=args.device)
    build_s = time.perf_counter() - t0
    if trainer.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(trainer.device)
    t0 = time.perf_counter()
    result = trainer.run()
    total_s = time.perf_counter() - t0

    # Each log record holds the mean seconds per iteration of its window; the first window is warm-up.
    hist = result.history
    windows = [(r["sec_per_iter"], r["iter"] - (hist[i - 1]["iter"] if i else 0)) for i, r in enumerate(hist)]
    timed = windows[1:] or windows
    iters, secs = sum(n for _, n in timed), sum(s * n for s, n in timed)
    it_s = iters / secs if secs else float("nan")
    dev = trainer.device
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else f"CPU ({torch.get_num_threads()} threads)"
    peak = torch.cuda.max_memory_allocated(dev) / 2**30 if dev.type == "cuda" else float("nan")
    model = "tiny (smoke)" if args.smoke else "ConvNeXt-B, 100 queries, 9 layers"
    amp = str(trainer.amp_dtype).replace("torch.", "") if trainer.amp_dtype else "off"
    print(f"\n{name}: {model}, crop {args.crop}, batch {args.batch_size}, amp {amp}")
    print(f"build {build_s:.1f} s; {args.iters} iterations in {total_s:.1f} s (incl. data set-up and the final save)")
    print(f"steady state: {it_s:.3f} it/s = {it_s * args.batch_size:.2f} images/s; peak GPU memory {peak:.2f} GiB")
    print("\n| device | model | crop | batch | amp | it/s | images/s | peak GPU memory (GiB) |")
    print("|---|---|---|---|---|---|---|---|")
    print(f"| {name} | {model} | {args.crop} | {args.batch_size} | {amp} | {it_s:.3f} | "
          f"{it_s * args.batch_size:.2f} | {peak:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
