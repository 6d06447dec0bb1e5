"""Handlers for corrections: each is one undoable edit of the selected instance.

Every handler takes the viewer's value, which says what the user sees in
this tab: the frame shown and the track selected (app/viewer/component.py).
An edit therefore always lands on the frame and the track on the screen.
"""
from __future__ import annotations

import base64
import struct

import cv2
import gradio as gr
import numpy as np

from clipvis.formats.rle import rle_to_mask

from app.callbacks.text import md, problem
from app.callbacks.view import changed, where
from app.viewer.document import snapshot

EDIT_ERRORS = (ValueError, KeyError)
MAX_STROKES_BYTES = 8 * 2**20  # a PNG of brush strokes is a few kB; refuse anything absurd unread


def _selected(session, view) -> int:
    if view.selected not in session.state.tracks:
        raise ValueError("select an instance first: click it on the frame or in the list (or press Tab)")
    return view.selected


def _edit(studio, session, value, action) -> dict:
    """Run `action(view)` (returns an Edit) and answer with the new view."""
    if session is None:
        return problem("load a video first")
    view = where(session, value)
    try:
        edit = action(view)
    except EDIT_ERRORS as e:
        return problem(e.args[0] if e.args else str(e))
    if edit is None or edit.empty:
        return changed(studio, session, view.selected, "Nothing changed.")
    return changed(studio, session, view.selected, f"{md(edit.label)}. Saved; **Undo** (Ctrl+Z) reverts it.")


def relabel(studio, session, value, label) -> dict:
    """A typed class name (new names join the vocabulary)."""
    if label is None or not str(label).strip():
        return problem("type a class name, or click one of the top classes beside the list")
    return _edit(studio, session, value, lambda v: session.relabel(_selected(session, v), str(label).strip()))


def relabel_top(studio, session, value, evt: gr.EventData) -> dict:
    """The viewer's `relabel` event ({track, rank}): the k-th of the track's top classes."""
    data = getattr(evt, "_data", None) or {}

    def action(v):
        tid = where(session, {"selected": data.get("track")}).selected
        track = session.state.get(tid if tid is not None else _selected(session, v))
        rank = where(session, {"selected": data.get("rank")}).selected
        if rank is None or not 1 <= rank <= len(track.top_classes):
            raise ValueError(f"#{track.id} has no top class {rank}")
        return session.relabel(track.id, int(track.top_classes[rank - 1][0]))
    return _edit(studio, session, value, action)


def delete(studio, session, value) -> dict:
    return _edit(studio, session, value, lambda v: session.delete(_selected(session, v)))


def delete_range(studio, session, value, start, end) -> dict:
    if start is None or end is None:
        return problem("give the first and last frame to delete the instance from")
    return _edit(studio, session, value, lambda v: session.delete_frames(_selected(session, v), int(start), int(end)))


def merge(studio, session, value, other) -> dict:
    if other is None:
        return problem("pick the instance to merge into the selected one (m opens the picker)")
    return _edit(studio, session, value, lambda v: session.merge(_selected(session, v), int(other)))


def split(studio, session, value) -> dict:
    return _edit(studio, session, value, lambda v: session.split(_selected(session, v), v.frame))


def toggle_hidden(studio, session, value) -> dict:
    def action(v):
        tid = _selected(session, v)
        return session.set_hidden(tid, not session.state.get(tid).hidden)
    return _edit(studio, session, value, action)


def copy_forward(studio, session, value, count) -> dict:
    return _edit(studio, session, value, lambda v: session.copy_forward(_selected(session, v), v.frame, count or 1))


def undo(studio, session, value) -> dict:
    return _history_step(studio, session, value, "undo")


def redo(studio, session, value) -> dict:
    return _history_step(studio, session, value, "redo")


def _history_step(studio, session, value, which: str) -> dict:
    if session is None:
        return problem("load a video first")
    view = where(session, value)
    edit = session.undo() if which == "undo" else session.redo()
    if edit is None:
        return changed(studio, session, view.selected, f"Nothing to {which}.")
    done = "Undid" if which == "undo" else "Redid"
    return changed(studio, session, view.selected, f"{done}: {md(edit.label)}. Saved.")


def set_threshold(studio, session, value, threshold) -> dict:
    if session is None:
        return problem("load a video first")
    view = where(session, value)
    try:
        session.set_threshold(0.0 if threshold is None else threshold)
    except (TypeError, ValueError) as e:
        return problem(str(e))
    hidden = len(session.state.tracks) - len(session.state.visible(session.meta.threshold))
    return changed(studio, session, view.selected, f"Score threshold {session.meta.threshold:.2f}: {hidden} weak or "
                   "hidden instance(s) not shown (and not exported); nothing is deleted.")


# ---- the brush: strokes painted in the viewer, on the frame it showed ------------------

def _png_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's header, read before anything is decoded."""
    if len(data) < 24 or data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise ValueError("the brush strokes did not arrive as a PNG image")
    return struct.unpack(">II", data[16:24])


def strokes_from_png(data_url: str, display_wh: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """The viewer's strokes (red: painted, green: erased) as two (h, w) bool masks."""
    if not isinstance(data_url, str) or not data_url.startswith("data:image/png;base64,"):
        raise ValueError("the brush strokes did not arrive as a PNG image")
    if len(data_url) > MAX_STROKES_BYTES:
        raise ValueError("the brush strokes are too large")
    try:
        data = base64.b64decode(data_url.split(",", 1)[1], validate=True)
    except ValueError:
        raise ValueError("the brush strokes did not arrive as a PNG image") from None
    if _png_size(data) != tuple(display_wh):
        w, h = _png_size(data)
        raise ValueError(f"the strokes are {w}x{h} but the frame is shown at {display_wh[0]}x{display_wh[1]}: "
                         "reload the page")
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if img is None or img.ndim != 3 or img.shape[2] not in (3, 4):
        raise ValueError("the brush strokes could not be read")
    visible = img[..., 3] > 0 if img.shape[2] == 4 else np.ones(img.shape[:2], bool)
    return (img[..., 2] > 127) & visible, (img[..., 1] > 127) & visible


def apply_strokes(old: np.ndarray | None, add: np.ndarray, erase: np.ndarray, full_hw: tuple[int, int]) -> np.ndarray:
    """The full-size mask after strokes made at display size: only the pixels
    painted or erased change, so detail finer than the display survives."""
    fh, fw = full_hw
    old = np.zeros((fh, fw), bool) if old is None else old

    def up(m):
        if m.shape == (fh, fw):
            return m
        return cv2.resize(m.view(np.uint8), (fw, fh), interpolation=cv2.INTER_NEAREST).view(bool)

    return (old | up(add)) & ~up(erase)


def paint(studio, session, value, evt: gr.EventData) -> dict:
    """The viewer's `paint` event: {frame, track, png}. The strokes land on the
    frame and the track they were painted on, whatever the tab shows by now."""
    if session is None:
        return problem("load a video first")
    data = getattr(evt, "_data", None) or {}
    target = where(session, {"frame": data.get("frame"), "selected": data.get("track")})
    if data.get("frame") != target.frame:
        return problem("the brush strokes name no frame of this video")

    def action(_):
        track = session.state.get(target.selected)
        # The size the browser painted at: the display frame's.
        add, erase = strokes_from_png(data.get("png"), snapshot(session).geo.display_wh)
        seg = track.segmentations[target.frame]
        new = apply_strokes(None if seg is None else rle_to_mask(seg), add, erase,
                            (session.state.height, session.state.width))
        return session.set_mask(track.id, target.frame, new)

    return _edit(studio, session, value, action)
