"""Track: SAM 2 propagation of a click, as a background job in the model runs' queue.

A TrackJob is a RunJob (app/run_job.py) with other work: it waits in the
same queue (one model job at a time on the shared accelerator), reports
frames done the same way, and Cancel reaches it the same way. Nothing is
written until the end: the masks (full size, RLE), the pooled CLIP vector and
the label are committed as ONE undoable edit, so a cancelled or failed Track
leaves the session as it was.

From the frame clicked last: a new track runs forward to the end and backward
to frame 0; replacing a track (or correcting a clicked one on a later frame)
runs forward only, and the frames before stay as they were.
"""
from __future__ import annotations

import time
import traceback
from dataclasses import dataclass

import cv2
import numpy as np

from clipvis import Cancelled, CheckpointMismatch, UnknownCLIPModel, WeightsUnavailable

from app.clicks.labels import pool_and_classify, top_pairs
from app.run_job import RUNS, RunJob
from app.session import SaveError, StaleEdit, operations


def full_size(mask: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    """A display-size mask at the video's full size (nearest neighbour)."""
    if mask.shape == tuple(hw):
        return mask
    return cv2.resize(mask.view(np.uint8), (hw[1], hw[0]), interpolation=cv2.INTER_NEAREST).view(bool)


@dataclass(eq=False)
class TrackJob(RunJob):
    prompts: object = None  # app.clicks.service.Prompts
    token: str = ""
    click: object = None  # app.clicks.service.Click
    replace: int | None = None  # the track replaced from `start` on; None: a new track
    from_frame: int = 0  # the frame clicked last: propagation starts there
    base_revision: int | None = None
    track_id: int | None = None  # the track made or replaced, once committed

    def stop(self) -> str:
        if (self.queue or RUNS).withdraw(self):
            return "Your Track was waiting in the queue: it is removed and will not start."
        self.cancel.set()
        return "Cancelling… the session stays as it was."

    def _work(self):
        session, click = self.session, self.click
        try:
            direction = "both" if self.replace is None else "forward"
            self.stage = "tracking with SAM 2"
            masks = self._propagate(direction)
            label_note = ""
            vector, top = None, []
            if self.spec is not None:
                self.stage, self.frames_done, self.num_frames = "labelling with CLIP (pooling the masks)", 0, 1
                try:
                    rles = {f: {"size": [session.meta.height, session.meta.width], "counts": c.decode("ascii")}
                            for f, c in masks.items()}
                    v, top = pool_and_classify(self.service, self.spec, session.open_video(), rles,
                                               session.state.vocabulary)
                    vector = (self.spec, v)
                except (WeightsUnavailable, CheckpointMismatch, UnknownCLIPModel, ValueError, OSError) as e:
                    # The tracking is kept without a label (class "object"); Re-label cannot help it either.
                    label_note = f" No CLIP label: the CLIP-VIS model could not label it ({e})."
            if self.cancel.is_set():
                raise Cancelled("cancelled")
            self.stage = "saving"
            edit = session.edit(lambda s: operations.clicked_track(
                s, masks, start=self.from_frame, replace=self.replace, vector=vector, top=top_pairs(top)),
                acts_on=[self.replace] if self.replace is not None else [], base_revision=self.base_revision)
            self.track_id = next(iter(edit.track_ids))
            self.prompts.clicks.attach(self.token, click, self.track_id)
            took = time.time() - self.started
            tops = ", ".join(f"{c.name} {c.score:.2f}" for c in top)
            self.message = (f"{edit.label} ({took:.0f} s)." + (f" Top classes: {tops}." if tops else "")
                            + label_note + " Undo reverts it.")
        except Cancelled:
            self.cancelled = True
            self.error = "Cancelled: the session is unchanged."
        except StaleEdit as e:
            self.error = f"Not kept: {e}"
        except SaveError as e:
            self.error = f"The track was not kept. {e}"
        except (ValueError, KeyError, RuntimeError, OSError) as e:
            self.error = f"Track failed: {e.args[0] if isinstance(e, KeyError) and e.args else e}"
        except Exception as e:  # a bug: say so in the UI, keep the details in the log
            traceback.print_exc()
            self.error = f"Track failed unexpectedly ({type(e).__name__}: {e})."
        finally:
            self.stage = "done"
            self.done.set()

    def _propagate(self, direction: str) -> dict:
        """{frame: full-size RLE counts} where SAM 2 sees the object."""
        click, hw = self.click, (self.session.meta.height, self.session.meta.width)
        masks = {}
        if not click.lock.acquire(timeout=60):
            raise ValueError("this object is busy with another prompt: try Track again")
        try:
            for step in click.prompt.propagate(start=self.from_frame, direction=direction, cancel=self.cancel):
                self.frames_done, self.num_frames = step.done, step.total
                self.eta = step.elapsed / step.done * (step.total - step.done)
                if step.visible and step.mask.any():
                    masks[step.frame] = operations.rle_counts(full_size(step.mask, hw))
        finally:
            click.lock.release()
        return masks
