"""Small videos made by the tests themselves (OpenCV, or imageio-ffmpeg's binary).

Frame i is a flat grey of level 20 + 20 * i with a white square whose place
moves with i, so order and orientation can be checked after lossy coding.
"""
from __future__ import annotations

import subprocess

import cv2
import imageio_ffmpeg
import numpy as np

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()


def level(i: int) -> int:
    return 20 + 20 * i


def make_frames(n: int, h: int = 48, w: int = 64) -> list[np.ndarray]:
    frames = []
    for i in range(n):
        f = np.full((h, w, 3), level(i), np.uint8)
        f[2:12, 2 + 3 * i: 12 + 3 * i] = 255  # top-left: shows orientation
        frames.append(f)
    return frames


def write_cv2(path, frames, fps=10, fourcc="MJPG"):
    h, w = frames[0].shape[:2]
    vw = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (w, h))
    assert vw.isOpened(), f"OpenCV cannot write {fourcc}"
    for f in frames:
        vw.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    vw.release()
    return path


def write_ffmpeg(path, frames, fps=10, args=("-c:v", "libx264", "-pix_fmt", "yuv420p")):
    h, w = frames[0].shape[:2]
    cmd = [FFMPEG, "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}",
           "-r", str(fps), "-i", "-", *args, str(path)]
    subprocess.run(cmd, input=np.stack(frames).tobytes(), check=True)
    return path


def mean_level(frame) -> float:
    # Away from the square, where coding noise is smallest.
    return float(frame[-10:, -10:].mean())
