"""Videos per hour of `clipvis label`, end to end (decode, model, masks to RLE,
work files, merge), for the tiny test model and ConvNeXt-B with random weights.

    python bench/bench_label.py                      # CPU, ~3 minutes on 2 cores
    python bench/bench_label.py --device cuda        # one GPU
    python bench/bench_label.py --models convnext_b --videos 4 --frames 16

Random weights cost the same time as trained ones (same shapes), except that
the number of instances kept (--topk) is the same either way. The text
classifier is built before the clock starts: a run pays it once, not per
video. Prints a markdown table (for docs/PERFORMANCE.md).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing here downloads; random weights only

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from clipvis import InferenceConfig, build_model, predictor_for, resolve_device  # noqa: E402
from clipvis.labeling import LabelOptions, label_dataset  # noqa: E402
from clipvis.vocab import load_vocabulary  # noqa: E402

# model -> (videos, frames per video) of the default run; ConvNeXt-B takes ~2-3 s per 480p frame on 2 CPU cores.
DEFAULT_SIZES = {"tiny": (4, 8), "convnext_b": (2, 4)}
GPU_SIZES = {"tiny": (4, 36), "convnext_b": (4, 36)}


def make_videos(folder: Path, count: int, frames: int, h: int = 480, w: int = 854) -> Path:
    """Moving squares over noise, written as MJPG .avi (decoding is part of what is measured)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for k in range(count):
        writer = cv2.VideoWriter(str(folder / f"clip{k}.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 30, (w, h))
        for t in range(frames):
            frame = rng.integers(0, 60, size=(h, w, 3), dtype=np.uint8)
            frame[60 + 8 * t:220 + 8 * t, 40 + 16 * t:240 + 16 * t] = (40, 40, 220)
            frame[300:420, 600 - 10 * t:760 - 10 * t] = (60, 200, 40)
            writer.write(frame)
        writer.release()
    return folder


def tiny_model(tmp: Path):
    from tests.conftest import TINY_CLIP_CONFIG, make_tiny_checkpoint
    config = tmp / "clipvis_tiny_test.json"
    config.write_text(json.dumps(TINY_CLIP_CONFIG))
    checkpoint = make_tiny_checkpoint(tmp / "tiny.pth", config)
    model, tokenizer, _ = build_model(checkpoint=str(checkpoint), clip_config=str(config))
    return model, tokenizer


def convnext_b_model(tmp: Path):
    # clip_pretrained=None: random CLIP weights, nothing is downloaded.
    model, tokenizer, _ = build_model(checkpoint=None, clip_model="convnext_base_w_320")
    return model, tokenizer


MODELS = {"tiny": ("tiny test model (convnext_atto CLIP, 10 queries)", tiny_model),
          "convnext_b": ("ConvNeXt-B (convnext_base_w_320), random weights", convnext_b_model)}


def bench_one(name: str, device: torch.device, videos: int, frames: int, vocab, tmp: Path) -> dict:
    tmp.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    model, tokenizer = MODELS[name][1](tmp)
    predictor = predictor_for(model, tokenizer=tokenizer, config=InferenceConfig(min_size=480, max_size=1333),
                               device=device, text_cache_dir=tmp / "text")
    predictor.text_classifier(vocab)  # once per run, not per video
    setup = time.perf_counter() - t0
    folder = make_videos(tmp / f"videos_{name}", videos, frames)
    t0 = time.perf_counter()
    summary = label_dataset(videos=folder, vocabulary=vocab, out=tmp / f"{name}.json",
                            make_predictor=lambda dev: predictor, options=LabelOptions(progress=False),
                            device=device, log=lambda text: None)
    seconds = time.perf_counter() - t0
    if not summary.ok:
        raise RuntimeError(f"{name}: videos failed: {summary.failed}")
    return {"model": MODELS[name][0], "device": device_name(device), "videos": videos, "frames": frames,
            "seconds": seconds, "setup": setup, "instances": summary.instances}


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU ({torch.get_num_threads()} threads)"


def table(rows: list[dict]) -> str:
    lines = ["| model | device | videos x frames (854x480) | seconds | s / frame | frames / s | videos / hour "
             "(at that length) | videos / hour (36 frames) |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        n = r["videos"] * r["frames"]
        fps = n / r["seconds"]
        lines.append(f"| {r['model']} | {r['device']} | {r['videos']} x {r['frames']} | {r['seconds']:.1f} | "
                     f"{r['seconds'] / n:.3f} | {fps:.2f} | {3600 * r['videos'] / r['seconds']:.0f} | "
                     f"{3600 * fps / 36:.0f} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1 or auto (default: cpu)")
    p.add_argument("--models", default="tiny,convnext_b", help="comma-separated: tiny, convnext_b")
    p.add_argument("--videos", type=int, help="videos per model (default: per model, see DEFAULT_SIZES)")
    p.add_argument("--frames", type=int, help="frames per video (default: per model)")
    p.add_argument("--vocab", default="ytvis2019", help="vocabulary (default: ytvis2019, 40 classes)")
    args = p.parse_args(argv)
    device = resolve_device(args.device)
    vocab = load_vocabulary(args.vocab)
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_label_") as tmp:
        for name in args.models.split(","):
            if name not in MODELS:
                p.error(f"unknown model {name!r}; use {', '.join(MODELS)}")
            videos, frames = (GPU_SIZES if device.type == "cuda" else DEFAULT_SIZES)[name]
            row = bench_one(name, device, args.videos or videos, args.frames or frames, vocab, Path(tmp) / name)
            print(f"{name}: {row['seconds']:.1f} s for {row['videos']} x {row['frames']} frames "
                  f"(setup {row['setup']:.1f} s, {row['instances']} instances)", file=sys.stderr, flush=True)
            rows.append(row)
    print(f"`python bench/bench_label.py {' '.join(argv if argv is not None else sys.argv[1:])}`, "
          f"vocabulary {args.vocab}, min size 480, torch {torch.__version__}; load average "
          f"{os.getloadavg()[0]:.1f} at the end on {os.cpu_count()} CPUs (other work slows CPU figures)\n")
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
