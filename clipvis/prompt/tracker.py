"""PromptTracker: click or box on a frame, get its mask, then track it through
the video with SAM 2 (transformers' `Sam2VideoModel`).

    tracker = load_prompt_tracker()                 # SAM 2.1 Hiera-Tiny, or $CLIPVIS_SAM_MODEL
    session = tracker.session(frames)               # one object in one video
    session.prepare(12)                             # optional: encode frame 12 ahead of the click
    first = session.prompt(12, Prompt.click(320, 200))      # the mask on frame 12 (the preview)
    for step in session.propagate(cancel=event):    # frame 12, then 13.. the end, then 11.. 0
        keep(step.frame, step.mask)
    session.prompt(80, Prompt(points=((300, 190), (310, 240)), labels=(1, 0)))  # a correction
    for step in session.propagate(start=80, direction="forward"):  # 80.. the end again
        keep(step.frame, step.mask)

One session tracks one object and is used from one thread at a time.
"""
from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch

from .frames import frame_source
from .hub import fetch_sam_model, load_sam_model, sam_model_name
from .memory import StreamedSession, memory_horizon
from .prompts import Prompt, PromptError

MAX_PROMPTED_FRAMES = 100  # a prompted frame's memory is kept for the session (about 2 MB each)
DIRECTIONS = ("both", "forward", "backward")


@dataclass(frozen=True)
class TrackStep:
    """The object's mask on one frame, and how far the run is."""

    frame: int
    mask: np.ndarray  # (H, W) bool, the frame's size
    score: float  # SAM 2's object score (a logit): > 0 when it sees the object on this frame
    done: int  # frames handed out so far in this run, this one included
    total: int  # frames this run hands out
    elapsed: float  # seconds since the run started

    @property
    def visible(self) -> bool:
        return self.score > 0


class PromptTracker:
    """A SAM 2 video model ready to run: weights, preprocessing, device, precision.

    precision: "auto" (bf16 autocast on CUDA, as SAM 2 is run officially, and
    on CPUs with native bf16, where it halves the image encoder's time), "bf16",
    "fp16" (CUDA only) or "fp32".
    """

    def __init__(self, model, processor, *, device: str | torch.device = "cpu", precision: str = "auto",
                 name: str = ""):
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.processor = processor
        self.precision = resolve_precision(precision, self.device)
        self.name = name
        self.horizon = memory_horizon(model.config)

    def session(self, frames) -> "PromptSession":
        """A new, empty tracking session over `frames` (see clipvis.prompt.frames)."""
        return PromptSession(self, frames)

    def autocast(self):
        if self.precision == "fp32":
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if self.precision == "bf16" else torch.float16
        return torch.autocast(self.device.type, dtype=dtype)

    def preprocess(self, frame: np.ndarray) -> torch.Tensor:
        """An RGB frame -> SAM 2's (3, S, S) input (square resize, ImageNet normalisation)."""
        return self.processor(images=frame, return_tensors="pt").pixel_values[0]


class PromptSession:
    """One object tracked through one video from the prompts given on its frames."""

    def __init__(self, tracker: PromptTracker, frames):
        self.tracker = tracker
        self.frames = frame_source(frames)
        self.num_frames = len(self.frames)
        self.frame_hw = self.frames.frame_hw
        self.prompts: dict[int, Prompt] = {}
        self.last_prompted: int | None = None
        self._memory_pending: set[int] = set()  # prompted frames whose memory is not encoded yet
        dev = tracker.device
        self._state = StreamedSession(num_frames=self.num_frames, frame_hw=self.frame_hw,
                                      load_frame=lambda i: tracker.preprocess(self.frames.frame(i)),
                                      inference_device=dev, inference_state_device=dev, video_storage_device=dev,
                                      dtype=torch.float32)

    # ---- one frame ---------------------------------------------------------
    def prepare(self, frame: int):
        """Encode a frame's image now (the slow part of a first click on it),
        so that `prompt` on it only runs the light decoder."""
        self._check_index(frame)
        with torch.inference_mode(), self.tracker.autocast():
            self.tracker.model._prepare_vision_features(self._state, frame, batch_size=1)

    def prompt(self, frame: int, prompt: Prompt) -> TrackStep:
        """Set `frame`'s prompt (it replaces an earlier one on that frame) and
        return the object's mask there. On a frame a propagation already
        tracked, the prompt is a correction: the mask also uses what SAM 2
        remembers from the other prompted frames, and the frame becomes a
        prompted frame, whose memory steers every later propagation."""
        self._check_index(frame)
        prompt = prompt.checked(self.frame_hw)
        if frame not in self.prompts and len(self.prompts) >= MAX_PROMPTED_FRAMES:
            raise PromptError(f"this object has prompts on {len(self.prompts)} frames already; "
                              f"at most {MAX_PROMPTED_FRAMES}")
        st, t0 = self._state, time.perf_counter()
        tracked = frame in st.frames_tracked_per_obj[st.obj_idx]
        if tracked:
            self._encode_pending_memory()  # a correction reads the prompted frames' memory
        st.forget_frame(frame)
        self.prompts.pop(frame, None)
        self._memory_pending.discard(frame)
        if self.last_prompted == frame:
            self.last_prompted = max(self.prompts, default=None)
        # Until SAM 2 has run on the new prompt, the frame has none: a failure leaves it unprompted.
        out = self._run_prompt(frame, prompt, memory=tracked)
        if tracked:
            st.make_conditioning(frame)
        else:
            # The preview skips SAM 2's memory encoder (half of a click's time on a CPU); the
            # frame's memory is encoded when a propagation or a correction first needs it.
            self._memory_pending.add(frame)
        st.prune(lambda f: False)
        self.prompts[frame] = prompt
        self.last_prompted = frame
        return self._step(out, frame, 1, 1, t0)

    def _run_prompt(self, frame: int, prompt: Prompt, *, memory: bool):
        """SAM 2's forward on a prompted frame; `memory`: also encode its memory."""
        st = self._state
        self._add_inputs(frame, prompt)
        # A correction reads the prompted frames' memory in the direction they lie:
        # backward when they all come after this frame.
        tracked = frame in st.frames_tracked_per_obj[st.obj_idx]
        reverse = tracked and not any(f < frame for f in st.conditioning_frames() if f != frame)
        try:
            with self.tracker.autocast():
                return self.tracker.model(inference_session=st, frame_idx=frame, reverse=reverse,
                                          run_mem_encoder=memory)
        finally:
            st.obj_with_new_inputs = []

    def _encode_pending_memory(self):
        """Run the prompts whose memory the previews skipped again, now with
        it: the same inputs give the same mask, and its memory."""
        for frame in sorted(self._memory_pending):
            self._run_prompt(frame, self.prompts[frame], memory=True)
        self._memory_pending.clear()

    # ---- the video -----------------------------------------------------------
    def propagate(self, start: int | None = None, direction: str = "both", cancel=None) -> Iterator[TrackStep]:
        """Track the object from the prompted frame `start` (default: the last
        one prompted): forward to the last frame, then backward to frame 0
        ("both"), or one of the two. Yields a TrackStep per frame, `start`
        first; prompted frames on the way keep their prompted masks. Raises
        clipvis.Cancelled when `cancel` (a threading.Event) is set."""
        from clipvis.predictor import Cancelled

        start = self.last_prompted if start is None else start
        if start is None or start not in self._state.conditioning_frames():
            raise PromptError("nothing to track yet: click on the object first" if start is None else
                              f"frame {start} has no prompt: propagation starts from a frame you clicked on")
        if direction not in DIRECTIONS:
            raise ValueError(f"direction is one of {', '.join(DIRECTIONS)}; got {direction!r}")
        runs = []  # (frames in order, tracking backward?)
        if direction in ("both", "forward"):
            runs.append((range(start, self.num_frames), False))
        if direction in ("both", "backward"):
            runs.append((range(start, -1, -1), True))
        total = len({f for order, _ in runs for f in order})
        st, model, h = self._state, self.tracker.model, self.tracker.horizon
        st.forget_tracked()
        self._encode_pending_memory()
        t0, done = time.perf_counter(), 0
        try:
            for r, (order, reverse) in enumerate(runs):
                later = [_span(o) for o, _ in runs[r + 1:]]
                for i, (t, frame) in enumerate(self.frames.read(order)):
                    if cancel is not None and cancel.is_set():
                        raise Cancelled("cancelled")
                    st.stage(t, self.tracker.preprocess(frame))
                    with self.tracker.autocast():
                        out = model(inference_session=st, frame_idx=t, reverse=reverse)
                    pending = later + ([_span(order[i + 1:])] if len(order) > i + 1 else [])
                    st.prune(lambda f: any(lo - h <= f <= hi + h for lo, hi in pending))
                    if r > 0 and t == start:
                        continue  # handed out by the first run already
                    done += 1
                    yield self._step(out, t, done, total, t0)
        finally:
            st.prune(lambda f: False)

    def held_memory(self) -> dict[str, list[int]]:
        """Frames whose SAM 2 memory is held now (for tests and benchmarks)."""
        return {"prompted": self._state.conditioning_frames(), "tracked": self._state.tracked_frames_held()}

    # ---- internals -------------------------------------------------------------
    def _check_index(self, frame: int):
        if not isinstance(frame, (int, np.integer)) or not 0 <= frame < self.num_frames:
            raise PromptError(f"frame {frame!r} does not exist: the video has frames 0 to {self.num_frames - 1}")

    def _add_inputs(self, frame: int, prompt: Prompt):
        if prompt.mask is not None:
            self.tracker.processor.add_inputs_to_inference_session(
                inference_session=self._state, frame_idx=frame, obj_ids=StreamedSession.OBJECT_ID,
                input_masks=prompt.mask)
            return
        points = [[[list(p) for p in prompt.points]]] if prompt.points else None
        labels = [[list(prompt.labels)]] if prompt.points else None
        boxes = [[list(prompt.box)]] if prompt.box is not None else None
        self.tracker.processor.add_inputs_to_inference_session(
            inference_session=self._state, frame_idx=frame, obj_ids=StreamedSession.OBJECT_ID,
            input_points=points, input_labels=labels, input_boxes=boxes, clear_old_inputs=True)

    def _step(self, out, frame: int, done: int, total: int, t0: float) -> TrackStep:
        logits = out.pred_masks[:1].float()
        mask = self.tracker.processor.post_process_masks([logits], original_sizes=[list(self.frame_hw)],
                                                         binarize=True)[0][0, 0]
        return TrackStep(frame=frame, mask=mask.cpu().numpy(), score=float(out.object_score_logits.reshape(-1)[0]),
                         done=done, total=total, elapsed=time.perf_counter() - t0)


def _span(frames: range) -> tuple[int, int]:
    return min(frames[0], frames[-1]), max(frames[0], frames[-1])


def resolve_precision(precision: str, device: torch.device) -> str:
    if precision not in ("auto", "fp32", "bf16", "fp16"):
        raise ValueError(f"precision is auto, fp32, bf16 or fp16; got {precision!r}")
    if precision == "fp16" and device.type != "cuda":
        raise ValueError("fp16 autocast needs a CUDA device; use bf16 or fp32 on the CPU")
    if precision != "auto":
        return precision
    if device.type == "cuda":
        return "bf16"
    native_bf16 = torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()
    return "bf16" if native_bf16 else "fp32"


def load_prompt_tracker(name: str | None = None, *, device: str | None = "auto", precision: str = "auto",
                        cache_dir=None, tqdm_class=None) -> PromptTracker:
    """The SAM 2 model `name` (a Hub repository or a folder; default
    $CLIPVIS_SAM_MODEL or SAM 2.1 Hiera-Tiny), downloaded into the Hugging Face
    cache on first use. Raises SamModelUnavailable with what to do when it
    cannot be had."""
    from clipvis.build import resolve_device

    name = sam_model_name(name)
    dev = resolve_device(device)
    model, processor = load_sam_model(fetch_sam_model(name, cache_dir=cache_dir, tqdm_class=tqdm_class), device=dev)
    return PromptTracker(model, processor, device=dev, precision=precision, name=name)
