"""Handlers for corrections: each is one undoable edit of the tab's selected instance.

Every edit names the track it acts on and the revision the tab's view was
drawn from. Three ways it can be refused, each with a message and nothing
changed: a bad argument (ValueError/KeyError), a stale view (StaleEdit: the
track changed in another tab; the view is redrawn so the user sees why), and
a failed save (SaveError: "Could not save: <reason>"; the view stays as it was,
because the document did not change).
"""
from __future__ import annotations

import cv2
import gradio as gr
import numpy as np

from app import render
from app.callbacks.view import clamp_frame, full_view
from app.messages import problem
from app.session import SaveError, StaleEdit
from app.view_state import BrushTarget, ViewState

EDIT_ERRORS = (ValueError, KeyError)


def _selected(view: ViewState) -> int:
    """The tab's selected track id (the session says if it is gone, or changed in another tab)."""
    if view.selected is None:
        raise ValueError("select an instance first: click it on the image or in the table")
    return view.selected


def run_edit(view: ViewState, t, action, done: str = "{label}. Saved; **Undo** reverts it.",
             nothing: str = "Nothing changed.") -> dict:
    """action(session, base_revision) -> Edit (or None); the answer for the tab."""
    if view is None or view.session is None:
        return problem("load a video first")
    session = view.session
    try:
        edit = action(session, view.revision)
    except StaleEdit as e:
        return {**full_view(view, t), "message": f"⚠️ {e}"}
    except SaveError as e:
        return problem(str(e))
    except EDIT_ERRORS as e:
        return problem(e.args[0] if e.args else str(e))
    if edit is None or edit.empty:
        return full_view(view, t, nothing)
    return full_view(view, t, done.format(label=edit.label))


def relabel(view, t, label) -> dict:
    """label: a category id (the top-5 buttons) or a typed class name."""
    if label is None or (isinstance(label, str) and not label.strip()):
        return problem("pick one of the top classes or type a class name")
    return run_edit(view, t, lambda s, rev: s.relabel(_selected(view), label, base_revision=rev))


def delete(view, t) -> dict:
    return run_edit(view, t, lambda s, rev: s.delete(_selected(view), base_revision=rev))


def delete_range(view, t, start, end) -> dict:
    if start is None or end is None:
        return problem("give the first and last frame to delete the instance from")
    return run_edit(view, t, lambda s, rev: s.delete_frames(_selected(view), int(start), int(end), base_revision=rev))


def merge(view, t, other) -> dict:
    if other is None:
        return problem("pick the instance to merge into the selected one")
    return run_edit(view, t, lambda s, rev: s.merge(_selected(view), int(other), base_revision=rev))


def split(view, t) -> dict:
    return run_edit(view, t, lambda s, rev: s.split(_selected(view), clamp_frame(s, t), base_revision=rev))


def toggle_hidden(view, t) -> dict:
    def action(s, rev):
        tid = _selected(view)
        track = s.state.tracks.get(tid)
        return s.set_hidden(tid, not (track is not None and track.hidden), base_revision=rev)
    return run_edit(view, t, action)


def copy_forward(view, t, count) -> dict:
    return run_edit(view, t, lambda s, rev: s.copy_forward(_selected(view), clamp_frame(s, t), count or 1,
                                                           base_revision=rev))


def undo(view, t) -> dict:
    return run_edit(view, t, lambda s, rev: s.undo(base_revision=rev), "Undid: {label}. Saved.", "Nothing to undo.")


def redo(view, t) -> dict:
    return run_edit(view, t, lambda s, rev: s.redo(base_revision=rev), "Redid: {label}. Saved.", "Nothing to redo.")


def set_threshold(view, t, value) -> dict:
    """A setting of the document (exports leave weaker instances out too), not an edit."""
    if view is None or view.session is None:
        return {}
    session = view.session
    try:
        session.set_threshold(value or 0.0)
    except SaveError as e:
        return problem(str(e))
    except (TypeError, ValueError) as e:
        return problem(str(e))
    hidden = len(session.state.tracks) - len(session.state.visible(session.meta.threshold))
    return full_view(view, t, f"Score threshold {session.meta.threshold:.2f}: {hidden} weak or hidden "
                     "instance(s) not shown (and not exported); nothing is deleted.")


# ---- the brush: the selected mask as an editable layer over the frame ----------
# The editor places layers relative to the canvas size it was built with, so
# every frame is letterboxed to exactly that size: layer and frame then align
# whatever the video's shape.
EDITOR_CANVAS = (960, 540)


def letterbox(size: tuple[int, int], canvas=EDITOR_CANVAS) -> tuple[int, int, int, int]:
    """(x0, y0, w, h): where an image of size (w, h) goes, scaled to fit the canvas."""
    cw, ch = canvas
    scale = min(cw / size[0], ch / size[1])
    w, h = max(1, round(size[0] * scale)), max(1, round(size[1] * scale))
    return (cw - w) // 2, (ch - h) // 2, w, h


def open_editor(view, t) -> dict:
    """Put the selected mask on this frame into the brush editor; the tab
    remembers which track and frame it is (its brush target)."""
    if view is None or view.session is None:
        return problem("load a video first")
    if view.selected_track is None:
        return problem("select an instance first: click it on the image or in the table")
    tid, session = view.selected, view.session
    t = clamp_frame(session, t)
    frame = session.frames.get(t)
    x0, y0, w, h = box = letterbox((frame.shape[1], frame.shape[0]))
    background = np.zeros((EDITOR_CANVAS[1], EDITOR_CANVAS[0], 3), np.uint8)
    background[y0:y0 + h, x0:x0 + w] = cv2.resize(frame, (w, h), interpolation=cv2.INTER_AREA)
    layer = np.zeros((EDITOR_CANVAS[1], EDITOR_CANVAS[0], 4), np.uint8)
    ref = session.state.get(tid).refs[t]
    color = render.track_color(tid)
    if ref:
        layer[y0:y0 + h, x0:x0 + w][session.masks.shown(ref, t, (w, h))] = (*color, 160)
    brush = gr.Brush(colors=[(render.hex_color(color), 0.65)], default_color=(render.hex_color(color), 0.65),
                     color_mode="fixed")
    return {"view": view.with_(brush=BrushTarget(track_id=tid, frame=t, box=box)),
            "editor": gr.ImageEditor(value={"background": background, "layers": [layer], "composite": None},
                                     brush=brush),
            "message": f"Editing #{tid} on frame {t}: paint with the brush, remove with the eraser, then "
                       "press **Apply mask**."}


def painted_mask(value, box) -> np.ndarray:
    """(h, w) bool: pixels painted on any layer of the editor's value, inside the frame's box."""
    x0, y0, w, h = box
    painted = np.zeros((h, w), bool)
    for layer in (value or {}).get("layers") or []:
        if layer is None:
            continue
        layer = np.asarray(layer)
        if layer.shape[:2] != (EDITOR_CANVAS[1], EDITOR_CANVAS[0]):
            raise ValueError(f"the editor returned a {layer.shape[1]}x{layer.shape[0]} layer, "
                             f"expected {EDITOR_CANVAS[0]}x{EDITOR_CANVAS[1]}: press Edit mask again")
        alpha = layer[..., 3] > 0 if layer.ndim == 3 and layer.shape[2] == 4 else layer.reshape(*layer.shape[:2], -1).any(-1)
        painted |= alpha[y0:y0 + h, x0:x0 + w]
    return painted


def merge_display_edit(old_full: np.ndarray | None, old_display: np.ndarray, painted: np.ndarray,
                       full_hw: tuple[int, int]) -> np.ndarray:
    """Apply an edit made at a smaller size to a full-size mask, changing only
    the pixels the user painted or erased, so finer detail survives."""
    fh, fw = full_hw
    if painted.shape == (fh, fw):
        return painted
    old_full = np.zeros((fh, fw), bool) if old_full is None else old_full

    def up(m):
        return cv2.resize(m.view(np.uint8), (fw, fh), interpolation=cv2.INTER_NEAREST).view(bool)

    return (old_full | up(painted & ~old_display)) & ~up(old_display & ~painted)


def apply_editor(view, t, value) -> dict:
    """The painted mask replaces the brush target's mask (the track and frame
    the editor was opened on, whatever frame the tab shows now)."""
    if view is None or view.session is None:
        return problem("load a video first")
    target = view.brush
    if target is None:
        return problem("press **Edit mask** first")
    session = view.session
    if target.track_id not in session.state.tracks:
        return problem(f"#{target.track_id} no longer exists")
    ref = session.state.get(target.track_id).refs[target.frame]
    w, h = target.box[2], target.box[3]
    old_small = session.masks.shown(ref, target.frame, (w, h)) if ref else np.zeros((h, w), bool)
    try:
        painted = painted_mask(value, target.box)
    except ValueError as e:
        return problem(str(e))
    old_full = None if not ref else session.masks.mask(ref, target.frame)
    new = merge_display_edit(old_full, old_small, painted, (session.state.height, session.state.width))
    return run_edit(view.with_(brush=None), target.frame,
                    lambda s, rev: s.set_mask(target.track_id, target.frame, new, base_revision=rev))
