"""What writing the frames costs `clipvis label` (the JPEGImages layout, on by
default): per 854x480 frame, the JPEG encoding (quality 95) and the atomic,
fsynced write, against the decoding the labeller does anyway.

    python bench/bench_frames.py [--frames 60] [--height 480 --width 854] [--dir /tmp/x]

Prints medians in ms per frame. The frames are moving squares over noise, as in
bench_label.py (noise is the worst case for JPEG size).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from clipvis.labeling.discover import VideoJob  # noqa: E402
from clipvis.labeling.frames import JPEG_QUALITY, FrameWriter  # noqa: E402
from clipvis.video import open_video  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--height", type=int, default=480)
    ap.add_argument("--width", type=int, default=854)
    ap.add_argument("--dir", help="where to write (default: a temporary folder); its disk is what is measured")
    args = ap.parse_args()
    root = Path(args.dir or tempfile.mkdtemp(prefix="bench_frames_"))
    rng = np.random.default_rng(0)
    clip = root / "clip.avi"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), 30, (args.width, args.height))
    for t in range(args.frames):
        frame = rng.integers(0, 60, size=(args.height, args.width, 3), dtype=np.uint8)
        frame[60 + 4 * t % 200:220 + 4 * t % 200, 40:240] = (40, 40, 220)
        writer.write(frame)
    writer.release()

    decode, encode, write = [], [], []
    out = FrameWriter(root / "JPEGImages", VideoJob(key="k", video_id=1, name="clip.avi", kind="file",
                                                   path=str(clip), prefix="clip.avi"))
    frames = iter(open_video(clip))
    for t in range(args.frames):
        start = time.perf_counter()
        _, rgb = next(frames)
        decode.append(time.perf_counter() - start)
        start = time.perf_counter()
        cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        encode.append(time.perf_counter() - start)
        start = time.perf_counter()
        out.write(t, rgb)  # encode + atomic write with fsync, what label does
        write.append(time.perf_counter() - start)
    size = statistics.median(p.stat().st_size for p in (root / "JPEGImages" / "clip.avi").iterdir())
    print(f"{args.frames} frames of {args.width}x{args.height} in {root}")
    print("| step | median ms/frame |\n|---|---|")
    print(f"| decode (OpenCV, MJPG .avi) | {1e3 * statistics.median(decode):.2f} |")
    print(f"| JPEG encode only (quality {JPEG_QUALITY}) | {1e3 * statistics.median(encode):.2f} |")
    print(f"| FrameWriter.write: encode + atomic write + fsync | {1e3 * statistics.median(write):.2f} |")
    print(f"median JPEG size: {size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
