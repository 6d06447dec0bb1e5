"""Redraw time of the studio's viewer: a 720p frame with 20 instances.

    python bench/bench_render.py [--repeats 50] [--instances 20]

What a frame change costs on the server (app.callbacks.view.frame_view):
read the display JPEG, decode each instance's RLE mask, draw the overlay with
labels and the selected instance's outline. Measured cold (a frame never
seen: every mask decoded) and warm (masks cached, e.g. after an edit of
another track). Target: under 100 ms cold. Prints a markdown table.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from app.render import render_frame  # noqa: E402
from app.session import Track  # noqa: E402
from app.session.frames import FrameCache  # noqa: E402
from clipvis.formats.rle import mask_to_rle, rle_to_mask  # noqa: E402

H, W = 720, 1280


def scene(n: int, seed: int = 0):
    """A textured frame and n tracks with elliptical masks of varied size."""
    rng = np.random.default_rng(seed)
    frame = cv2.GaussianBlur(rng.integers(0, 255, (H, W, 3), dtype=np.uint8), (0, 0), 3)
    tracks = []
    for i in range(n):
        m = np.zeros((H, W), np.uint8)
        center = (int(rng.integers(80, W - 80)), int(rng.integers(80, H - 80)))
        axes = (int(rng.integers(30, 220)), int(rng.integers(30, 160)))
        cv2.ellipse(m, center, axes, float(rng.integers(0, 180)), 0, 360, 1, -1)
        tracks.append((Track(id=i + 1, category_id=1 + i % 5, score=float(rng.random()), refs=[i + 1]),
                       mask_to_rle(m.astype(bool))))
    return frame, tracks


def median_ms(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=50)
    p.add_argument("--instances", type=int, default=20)
    args = p.parse_args()
    cv2.setNumThreads(cv2.getNumberOfCPUs())
    frame, tracks = scene(args.instances)
    names = {c: f"class {c}" for c in range(1, 6)}
    with tempfile.TemporaryDirectory() as tmp:
        cv2.imwrite(str(Path(tmp) / "00000.jpg"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR),
                    [cv2.IMWRITE_JPEG_QUALITY, 90])

        def cold():  # new frame: JPEG from disk, every mask decoded
            shown = FrameCache(Path(tmp), 1, keep=0).get(0)
            render_frame(shown, [(tr, rle_to_mask(rle)) for tr, rle in tracks], names=names, selected=3)

        decoded = [(tr, rle_to_mask(rle)) for tr, rle in tracks]  # what the session's mask cache holds

        def warm():
            render_frame(frame, decoded, names=names, selected=3)

        rows = [("cold: JPEG read + RLE decode + overlay", median_ms(cold, args.repeats)),
                ("warm: overlay only (masks cached)", median_ms(warm, args.repeats))]
    print(f"Viewer redraw, {W}x{H}, {args.instances} instances, median of {args.repeats} "
          f"({cv2.getNumberOfCPUs()} CPU threads)\n")
    print("| case | ms |\n|---|---|")
    for name, ms in rows:
        print(f"| {name} | {ms:.1f} |")
    print(f"\ntarget < 100 ms cold: {'met' if rows[0][1] < 100 else 'NOT met'}")


if __name__ == "__main__":
    main()
