"""The predictor, loaded lazily on the first run and then kept for the process.

`python app.py` must start (and importing, reviewing and correcting must
work) without any weights, so nothing here loads at construction. The first
run loads the chosen model under a lock; a missing file raises
WeightsUnavailable, whose message says which file to place where.

One video pass at a time: the accelerator is shared by all users, so passes
queue on `_inference` (Gradio's queue also limits the run event to one).
On a Hugging Face ZeroGPU Space the pass runs under `spaces.GPU`.
"""
from __future__ import annotations

import dataclasses
import threading

from clipvis import CHECKPOINTS, InferenceConfig, load_predictor

try:  # ZeroGPU Spaces: GPU time is granted per decorated call
    import spaces

    _gpu = spaces.GPU(duration=300)
except ImportError:
    def _gpu(fn):
        return fn

DEFAULT = "default"
CUSTOM = "custom"


class ModelService:
    def __init__(self, args, *, allow_custom: bool = False, keep: int = 2):
        """args: the parsed model flags (clipvis.commands.model_args)."""
        self.args = args
        self.allow_custom = allow_custom
        self.keep = keep  # predictors held at once (each is a full model)
        self._predictors: dict = {}
        self._load_lock = threading.Lock()
        self._inference = threading.Lock()

    def choices(self) -> list[tuple[str, str]]:
        """(label, value) for the model picker: the configured model first."""
        default = self.args.checkpoint or self.args.model
        out = [(f"configured: {default}", DEFAULT)]
        out += [(f"{c.name} — {c.title}", c.name) for c in CHECKPOINTS.values()]
        if self.allow_custom:
            out.append(("custom checkpoint path…", CUSTOM))
        return out

    def spec(self, choice: str, custom_path: str = "") -> str:
        """The key a model is loaded and remembered under."""
        if choice in (None, "", DEFAULT):
            return DEFAULT
        if choice == CUSTOM:
            if not self.allow_custom:
                raise ValueError("custom checkpoints are off on this server (start it with --allow-custom-checkpoint)")
            if not (custom_path or "").strip():
                raise ValueError("type the path of a checkpoint file on the server")
            return custom_path.strip()
        if choice not in CHECKPOINTS:
            raise ValueError(f"unknown model {choice!r}")
        return choice

    def loaded(self, spec: str) -> bool:
        return spec in self._predictors

    def get(self, spec: str = DEFAULT):
        """The predictor for `spec`, loading it once (WeightsUnavailable if the file is missing)."""
        with self._load_lock:
            if spec not in self._predictors:
                a = self.args
                cfg = InferenceConfig(min_size=a.min_size, max_size=a.max_size, window=a.window,
                                      memory_size=a.memory, top_k_frames=a.top_k_frames, topk=a.topk,
                                      precision=a.precision)
                if spec == DEFAULT:
                    predictor = load_predictor(a.checkpoint or a.model, clip_model=a.clip_model,
                                               clip_config=a.clip_config, device=a.device, config=cfg)
                else:  # an official name (its own CLIP) or a custom file (CLIP from the flags)
                    custom = spec not in CHECKPOINTS
                    predictor = load_predictor(spec, clip_model=a.clip_model if custom else None,
                                               clip_config=a.clip_config if custom else None,
                                               device=a.device, config=cfg)
                while len(self._predictors) >= self.keep:
                    self._predictors.pop(next(iter(self._predictors)))
                self._predictors[spec] = predictor
            return self._predictors[spec]

    def analyse(self, spec: str, frames, *, num_frames: int, min_size: int, cancel, on_progress, on_wait=None):
        """One video pass; returns the engine's VideoAnalysis. Raises Cancelled."""
        if not self._inference.acquire(blocking=False):
            if on_wait is not None:
                on_wait()
            self._inference.acquire()
        try:
            return _analyse(self.get(spec), frames, num_frames, min_size, cancel, on_progress)
        finally:
            self._inference.release()

    def classify(self, spec: str, analysis, vocabulary):
        """Classify a stored analysis with a vocabulary (fast: no video pass).
        Must be the model that made the analysis: the CLIP spaces differ."""
        return self.get(spec).classify(analysis, vocabulary)


@_gpu
def _analyse(predictor, frames, num_frames, min_size, cancel, on_progress):
    # The input size is a per-run choice; the predictor is used by one pass at a time.
    predictor.config = dataclasses.replace(predictor.config, min_size=int(min_size))
    state = predictor.init_state()
    for progress in predictor.propagate(frames, state, num_frames=num_frames, cancel=cancel):
        on_progress(progress)
    return predictor.finish(state)
