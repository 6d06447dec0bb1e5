"""Handlers for corrections: each is one undoable edit of the selected instance."""
from __future__ import annotations

import cv2
import gradio as gr
import numpy as np

from clipvis.formats.rle import rle_to_mask

from app import render
from app.callbacks.files import problem
from app.callbacks.view import clamp_frame, full_view

EDIT_ERRORS = (ValueError, KeyError)


def _selected(session) -> int:
    if session.selected not in session.state.tracks:
        raise ValueError("select an instance first: click it on the image or in the table")
    return session.selected


def _edit(session, t, action) -> dict:
    if session is None:
        return problem("load a video first")
    try:
        edit = action()
    except EDIT_ERRORS as e:
        return problem(e.args[0] if e.args else str(e))
    if edit is None or edit.empty:
        return full_view(session, t, "Nothing changed.")
    if session.selected not in session.state.tracks:
        session.selected = None
    return full_view(session, t, f"{edit.label}. Saved; **Undo** reverts it.")


def relabel(session, t, label) -> dict:
    """label: a category id (the top-5 buttons) or a typed class name."""
    if label is None or (isinstance(label, str) and not label.strip()):
        return problem("pick one of the top classes or type a class name")
    return _edit(session, t, lambda: session.relabel(_selected(session), label))


def delete(session, t) -> dict:
    return _edit(session, t, lambda: session.delete(_selected(session)))


def delete_range(session, t, start, end) -> dict:
    if start is None or end is None:
        return problem("give the first and last frame to delete the instance from")
    return _edit(session, t, lambda: session.delete_frames(_selected(session), int(start), int(end)))


def merge(session, t, other) -> dict:
    if other is None:
        return problem("pick the instance to merge into the selected one")
    return _edit(session, t, lambda: session.merge(_selected(session), int(other)))


def split(session, t) -> dict:
    return _edit(session, t, lambda: session.split(_selected(session), clamp_frame(session, t)))


def toggle_hidden(session, t) -> dict:
    def action():
        tid = _selected(session)
        return session.set_hidden(tid, not session.state.get(tid).hidden)
    return _edit(session, t, action)


def copy_forward(session, t, count) -> dict:
    return _edit(session, t, lambda: session.copy_forward(_selected(session), clamp_frame(session, t), count or 1))


def undo(session, t) -> dict:
    return _history_step(session, t, "undo")


def redo(session, t) -> dict:
    return _history_step(session, t, "redo")


def _history_step(session, t, which: str) -> dict:
    if session is None:
        return problem("load a video first")
    edit = session.undo() if which == "undo" else session.redo()
    if edit is None:
        return full_view(session, t, f"Nothing to {which}.")
    if session.selected not in session.state.tracks:
        session.selected = None
    return full_view(session, t, f"{'Undid' if which == 'undo' else 'Redid'}: {edit.label}. Saved.")


def set_threshold(session, t, value) -> dict:
    if session is None:
        return {}
    try:
        session.set_threshold(value or 0.0)
    except (TypeError, ValueError) as e:
        return problem(str(e))
    hidden = len(session.state.tracks) - len(session.state.visible(session.meta.threshold))
    return full_view(session, t, f"Score threshold {session.meta.threshold:.2f}: {hidden} weak or hidden "
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


def open_editor(session, t) -> dict:
    if session is None:
        return problem("load a video first")
    try:
        tid = _selected(session)
    except ValueError as e:
        return problem(str(e))
    t = clamp_frame(session, t)
    frame = session.frames.get(t)
    x0, y0, w, h = box = letterbox((frame.shape[1], frame.shape[0]))
    background = np.zeros((EDITOR_CANVAS[1], EDITOR_CANVAS[0], 3), np.uint8)
    background[y0:y0 + h, x0:x0 + w] = cv2.resize(frame, (w, h), interpolation=cv2.INTER_AREA)
    layer = np.zeros((EDITOR_CANVAS[1], EDITOR_CANVAS[0], 4), np.uint8)
    seg = session.state.get(tid).segmentations[t]
    color = render.track_color(tid)
    if seg is not None:
        layer[y0:y0 + h, x0:x0 + w][render.MASKS.get(seg, (w, h))] = (*color, 160)
    session.editing = (tid, t, box)
    brush = gr.Brush(colors=[(render.hex_color(color), 0.65)], default_color=(render.hex_color(color), 0.65),
                     color_mode="fixed")
    return {"editor": gr.ImageEditor(value={"background": background, "layers": [layer], "composite": None},
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


def apply_editor(session, t, value) -> dict:
    if session is None:
        return problem("load a video first")
    if session.editing is None:
        return problem("press **Edit mask** first")
    tid, frame_t, box = session.editing
    if tid not in session.state.tracks:
        return problem(f"#{tid} no longer exists")
    seg = session.state.get(tid).segmentations[frame_t]
    w, h = box[2], box[3]
    old_small = render.MASKS.get(seg, (w, h)) if seg is not None else np.zeros((h, w), bool)
    try:
        painted = painted_mask(value, box)
    except ValueError as e:
        return problem(str(e))
    new = merge_display_edit(None if seg is None else rle_to_mask(seg), old_small, painted,
                             (session.state.height, session.state.width))
    session.editing = None
    return _edit(session, frame_t, lambda: session.set_mask(tid, frame_t, new))
