"""Session: one video's shared document (tracks, vocabulary, history), in SQLite.

Every change goes through `commit` (or undo/redo): it becomes one transaction
that writes only the rows it changes, and the in-memory document changes only
after that transaction is durable. If the write fails, SaveError ("Could not
save: <reason>") is raised and nothing changed, in memory or on disk.

The document is shared by every browser tab that shows it; what a tab looks at
(selection, brush target, frame) is the tab's own (app/view_state.py). An edit
names the revision its tab last saw: if a track it touches changed since, in
another tab, it is refused (StaleEdit) rather than applied to something the
user has not seen. A lock serialises changes: tabs, and a run's background
thread, may arrive at the same time.
"""
from __future__ import annotations

import dataclasses
import json
import math
import shutil
import threading
import time
import uuid
from pathlib import Path

import numpy as np

from clipvis.config import InferenceConfig
from clipvis import Vocabulary

from app.messages import for_user, in_folder
from app.session import from_engine, legacy, operations, store
from app.session.db import FILE, Database
from app.session.edits import Edit, applied, diff, install
from app.session.frames import (FrameCache, Limits, UploadError, cache_frames, frame_count_note, open_selected,
                                store_upload)
from app.session.masks import Analyses, MaskStore
from app.session.store import SessionMeta
from app.session.tracks import PENDING, Track, TrackSet

DEFAULT_VOCABULARY = Vocabulary.from_names(["object"])


class StaleEdit(ValueError):
    """An edit made against a revision older than a change to what it touches."""


class Session:
    def __init__(self, folder: Path, meta: SessionMeta, db: Database, state: TrackSet, *, revision: int = 0,
                 track_rev: dict | None = None, undo=(), redo=(), analysis=None, next_run: int = 1):
        self.folder = Path(folder)
        self.meta = meta
        self.db = db
        self.state = state
        self.revision = revision
        self.track_rev = dict(track_rev or {})  # track id -> revision of its last change
        self._gone_rev: dict = {}  # track id -> revision it was deleted at (this process)
        self.undo_stack: list[tuple[int, str]] = list(undo)  # (edit seq, label), oldest first
        self.redo_stack: list[tuple[int, str]] = list(redo)  # next redo first
        self.analysis_run = analysis  # {"run": n, "model": spec} of the current analysis, or None
        self.next_run = next_run
        self._next_seq = max([s for s, _ in self.undo_stack + self.redo_stack], default=0) + 1
        self._next_mask = store.next_mask_id(db)
        self._next_vector = store.next_vector_id(db)
        self.analyses = Analyses(self.folder)
        self.masks = MaskStore(db, self.analyses, meta.height, meta.width)
        self.frames = FrameCache(self.folder / "frames", meta.num_frames)
        self.lock = threading.RLock()
        self.result = None  # the current analysis classified with the current vocabulary, once asked for
        self.job = None  # the model run in progress or last finished (app.run_job.RunJob)
        self.notes: list[str] = []  # what opening it found (e.g. a migration)

    # ---- creating, resuming, closing ------------------------------------------------
    @classmethod
    def create(cls, root: Path, browser_id: str, upload: list[Path], original_name: str, *, stride: int = 1,
               max_frames: int | None = None, min_size: int = InferenceConfig().min_size, limits: Limits = Limits(),
               progress=None, example: str = "") -> "Session":
        """A new session from an upload; nothing of it stays on disk if it fails."""
        sid = uuid.uuid4().hex
        folder = store.session_dir(root, browser_id, sid)
        folder.mkdir(parents=True)
        try:
            source = store_upload(upload, folder, limits)
            video = open_selected(source, stride, max_frames, limits)
            max_side = limits.max_side(video.info.width, video.info.height)
            if max_side is not None:  # kept at the studio's resolution: read shrunk, by the model too
                video = open_selected(source, stride, max_frames, limits, max_side)
            count, (h, w) = cache_frames(video, folder / "frames", progress)
            info = video.info
            meta = SessionMeta(id=sid, original_name=original_name, source=source.name, stride=stride,
                               max_frames=max_frames, min_size=min_size, fps=info.fps / stride, num_frames=count,
                               height=h, width=w, file_names=video.file_names[:count],
                               note=frame_count_note(count, info.num_frames), max_side=max_side,
                               example=example)
            state = TrackSet(num_frames=count, height=h, width=w, vocabulary=DEFAULT_VOCABULARY)
            db = Database.create(folder / FILE, cls._settings_of(meta, state))
            return cls(folder, meta, db, state)
        except BaseException as e:
            shutil.rmtree(folder, ignore_errors=True)
            if isinstance(e, (ValueError, OSError)):
                # The decoder names the file it opened: the copy in the session folder. Say the user's name.
                raise UploadError(for_user(str(e), in_folder(folder, original_name))) from None
            raise

    @staticmethod
    def _settings_of(meta: SessionMeta, state: TrackSet) -> dict:
        values = store.initial_settings(dataclasses.replace(meta, file_names=[]), state)
        values["file_names"] = json.dumps(list(meta.file_names))
        return values

    @classmethod
    def open(cls, root: Path, browser_id: str, session_id: str) -> "Session":
        folder = store.session_dir(root, browser_id, session_id)
        notes = []
        if not (folder / FILE).exists():
            if not legacy.is_legacy(folder):
                raise ValueError("that session no longer exists")
            notes.append(legacy.migrate(folder))
        elif legacy.is_legacy(folder):  # migrated, but stopped before the old files were removed
            legacy.remove_old_files(folder)
        db = Database.open(folder / FILE)
        try:
            values = store.settings(db)
            meta = SessionMeta.from_json({**values["meta"], "file_names": values.get("file_names", [])})
            state = store.settings_state(meta, values)
            state.tracks, track_rev = store.read_tracks(db, meta.num_frames)
            undo, redo = store.history_index(db)
        except BaseException:
            db.close()
            raise
        session = cls(folder, meta, db, state, revision=int(values["revision"]), track_rev=track_rev, undo=undo,
                      redo=redo, analysis=values.get("analysis"), next_run=int(values.get("next_run", 1)))
        session.notes = notes
        session.remove_unused_analyses()
        return session

    def close(self) -> None:
        self.db.close()

    @property
    def source_path(self) -> Path:
        return self.folder / self.meta.source

    def open_video(self):
        """The frames the session holds, at full size, decoded afresh (for the
        model and exports): the count Load found, whatever the file's header says."""
        return open_selected(self.source_path, self.meta.stride, self.meta.num_frames,
                             Limits(max_frames=max(self.meta.num_frames, 1)), self.meta.max_side)

    # ---- the current analysis ------------------------------------------------------------
    @property
    def stored_analysis(self):
        """The current run's stored analysis (clipvis.analysis_io.StoredAnalysis), or None."""
        if not self.analysis_run:
            return None
        try:
            return self.analyses.get(self.analysis_run["run"])
        except FileNotFoundError:
            return None

    @property
    def analysis(self):
        stored = self.stored_analysis
        return None if stored is None else stored.analysis

    @property
    def model(self) -> str:
        return (self.analysis_run or {}).get("model", "")

    def remove_unused_analyses(self) -> None:
        """Delete stored analyses nothing can reach any more (a failed run's
        file, or runs whose edits a new edit discarded)."""
        on_disk = self.analyses.runs_on_disk()
        if on_disk:
            keep = store.referenced_runs(self.db, (self.analysis_run or {}).get("run"))
            for run in on_disk - keep:
                self.analyses.remove(run)

    # ---- edits ---------------------------------------------------------------------
    def _check_fresh(self, track_ids, base_revision: int | None) -> None:
        if base_revision is None:
            return
        for tid in sorted(track_ids):
            if self.track_rev.get(tid, 0) > base_revision:
                raise StaleEdit(f"#{tid} changed in another tab since this view was drawn: the view now shows "
                                "it as it is; check it and try again")
            if self._gone_rev.get(tid, 0) > base_revision:
                raise StaleEdit(f"#{tid} was deleted in another tab")

    def _number_masks(self, proposal: operations.Proposal) -> dict:
        """The proposal's tracks with their PENDING references made row ids."""
        out = {}
        for tid, track in proposal.tracks.items():
            if track is not None and (track.refs >= PENDING).any():
                refs = track.refs.copy()
                new = refs >= PENDING
                refs[new] = refs[new] - PENDING + self._next_mask
                track = track.with_(refs=refs)
            if track is not None and track.vector is not None and track.vector >= PENDING:
                track = track.with_(vector=track.vector - PENDING + self._next_vector)
            out[tid] = track
        return out

    def edit(self, make, *, acts_on=(), base_revision: int | None = None) -> Edit:
        """make(state) -> Proposal, computed and committed under the lock.
        acts_on: the tracks the user named (checked against base_revision even
        if the edit turns out to change nothing)."""
        with self.lock:
            self._check_fresh({int(t) for t in acts_on if t is not None}, base_revision)
            return self.commit(make(self.state), base_revision=base_revision)

    def commit(self, proposal: operations.Proposal, *, base_revision: int | None = None,
               settings: dict | None = None, meta_changes: dict | None = None) -> Edit:
        """Make `proposal` one undoable, durable edit. settings: other settings
        rows written in the same transaction; meta_changes: SessionMeta fields
        to change with it (the vocabulary typed, the input size of a run)."""
        with self.lock:
            edit = diff(self.state, self._number_masks(proposal), proposal.label, vocabulary=proposal.vocabulary,
                        dismissed=proposal.dismissed, fields=proposal.fields)
            if edit.empty:
                return edit
            self._check_fresh({c.id for c in edit.changes if c.before is not None}, base_revision)
            tracks = applied(self.state, edit)
            revision, seq = self.revision + 1, self._next_seq
            next_id = max([self.state.next_id] + [t + 1 for t in tracks])
            meta = dataclasses.replace(self.meta, **(meta_changes or {}), updated=time.time())
            values = {"revision": revision, "next_id": next_id, "meta": self._meta_json(meta), **(settings or {}),
                      **self._fields_settings(edit.fields_after)}
            with self.db.write() as cur:
                store.discard_undone(cur, [s for s, _ in self.redo_stack])
                store.insert_masks(cur, self._next_mask, seq, proposal.masks)
                store.insert_vectors(cur, self._next_vector, seq, proposal.vectors)
                store.write_tracks(cur, tracks, revision, same_refs=self._same_refs(edit))
                store.write_edit(cur, seq, edit)
                store.set_settings(cur, **values)
            # Durable: now the document in memory follows.
            self.redo_stack.clear()
            self.undo_stack.append((seq, edit.label))
            self._next_seq += 1
            self._next_mask += len(proposal.masks)
            self._next_vector += len(proposal.vectors)
            self.state.next_id = next_id
            self.meta = meta
            self._installed(tracks, edit.fields_after, revision)
            return edit

    @staticmethod
    def _meta_json(meta: SessionMeta) -> dict:
        """The meta as JSON, but its file names: they are stored once, under
        their own key, and would make every commit cost the video's length."""
        return {f.name: getattr(meta, f.name) for f in dataclasses.fields(meta) if f.name != "file_names"}

    @staticmethod
    def _same_refs(edit: Edit) -> set:
        """Tracks the edit changes but whose stored references stay as they are."""
        return {c.id for c in edit.changes if c.before is not None and c.after is not None and not len(c.frames)}

    @staticmethod
    def _fields_settings(fields: dict) -> dict:
        return {k: fields[k] for k in ("vocabulary", "dismissed", "analysis") if k in fields}

    def _installed(self, tracks: dict, fields: dict, revision: int) -> None:
        install(self.state, tracks, fields)
        for tid, track in tracks.items():
            if track is None:
                self.track_rev.pop(tid, None)
                self._gone_rev[tid] = revision
            else:
                self.track_rev[tid] = revision
        if "analysis" in fields:
            self.analysis_run = fields["analysis"]
        if "vocabulary" in fields or "analysis" in fields:
            self.result = None  # classified with the other vocabulary or analysis
        self.revision = revision

    def undo(self, base_revision: int | None = None) -> Edit | None:
        return self._step(forward=False, base_revision=base_revision)

    def redo(self, base_revision: int | None = None) -> Edit | None:
        return self._step(forward=True, base_revision=base_revision)

    def _step(self, *, forward: bool, base_revision: int | None) -> Edit | None:
        """Undo the last edit, or redo the next one: one transaction."""
        with self.lock:
            if base_revision is not None and base_revision != self.revision:
                raise StaleEdit("the session changed in another tab since this view was drawn: the view now "
                                f"shows it as it is; press {'Redo' if forward else 'Undo'} again if you still want to")
            source = self.redo_stack if forward else self.undo_stack
            if not source:
                return None
            seq, _ = source[0] if forward else source[-1]
            edit = store.read_edit(self.db, seq)
            tracks = applied(self.state, edit, forward=forward)
            fields = edit.fields_after if forward else edit.fields_before
            revision = self.revision + 1
            meta = dataclasses.replace(self.meta, updated=time.time())
            with self.db.write() as cur:
                store.write_tracks(cur, tracks, revision, same_refs=self._same_refs(edit))
                cur.execute("UPDATE edits SET undone = ? WHERE seq = ?", (0 if forward else 1, seq))
                store.set_settings(cur, revision=revision, meta=self._meta_json(meta), **self._fields_settings(fields))
            if forward:
                self.undo_stack.append(self.redo_stack.pop(0))
            else:
                self.redo_stack.insert(0, self.undo_stack.pop())
            self.meta = meta
            self._installed(tracks, fields, revision)
            return edit

    def save_meta(self, **changes) -> None:
        """Change settings of the session that are no edit (threshold, the
        vocabulary typed): durable, not undoable, no new revision."""
        with self.lock:
            meta = dataclasses.replace(self.meta, **changes)
            with self.db.write() as cur:
                store.set_settings(cur, meta=self._meta_json(meta))
            self.meta = meta

    def set_threshold(self, value: float) -> None:
        value = float(value)
        if not math.isfinite(value):
            raise ValueError(f"the threshold must be a number from 0 to 1, got {value}")
        self.save_meta(threshold=min(max(value, 0.0), 1.0))

    # ---- the editing operations, each one undoable step ------------------------------
    def relabel(self, track_id, label, *, base_revision=None):
        return self.edit(lambda s: operations.relabel(s, track_id, label), acts_on=[track_id],
                         base_revision=base_revision)

    def delete(self, track_id, *, base_revision=None):
        return self.edit(lambda s: operations.delete(s, track_id), acts_on=[track_id], base_revision=base_revision)

    def delete_frames(self, track_id, start, end, *, base_revision=None):
        return self.edit(lambda s: operations.delete_frames(s, track_id, start, end), acts_on=[track_id],
                         base_revision=base_revision)

    def set_hidden(self, track_id, hidden, *, base_revision=None):
        return self.edit(lambda s: operations.set_hidden(s, track_id, hidden), acts_on=[track_id],
                         base_revision=base_revision)

    def merge(self, keep_id, other_id, *, base_revision=None):
        return self.edit(lambda s: operations.merge(s, keep_id, other_id), acts_on=[keep_id, other_id],
                         base_revision=base_revision)

    def split(self, track_id, frame, *, base_revision=None):
        return self.edit(lambda s: operations.split(s, track_id, frame), acts_on=[track_id],
                         base_revision=base_revision)

    def set_mask(self, track_id, frame, mask, *, base_revision=None):
        return self.edit(lambda s: operations.set_mask(s, track_id, frame, mask), acts_on=[track_id],
                         base_revision=base_revision)

    def copy_forward(self, track_id, frame, count, *, base_revision=None):
        return self.edit(lambda s: operations.copy_forward(s, track_id, frame, count), acts_on=[track_id],
                         base_revision=base_revision)

    def vector(self, track: Track):
        """(model, (D,) float32) of a clicked track's stored CLIP vector, or None."""
        return None if track.vector is None else store.read_vector(self.db, track.vector)

    # ---- masks --------------------------------------------------------------------------
    def rle(self, track: Track, t: int) -> dict | None:
        return self.masks.rle(track.refs[t], t)

    def segmentations(self, track_id) -> list:
        """Per frame the track's RLE (str counts) or None."""
        track = self.state.get(track_id)
        return [self.masks.rle(r, t) for t, r in enumerate(track.refs)]

    # ---- the engine's results ---------------------------------------------------
    def set_analysis(self, stored, result, *, model: str = "", meta_changes: dict | None = None,
                     progress=None) -> Edit:
        """A finished run: its analysis is stored, and its tracks (new ids)
        replace the current ones, as one undoable step. `result` must be
        `stored.analysis` classified (so what is shown is what a restart finds).
        The masks are decoded before the lock is taken: the tabs keep viewing
        and editing meanwhile."""
        with self.lock:
            run = self.next_run
            self.next_run += 1  # reserved: a failed run's number is not used again
        self.analyses.save(run, stored)
        try:
            p = operations.Proposal({}, "")
            tracks = from_engine.decoded_tracks(result, p, start_id=1, progress=progress)
            with self.lock:
                tracks = operations.renumbered(tracks, self.state.free_id)
                label = f"Run: {len(tracks)} instances of {', '.join(result.vocabulary.names[:5])}"
                proposal = operations.replace_all(self.state, tracks, result.vocabulary, label, masks=p.masks)
                proposal.fields = {"analysis": (self.analysis_run, {"run": run, "model": model})}
                edit = self.commit(proposal, settings={"next_run": self.next_run}, meta_changes=meta_changes)
                self.result = result
                return edit
        except BaseException:
            self.analyses.remove(run)
            raise

    def requery(self, result, *, vocabulary=None, meta_changes: dict | None = None, clicked: dict | None = None,
                base_revision=None) -> tuple[Edit, list[str]]:
        """Relabel from `result`, the current analysis classified with the asked classes;
        `vocabulary`: the session's vocabulary after it (default the result's), which
        may add classes that only hand labels use (see from_engine.requery); clicked:
        {track id: top classes} of clicked tracks classified from their stored vectors."""
        from app.clicks.labels import relabelled
        with self.lock:
            stored = self.stored_analysis
            if stored is None or result.analysis is not stored.analysis:
                raise ValueError("re-labelling needs the analysis of the current run: press Run first")
            self._check_fresh(set(clicked or ()), base_revision)
            proposal = from_engine.requery(self.state, result, run=self.analysis_run["run"],
                                           nonempty=stored.mask_nonempty, vocabulary=vocabulary,
                                           clicked={tid: relabelled(self.state.tracks[tid], top)
                                                    for tid, top in (clicked or {}).items()
                                                    if tid in self.state.tracks})
            edit = self.commit(proposal, meta_changes=meta_changes)
            self.result = result
            return edit, proposal.notes

    def candidates(self, limit: int = 10) -> list[dict]:
        """Query slots that are no track: the objects the model dropped, most
        object-like first. {query, objectness, category_id, score, frames}."""
        stored = self.stored_analysis
        if stored is None or self.result is None:
            return []
        used = {t.query for t in self.state.tracks.values()}
        obj = stored.analysis.objectness().numpy()
        out = []
        for q in np.argsort(-obj, kind="stable"):
            q = int(q)
            if q in used or not stored.mask_nonempty[q].any():
                continue
            cid, score = from_engine.best_class(self.result, q)
            frames = np.flatnonzero(stored.mask_nonempty[q])
            out.append({"query": q, "objectness": float(obj[q]), "category_id": cid, "score": score,
                        "frames": (int(frames[0]), int(frames[-1]))})
            if len(out) >= limit:
                break
        return out

    def promote(self, query: int, *, base_revision=None) -> Edit:
        stored = self.stored_analysis
        if stored is None or self.result is None:
            raise ValueError("promoting needs the model's analysis of this video: run the model first")
        q = int(query)
        if not 0 <= q < stored.analysis.num_queries:
            raise ValueError(f"there is no query {q}")
        refs = from_engine.query_refs(self.analysis_run["run"], q, stored.mask_nonempty[q])
        cid, score = from_engine.best_class(self.result, q)
        return self.edit(lambda s: operations.promote(s, query=q, refs=refs, category_id=cid, score=score,
                                                      top_classes=from_engine.top_classes(self.result, q)),
                         base_revision=base_revision)
