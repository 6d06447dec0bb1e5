"""SAM 2's inference session with frames streamed in and its memory bounded.

transformers' `Sam2VideoInferenceSession` keeps every preprocessed frame (12 MB
each at 1024x1024 fp32) and every frame's outputs (a 4 MB high-resolution
mask, 1.5 MB of memory features, ...), so a 455-frame video would hold
about 8 GB. This subclass changes only where those live:

- frames are fetched one at a time from the caller's frame source (the one
  being run is staged; any other is read on demand) and never stored;
- after each frame, `prune` drops the outputs SAM 2 will not read again.

What SAM 2 reads (transformers 5.x `Sam2VideoModel`, as the official code):
the outputs of every conditioning (prompted) frame, and, for frame t, the
outputs of the non-conditioning frames t-1 .. t-(num_maskmem-1) (mask
memories) and t-1 .. t-(max_object_pointers_in_encoder-1) (object pointers),
mirrored (t+1, ...) when tracking backward. So a tracked frame's outputs are
kept while some frame still to be run lies within that horizon of it, and
only the parts memory reads (memory features, their position encoding,
object pointer, object score). The masks the model returns are handed to the
caller and not kept, except a prompted frame's low-resolution mask, which
SAM 2 returns again when propagation passes that frame.

The model's own forward runs unchanged; tests check that the masks equal
transformers' unbounded session frame for frame.
"""
from __future__ import annotations

from typing import Callable

import torch

try:
    from transformers import Sam2VideoInferenceSession
except ImportError as e:  # the package's other parts do not need it
    raise ImportError("clipvis.prompt needs transformers' SAM 2 (transformers 5.24, as requirements.txt pins): "
                      "pip install transformers==5.24.0") from e

# Outputs a later frame reads from a tracked frame (see the docstring).
MEMORY_KEYS = frozenset({"maskmem_features", "maskmem_pos_enc", "object_pointer", "object_score_logits"})


def memory_horizon(config) -> int:
    """How many frames away a tracked frame's memory is still read."""
    return max(config.num_maskmem - 1, config.max_object_pointers_in_encoder - 1, 1)


class StreamedSession(Sam2VideoInferenceSession):
    """One object's session over a video of `num_frames` whose frames
    `load_frame(index) -> (3, S, S) tensor` preprocesses on demand."""

    OBJECT_ID = 1

    def __init__(self, *, num_frames: int, frame_hw: tuple[int, int],
                 load_frame: Callable[[int], torch.Tensor], **kwargs):
        super().__init__(video_height=frame_hw[0], video_width=frame_hw[1], **kwargs)
        self._num_frames = num_frames
        self._load_frame = load_frame
        self._staged: tuple[int, torch.Tensor] | None = None
        self.obj_idx = self.obj_id_to_idx(self.OBJECT_ID)

    @property
    def num_frames(self) -> int:  # the video's length, though no frame is stored
        return self._num_frames

    def stage(self, index: int, pixels: torch.Tensor):
        """The frame about to run, read in propagation order by the caller."""
        self._staged = (index, pixels)

    def get_frame(self, frame_idx: int) -> torch.Tensor:
        if self._staged is not None and self._staged[0] == frame_idx:
            pixels = self._staged[1]
        else:
            pixels = self._load_frame(frame_idx)
        return pixels.to(self.inference_device, dtype=self.dtype, non_blocking=True)

    # ---- what is stored per frame -----------------------------------------
    @property
    def _outputs(self) -> dict:
        return self.output_dict_per_obj[self.obj_idx]

    def conditioning_frames(self) -> list[int]:
        return sorted(self._outputs["cond_frame_outputs"])

    def tracked_frames_held(self) -> list[int]:
        """Tracked (non-prompted) frames whose memory is held now."""
        return sorted(self._outputs["non_cond_frame_outputs"])

    def forget_frame(self, frame_idx: int):
        """Drop a frame's outputs and inputs, before it is prompted anew."""
        for key in ("cond_frame_outputs", "non_cond_frame_outputs"):
            self._outputs[key].pop(frame_idx, None)
        self.remove_point_inputs(self.obj_idx, frame_idx)
        self.remove_mask_inputs(self.obj_idx, frame_idx)

    def make_conditioning(self, frame_idx: int):
        """A correction on a tracked frame: the model stored its output as a
        tracked frame's; keep it as a prompted frame's, so its memory lasts."""
        out = self._outputs["non_cond_frame_outputs"].pop(frame_idx, None)
        if out is not None:
            self._outputs["cond_frame_outputs"][frame_idx] = out

    def forget_tracked(self):
        """Before a propagation: tracked memory from an earlier run is stale."""
        self._outputs["non_cond_frame_outputs"].clear()

    def prune(self, pending: Callable[[int], bool]):
        """Keep a tracked frame's memory only if `pending(frame)` says a frame
        still to be run reads it; strip what memory does not read."""
        tracked = self._outputs["non_cond_frame_outputs"]
        for f in [f for f in tracked if not pending(f)]:
            del tracked[f]
        for out in tracked.values():
            for key in [k for k in out if k not in MEMORY_KEYS]:
                del out[key]
        for out in self._outputs["cond_frame_outputs"].values():
            out.pop("high_res_masks", None)
        self._staged = None
