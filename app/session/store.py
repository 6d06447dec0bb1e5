"""A session on disk: its folder, and the rows of its database.

    <workdir>/<browser id>/<session id>/
        session.sqlite     settings, vocabulary, tracks, masks, clicked tracks' CLIP vectors, undo/redo history (db.py)
        source.mp4 | source.zip | source_frames/   the upload, under a generated name
        frames/            display JPEGs
        analysis/run-<n>.safetensors   the engine's analysis of each run (clipvis.analysis_io)
        exports/           what the user downloaded (the latest of each kind)

The functions here read and write rows inside a transaction the Session
opens; they never commit on their own.
"""
from __future__ import annotations

import json
import os
import shutil
import sqlite3
import time
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from clipvis.config import InferenceConfig
from app.session.db import FILE, Database
from app.session.edits import Edit, TrackChange
from app.session.frames import safe_id
from app.session.tracks import Track, TrackSet, vocabulary_from_dict, vocabulary_to_dict

INT64 = "<i8"


def pack(values: np.ndarray) -> bytes:
    """An int64 array as stored: differences of neighbours, zlib'd. Mask
    references of a track are mostly runs and steps of one (a run's masks are
    numbered frame after frame), so 4,550 frames' 36 KB become a few hundred
    bytes, and an edit writes little whatever the video's length."""
    values = np.asarray(values, np.int64)
    if not len(values):
        return b""
    return zlib.compress(np.diff(values, prepend=np.int64(0)).astype(INT64).tobytes(), 1)


def unpack(blob: bytes) -> np.ndarray:
    if not blob:
        return np.zeros(0, np.int64)
    return np.cumsum(np.frombuffer(zlib.decompress(blob), INT64)).astype(np.int64)


@dataclass
class SessionMeta:
    """Everything about a session that is not tracks or history."""

    id: str
    original_name: str  # the user's file name: shown, never used as a path
    source: str  # path of the upload relative to the session folder
    stride: int = 1
    max_frames: int | None = None
    min_size: int = InferenceConfig().min_size  # model input's shortest edge
    fps: float = 0.0
    num_frames: int = 0
    height: int = 0  # full-size frames
    width: int = 0
    created: float = field(default_factory=time.time)
    updated: float = field(default_factory=time.time)
    threshold: float = 0.0
    vocab_text: str = ""  # the vocabulary as the user asked for it, to fill the inputs on resume
    vocab_std: str = ""
    file_names: list = field(default_factory=list)
    note: str = ""  # a quiet note about the video (e.g. it ended a frame before its header said)
    max_side: int | None = None  # frames are read shrunk to this longer side (the studio's stored resolution)
    example: str = ""  # the bundled example it was made from (by the studio itself; app/examples.py)

    @classmethod
    def from_json(cls, obj: dict) -> "SessionMeta":
        known = {k: v for k, v in obj.items() if k in cls.__dataclass_fields__}
        return cls(**known)


def browser_dir(root: Path, browser_id: str) -> Path:
    return Path(root) / safe_id(browser_id)


def session_dir(root: Path, browser_id: str, session_id: str) -> Path:
    return browser_dir(root, browser_id) / safe_id(session_id)


def db_path(folder: Path) -> Path:
    return Path(folder) / FILE


# ---- settings ------------------------------------------------------------------------

def initial_settings(meta: SessionMeta, state: TrackSet) -> dict:
    return {"meta": json.dumps(asdict(meta)), "vocabulary": json.dumps(vocabulary_to_dict(state.vocabulary)),
            "dismissed": json.dumps(sorted(state.dismissed)), "next_id": json.dumps(state.next_id),
            "revision": "0", "analysis": "null", "next_run": "1"}


def set_settings(cur, **values) -> None:
    """Settings as JSON, in the open transaction."""
    cur.executemany("INSERT OR REPLACE INTO settings VALUES (?, ?)",
                    [(k, json.dumps(v, allow_nan=False)) for k, v in values.items()])


def settings(db: Database) -> dict:
    return {k: json.loads(v) for k, v in db.query("SELECT key, value FROM settings")}


# ---- tracks ----------------------------------------------------------------------------

def write_tracks(cur, tracks: dict, revision: int, same_refs=frozenset()) -> None:
    """{id: Track or None (deleted)} into the tracks table. Tracks in
    `same_refs` kept their stored references: only their metadata is written
    (a relabel does not rewrite a reference per frame)."""
    gone = [(tid,) for tid, t in tracks.items() if t is None]
    if gone:
        cur.executemany("DELETE FROM tracks WHERE id = ?", gone)
    live = [t for t in tracks.values() if t is not None]
    cur.executemany("UPDATE tracks SET meta = ?, rev = ? WHERE id = ?",
                    [(json.dumps(t.meta()), revision, t.id) for t in live if t.id in same_refs])
    cur.executemany("INSERT OR REPLACE INTO tracks VALUES (?, ?, ?, ?)",
                    [(t.id, json.dumps(t.meta()), pack(t.refs), revision) for t in live if t.id not in same_refs])


def read_tracks(db: Database, num_frames: int) -> tuple[dict, dict]:
    """({id: Track}, {id: revision of its last change})."""
    tracks, revs = {}, {}
    for tid, meta, refs, rev in db.query("SELECT id, meta, refs, rev FROM tracks ORDER BY id"):
        arr = unpack(refs)
        if len(arr) != num_frames:
            raise ValueError(f"track #{tid} is stored with {len(arr)} frames, the video has {num_frames}")
        tracks[tid] = Track.from_meta(json.loads(meta), arr)
        revs[tid] = rev
    return tracks, revs


# ---- masks -----------------------------------------------------------------------------

def insert_masks(cur, first_id: int, edit_seq: int, counts: list[bytes]) -> None:
    cur.executemany("INSERT INTO masks VALUES (?, ?, ?)",
                    [(first_id + i, edit_seq, sqlite3.Binary(c)) for i, c in enumerate(counts)])


def next_mask_id(db: Database) -> int:
    return (db.query("SELECT MAX(id) FROM masks")[0][0] or 0) + 1


# ---- clicked tracks' CLIP vectors --------------------------------------------------------

VECTOR_DTYPE = "<f4"


def insert_vectors(cur, first_id: int, edit_seq: int, vectors: list[tuple[str, np.ndarray]]) -> None:
    """[(model, (D,) vector)] as float32 bytes (never a pickle)."""
    cur.executemany("INSERT INTO vectors VALUES (?, ?, ?, ?)",
                    [(first_id + i, edit_seq, str(model), sqlite3.Binary(np.asarray(v, VECTOR_DTYPE).tobytes()))
                     for i, (model, v) in enumerate(vectors)])


def next_vector_id(db: Database) -> int:
    return (db.query("SELECT MAX(id) FROM vectors")[0][0] or 0) + 1


def read_vector(db: Database, vector_id: int) -> tuple[str, np.ndarray]:
    """(the CLIP-VIS model it was pooled with, (D,) float32) of a stored vector."""
    row = db.reader().execute("SELECT model, data FROM vectors WHERE id = ?", (int(vector_id),)).fetchone()
    if row is None:
        raise KeyError(f"the CLIP vector {vector_id} is missing from the session")
    return row[0], np.frombuffer(bytes(row[1]), VECTOR_DTYPE).copy()


# ---- the history -----------------------------------------------------------------------

def _refs_blob(refs: np.ndarray, exists: bool) -> bytes:
    # A track that does not exist on one side has no masks there: its zeros go unwritten.
    return pack(refs) if exists else b""


def _refs_of(blob: bytes, count: int) -> np.ndarray:
    return unpack(blob) if blob else np.zeros(count, np.int64)


def write_edit(cur, seq: int, edit: Edit) -> None:
    cur.execute("INSERT INTO edits (seq, undone, label, time, fields) VALUES (?, 0, ?, ?, ?)",
                (seq, edit.label, edit.time, json.dumps({"before": edit.fields_before, "after": edit.fields_after})))
    cur.executemany("INSERT INTO edit_tracks VALUES (?, ?, ?, ?, ?, ?, ?)", [
        (seq, ch.id, None if ch.before is None else json.dumps(ch.before),
         None if ch.after is None else json.dumps(ch.after), pack(ch.frames),
         _refs_blob(ch.refs_before, ch.before is not None), _refs_blob(ch.refs_after, ch.after is not None))
        for ch in edit.changes])


def read_edit(db: Database, seq: int) -> Edit:
    (label, stamp, fields), = db.query("SELECT label, time, fields FROM edits WHERE seq = ?", (seq,))
    fields = json.loads(fields)
    changes = []
    for tid, b, a, f, rb, ra in db.query(
            "SELECT track, before, after, frames, refs_before, refs_after FROM edit_tracks WHERE seq = ? "
            "ORDER BY track", (seq,)):
        frames = unpack(f)
        changes.append(TrackChange(id=tid, before=None if b is None else json.loads(b),
                                   after=None if a is None else json.loads(a), frames=frames,
                                   refs_before=_refs_of(rb, len(frames)), refs_after=_refs_of(ra, len(frames))))
    return Edit(label=label, changes=changes, fields_before=fields["before"], fields_after=fields["after"], time=stamp)


def history_index(db: Database) -> tuple[list, list]:
    """([(seq, label)] undoable, oldest first; [(seq, label)] redoable, next first)."""
    rows = db.query("SELECT seq, label, undone FROM edits ORDER BY seq")
    return [(s, lab) for s, lab, u in rows if not u], [(s, lab) for s, lab, u in rows if u]


def discard_undone(cur, seqs: list[int]) -> None:
    """Forget redoable edits (a new edit was made): their rows, and the masks
    only they added (no kept state can reach a mask a later, undone edit made)."""
    if not seqs:
        return
    rows = [(s,) for s in seqs]
    cur.executemany("DELETE FROM masks WHERE edit = ?", rows)
    cur.executemany("DELETE FROM vectors WHERE edit = ?", rows)
    cur.executemany("DELETE FROM edit_tracks WHERE seq = ?", rows)
    cur.executemany("DELETE FROM edits WHERE seq = ?", rows)


def referenced_runs(db: Database, current) -> set[int]:
    """Runs whose stored analysis something can still reach: the current one,
    the runs named by any edit, and those of lazy mask references anywhere."""
    from app.session.tracks import lazy_parts

    runs = {current} if current else set()
    for (fields,) in db.query("SELECT fields FROM edits"):
        f = json.loads(fields)
        runs |= {v["run"] for side in (f["before"], f["after"]) for k, v in side.items()
                 if k == "analysis" and v}
    blobs = [r for (r,) in db.query("SELECT refs FROM tracks")]
    for rb, ra in db.query("SELECT refs_before, refs_after FROM edit_tracks"):
        blobs += [rb, ra]
    for blob in blobs:
        refs = unpack(blob)
        lazy = refs[refs < 0]
        runs |= {lazy_parts(r)[0] for r in np.unique(lazy)}
    return runs


# ---- the folder ------------------------------------------------------------------------

_SUMMARIES: dict = {}  # folder -> (the files' stamps, summary): the list is redrawn after every edit


def _stamp(path: Path):
    stamps = []
    for p in (path, Path(f"{path}-wal")):
        try:
            st = p.stat()
            stamps.append((st.st_mtime_ns, st.st_size))
        except FileNotFoundError:
            stamps.append(None)
    return tuple(stamps)


def summary(folder: Path) -> dict | None:
    """{id, name, frames, tracks, updated} of a session folder, or None if it
    is none. Read again only when its database files changed."""
    path = db_path(folder)
    if not path.is_file():
        return None
    stamp = _stamp(path)
    cached = _SUMMARIES.get(path)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    out = _read_summary(path)
    if out is not None:
        _SUMMARIES[path] = (stamp, out)
    return out


def _read_summary(path: Path) -> dict | None:
    try:
        # Not mode=ro: after a crash, reading the WAL back needs its index file, which SQLite may have to make.
        conn = sqlite3.connect(str(path), timeout=1.0)
        try:
            conn.execute("PRAGMA query_only = ON")
            meta = json.loads(conn.execute("SELECT value FROM settings WHERE key = 'meta'").fetchone()[0])
            tracks = conn.execute("SELECT COUNT(*) FROM tracks").fetchone()[0]
        finally:
            conn.close()
    except (sqlite3.Error, TypeError, ValueError):
        return None  # a half-created or foreign folder is not a session
    return {"id": meta["id"], "name": meta["original_name"], "frames": meta["num_frames"], "tracks": tracks,
            "updated": meta["updated"]}


def list_sessions(root: Path, browser_id: str) -> list[dict]:
    """This browser's sessions, newest first: {id, name, frames, tracks, updated}.
    Sessions still in the old JSON layout are listed too (they migrate when opened)."""
    from app.session import legacy

    folder = browser_dir(root, browser_id)
    out = []
    for d in sorted(folder.iterdir()) if folder.is_dir() else []:
        if d.is_dir() and not d.name.startswith("."):
            s = summary(d) or legacy.summary(d)
            if s is not None:
                out.append(s)
    return sorted(out, key=lambda s: -s["updated"])


def folder_bytes(folder: Path) -> int:
    """Bytes of every file under `folder` (what it takes on disk, near enough)."""
    total = 0
    for dirpath, _, files in os.walk(folder):
        for f in files:
            try:
                total += os.lstat(os.path.join(dirpath, f)).st_size
            except OSError:
                continue
    return total


def remove_folder(folder: Path) -> None:
    """Delete a session folder and everything in it (its upload, frames,
    database, analyses and exports)."""
    shutil.rmtree(folder)


def settings_state(meta: SessionMeta, values: dict) -> TrackSet:
    return TrackSet(num_frames=meta.num_frames, height=meta.height, width=meta.width,
                    vocabulary=vocabulary_from_dict(values["vocabulary"]), dismissed=set(values["dismissed"]),
                    next_id=int(values["next_id"]))
