"""The engine's analysis on disk: MB per frame at 640x480, pickled (the old
studio store) against `clipvis.analysis_io` (safetensors), and what storing costs.

    python bench/bench_analysis.py [--frames 20] [--json]

Two analyses of the same frames:
- `tiny random model`: a tiny CLIP-VIS with random weights (the size of the
  fidelity bundle's model: 20 queries, 64-d CLIP), run on a real clip resized
  to 640x480. Its masks are noise, the worst case for the mask codes; this is
  the model the studio's store was measured with (issue 11).
- `trained-like`: the real model's sizes (100 queries, 640-d CLIP vectors),
  with object-like masks (smooth blobs) instead of a network's.

For each: bytes per frame of `torch.save(analysis)` (kept in memory, never
loaded) and of `analysis_io.save`, seconds per frame to compact and to load,
and a check that every mask of every query decodes identically.
"""
from __future__ import annotations

import argparse
import io
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from clipvis import analysis_io  # noqa: E402
from clipvis.masks import FrameMaskCode  # noqa: E402
from clipvis.structures import VideoAnalysis, VideoMeta  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
def clip_frames(num_frames: int) -> list[np.ndarray]:
    import cv2

    from clipvis.video import open_video
    video = open_video(REPO / "assets" / "examples" / "pedestrians_vtest.mp4")
    frames = [cv2.resize(f, (640, 480), interpolation=cv2.INTER_AREA) for _, f in video]
    return [frames[i % len(frames)] for i in range(num_frames)]


def tiny_model_analysis(num_frames: int) -> VideoAnalysis:
    """The analysis of the demo model (clipvis.demo: a tiny random CLIP-VIS, 20 queries, 64-d)."""
    from clipvis.demo import build_demo_model
    from clipvis.predictor import InferenceConfig, VideoPredictor

    model, tokenizer, _ = build_demo_model()
    predictor = VideoPredictor(model, tokenizer=tokenizer, config=InferenceConfig(min_size=480), device="cpu")
    return predictor.analyse(iter(clip_frames(num_frames)), num_frames=num_frames)


def trained_like_analysis(num_frames: int, q: int = 100, dim: int = 640) -> VideoAnalysis:
    g = torch.Generator().manual_seed(0)
    h, w = 120, 160
    ys, xs = torch.meshgrid(torch.arange(h).float(), torch.arange(w).float(), indexing="ij")
    centre = torch.rand(q, 2, generator=g) * torch.tensor([h, w])
    radius = (0.05 + 0.25 * torch.rand(q, 1, 1, generator=g)) * min(h, w)
    codes = []
    for t in range(num_frames):
        c = centre + t * torch.tensor([0.3, 0.7])
        dist2 = (ys - c[:, :1, None]) ** 2 + (xs - c[:, 1:, None]) ** 2
        logits = 6 * (1 - dist2 / radius**2) + 0.3 * torch.randn(q, h, w, generator=g)
        codes.append(FrameMaskCode.encode(logits))
    return VideoAnalysis(
        meta=VideoMeta(num_frames=num_frames, frame_hw=(480, 640), input_hw=(480, 640), padded_hw=(480, 640)),
        object_logits=torch.randn(q, num_frames, 2, generator=g), ious=torch.rand(q, num_frames, generator=g),
        pooled=torch.randn(q, num_frames, dim, generator=g), pool_empty=torch.zeros(q, num_frames, dtype=torch.bool),
        pos_sigmoid_sum=torch.rand(q, num_frames, generator=g) * 100,
        pos_count=torch.rand(q, num_frames, generator=g) * 150, mask_codes=codes)


def measure(name: str, analysis: VideoAnalysis) -> dict:
    t = analysis.num_frames
    buf = io.BytesIO()
    torch.save(analysis, buf)  # the old store's format; only measured, never loaded
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        stored = analysis_io.compact(analysis)
        compacted = time.perf_counter()
        path = analysis_io.save(stored, Path(tmp) / "analysis.safetensors")
        saved = time.perf_counter()
        size = path.stat().st_size
        started_load = time.perf_counter()
        loaded = analysis_io.load(path)
        load_s = time.perf_counter() - started_load
    mismatches = analysis_io.mask_mismatches(analysis, loaded.analysis)
    return {"analysis": name, "frames": t, "queries": analysis.num_queries, "dim": analysis.pooled.shape[-1],
            "pickle_mb_per_frame": len(buf.getvalue()) / t / 1e6, "stored_mb_per_frame": size / t / 1e6,
            "ratio": size / len(buf.getvalue()), "compact_s_per_frame": (compacted - started) / t,
            "save_s_per_frame": (saved - compacted) / t, "load_s_per_frame": load_s / t,
            "masks_identical": not mismatches}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--frames", type=int, default=20)
    ap.add_argument("--json", action="store_true", help="print one JSON object only")
    args = ap.parse_args()
    torch.set_num_threads(2)
    rows = [measure("tiny random model", tiny_model_analysis(args.frames)),
            measure("trained-like", trained_like_analysis(args.frames))]
    if args.json:
        print(json.dumps({"rows": rows}))
        return
    print(f"| analysis ({args.frames} frames, 640x480) | pickle MB/frame | stored MB/frame | stored/pickle | "
          "compact s/frame | load s/frame | masks identical |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['analysis']} ({r['queries']} queries, {r['dim']}-d) | {r['pickle_mb_per_frame']:.3f} | "
              f"{r['stored_mb_per_frame']:.3f} | {r['ratio']:.0%} | {r['compact_s_per_frame']:.3f} | "
              f"{r['load_s_per_frame']:.4f} | {'yes' if r['masks_identical'] else 'NO'} |")


if __name__ == "__main__":
    main()
