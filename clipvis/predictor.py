"""VideoPredictor: streams a video through CLIP-VIS, window by window.

    predictor = load_predictor("clipvis_convnext_b_lvis")
    result = predictor.predict(frames, vocabulary, progress=print)
    result2 = predictor.classify(result.analysis, other_vocabulary)  # no video pass

`propagate` is a generator (as SAM 2's `propagate_in_video`): it yields a
`Progress` after every window, so a UI can show progress and cancel. Only
small per-query tensors and compressed masks are kept per frame, never the
frames or their features, so memory does not grow with the video's mask
logits as in the official code.
"""
from __future__ import annotations

import contextlib
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator

import numpy as np
import torch
import torch.nn.functional as F

from .classify import classify_analysis
from .heap import keep_freed_memory, release_freed_memory
from .masks import FrameMaskCode, FramePixels
from .modeling import CLIPVISModel
from .preprocess import padded_hw, resize_frame, to_model_input
from .structures import VideoAnalysis, VideoMeta, VideoResult
from .text import TextEncoder
from .tracking import TopKMatcher
from .vocab import Vocabulary

STAGES = ("backbone", "pixel_decoder", "decoder", "matching", "classification", "mask_encoding")


class Cancelled(RuntimeError):
    """The caller asked the run to stop."""


class EmptyVideoError(ValueError):
    pass


CPU_BATCH = 2  # frames per pass through the network on the CPU (see InferenceConfig.batch)


@dataclass(frozen=True)
class InferenceConfig:
    min_size: int = 480
    max_size: int = 1333
    window: int = 10  # frames per window: read, run and stored together, then memory is handed back
    # Frames per pass through the network within a window. None: the whole window on a GPU, 2 on
    # the CPU, where larger batches gain nothing (the products are large already) and lose the
    # cache: the pixel decoder took 20% longer per frame in batches of 10 (bench_engine.py).
    batch: int | None = None
    memory_size: int = 9  # frames in the matching memory
    top_k_frames: int = 5  # memory frames averaged for the assignment
    topk: int = 50  # instances kept per video
    precision: str = "fp32"  # fp32 (IEEE: TF32 off on CUDA) | bf16 | fp16 (autocast; fp16 on CUDA only)
    # Compress a window's masks (pycocotools, CPU) on a worker thread while the next window
    # runs on the device. None: on CUDA only (on the CPU both would share the same cores).
    overlap_encoding: bool | None = None


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

    matcher: TopKMatcher
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
    def __init__(self, model: CLIPVISModel, *, tokenizer, config: InferenceConfig = InferenceConfig(),
                 device: str | torch.device = "cpu", text_cache_dir=None):
        self.model = model.to(device).eval()
        self.config = config
        self.device = torch.device(device)
        self.text = TextEncoder(model.backbone.clip_model, tokenizer, cache_dir=text_cache_dir, device=self.device)
        self._batch = config.batch or (config.window if self.device.type == "cuda" else CPU_BATCH)
        if config.precision == "fp16" and self.device.type != "cuda":
            raise ValueError("fp16 autocast needs a CUDA device; use bf16 on CPU")
        if self.device.type == "cpu":
            keep_freed_memory()
        overlap = config.overlap_encoding if config.overlap_encoding is not None else self.device.type == "cuda"
        self._encoder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clipvis-masks") if overlap else None

    # ---- the video pass -------------------------------------------------
    def init_state(self) -> InferenceState:
        c = self.config
        return InferenceState(matcher=TopKMatcher(memory_size=c.memory_size, top_k=c.top_k_frames))

    def propagate(self, frames: Iterable[np.ndarray], state: InferenceState, *, num_frames: int | None = None,
                  cancel=None) -> Iterator[Progress]:
        """Runs every frame (RGB uint8, H x W x 3); yields progress per window."""
        window: list[np.ndarray] = []
        for frame in frames:
            if cancel is not None and cancel.is_set():
                raise Cancelled("cancelled")
            window.append(self._check_frame(frame, state))
            if len(window) >= self.config.window:
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

    def analyse(self, frames: Iterable[np.ndarray], *, num_frames: int | None = None,
                progress: Callable[[Progress], None] | None = None, cancel=None) -> VideoAnalysis:
        state = self.init_state()
        for p in self.propagate(frames, state, num_frames=num_frames, cancel=cancel):
            if progress is not None:
                progress(p)
        return self.finish(state)

    def predict(self, frames: Iterable[np.ndarray], vocabulary: Vocabulary, *, num_frames: int | None = None,
                progress: Callable[[Progress], None] | None = None, cancel=None) -> VideoResult:
        return self.classify(self.analyse(frames, num_frames=num_frames, progress=progress, cancel=cancel),
                             vocabulary)

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

    def _autocast(self):
        p = self.config.precision
        if p == "fp32":
            return _ieee_fp32() if self.device.type == "cuda" else contextlib.nullcontext()
        dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}[p]
        return torch.autocast(self.device.type, dtype=dtype)

    def _run_window(self, frames: list[np.ndarray], state: InferenceState):
        # On CUDA out-of-memory the batch halves and the same frames run again.
        start = 0
        while start < len(frames):
            chunk = frames[start:start + self._batch]
            try:
                self._run_batch(chunk, state)
                start += len(chunk)
            except torch.OutOfMemoryError:
                if self._batch == 1:
                    raise
                torch.cuda.empty_cache()
                self._batch = max(1, self._batch // 2)
        # Each window frees hundreds of MB of activations between small arrays that stay (the
        # per-frame records); the heap keeps such freed pages, and a long video's
        # resident memory would creep up.
        release_freed_memory()

    def _timed(self, state, stage):
        return _Timer(state.timings, stage, self.device)

    @torch.no_grad()
    def _run_batch(self, frames: list[np.ndarray], state: InferenceState):
        c = self.config
        resized = [resize_frame(f, c.min_size, c.max_size) for f in frames]
        state.input_hw = resized[0].shape[:2]
        x = to_model_input(resized, device=self.device)
        model = self.model
        with self._autocast():
            with self._timed(state, "backbone"):
                feats = model.backbone.extract(x)
            with self._timed(state, "pixel_decoder"), torch.autocast(self.device.type, enabled=False):
                mask_features, multi_scale = model.sem_seg_head.pixel_decoder(feats)
            with self._timed(state, "decoder"):
                out = model.sem_seg_head.predictor(multi_scale, mask_features)
            dense = feats["clip_vis_dense"]
            with self._timed(state, "classification"):
                small = F.interpolate(out.mask_logits.float(), size=dense.shape[-2:], mode="bilinear",
                                      align_corners=False)
                pooled = model.backbone.pool(dense, small.to(dense.dtype)).float()
                empty = ~(small > 0).flatten(2).any(-1)
        pooled = torch.nan_to_num(pooled)  # ResNet: an empty mask attends to nothing (its logits are zeroed)
        masks = out.mask_logits.float()
        with self._timed(state, "mask_encoding"):
            # The previous window's masks, compressed on the worker while this window ran on the device.
            _settle(state.mask_codes)
        for j in range(len(frames)):
            with self._timed(state, "matching"):
                perm = torch.from_numpy(state.matcher(out.embeddings[j]))
            p = perm.to(self.device)
            with self._timed(state, "mask_encoding"):
                m = masks[j, p]
                positive = m > 0
                state.pos_sigmoid_sum.append((m.sigmoid() * positive).flatten(1).sum(1).cpu())
                state.pos_count.append(torch.count_nonzero(positive, dim=(1, 2)).float().cpu())
                pixels = FramePixels.of(m)
                state.mask_codes.append(self._encoder.submit(FrameMaskCode.from_pixels, pixels) if self._encoder
                                        else FrameMaskCode.from_pixels(pixels))
            state.object_logits.append(out.object_logits[j, p].float().cpu())
            state.ious.append(out.ious[j, p].float().cpu())
            state.pooled.append(pooled[j, p].cpu())
            state.pool_empty.append(empty[j, p].cpu())


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


class _Timer:
    def __init__(self, timings: dict, stage: str, device: torch.device):
        self.timings, self.stage, self.device = timings, stage, device

    def __enter__(self):
        self.t0 = time.perf_counter()

    def __exit__(self, *exc):
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        self.timings[self.stage] += time.perf_counter() - self.t0
