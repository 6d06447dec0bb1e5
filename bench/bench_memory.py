"""Peak memory of a video pass against its length.

    python bench/bench_memory.py [--frames 50 500] [--trunk tiny|convnext_base_w_320]

Each length runs in a fresh process (peak RSS from getrusage). What the
engine keeps per frame is reported apart: the compressed masks, and the small
per-query tensors (scores, IoU, pooled CLIP vectors).

`--trunk tiny` swaps ConvNeXt-B's trunk for convnext_atto but keeps the
full-size head (100 queries, 256-d) and a 640-d CLIP embedding, so per-frame
storage is as for ConvNeXt-B while a 500-frame run takes minutes, not an hour.
A smaller model makes the growth a *larger* share of the peak, so this is the
stricter measure.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TINY_TRUNK_640 = {
    "embed_dim": 640,
    "vision_cfg": {"timm_model_name": "convnext_atto", "timm_model_pretrained": False, "timm_pool": "",
                   "timm_proj": "linear", "timm_drop": 0.0, "timm_drop_path": 0.0, "image_size": 224},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 1},
}


def child(frames: int, trunk: str, h: int, w: int, min_size: int = 480, trim: bool = True):
    import torch
    from bench.common import synthetic_video
    from bench.probe_inputs import status_mb
    from clipvis.build import create_clip, register_clip_config
    from clipvis.modeling import CLIPVISModel, HeadConfig
    from clipvis import InferenceConfig, predictor_for
    from clipvis.backends import CPUVideoPredictor

    torch.set_num_threads(2)
    if not trim:  # compare with the freed heap memory kept, never handed back
        CPUVideoPredictor._window_done = lambda self: None
    name = trunk
    if trunk == "tiny":
        cfg = Path(tempfile.mkdtemp()) / "clipvis_bench_tiny640.json"
        cfg.write_text(json.dumps(TINY_TRUNK_640))
        name = register_clip_config(cfg)
    torch.manual_seed(0)
    clip, tok = create_clip(name)
    model = CLIPVISModel(clip_model=clip, head_cfg=HeadConfig())
    pred = predictor_for(model, tokenizer=tok, config=InferenceConfig(min_size=min_size))  # the CPU backend
    base_video = synthetic_video(20, h, w)  # frames are generated on the fly, never held whole
    t0 = time.perf_counter()
    analysis = pred.analyse((base_video[i % 20] for i in range(frames)), num_frames=frames)
    seconds = time.perf_counter() - t0
    masks = sum(c.nbytes for c in analysis.mask_codes)
    small = sum(t.numel() * t.element_size() for t in (analysis.object_logits, analysis.ious, analysis.pooled,
                                                       analysis.pool_empty, analysis.pos_sigmoid_sum,
                                                       analysis.pos_count))
    peak = status_mb("VmHWM") * 2**20  # not ru_maxrss: Linux carries the parent's peak across exec
    print(json.dumps({"frames": frames, "peak": peak, "masks": masks, "small": small, "seconds": seconds}))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, nargs="+", default=[50, 500])
    ap.add_argument("--trunk", default="tiny")
    ap.add_argument("--height", type=int, default=480)
    ap.add_argument("--width", type=int, default=864)
    ap.add_argument("--min-size", type=int, default=480, help="model input's short side")
    ap.add_argument("--no-trim", action="store_true", help="do not hand freed heap memory back after each window")
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(args.child, args.trunk, args.height, args.width, args.min_size, not args.no_trim)
    rows = []
    for n in args.frames:
        out = subprocess.run([sys.executable, __file__, "--child", str(n), "--trunk", args.trunk,
                              "--height", str(args.height), "--width", str(args.width),
                              "--min-size", str(args.min_size)] + (["--no-trim"] if args.no_trim else []),
                             capture_output=True, text=True, check=True).stdout
        rows.append(json.loads(out.strip().splitlines()[-1]))
    mb = 1 / 2**20
    print(f"trunk {args.trunk}, head 100 queries / 256-d, {args.height}x{args.width} frames, "
          f"input short side {args.min_size}, window 10")
    print("| frames | peak RSS (MB) | compressed masks (MB) | per-query tensors (MB) | s/frame |\n|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['frames']} | {r['peak'] * mb:.0f} | {r['masks'] * mb:.1f} | {r['small'] * mb:.1f} | "
              f"{r['seconds'] / r['frames']:.2f} |")
    if len(rows) >= 2:
        a, b = rows[0], rows[-1]
        growth = (b["peak"] - b["masks"]) - (a["peak"] - a["masks"])
        print(f"\nGrowth from {a['frames']} to {b['frames']} frames beyond the compressed masks: "
              f"{growth * mb:.0f} MB = {100 * growth / a['peak']:.1f}% of the {a['frames']}-frame peak")


if __name__ == "__main__":
    main()
