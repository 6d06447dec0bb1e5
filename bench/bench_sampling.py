"""The samplings of deformable attention, one layer at 480x864 (res3..res5):
grid_sample per level (the model's own path: training and the GPU) and the
embedding_bag gather (the CPU backend's, clipvis/backends/cpu_sampling.py), on
the same weights and inputs, interleaved. Each is the whole attention layer:
projections, sampling, output.

    python bench/bench_sampling.py [--device cpu|cuda] [--threads 2] [--frames 2] [--reps 9]

Prints the median ms per call of each, the speed-ups over grid_sample and the
largest difference from it.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from clipvis.backends.cpu_sampling import GatherMSDeformAttn  # noqa: E402
from clipvis.modeling.deform_attn import MSDeformAttn  # noqa: E402
from clipvis.modeling.pixel_decoder import DeformEncoder  # noqa: E402

SHAPES = [(15, 27), (30, 54), (60, 108)]  # res5, res4, res3 of a 480x864 input


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--frames", type=int, default=2)
    ap.add_argument("--reps", type=int, default=9)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    dev = torch.device(args.device)
    attn = MSDeformAttn(256, len(SHAPES), 8, 4).to(dev).requires_grad_(False)
    torch.nn.init.normal_(attn.sampling_offsets.weight, std=0.3)  # trained-like spread, some points outside
    torch.nn.init.normal_(attn.attention_weights.weight, std=0.3)
    tokens = sum(h * w for h, w in SHAPES)
    query = torch.randn(args.frames, tokens, 256, device=dev)
    src = torch.randn(args.frames, tokens, 256, device=dev)
    ref = DeformEncoder.reference_points(SHAPES, dev)
    gather = GatherMSDeformAttn(256, len(SHAPES), 8, 4).to(dev).requires_grad_(False)
    gather.load_state_dict(attn.state_dict())
    modules = {"grid_sample": attn, "gather": gather}

    @torch.no_grad()
    def run(path: str):
        out = modules[path](query, ref, src, SHAPES)
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        return out

    paths = list(modules)
    outs = {name: run(name) for name in paths}
    times = {name: [] for name in paths}
    for _ in range(args.reps):
        for name in times:
            t0 = time.perf_counter()
            run(name)
            times[name].append(time.perf_counter() - t0)
    med = {k: sorted(v)[len(v) // 2] * 1000 for k, v in times.items()}
    print(f"device {dev}, threads {torch.get_num_threads()}, {args.frames} frames, one layer")
    print("| sampling | ms per call |\n|---|---|")
    grid = outs["grid_sample"]
    for k, v in med.items():
        print(f"| {k} | {v:.1f} |")
    for k in paths[1:]:
        print(f"{k} is {med['grid_sample'] / med[k]:.2f}x faster than grid_sample; max |difference| "
              f"{(grid - outs[k]).abs().max().item():.2e} (outputs up to {grid.abs().max().item():.1f})")


if __name__ == "__main__":
    main()
