"""Session: one user's video, its tracks, the edits with undo/redo, on disk.

Every change goes through `commit` (or undo/redo), which records the edit and
saves before returning, so what the user sees is always what is on disk.
A lock serialises changes: the run's background thread and the user's edits
may arrive at the same time.
"""
from __future__ import annotations

import math
import shutil
import threading
import uuid
from pathlib import Path

import numpy as np

from clipvis import Vocabulary

from app.session import from_engine, operations, store
from app.session.edits import Edit, History, apply, diff
from app.session.frames import FrameCache, Limits, cache_frames, open_selected, store_upload
from app.session.store import SessionMeta
from app.session.tracks import TrackSet

DEFAULT_VOCABULARY = Vocabulary.from_names(["object"])


class Session:
    def __init__(self, folder: Path, meta: SessionMeta, state: TrackSet, history: History, revision: int = 0):
        self.folder = Path(folder)
        self.meta = meta
        self.state = state
        self.history = history
        self.revision = revision
        self.frames = FrameCache(self.folder / "frames", meta.num_frames)
        self.lock = threading.RLock()
        self.analysis = None  # the engine's VideoAnalysis, once a run finished (or loaded from disk)
        self.result = None  # the analysis classified with the current vocabulary, if known
        self.warning: str | None = None  # e.g. the video ended before its header said
        self.selected: int | None = None  # the track the user is looking at (view state, not saved)
        self.editing = None  # (track id, frame) the mask editor was opened for
        self.job = None  # the model run in progress or last finished (app.run_job.RunJob)

    # ---- creating and resuming -------------------------------------------------
    @classmethod
    def create(cls, root: Path, browser_id: str, upload: list[Path], original_name: str, *, stride: int = 1,
               max_frames: int | None = None, min_size: int = 480, limits: Limits = Limits(),
               progress=None) -> "Session":
        """A new session from an upload; nothing of it stays on disk if it fails."""
        sid = uuid.uuid4().hex
        folder = store.session_dir(root, browser_id, sid)
        folder.mkdir(parents=True)
        try:
            source = store_upload(upload, folder, limits)
            video = open_selected(source, stride, max_frames, limits)
            count, (h, w) = cache_frames(video, folder / "frames", progress)
            info = video.info
            meta = SessionMeta(id=sid, original_name=original_name, source=source.name, stride=stride,
                               max_frames=max_frames, min_size=min_size, fps=info.fps / stride, num_frames=count,
                               height=h, width=w, file_names=video.file_names[:count])
            state = TrackSet(num_frames=count, height=h, width=w, vocabulary=DEFAULT_VOCABULARY)
            session = cls(folder, meta, state, History())
            session.warning = video.warning
            session._save("do")
            return session
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise

    @classmethod
    def open(cls, root: Path, browser_id: str, session_id: str) -> "Session":
        folder = store.session_dir(root, browser_id, session_id)
        if not (folder / "session.json").exists():
            raise ValueError("that session no longer exists")
        meta, state, history, revision = store.load(folder)
        session = cls(folder, meta, state, history, revision)
        session.analysis = store.load_analysis(folder)
        return session

    @property
    def source_path(self) -> Path:
        return self.folder / self.meta.source

    def open_video(self):
        """The selected frames at full size, decoded afresh (for the model and exports)."""
        return open_selected(self.source_path, self.meta.stride, self.meta.max_frames,
                             Limits(max_frames=max(self.meta.num_frames, 1)))

    # ---- edits ---------------------------------------------------------------------
    def commit(self, proposal: operations.Proposal) -> Edit:
        with self.lock:
            edit = diff(self.state, proposal.tracks, proposal.label, vocabulary=proposal.vocabulary,
                        dismissed=proposal.dismissed)
            if edit.empty:
                return edit
            apply(self.state, edit)
            self.history.push(edit)
            if "vocabulary" in edit.fields_after:
                self.result = None  # classified with the old vocabulary
            self._save("do")
            return edit

    def undo(self) -> Edit | None:
        return self._step(self.history.undo_stack, self.history.redo_stack, forward=False, action="undo")

    def redo(self) -> Edit | None:
        return self._step(self.history.redo_stack, self.history.undo_stack, forward=True, action="redo")

    def _step(self, source: list, target: list, *, forward: bool, action: str) -> Edit | None:
        """Move the last edit of `source` onto `target`, applying it (redo) or its inverse (undo)."""
        with self.lock:
            if not source:
                return None
            edit = source.pop()
            apply(self.state, edit, forward=forward)
            target.append(edit)
            if "vocabulary" in edit.fields_after:
                self.result = None  # classified with the other vocabulary
            self._save(action)
            return edit

    def set_threshold(self, value: float):
        value = float(value)
        if not math.isfinite(value):
            raise ValueError(f"the threshold must be a number from 0 to 1, got {value}")
        with self.lock:
            self.meta.threshold = min(max(value, 0.0), 1.0)
            self._save("settings")

    def _save(self, action: str):
        self.revision += 1
        store.save(self.folder, self.meta, self.state, self.history, self.revision, action)

    # The editing operations, each one undoable step.
    def relabel(self, track_id, label):
        return self.commit(operations.relabel(self.state, track_id, label))

    def delete(self, track_id):
        return self.commit(operations.delete(self.state, track_id))

    def delete_frames(self, track_id, start, end):
        return self.commit(operations.delete_frames(self.state, track_id, start, end))

    def set_hidden(self, track_id, hidden):
        return self.commit(operations.set_hidden(self.state, track_id, hidden))

    def merge(self, keep_id, other_id):
        return self.commit(operations.merge(self.state, keep_id, other_id))

    def split(self, track_id, frame):
        return self.commit(operations.split(self.state, track_id, frame))

    def set_mask(self, track_id, frame, mask):
        return self.commit(operations.set_mask(self.state, track_id, frame, mask))

    def copy_forward(self, track_id, frame, count):
        return self.commit(operations.copy_forward(self.state, track_id, frame, count))

    # ---- the engine's results ---------------------------------------------------
    def set_analysis(self, analysis, result, *, model: str = "", progress=None) -> Edit:
        """A finished run: its tracks replace the current ones (one undoable step)."""
        with self.lock:
            store.save_analysis(self.folder, analysis)  # its mask cache is not pickled
            self.analysis, self.result = analysis, result
            self.meta.model = model
            tracks = from_engine.tracks_from_result(result, progress=progress)
            label = f"Run: {len(tracks)} instances of {', '.join(result.vocabulary.names[:5])}"
            return self.commit(operations.replace_all(self.state, tracks, result.vocabulary, label))

    def requery(self, result) -> tuple[Edit, list[str]]:
        """Relabel from `result`, the stored analysis classified with a new vocabulary."""
        with self.lock:
            proposal = from_engine.requery(self.state, result)
            edit = self.commit(proposal)
            self.result = result
            return edit, proposal.notes

    def candidates(self, limit: int = 10) -> list[dict]:
        """Query slots that are no track: the objects the model dropped, most
        object-like first. {query, objectness, category_id, score, frames}."""
        if self.analysis is None or self.result is None:
            return []
        used = {t.query for t in self.state.tracks.values()}
        obj = self.analysis.objectness().numpy()
        out = []
        for q in np.argsort(-obj, kind="stable"):
            q = int(q)
            if q in used:
                continue
            cid, score = from_engine.best_class(self.result, q)
            out.append({"query": q, "objectness": float(obj[q]), "category_id": cid, "score": score})
            if len(out) >= limit:
                break
        return out

    def promote(self, query: int, progress=None) -> Edit:
        if self.analysis is None or self.result is None:
            raise ValueError("promoting needs the model's analysis of this video: run the model first")
        q = int(query)
        if not 0 <= q < self.analysis.num_queries:
            raise ValueError(f"there is no query {q}")
        frames = {q: np.ones(self.state.num_frames, bool)}
        segs = from_engine.query_segmentations(self.result, [q], frames, progress)[q]
        cid, score = from_engine.best_class(self.result, q)
        return self.commit(operations.promote(self.state, query=q, segmentations=segs, category_id=cid,
                                              score=score, top_classes=from_engine.top_classes(self.result, q)))
