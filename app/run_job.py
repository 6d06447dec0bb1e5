"""A model run in a background thread, so the UI stays free while it works.

The Gradio handler starts a RunJob and only polls it for progress; the
viewer, the table and the editing buttons keep answering meanwhile. The job
finishes (and saves its tracks into the session) even if the browser closes.
Cancel sets the threading.Event the engine checks between frames.
"""
from __future__ import annotations

import html
import threading
import time
import traceback
from dataclasses import dataclass, field

from clipvis import Cancelled, CheckpointMismatch, UnknownCLIPModel, WeightsUnavailable, analysis_io

from app.session import SaveError


@dataclass
class RunJob:
    session: object
    service: object
    spec: str
    vocabulary: object
    min_size: int
    vocab_text: str = ""  # as the user typed it, kept with the session to fill the inputs on resume
    vocab_std: str = ""
    cancel: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    stage: str = "starting"
    frames_done: int = 0
    num_frames: int = 0
    eta: float | None = None
    started: float = field(default_factory=time.time)
    error: str | None = None
    message: str = ""

    def start(self) -> "RunJob":
        self.num_frames = self.session.meta.num_frames
        threading.Thread(target=self._work, name="clipvis-run", daemon=True).start()
        return self

    @property
    def running(self) -> bool:
        return not self.done.is_set()

    def _progress(self, p):
        self.stage, self.frames_done, self.eta = "analysing frames", p.frames_done, p.eta

    def _stage(self, name):
        def report(done, total):
            self.stage, self.frames_done, self.num_frames, self.eta = name, done, total, None
        return report

    def _work(self):
        try:
            if not self.service.loaded(self.spec):
                self.stage = "loading the model (first run only)"
            video = self.session.open_video()
            self.service.get(self.spec)
            analysis = self.service.analyse(
                self.spec, (f for _, f in video), num_frames=self.num_frames, min_size=self.min_size,
                cancel=self.cancel, on_progress=self._progress,
                on_wait=lambda: setattr(self, "stage", "waiting: another run is using the model"))
            # What is classified and shown is what is stored, so a restart finds the same results.
            stored = analysis_io.compact(analysis, progress=self._stage("storing the analysis"))
            del analysis
            self.stage = "classifying"
            result = self.service.classify(self.spec, stored.analysis, self.vocabulary)
            edit = self.session.set_analysis(
                stored, result, model=self.spec, progress=self._stage("encoding masks"),
                meta_changes={"min_size": self.min_size, "vocab_text": self.vocab_text, "vocab_std": self.vocab_std})
            self.message = f"{edit.label} ({time.time() - self.started:.0f} s)."
        except Cancelled:
            self.error = "Cancelled: the tracks from before the run are unchanged."
        except WeightsUnavailable as e:
            self.error = f"No model weights. {e}"
        except SaveError as e:
            self.error = f"The run's tracks were not kept. {e}"
        except (CheckpointMismatch, UnknownCLIPModel, ValueError, OSError, RuntimeError) as e:
            self.error = f"The run failed: {e}"
        except Exception as e:  # a bug: say so in the UI, keep the details in the log
            traceback.print_exc()
            self.error = f"The run failed unexpectedly ({type(e).__name__}: {e})."
        finally:
            self.stage = "done"
            self.done.set()

    def status_html(self) -> str:
        """A progress bar with frames done, the stage and the time left."""
        if self.done.is_set():
            text = self.error or self.message
            return f"<div class='run-status {'error' if self.error else 'ok'}'>{html.escape(text)}</div>"
        total = max(self.num_frames, 1)
        pct = 100.0 * self.frames_done / total
        eta = f" · {self.eta:.0f} s left" if self.eta is not None else ""
        cancelling = " · cancelling…" if self.cancel.is_set() else ""
        return (f"<div class='run-status'><progress max='100' value='{pct:.0f}'></progress>"
                f"<div>{html.escape(self.stage)}: {self.frames_done}/{total} frames{eta}{cancelling}</div></div>")
