"""The FPN's 3x3 convolution (256 -> 256 channels at stride 4 of a 480x864 input)
by oneDNN's direct convolution and by Winograd F(2x2, 3x3) and F(4x4, 3x3)
(clipvis/native/winograd.py), timed interleaved, with each one's error against
a float64 convolution.

    python bench/bench_winograd.py [--threads 2] [--frames 2] [--reps 7]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from clipvis.heap import keep_freed_memory  # noqa: E402
from clipvis.native import winograd_available, winograd_conv3x3  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--frames", type=int, default=2)
    ap.add_argument("--reps", type=int, default=7)
    args = ap.parse_args()
    if not winograd_available():
        sys.exit("no C compiler: the Winograd kernels cannot be built here")
    torch.set_num_threads(args.threads)
    keep_freed_memory()  # as the predictor does
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(256, 256, 3, padding=1, bias=False)
    torch.nn.init.kaiming_uniform_(conv.weight, a=1)  # the pixel decoder's initialisation
    w = conv.weight.detach()
    x = torch.randn(args.frames, 256, 120, 216).relu_().contiguous(memory_format=torch.channels_last)
    exact = F.conv2d(x.double(), w.double(), padding=1)
    runs = {
        "direct (oneDNN)": lambda: F.conv2d(x, w, padding=1),
        "Winograd F(2,3)": lambda: winograd_conv3x3(x, w, m=2),
        "Winograd F(4,3)": lambda: winograd_conv3x3(x, w, m=4),
    }
    errors = {k: (f() - exact).abs().max().item() for k, f in runs.items()}
    times = {k: [] for k in runs}
    for _ in range(args.reps):
        for k, f in runs.items():
            t0 = time.perf_counter()
            f()
            times[k].append(time.perf_counter() - t0)
    med = {k: sorted(v)[len(v) // 2] * 1000 / args.frames for k, v in times.items()}
    scale = exact.abs().max().item()
    print(f"threads {torch.get_num_threads()}, {args.frames} frames of 256x120x216, outputs up to {scale:.2f}")
    print("| convolution | ms per frame | speed-up | max abs error vs float64 | relative to the output's max |")
    print("|---|---|---|---|---|")
    base = med["direct (oneDNN)"]
    for k in runs:
        print(f"| {k} | {med[k]:.1f} | {base / med[k]:.2f}x | {errors[k]:.2e} | {errors[k] / scale:.1e} |")


if __name__ == "__main__":
    main()
