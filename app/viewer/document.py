"""What the browser viewer knows about a session: a consistent snapshot of it,
and the track list it draws (rows, timeline bars, top classes) as JSON.

A snapshot is taken under the session's lock; tracks are immutable, so
holding references is enough for the routes to render from it afterwards
while edits go on. Its `key` changes whenever anything drawn changes (an
edit, undo/redo, the threshold), so the browser keeps what it fetched for
one key and fetches again when the key moves on.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from clipvis.formats.rle import rle_to_mask

from app.session.frames import display_size
from app.viewer.overlays import Geometry, hex_color, track_color


@dataclass(frozen=True)
class Snapshot:
    rev: int
    threshold: float
    tracks: tuple  # every Track, by id
    names: dict  # category id -> class name
    num_frames: int
    fps: float
    geo: Geometry
    masks: object  # app.session.masks.MaskStore: a track's per-frame references -> masks

    @property
    def key(self) -> str:
        return f"{self.rev}-{round(self.threshold * 10000)}"

    def is_shown(self, track) -> bool:
        return not track.hidden and track.score >= self.threshold

    @property
    def shown(self) -> list:
        return [tr for tr in self.tracks if self.is_shown(tr)]

    def track(self, track_id) -> object | None:
        return next((tr for tr in self.tracks if tr.id == track_id), None)

    def class_name(self, category_id) -> str:
        return str(self.names.get(category_id, f"class {category_id}"))


def snapshot(session) -> Snapshot:
    with session.lock:
        state, meta = session.state, session.meta
        tracks = tuple(sorted(state.tracks.values(), key=lambda tr: tr.id))
        names = {c.id: c.name for c in state.vocabulary.classes}
        rev, threshold = int(session.revision), float(meta.threshold)
        num_frames, fps, full_hw = meta.num_frames, float(meta.fps or 0.0), (meta.height, meta.width)
        masks = session.masks
    # The display frames were written at exactly this size (frames.cache_frames).
    geo = Geometry(full_hw=full_hw, display_wh=display_size(full_hw[1], full_hw[0]))
    return Snapshot(rev=rev, threshold=threshold, tracks=tracks, names=names, num_frames=num_frames, fps=fps, geo=geo,
                    masks=masks)


def track_mask(snap: Snapshot, track, t: int) -> np.ndarray | None:
    """The track's full-size mask on frame t, or None if absent. A stored mask
    is decoded column-major, as pycocotools writes it: the overlay only reads
    it, and the row-major copy would cost twice the decoding."""
    ref = int(track.refs[t])
    if not ref:
        return None
    if ref > 0:
        return rle_to_mask({"size": snap.masks.size, "counts": snap.masks.counts(ref)}, order="F")
    return snap.masks.mask(ref, t)  # a query's mask in a run's stored analysis


def frame_masks(snap: Snapshot, tracks, t: int) -> list[tuple[int, np.ndarray]]:
    """[(track id, full-size mask)] of the tracks present on frame t."""
    return [(tr.id, track_mask(snap, tr, t)) for tr in tracks if tr.refs[t]]


def track_rows(snap: Snapshot) -> dict:
    """The JSON the browser builds its track list and timeline from.

    Names travel as data and the browser sets them as text, never as HTML,
    so `<b>x</b>` shows as typed."""
    rows = []
    for tr in snap.tracks:
        rows.append({
            "id": tr.id, "name": snap.class_name(tr.category_id), "color": hex_color(track_color(tr.id)),
            "score": round(float(tr.score), 4), "hidden": tr.hidden, "shown": snap.is_shown(tr),
            "origin": tr.origin, "hand": tr.by_hand, "runs": [list(r) for r in tr.runs], "count": tr.num_present,
            "top": [[snap.class_name(cid), round(float(s), 4)] for cid, s in tr.top_classes if cid in snap.names],
        })
    return {"rev": snap.rev, "key": snap.key, "threshold": snap.threshold, "n": snap.num_frames, "tracks": rows}
