"""Handlers for corrections: each is one undoable edit of the tab's selected instance.

Every handler takes the tab's ViewState and the viewer's value, which says
what the user sees in this tab: the frame shown and the track selected
(app/callbacks/view.py `tab`). So an edit lands on the frame and the track
on the screen, and names the revision last shown to the tab, which it is
made against. Three ways it can be refused, each with a message and nothing
changed: a bad argument (ValueError/KeyError), a stale view (StaleEdit: the
track changed in another tab; the view is redrawn so the user sees why), and
a failed save (SaveError: "Could not save: <reason>").
"""
from __future__ import annotations

import base64
import struct

import cv2
import gradio as gr
import numpy as np

from app.callbacks.view import changed, tab
from app.messages import md, problem
from app.session import SaveError, StaleEdit
from app.viewer.document import snapshot

EDIT_ERRORS = (ValueError, KeyError)
MAX_STROKES_BYTES = 8 * 2**20  # a PNG of brush strokes is a few kB; refuse anything absurd unread


def _selected(view) -> int:
    if view.selected is None:
        raise ValueError("select an instance first: click it on the frame or in the list (or press Tab)")
    return view.selected


def run_edit(studio, view, value, action, done: str = "{label}. Saved; **Undo** (Ctrl+Z) reverts it.",
             nothing: str = "Nothing changed.") -> dict:
    """action(session, view) -> Edit (or None), the view being what the tab shows."""
    if view is None or view.session is None:
        return problem("load a video first")
    view = tab(view, value)
    try:
        edit = action(view.session, view)
    except StaleEdit as e:
        return changed(studio, view, f"⚠️ {md(e)}")  # redrawn: the user sees what changed
    except SaveError as e:
        return problem(str(e))
    except EDIT_ERRORS as e:
        return problem(e.args[0] if e.args else str(e))
    if edit is None or edit.empty:
        return changed(studio, view, nothing)
    return changed(studio, view, done.format(label=md(edit.label)))


def relabel(studio, view, value, label) -> dict:
    """A typed class name (new names join the vocabulary)."""
    if label is None or not str(label).strip():
        return problem("type a class name, or click one of the top classes beside the list")
    return run_edit(studio, view, value,
                    lambda s, v: s.relabel(_selected(v), str(label).strip(), base_revision=v.revision))


def relabel_top(studio, view, value, evt: gr.EventData) -> dict:
    """The viewer's `relabel` event ({track, rank}): the k-th of the track's top classes."""
    data = getattr(evt, "_data", None) or {}
    value = {**(value if isinstance(value, dict) else {}), "selected": data.get("track")}

    def action(s, v):
        track = s.state.get(_selected(v))
        try:
            rank = int(data.get("rank"))
        except (TypeError, ValueError):
            rank = 0
        if not 1 <= rank <= len(track.top_classes):
            raise ValueError(f"#{track.id} has no top class {data.get('rank')}")
        return s.relabel(track.id, int(track.top_classes[rank - 1][0]), base_revision=v.revision)
    return run_edit(studio, view, value, action)


def delete(studio, view, value) -> dict:
    return run_edit(studio, view, value, lambda s, v: s.delete(_selected(v), base_revision=v.revision))


def delete_range(studio, view, value, start, end) -> dict:
    if start is None or end is None:
        return problem("give the first and last frame to delete the instance from")
    return run_edit(studio, view, value, lambda s, v: s.delete_frames(_selected(v), int(start), int(end),
                                                                       base_revision=v.revision))


def merge(studio, view, value, other) -> dict:
    if other is None:
        return problem("pick the instance to merge into the selected one (m opens the picker)")
    return run_edit(studio, view, value, lambda s, v: s.merge(_selected(v), int(other), base_revision=v.revision))


def split(studio, view, value) -> dict:
    return run_edit(studio, view, value, lambda s, v: s.split(_selected(v), v.frame, base_revision=v.revision))


def toggle_hidden(studio, view, value) -> dict:
    def action(s, v):
        tid = _selected(v)
        track = s.state.tracks.get(tid)
        return s.set_hidden(tid, not (track is not None and track.hidden), base_revision=v.revision)
    return run_edit(studio, view, value, action)


def copy_forward(studio, view, value, count) -> dict:
    return run_edit(studio, view, value, lambda s, v: s.copy_forward(_selected(v), v.frame, count or 1,
                                                                      base_revision=v.revision))


def undo(studio, view, value) -> dict:
    return run_edit(studio, view, value, lambda s, v: s.undo(base_revision=v.revision), "Undid: {label}. Saved.",
                    "Nothing to undo.")


def redo(studio, view, value) -> dict:
    return run_edit(studio, view, value, lambda s, v: s.redo(base_revision=v.revision), "Redid: {label}. Saved.",
                    "Nothing to redo.")


def set_threshold(studio, view, value, threshold) -> dict:
    """A setting of the document (exports leave weaker instances out too), not an edit."""
    if view is None or view.session is None:
        return problem("load a video first")
    view = tab(view, value)
    session = view.session
    try:
        session.set_threshold(0.0 if threshold is None else threshold)
    except SaveError as e:
        return problem(str(e))
    except (TypeError, ValueError) as e:
        return problem(str(e))
    hidden = len(session.state.tracks) - len(session.state.visible(session.meta.threshold))
    return changed(studio, view, f"Score threshold {session.meta.threshold:.2f}: {hidden} weak or hidden "
                   "instance(s) not shown (and not exported); nothing is deleted.")


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


def paint(studio, view, value, evt: gr.EventData) -> dict:
    """The viewer's `paint` event: {frame, track, png}. The strokes land on the
    frame and the track they were painted on, whatever the tab shows by now."""
    if view is None or view.session is None:
        return problem("load a video first")
    data = getattr(evt, "_data", None) or {}
    target = tab(view, {"frame": data.get("frame"), "selected": data.get("track")})
    if data.get("frame") != target.frame:
        return problem("the brush strokes name no frame of this video")

    def action(s, _):
        track = s.state.get(_selected(target))
        # The size the browser painted at: the display frame's.
        add, erase = strokes_from_png(data.get("png"), snapshot(s).geo.display_wh)
        ref = track.refs[target.frame]
        new = apply_strokes(s.masks.mask(ref, target.frame) if ref else None, add, erase,
                            (s.state.height, s.state.width))
        return s.set_mask(track.id, target.frame, new, base_revision=target.revision)
    return run_edit(studio, view, value, action)
