"""Fixtures of the labelling tests: small generated videos and the command line
that labels them with the tiny model."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import cv2
import pytest

from tests.conftest import REPO, moving_squares_video

NUM_VIDEOS = 4
FRAMES = 6
H, W = 64, 96


def write_avi(path: Path, frames) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 6, (frames.shape[2], frames.shape[1]))
    assert writer.isOpened(), "OpenCV cannot write MJPG .avi here"
    for f in frames:
        writer.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def write_frames(folder: Path, frames, *, start: int = 0) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    names = []
    for t, f in enumerate(frames, start=start):
        name = f"{t * 5:05d}.jpg"
        cv2.imwrite(str(folder / name), cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
        names.append(name)
    return names


@pytest.fixture(scope="session")
def video_folder(tmp_path_factory) -> Path:
    """4 small videos of moving squares, different lengths (6..9 frames) and content."""
    folder = tmp_path_factory.mktemp("videos")
    for k in range(NUM_VIDEOS):
        write_avi(folder / f"clip{k}.avi", moving_squares_video(FRAMES + k, H, W, seed=k))
    return folder


@pytest.fixture(scope="session")
def model_flags(tiny_checkpoint, tiny_clip_config) -> list[str]:
    return ["--checkpoint", str(tiny_checkpoint), "--clip-config", str(tiny_clip_config), "--device", "cpu",
            "--min-size", "64", "--topk", "10"]


@pytest.fixture(scope="session")
def cli_env(tmp_path_factory) -> dict:
    """Environment of CLI subprocesses. One thread each: torchrun gives every
    rank one, and float sums can differ in the last bit between thread counts,
    so single-process and torchrun runs are compared under the same setting."""
    env = dict(os.environ)
    env.update(HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1", PYTHONPATH=str(REPO),
               CLIPVIS_CACHE=str(tmp_path_factory.mktemp("clipvis_cache")))
    return env


def label_command(*args) -> list[str]:
    return [sys.executable, "-m", "clipvis", "label", *map(str, args)]
