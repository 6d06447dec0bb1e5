"""Model runs: queued in the order they were asked for, one at a time, each
in a background thread so the UI stays free while it works.

The Gradio handler submits a RunJob and only polls it for its place in the
queue and its progress; the viewer and the editing tools keep answering
meanwhile. A job finishes (and saves its tracks into the session) even if
the browser closes. Cancel takes a waiting job out of the queue, or sets the
threading.Event the engine checks between frames of a running one.

The queue is ours, not Gradio's: Gradio's queue would hold the run's event
itself, where the page cannot show its place and Cancel cannot reach it.
"""
from __future__ import annotations

import contextvars
import html
import threading
import time
import traceback
from collections import deque
from dataclasses import dataclass, field

from clipvis import Cancelled, CheckpointMismatch, UnknownCLIPModel, WeightsUnavailable, analysis_io

from app.messages import for_user
from app.session import SaveError


@dataclass(eq=False)  # jobs are compared by identity (the queue looks them up)
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

    queue: "RunQueue | None" = None  # where it waits; None: RUNS, the process's queue
    waiting: bool = False  # in the queue, not started yet
    cancelled: bool = False  # ended by Cancel (error says so; it is no failure)
    after: object = None  # after(session, spec) once the tracks are saved (app/examples.py keeps a bundled example's)
    # The asking handler's context (Gradio's request among it): the run works in it, so on ZeroGPU
    # `spaces.GPU` sees the visitor's request and counts the GPU time against their quota.
    context: contextvars.Context = field(default_factory=contextvars.copy_context)

    def start(self) -> "RunJob":
        self.num_frames = self.session.meta.num_frames
        (self.queue or RUNS).submit(self)
        return self

    @property
    def running(self) -> bool:
        """Waiting or working: not finished."""
        return not self.done.is_set()

    @property
    def ahead(self) -> int:
        """Runs before this one in the queue (0 once it works)."""
        return (self.queue or RUNS).ahead(self)

    def stop(self) -> str:
        """Cancel: out of the queue if waiting, else stop between frames. Returns what happened."""
        if (self.queue or RUNS).withdraw(self):
            return "Your run was waiting in the queue: it is removed and will not start."
        self.cancel.set()
        return "Cancelling… the tracks from before the run stay as they were."

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
            if self.after is not None:
                try:
                    self.after(self.session, self.spec)
                except Exception:  # a courtesy for the next visitor: never this run's failure
                    traceback.print_exc()
        except Cancelled:
            self.cancelled = True
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
        """The place in the queue, or a progress bar with frames done, the stage and the time left."""
        if self.done.is_set():
            text = for_user(self.error or self.message)
            kind = "ok" if not self.error else ("queued" if self.cancelled else "error")
            return f"<div class='run-status {kind}'>{html.escape(text)}</div>"
        n = self.ahead if self.waiting else 0
        if n:  # 0 ahead: it is about to start, show the progress bar
            return (f"<div class='run-status queued'>Waiting for the model: {n} run{'s' if n != 1 else ''} "
                    f"ahead of yours (place {n + 1} in the queue). <b>Cancel run</b> takes it out.</div>")
        total = max(self.num_frames, 1)
        pct = 100.0 * self.frames_done / total
        eta = f" · {self.eta:.0f} s left" if self.eta is not None else ""
        cancelling = " · cancelling…" if self.cancel.is_set() else ""
        return (f"<div class='run-status'><progress max='100' value='{pct:.0f}'></progress>"
                f"<div>{html.escape(self.stage)}: {self.frames_done}/{total} frames{eta}{cancelling}</div></div>")


class RunQueue:
    """Model runs over all users, one at a time, first asked first served."""

    def __init__(self):
        self._jobs: deque = deque()  # the running job (if any) first, then the waiting ones
        self._lock = threading.Condition()
        self._worker: threading.Thread | None = None

    def submit(self, job: RunJob) -> None:
        with self._lock:
            job.waiting = True
            self._jobs.append(job)
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(target=self._serve, name="clipvis-runs", daemon=True)
                self._worker.start()
            self._lock.notify_all()

    def ahead(self, job: RunJob) -> int:
        with self._lock:
            try:
                return list(self._jobs).index(job)
            except ValueError:
                return 0

    def withdraw(self, job: RunJob) -> bool:
        """Take a job that has not started out of the queue; False if it is not waiting."""
        with self._lock:
            if not job.waiting or job not in self._jobs:
                return False
            self._jobs.remove(job)
            job.waiting = False
        job.cancelled = True
        job.error = "Cancelled before it started: the tracks are as they were."
        job.stage = "done"
        job.done.set()
        return True

    def _serve(self):
        while True:
            with self._lock:
                while not self._jobs:
                    if not self._lock.wait(timeout=60):
                        self._worker = None  # idle: a later submit starts a new worker
                        return
                job = self._jobs[0]
                job.waiting = False
            try:
                if job.cancel.is_set():
                    job.cancelled = True
                    job.error = "Cancelled: the tracks from before the run are unchanged."
                    job.stage = "done"
                    job.done.set()
                else:
                    job.started = time.time()
                    job.context.run(job._work)
            finally:
                with self._lock:
                    if self._jobs and self._jobs[0] is job:
                        self._jobs.popleft()


RUNS = RunQueue()
