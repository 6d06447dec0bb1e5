"""What the Space's answers cost: opening a cached example, the header check
that refuses an over-long upload, and what a ZeroGPU chunk carries.

    python bench/bench_space.py [--repeat 5]

1. A cached example opened as a visitor's session (copy + open), per bundled
   example, after the demo model's run of each was kept (the "within a second").
2. The header read that refuses an upload, against open_video (which decodes
   the first frame), on the largest example.
3. A ZeroGPU chunk's outputs with the full model's shapes (100 query slots,
   480x854 input): bytes per frame crossing the pipe, and the pickle round
   trip per frame (arguments and results cross pickled).
"""
from __future__ import annotations

import argparse
import pickle
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import median  # noqa: E402


def cached_examples(repeat: int):
    from app.callbacks import files, run
    from app.config import Studio, StudioConfig, parse_args
    from app.model_service import ModelService

    with tempfile.TemporaryDirectory() as tmp:
        args = parse_args(["--workdir", tmp, "--model", "demo", "--min-size", "128"])
        studio = Studio(config=StudioConfig.from_args(args), service=ModelService.from_args(args))
        files.start_examples(studio, "lazy")
        for example in files.examples():
            out = files.load_video(studio, "a" * 32, None, None, example, 1, 0, 128, progress=lambda *a, **k: None)
            list(run.run(studio, out["view"], "person, car", None, "default", "", 128))
            times = []
            for _ in range(repeat):
                t0 = time.perf_counter()
                out = files.load_video(studio, "b" * 32, None, None, example, 1, 0, 128,
                                       progress=lambda *a, **k: None)
                times.append(time.perf_counter() - t0)
            n = len(out["view"].session.state.tracks)
            print(f"cached example {example}: Load with {n} tracks in {median(times) * 1000:.0f} ms (median of "
                  f"{repeat}; the handler whole: copy, open, viewer state)")


def header_check(repeat: int):
    from app.callbacks.files import EXAMPLES_DIR
    from clipvis.video import open_video
    from clipvis.video.header import read_header

    path = EXAMPLES_DIR / "pedestrians_vtest.mp4"
    for name, fn in (("read_header", lambda: read_header(path)), ("open_video", lambda: open_video(path).info)):
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        print(f"{name} on {path.name}: {median(times) * 1000:.1f} ms")


def chunk_payload(repeat: int, frames: int = 10, q: int = 100, h: int = 480, w: int = 864):
    from clipvis.preprocess import padded_hw

    ph, pw = padded_hw(h, w)
    out = {"embeddings": torch.randn(frames, q, 256), "object_logits": torch.randn(frames, q, 2),
           "ious": torch.randn(frames, q), "masks": torch.randn(frames, q, ph // 4, pw // 4),
           "pooled": torch.randn(frames, q, 640), "empty": torch.zeros(frames, q, dtype=torch.bool),
           "pos_sigmoid_sum": torch.randn(frames, q), "pos_count": torch.randn(frames, q)}
    args = np.zeros((frames, h, w, 3), np.uint8)
    size = len(pickle.dumps(out)) + len(pickle.dumps(args))
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        pickle.loads(pickle.dumps(args))
        pickle.loads(pickle.dumps(out))
        times.append(time.perf_counter() - t0)
    print(f"ZeroGPU chunk at {w}x{h}, {q} queries: {size / frames / 1e6:.1f} MB a frame across the pipe, "
          f"pickle round trip {median(times) / frames * 1000:.1f} ms a frame")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    torch.set_num_threads(2)
    header_check(args.repeat)
    chunk_payload(args.repeat)
    cached_examples(args.repeat)


if __name__ == "__main__":
    main()
