"""The video pass with the network run elsewhere, a chunk of frames at a time.

A ZeroGPU Space grants the GPU per call of a function, for a duration asked
in advance, and runs that function in another process: its arguments and
its result are pickled across. So the pass is cut in two:

    here (CPU):   decode -> resize -> [chunk of frames] -> match, compress masks
    elsewhere:    run_chunk(frames, sizes, precision) -> the network's outputs

`run_chunk` gets plain values only (a uint8 array of resized frames, the
batch sizes, the precision) and returns CPU tensors; it holds no state, so
the tracking memory and the compressed masks never cross. The batches are
the ones `propagate` would run (whole windows, split by the predictor's
batch), so the analysis is the one `propagate` makes.

    for p in chunked_propagate(predictor, frames, state, run_chunk=..., chunk_frames=40):
        ...
"""
from __future__ import annotations

import time
from typing import Callable, Iterable, Iterator

import numpy as np
import torch

from .predictor import STAGES, Cancelled, InferenceState, Progress, VideoPredictor
from .preprocess import resize_frame

RunChunk = Callable[[np.ndarray, tuple, str], list]


def batch_sizes(n: int, window: int, batch: int) -> tuple[int, ...]:
    """The batches `propagate` runs for n frames: windows, each cut into `batch`-frame passes."""
    sizes = []
    for start in range(0, n, window):
        w = min(window, n - start)
        sizes += [min(batch, w - b) for b in range(0, w, batch)]
    return tuple(sizes)


def forward_chunk(predictor: VideoPredictor, frames: np.ndarray, sizes: tuple, precision: str) -> list[dict]:
    """The network on resized frames (N, h, w, 3) uint8, batch by batch; the outputs on the CPU."""
    if sum(sizes) != len(frames):
        raise ValueError(f"batch sizes {sizes} do not add up to the {len(frames)} frames given")
    out, start, timings = [], 0, dict.fromkeys(STAGES, 0.0)  # timed in the worker, not reported back
    for size in sizes:
        batch = predictor._forward(list(frames[start:start + size]), precision, timings)
        out.append({k: v.cpu() for k, v in batch.items()})
        start += size
    return out


def chunked_propagate(predictor: VideoPredictor, frames: Iterable[np.ndarray], state: InferenceState, *,
                      run_chunk: RunChunk, chunk_frames: int, num_frames: int | None = None,
                      cancel=None) -> Iterator[Progress]:
    """As `predictor.propagate`, with the network run by `run_chunk` on
    `chunk_frames` frames at a time (rounded down to whole windows, at least
    one). Yields progress per chunk; `cancel` is checked between frames."""
    c = state.config
    per_chunk = max(c.window, chunk_frames // c.window * c.window)
    chunk: list[np.ndarray] = []

    def run():
        resized = np.stack([resize_frame(f, c.min_size, c.max_size) for f in chunk])
        state.input_hw = resized.shape[1:3]
        for out in run_chunk(resized, batch_sizes(len(chunk), c.window, state.batch), c.precision):
            predictor._absorb(out, state)
        chunk.clear()
        return Progress(state.frames_done, num_frames, "frames", time.perf_counter() - state.started)

    with predictor._inference_scope(), torch.no_grad():
        for frame in frames:
            if cancel is not None and cancel.is_set():
                raise Cancelled("cancelled")
            chunk.append(predictor._check_frame(frame, state))
            if len(chunk) >= per_chunk:
                yield run()
        if chunk:
            yield run()
