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
    # The display frames were written at exactly this size (frames.cache_frames).
    geo = Geometry(full_hw=full_hw, display_wh=display_size(full_hw[1], full_hw[0]))
    return Snapshot(rev=rev, threshold=threshold, tracks=tracks, names=names, num_frames=num_frames, fps=fps, geo=geo)


def track_mask(track, t: int) -> np.ndarray | None:
    """The track's full-size mask on frame t, or None if absent: the one place
    that knows how a track stores its masks."""
    seg = track.segmentations[t]
    return None if seg is None else rle_to_mask(seg, order="F")


def frame_masks(tracks, t: int) -> list[tuple[int, np.ndarray]]:
    """[(track id, full-size mask)] of the tracks present on frame t."""
    out = []
    for tr in tracks:
        m = track_mask(tr, t)
        if m is not None:
            out.append((tr.id, m))
    return out


def runs(frames: list[int]) -> list[list[int]]:
    """[3, 4, 5, 9] -> [[3, 5], [9, 9]]: the frame ranges a track is in."""
    out: list[list[int]] = []
    for f in frames:
        if out and f == out[-1][1] + 1:
            out[-1][1] = f
        else:
            out.append([f, f])
    return out


def track_rows(snap: Snapshot) -> dict:
    """The JSON the browser builds its track list and timeline from.

    Names travel as data and the browser sets them as text, never as HTML,
    so `<b>x</b>` shows as typed."""
    rows = []
    for tr in snap.tracks:
        frames = tr.frames
        rows.append({
            "id": tr.id, "name": snap.class_name(tr.category_id), "color": hex_color(track_color(tr.id)),
            "score": round(float(tr.score), 4), "hidden": tr.hidden, "shown": snap.is_shown(tr),
            "origin": tr.origin, "hand": tr.by_hand, "runs": runs(frames), "count": len(frames),
            "top": [[snap.class_name(cid), round(float(s), 4)] for cid, s in tr.top_classes if cid in snap.names],
        })
    return {"rev": snap.rev, "key": snap.key, "threshold": snap.threshold, "n": snap.num_frames, "tracks": rows}
