"""VideoPredictor: streams a video through CLIP-VIS, window by window.

    predictor = load_predictor("clipvis_convnext_b_lvis")   # or "demo", or a checkpoint file
    result = predictor.predict("clip.mp4", vocabulary, progress=print)
    result2 = predictor.classify(result.analysis, other_vocabulary)  # no video pass

`propagate` is a generator (as SAM 2's `propagate_in_video`): it yields a
`Progress` after every window, so a UI can show progress and cancel. Only
small per-query tensors and compressed masks are kept per frame, never the
frames or their features, so memory does not grow with the video's mask
logits as in the official code.

The network runs through `CLIPVISModel.forward` only. This class is the
reference predictor; the CPU backend (clipvis/backends/cpu.py) is a subclass
that swaps faster modules into the model and scopes the heap setting it needs.
"""
from __future__ import annotations

import contextlib
import os
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator

import numpy as np
import torch
import torch.nn.functional as F

from .classify import classify_analysis
from .config import InferenceConfig
from .masks import FrameMaskCode, FramePixels
from .modeling import CLIPVISModel
from .preprocess import padded_hw, resize_frame, to_model_input
from .structures import VideoAnalysis, VideoMeta, VideoResult
from .text import TextEncoder
from .tracking import TopKMatcher
from .vocab import Vocabulary

__all__ = ["Cancelled", "EmptyVideoError", "InferenceConfig", "InferenceState", "Progress", "STAGES",
           "VideoPredictor"]

STAGES = ("backbone", "pixel_decoder", "decoder", "matching", "classification", "mask_encoding")


class Cancelled(RuntimeError):
    """The caller asked the run to stop."""


class EmptyVideoError(ValueError):
    pass


@dataclass
class Progress:
    frames_done: int
    num_frames: int | None
    stage: str
    elapsed: float

    @property
    def eta(self) -> float | None:
        if not self.num_frames or not self.frames_done:
            return None
        return self.elapsed / self.frames_done * (self.num_frames - self.frames_done)


@dataclass
class InferenceState:
    """Everything kept between windows of one video."""

    config: InferenceConfig
    matcher: TopKMatcher
    batch: int  # frames per pass through the network (halved on CUDA out-of-memory)
    frame_hw: tuple[int, int] | None = None
    input_hw: tuple[int, int] | None = None
    object_logits: list = field(default_factory=list)  # per frame (Q, 2)
    ious: list = field(default_factory=list)  # per frame (Q,)
    pooled: list = field(default_factory=list)  # per frame (Q, D)
    pool_empty: list = field(default_factory=list)
    pos_sigmoid_sum: list = field(default_factory=list)
    pos_count: list = field(default_factory=list)
    mask_codes: list = field(default_factory=list)  # FrameMaskCode, or a Future of one while the worker compresses it
    frames_seen: int = 0  # frames received, some maybe not yet run (window not full)
    timings: dict = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))
    started: float = field(default_factory=time.perf_counter)

    @property
    def frames_done(self) -> int:
        return len(self.ious)


class VideoPredictor:
    cpu_batch: int | None = None  # frames per pass on the CPU when the config says None (None: the window)

    def __init__(self, model: CLIPVISModel, *, tokenizer, config: InferenceConfig = InferenceConfig(),
                 device: str | torch.device = "cpu", text_cache_dir=None):
        self.model = model.to(device).eval()
        self.config = config
        self.device = torch.device(device)
        self.text = TextEncoder(model.backbone.clip_model, tokenizer, cache_dir=text_cache_dir, device=self.device)
        self._check_config(config)
        self._batch_cap: int | None = None  # after a CUDA out-of-memory: the batch that fitted
        self._encoder: ThreadPoolExecutor | None = None  # the masks' compression worker, made on first use

    # ---- the video pass -------------------------------------------------
    def init_state(self, **settings) -> InferenceState:
        """A new pass; `settings` override the predictor's config for this pass only
        (e.g. `min_size=640`), so one predictor serves callers with different settings."""
        c = self.config.replace(**settings) if settings else self.config
        self._check_config(c)
        batch = c.batch or (c.window if self.device.type == "cuda" else (self.cpu_batch or c.window))
        return InferenceState(config=c, matcher=TopKMatcher(memory_size=c.memory_size, top_k=c.top_k_frames),
                              batch=min(batch, self._batch_cap or batch))

    def propagate(self, frames: Iterable[np.ndarray], state: InferenceState, *, num_frames: int | None = None,
                  cancel=None) -> Iterator[Progress]:
        """Runs every frame (RGB uint8, H x W x 3); yields progress per window."""
        window: list[np.ndarray] = []
        with self._inference_scope():
            for frame in frames:
                if cancel is not None and cancel.is_set():
                    raise Cancelled("cancelled")
                window.append(self._check_frame(frame, state))
                if len(window) >= state.config.window:
                    self._run_window(window, state)
                    window = []
                    yield Progress(state.frames_done, num_frames, "frames", time.perf_counter() - state.started)
            if window:
                self._run_window(window, state)
                yield Progress(state.frames_done, num_frames, "frames", time.perf_counter() - state.started)

    def finish(self, state: InferenceState) -> VideoAnalysis:
        """The analysis of the frames run so far. It leaves `state` untouched, so
        it may also be called between windows for a live, provisional view
        (classify it to see the instances found so far)."""
        if state.frames_done == 0:
            raise EmptyVideoError("the video has no frames to analyse")
        _settle(state.mask_codes)
        stack = lambda xs: torch.stack(xs, 1)  # noqa: E731 - per-frame (Q, ...) -> (Q, T, ...)
        meta = VideoMeta(num_frames=state.frames_done, frame_hw=state.frame_hw, input_hw=state.input_hw,
                         padded_hw=padded_hw(*state.input_hw), clip_kind=self.model.backbone.kind)
        return VideoAnalysis(meta=meta, object_logits=stack(state.object_logits), ious=stack(state.ious),
                             pooled=stack(state.pooled), pool_empty=stack(state.pool_empty),
                             pos_sigmoid_sum=stack(state.pos_sigmoid_sum), pos_count=stack(state.pos_count),
                             mask_codes=list(state.mask_codes))

    def analyse(self, video, *, num_frames: int | None = None, progress: Callable[[Progress], None] | None = None,
                cancel=None, **settings) -> VideoAnalysis:
        """The video pass. `video`: a file or folder path, what `open_video` returns, or
        an iterable of RGB uint8 frames (H, W, 3); `settings` as for `init_state`."""
        frames, known = _frames_of(video)
        state = self.init_state(**settings)
        for p in self.propagate(frames, state, num_frames=num_frames or known, cancel=cancel):
            if progress is not None:
                progress(p)
        return self.finish(state)

    def predict(self, video, vocabulary: Vocabulary, *, num_frames: int | None = None,
                progress: Callable[[Progress], None] | None = None, cancel=None, **settings) -> VideoResult:
        """`analyse`, then `classify` with the vocabulary."""
        analysis = self.analyse(video, num_frames=num_frames, progress=progress, cancel=cancel, **settings)
        return self.classify(analysis, vocabulary, topk=settings.get("topk"))

    # ---- vocabulary ------------------------------------------------------
    def text_classifier(self, vocabulary: Vocabulary) -> tuple[torch.Tensor, list[int]]:
        return self.text.classifier(vocabulary.synonyms)

    def classify(self, analysis: VideoAnalysis, vocabulary: Vocabulary, *, topk: int | None = None) -> VideoResult:
        rows, per_class = self.text_classifier(vocabulary)
        return classify_analysis(analysis, vocabulary, text_rows=rows.cpu(), synonyms_per_class=per_class,
                                 logit_scale=self.model.backbone.clip_model.logit_scale.detach().cpu(),
                                 topk=topk or self.config.topk)

    # ---- internals -------------------------------------------------------
    def _check_frame(self, frame: np.ndarray, state: InferenceState) -> np.ndarray:
        frame = np.asarray(frame)
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise ValueError(f"frames must be RGB uint8 arrays (H, W, 3); got {frame.dtype} {frame.shape}")
        if state.frame_hw is None:
            state.frame_hw = frame.shape[:2]
        elif frame.shape[:2] != state.frame_hw:
            raise ValueError(f"frame {state.frames_seen} is {frame.shape[1]}x{frame.shape[0]}, "
                             f"the video started at {state.frame_hw[1]}x{state.frame_hw[0]}")
        state.frames_seen += 1
        return frame

    def _check_config(self, c: InferenceConfig):
        if c.precision == "fp16" and self.device.type != "cuda":
            raise ValueError("fp16 autocast needs a CUDA device; use bf16 on the CPU")

    def _inference_scope(self):
        """Held around a video pass; a backend may set process-wide state here, restored after."""
        return contextlib.nullcontext()

    def _window_done(self):
        """Called after each window (a backend may hand memory back here)."""

    def _autocast(self, precision: str):
        if precision == "fp32":
            return _ieee_fp32() if self.device.type == "cuda" else contextlib.nullcontext()
        dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}[precision]
        return torch.autocast(self.device.type, dtype=dtype)

    def _mask_worker(self, c: InferenceConfig) -> ThreadPoolExecutor | None:
        overlap = c.overlap_encoding if c.overlap_encoding is not None else self.device.type == "cuda"
        if overlap and self._encoder is None:
            self._encoder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clipvis-masks")
        return self._encoder if overlap else None

    def _run_window(self, frames: list[np.ndarray], state: InferenceState):
        # On CUDA out-of-memory the batch halves and the same frames run again.
        start = 0
        while start < len(frames):
            chunk = frames[start:start + state.batch]
            try:
                self._run_batch(chunk, state)
                start += len(chunk)
            except torch.OutOfMemoryError:
                if state.batch == 1:
                    raise
                torch.cuda.empty_cache()
                state.batch = self._batch_cap = max(1, state.batch // 2)
        self._window_done()

    def _timed(self, state, stage):
        return _Timer(state.timings, stage, self.device)

    @torch.no_grad()
    def _run_batch(self, frames: list[np.ndarray], state: InferenceState):
        c = state.config
        resized = [resize_frame(f, c.min_size, c.max_size) for f in frames]
        state.input_hw = resized[0].shape[:2]
        self._absorb(self._forward(resized, c.precision, state.timings), state)

    @torch.no_grad()
    def _forward(self, resized: list[np.ndarray], precision: str, timings: dict) -> dict:
        """The network on resized frames of one size: what the rest of the pass
        needs, per frame and query slot, in the network's order. No state: a
        ZeroGPU worker runs it (clipvis/chunks.py) and the caller absorbs it."""
        x = to_model_input(resized, device=self.device)
        model = self.model
        with self._autocast(precision):
            with _stage_timers(model, timings, self.device):
                out = model(x)
            dec, dense = out.decoder, out.dense
            with _Timer(timings, "classification", self.device):
                small = F.interpolate(dec.mask_logits.float(), size=dense.shape[-2:], mode="bilinear",
                                      align_corners=False)
                pooled = model.backbone.pool(dense, small.to(dense.dtype)).float()
                empty = ~(small > 0).flatten(2).any(-1)
        pooled = torch.nan_to_num(pooled)  # ResNet: an empty mask attends to nothing (its logits are zeroed)
        masks = dec.mask_logits.float()
        with _Timer(timings, "mask_encoding", self.device):
            # Per query slot, on the device that ran the network, wherever the outputs are absorbed.
            positive = masks > 0
            pos_sigmoid_sum = (masks.sigmoid() * positive).flatten(2).sum(2)
            pos_count = torch.count_nonzero(positive, dim=(2, 3)).float()
        return {"embeddings": dec.embeddings, "object_logits": dec.object_logits, "ious": dec.ious,
                "masks": masks, "pooled": pooled, "empty": empty, "pos_sigmoid_sum": pos_sigmoid_sum,
                "pos_count": pos_count}

    def _absorb(self, out: dict, state: InferenceState):
        """A batch's network outputs joined to the pass: matched to the tracks, masks compressed."""
        c = state.config
        masks = out["masks"]
        worker = self._mask_worker(c)
        with self._timed(state, "mask_encoding"):
            # The previous window's masks, compressed on the worker while this window ran on the device.
            _settle(state.mask_codes)
        for j in range(len(masks)):
            with self._timed(state, "matching"):
                perm = torch.from_numpy(state.matcher(out["embeddings"][j]))
            p = perm.to(masks.device)
            with self._timed(state, "mask_encoding"):
                state.pos_sigmoid_sum.append(out["pos_sigmoid_sum"][j, p].cpu())
                state.pos_count.append(out["pos_count"][j, p].cpu())
                pixels = FramePixels.of(masks[j, p])
                state.mask_codes.append(worker.submit(FrameMaskCode.from_pixels, pixels) if worker
                                        else FrameMaskCode.from_pixels(pixels))
            state.object_logits.append(out["object_logits"][j, p].float().cpu())
            state.ious.append(out["ious"][j, p].float().cpu())
            state.pooled.append(out["pooled"][j, p].cpu())
            state.pool_empty.append(out["empty"][j, p].cpu())


def _frames_of(video) -> tuple[Iterable[np.ndarray], int | None]:
    """(frames, their number if known) of what `analyse` accepts."""
    from .video import VideoSource, open_video
    if isinstance(video, (str, os.PathLike)):
        video = open_video(video)
    if isinstance(video, VideoSource):
        return (frame for _, frame in video), len(video)
    if isinstance(video, np.ndarray) and video.ndim == 4:  # (T, H, W, 3)
        return iter(video), len(video)
    return _plain_frames(video), None


def _plain_frames(frames: Iterable) -> Iterator[np.ndarray]:
    for item in frames:
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], np.ndarray):
            raise ValueError("got (index, frame) pairs: pass the video that `open_video` returned itself, "
                             "or its frames alone, e.g. (frame for _, frame in video)")
        yield item


def _settle(codes: list) -> None:
    """Replace the compressions still running on the worker with their results.
    Futures are only ever at the end of the list (earlier ones were settled)."""
    i = len(codes) - 1
    while i >= 0 and isinstance(codes[i], Future):
        i -= 1
    for j in range(i + 1, len(codes)):
        codes[j] = codes[j].result()


@contextlib.contextmanager
def _ieee_fp32():
    """fp32 means fp32 on CUDA too. PyTorch runs cuDNN convolutions in TF32 by
    default on Ampere and later (a 10-bit mantissa): on an H100 that moved the
    oracle's object logits by 2e-3 and flipped mask pixels. Set for the forward
    only, then restored. If the caller mixed PyTorch's old and new TF32 APIs,
    the flags cannot be read, and we leave them as the caller chose."""
    try:
        saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    except RuntimeError:
        yield
        return
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


@contextlib.contextmanager
def _stage_timers(model: CLIPVISModel, timings: dict, device: torch.device):
    """Time the forward's stages (backbone, pixel decoder, decoder) by hooks on their
    modules, so the predictor runs `model(x)` itself and still reports where time goes."""
    stages = {"backbone": model.backbone, "pixel_decoder": model.sem_seg_head.pixel_decoder,
              "decoder": model.sem_seg_head.predictor}
    handles = []
    for name, module in stages.items():
        timer = _Timer(timings, name, device)
        handles.append(module.register_forward_pre_hook(lambda *_, t=timer: t.__enter__()))
        handles.append(module.register_forward_hook(lambda *_, t=timer: t.__exit__()))
    try:
        yield
    finally:
        for h in handles:
            h.remove()


class _Timer:
    def __init__(self, timings: dict, stage: str, device: torch.device):
        self.timings, self.stage, self.device = timings, stage, device

    def __enter__(self):
        self.t0 = time.perf_counter()

    def __exit__(self, *exc):
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        self.timings[self.stage] += time.perf_counter() - self.t0
