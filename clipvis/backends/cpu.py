"""The CPU backend: a predictor subclass for inference on the CPU (as SAM 2's
`SAM2VideoPredictorVOS` subclasses its video predictor).

It swaps the CPU modules into the model (cpu_modules.py: the gather sampler,
chunked encoder layers, unapplied mask-feature conv), runs a window as batches
of 2 frames, and keeps freed heap memory during a video pass (clipvis/heap.py),
handing it back after each window. The network still runs through
`CLIPVISModel.forward`; the fidelity tests run on both this and the reference.
"""
from __future__ import annotations

import torch

from ..heap import keep_freed_memory, release_freed_memory
from ..predictor import VideoPredictor
from .cpu_modules import use_cpu_modules


class CPUVideoPredictor(VideoPredictor):
    # Larger batches gain nothing on the CPU (the products are large already) and lose the
    # cache: the pixel decoder took 20% longer per frame in batches of 10 (bench_engine.py).
    cpu_batch = 2

    def __init__(self, model, **kwargs):
        device = torch.device(kwargs.get("device", "cpu"))
        if device.type != "cpu":
            raise ValueError(f"the CPU backend runs on the CPU, not on {device}")
        super().__init__(use_cpu_modules(model), **kwargs)

    def _inference_scope(self):
        return keep_freed_memory()

    def _window_done(self):
        # Each window frees hundreds of MB of activations between small arrays that stay (the
        # per-frame records); the heap keeps such freed pages, and a long video's resident
        # memory would creep up.
        release_freed_memory()
