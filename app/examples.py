"""The bundled examples, answered at once: a run's session kept on disk and
copied for each visitor who opens the example.

A visitor who picks an example and presses Load gets a new session of their
own, copied from the kept one: tracks, timeline, the stored analysis (so
Re-label works at once) and the run in the undo history. Copying a session
folder takes milliseconds; no frame is decoded and no model runs.

When the results are made (`--cache-examples`, env CLIPVIS_CACHE_EXAMPLES):
  start  at start, in the background: each example is run with the default
         model and its classes below, through the run queue (visitors' runs
         interleave); if the model cannot load (no weights, as in this
         repository's tests and CI) it is skipped with a log line.
  lazy   the first visitor's run of an example (whole video, default model
         and input size) is kept for the next visitor.
  auto   (default) start on a GPU, lazy on a CPU, where a start-up run of
         three clips would take minutes of the only two cores.
  off    never.
A result is kept per model (the configured one, by name and settings): a
cache made by another model is not used.

Only a session the studio itself made from a bundled example can become the
cache (its meta names the example; an upload called city_traffic.mp4 cannot).
"""
from __future__ import annotations

import hashlib
import shutil
import sqlite3
import sys
import threading
import uuid
from pathlib import Path

from app.session import Session, store
from app.session.db import FILE

MODES = ("auto", "start", "lazy", "off")
CACHE = ".examples"  # under the work folder
CACHE_BROWSER = "0" * 32  # the cache's own sessions, made at start, live under this id in the cache folder
# What each example is run with at start: what is in it (assets/README.md).
CLASSES = {"city_traffic.mp4": "car, bus, truck, person",
           "pedestrians_vtest.mp4": "person, bag, car",
           "street_bikes.mp4": "bicycle, motorcycle, car, person"}
DEFAULT_CLASSES = "person, car"
SKIPPED = ("exports",)  # a visitor's downloads are theirs


class ExampleCache:
    def __init__(self, workdir: Path, service, mode: str = "lazy"):
        if mode not in MODES:
            raise ValueError(f"cache mode must be one of {', '.join(MODES)}, got {mode!r}")
        self.mode = mode
        self.service = service
        s = service.settings
        key = f"{s.model}|{s.clip_model}|{s.clip_config}|{s.config.min_size}|{s.config.to_dict()}"
        self.folder = Path(workdir) / CACHE / hashlib.sha1(key.encode()).hexdigest()[:16]
        self._lock = threading.Lock()

    @property
    def min_size(self) -> int:
        return self.service.config.min_size

    def cached(self, example: str) -> Path | None:
        folder = self.folder / _stem(example)
        return folder if (folder / FILE).is_file() else None

    # ---- opening ----------------------------------------------------------------------------
    def open_copy(self, example: str, workdir: Path, browser: str) -> Session | None:
        """A new session of `browser`'s, copied from the kept run of `example`; None if there is none."""
        template = self.cached(example)
        if template is None:
            return None
        sid = uuid.uuid4().hex
        folder = store.session_dir(workdir, browser, sid)
        folder.parent.mkdir(parents=True, exist_ok=True)
        try:
            shutil.copytree(template, folder)
            session = Session.open(workdir, browser, sid)
            session.save_meta(id=sid)  # its own id: the list and exports name it
            return session
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise

    # ---- keeping ------------------------------------------------------------------------------
    def keeps(self, session, spec: str) -> bool:
        """Whether a finished run of `session` is what the cache holds: a whole bundled example,
        the configured model, its input size; and nothing kept yet (the first run stays)."""
        m = session.meta
        return (self.mode != "off" and bool(m.example) and spec == "default" and m.stride == 1
                and not m.max_frames and m.min_size == self.min_size and self.cached(m.example) is None)

    def keep(self, session, spec: str) -> bool:
        """Keep the session as the example's cached result (after its run). Returns whether it was kept."""
        if not self.keeps(session, spec):
            return False
        with self._lock, session.lock:  # no edit commits while the database is copied
            target = self.folder / _stem(session.meta.example)
            if (target / FILE).is_file():
                return False
            tmp = self.folder / f".{_stem(session.meta.example)}-{uuid.uuid4().hex[:8]}"
            tmp.mkdir(parents=True)
            try:
                for entry in session.folder.iterdir():
                    if entry.name.startswith(FILE) or entry.name in SKIPPED:
                        continue
                    (shutil.copytree if entry.is_dir() else shutil.copy2)(entry, tmp / entry.name)
                _backup(session.folder / FILE, tmp / FILE)
                tmp.rename(target)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
        print(f"clipvis studio: example {session.meta.example} cached; the next visitor opens it without a run",
              flush=True)
        return True

    # ---- making them at start ----------------------------------------------------------------
    def start(self, studio, examples: list[str], examples_dir: Path, *, on_gpu: bool) -> threading.Thread | None:
        """Per the mode: run the examples not cached yet in the background, or say when they will be."""
        eager = self.mode == "start" or (self.mode == "auto" and on_gpu)
        if self.mode == "auto" and not on_gpu:
            self.mode = "lazy"
        if not eager:
            if self.mode == "lazy":
                print("clipvis studio: examples are cached lazily: the first run of each is kept for the next "
                      "visitor", flush=True)
            return None
        todo = [e for e in examples if self.cached(e) is None]
        thread = threading.Thread(target=self._warm, args=(studio, todo, examples_dir), name="clipvis-examples",
                                  daemon=True)
        thread.start()
        return thread

    def _warm(self, studio, examples: list[str], examples_dir: Path):
        from clipvis import WeightsUnavailable, parse_vocabulary_text

        from app.run_job import RunJob

        try:
            self.service.get("default")
        except (WeightsUnavailable, ValueError, OSError, RuntimeError) as e:
            print(f"clipvis studio: examples not cached: the model did not load ({type(e).__name__}). "
                  "They run on first use instead.", file=sys.stderr, flush=True)
            return
        work = self.folder / "work"
        for example in examples:
            session = Session.create(work, CACHE_BROWSER, [examples_dir / example], example,
                                     min_size=self.min_size, example=example)
            text = CLASSES.get(example, DEFAULT_CLASSES)
            job = RunJob(session=session, service=self.service, spec="default",
                         vocabulary=parse_vocabulary_text(text), min_size=self.min_size, vocab_text=text,
                         queue=studio.runs, after=self.keep).start()
            job.done.wait()
            if job.error:
                print(f"clipvis studio: example {example} not cached: {job.error}", file=sys.stderr, flush=True)
            session.close()
            store.remove_folder(session.folder)


def _stem(example: str) -> str:
    return Path(example).name.replace(".", "_")


def _backup(source: Path, target: Path) -> None:
    """A consistent copy of a session database (its WAL folded in)."""
    src, dst = sqlite3.connect(str(source)), sqlite3.connect(str(target))
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()
