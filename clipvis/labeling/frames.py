"""The frames of video-file inputs, written in the YouTube-VIS layout so that
a trainer's loader finds every `file_names` entry:

    <frames dir>/<video folder>/<5-digit frame index>.jpg

- The frames dir is `--frames-dir`, by default `<folder of --out>/JPEGImages`.
- A video's folder is its path relative to `--videos`, extension included
  (`cams/a.mp4` -> `cams/a.mp4/`): two files of one folder never share a name,
  so `a.mp4` and `a.avi` never share a folder, and the name does not depend on
  what else is in the folder.
- The index is the frame's own number in the file (00000, 00002, ... with
  `--stride 2`), so names say which frame of the source they are.
- Each JPEG (quality 95) is written atomically; the same frame always encodes
  to the same bytes, so a rerun rewrites identical files.

Frame folders (and the frames a YouTube-VIS JSON lists) are never copied: the
output points at them.
"""
from __future__ import annotations

import os
import posixpath
from pathlib import Path, PurePosixPath

import cv2
import numpy as np

from clipvis.atomic import write_bytes
from clipvis.labeling.discover import VideoJob

JPEG_QUALITY = 95


def default_frames_dir(out) -> Path:
    return Path(out).resolve().parent / "JPEGImages"


def frame_name(source_index: int) -> str:
    return f"{source_index:05d}.jpg"


def image_root(jobs: list[VideoJob], frames_dir: Path, videos) -> Path | None:
    """The folder every output `file_names` entry is relative to: the frames
    dir when some input is a video file (its frames are written there), else
    the folder the frame folders' names are relative to. None for a JSON
    input (its own names, relative to its frames root)."""
    if any(j.kind == "list" for j in jobs):
        return None
    if any(j.kind == "file" for j in jobs):
        return Path(frames_dir).resolve()
    root = Path(videos).resolve()
    # A single frame folder given as --videos is named by its own name: relative to its parent.
    return root.parent if len(jobs) == 1 and Path(jobs[0].path).resolve() == root else root


def output_names(job: VideoJob, names: list[str], root: Path | None) -> list[str]:
    """The final `file_names` of a labelled video, from the names its work
    file keeps (`<job prefix>/<frame>`), relative to the run's image root."""
    if job.kind != "folder" or root is None:
        return list(names)
    folder = PurePosixPath(os.path.relpath(Path(job.path).resolve(), root).replace(os.sep, "/"))
    return [posixpath.normpath(str(folder / PurePosixPath(n).name)) for n in names]


def missing_frames(names: list[str], frames_dir: Path) -> list[str]:
    """The written-frame names (relative to frames_dir) that are not on disk."""
    return [n for n in names if not (frames_dir / n).is_file()]


class FrameWriter:
    """Writes one video's decoded frames as `<frames dir>/<job prefix>/<index>.jpg`."""

    def __init__(self, frames_dir: Path, job: VideoJob):
        self.folder = Path(frames_dir) / job.prefix
        if self.folder.exists() and not self.folder.is_dir():
            raise ValueError(f"cannot write the frames of {job.name}: {self.folder} is a file; "
                             "give another frames_dir (--frames-dir)")
        # A kill during a write leaves a hidden temporary file (clipvis.atomic); this video's
        # frames are written by this process alone, so any such file here is that debris.
        for debris in self.folder.glob(".?????.jpg.*"):
            debris.unlink(missing_ok=True)

    def write(self, source_index: int, rgb: np.ndarray) -> None:
        ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        if not ok:
            raise ValueError(f"could not encode frame {source_index} as JPEG")
        write_bytes(self.folder / frame_name(source_index), jpeg.tobytes())
