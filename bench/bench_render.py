"""What one frame of the viewer costs the server: the overlay route's work.

    python bench/bench_render.py [--repeats 50] [--instances 20] [--size 640x480]

For a frame never shown (nothing cached), the overlay route decodes every
instance's RLE mask into one label map, shrinks it to the display size if
needed, outlines it and encodes it as a palette PNG (app/viewer/overlays.py);
the frame route reads the display JPEG from disk. The browser fetches both
in parallel and prefetches ahead, so this is the work playback has to keep
up with: at 30 fps, under 33 ms a frame. Masks are ellipses with ragged
edges (many RLE runs). Prints a markdown table.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from app.session.frames import display_size  # noqa: E402
from app.viewer.overlays import Geometry, display_mask, mask_png, render_overlay  # noqa: E402
from bench.viewer_clip import _masks  # noqa: E402
from clipvis.formats.rle import mask_to_rle, rle_to_mask  # noqa: E402
from clipvis.formats.overlay import draw_overlay  # noqa: E402


def masks_at(n: int, w: int, h: int) -> list[dict]:
    """n instances' masks on one frame, as the session stores them (compressed RLE)."""
    return [mask_to_rle(_masks(3, k, w, h, 0)) for k in range(n)]


def decoded(rles) -> list:
    """What the overlay route gets from the session's mask store: (track id, full-size mask)."""
    return [(k + 1, rle_to_mask(r, order="F")) for k, r in enumerate(rles)]


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
    p.add_argument("--size", action="append", help="WxH of the video (repeatable); default 640x480 and 1280x720")
    args = p.parse_args()
    rows = []
    for size in args.size or ["640x480", "1280x720"]:
        w, h = (int(v) for v in size.lower().split("x"))
        geo = Geometry(full_hw=(h, w), display_wh=display_size(w, h))
        rles = masks_at(args.instances, w, h)
        frame = cv2.GaussianBlur(np.random.default_rng(0).integers(0, 255, (geo.display_wh[1], geo.display_wh[0], 3),
                                                                   dtype=np.uint8), (0, 0), 3)
        jpeg = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()
        png, _ = render_overlay(decoded(rles), geo)
        full_frame = cv2.resize(frame, (w, h))
        full_masks = [m for _, m in decoded(rles)]
        labels = [f"object {k} 0.87" for k in range(args.instances)]
        rows += [
            (size, f"overlay: decode the masks → label map → outlines → palette PNG ({len(png) // 1024} kB)",
             median_ms(lambda: render_overlay(decoded(rles), geo), args.repeats)),
            (size, "selected instance's mask (decode, resize, PNG)",
             median_ms(lambda: mask_png(display_mask(rle_to_mask(rles[3]), geo)), args.repeats)),
            (size, "review video / export frame: draw_overlay at full size, with labels",
             median_ms(lambda: draw_overlay(full_frame, full_masks, labels=labels), args.repeats)),
            (size, f"browser side, for scale: decode the {len(jpeg) // 1024} kB display JPEG",
             median_ms(lambda: cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR), args.repeats)),
        ]
    print(f"Viewer routes, server side: one frame with {args.instances} instances, median of {args.repeats} "
          f"({cv2.getNumberOfCPUs()} CPU threads)\n")
    print("| video | work | ms |\n|---|---|---|")
    for size, name, ms in rows:
        print(f"| {size} | {name} | {ms:.1f} |")


if __name__ == "__main__":
    main()
