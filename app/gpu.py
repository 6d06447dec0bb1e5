"""The network's forward pass on a ZeroGPU Space, a chunk of frames per GPU grant.

ZeroGPU grants a GPU per call of a function decorated with `spaces.GPU`, for
the duration the call asks (computed here from the chunk's frame count), and
runs the call in a forked worker: the arguments and the result are pickled
across. So what runs under the GPU is `forward_chunk`, a module-level function
of plain values only (the predictor's key, a uint8 array of resized frames,
the batch sizes, the precision); the predictor itself is looked up in
PREDICTORS, a module-level cache the forked worker inherits. Decoding,
resizing, tracking, mask compression and writing happen in the server's own
process between grants (clipvis/chunks.py), never while the GPU is held.

Outside a ZeroGPU Space `spaces.GPU` returns the function itself and the
studio runs the ordinary video pass (app/model_service.py).
"""
from __future__ import annotations

import numpy as np

from clipvis.chunks import forward_chunk as _forward_chunk

from app.deployment import on_zero_gpu

PREDICTORS: dict[str, object] = {}  # key -> predictor, filled when the server loads one
SETUP_SECONDS = 10  # asked on top of the frames' time: the worker's start and the tensors' copies
SECONDS_PER_FRAME = 0.1  # at a 480-pixel input: the H100 fp32 figure (0.04) with room for a MIG slice
MAX_DURATION = 60  # seconds asked per grant: ZeroGPU serves short grants first
MAX_CHUNK_FRAMES = 40  # a chunk's outputs cross a pipe: 12 MB a frame at 480p (bench_space.py)


def forward_chunk(key: str, frames: np.ndarray, sizes: tuple, precision: str) -> list:
    """Under the GPU: the network on a chunk of resized frames; CPU tensors back."""
    predictor = PREDICTORS.get(key)
    if predictor is None:
        raise RuntimeError("the model is not loaded in this GPU worker; restart the Space")
    return _forward_chunk(predictor, frames, sizes, precision)


def chunk_duration(key: str, frames: np.ndarray, sizes: tuple, precision: str) -> int:
    """The seconds to ask for: from the chunk's frame count and input size (spaces calls it with the same args)."""
    area = frames.shape[1] * frames.shape[2] / (480 * 854)
    return int(min(MAX_DURATION, SETUP_SECONDS + len(frames) * SECONDS_PER_FRAME * max(area, 0.1) * 1.5 + 1))


def chunk_frames(window: int, min_size: int) -> int:
    """Frames per grant: as many whole windows as fit MAX_DURATION at this input size, at most MAX_CHUNK_FRAMES."""
    per_frame = SECONDS_PER_FRAME * max((min_size / 480) ** 2, 0.1) * 1.5
    fit = int((MAX_DURATION - SETUP_SECONDS - 1) / per_frame)
    frames = min(fit, MAX_CHUNK_FRAMES)
    return max(window, frames // window * window)


def gpu_forward():
    """forward_chunk as spaces.GPU makes it (itself outside ZeroGPU). Looked up at
    each run, so a test can stand in for spaces.GPU."""
    import spaces  # importing it first thing is what ZeroGPU asks; app.py imports this module early

    return spaces.GPU(forward_chunk, duration=chunk_duration)


# ZeroGPU looks for decorated functions when the app starts.
if on_zero_gpu():  # pragma: no cover - only on a ZeroGPU Space
    gpu_forward()
