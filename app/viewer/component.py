"""The studio's viewer as a Gradio component, and the value it exchanges with the handlers.

`StudioViewer` is a `gr.HTML` whose template is static: app/static/viewer.js
builds a canvas, the transport bar, the timeline, the track list and the
top classes inside it, and fetches frames and overlays from the routes of
app/viewer/routes.py. Names reach the page only as text (never through the
template, which Gradio evaluates as a JavaScript template string).

The value is one small dict both ways:

    server -> browser  {"src", "rev", "key", "n", "fps", "w", "h", "cmd"?}
        src: where the routes serve this session (a token, never a path);
        rev/key: the state it shows; cmd: {"id", "select"?, "seek"?}, an
        instruction applied once (select a new track, clear a deleted one).
    browser -> server  the same, plus {"frame", "selected"}: what the user sees.

So every edit arrives with the frame that is shown and the track that is
selected in that tab.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from app.viewer.document import snapshot
from app.viewer.routes import PREFIX

STATIC = Path(__file__).resolve().parents[1] / "static"
EMPTY = {"src": None}
KEEP = object()  # viewer_value(select=KEEP): leave the browser's selection as it is


def _script() -> str:
    # Plain scripts (js_on_load runs as a function body): the viewer, click to track, the keyboard module.
    parts = [(STATIC / name).read_text(encoding="utf-8") for name in ("viewer.js", "clicktrack.js", "keyboard.js")]
    return "\n".join(parts) + (
        "\nconst viewer = createStudioViewer(element, props, trigger, watch);"
        "\nviewer.keyboard = installStudioKeyboard(viewer);\n")


class StudioViewer(gr.HTML):
    """The frame with its masks, playback, zoom and pan, the brush, the
    timeline and the track list. Custom events (with data): `track`
    {track} when the selection changes, `relabel` {track, rank}, `paint`
    {frame, track, w, h, png}."""

    def __init__(self, **kwargs):
        super().__init__(value=dict(EMPTY), html_template='<div class="cv-root"></div>', js_on_load=_script(),
                         apply_default_css=False, **kwargs)


def viewer_value(registry, session, *, select=KEEP, seek: int | None = None) -> dict:
    """What the viewer needs to show `session`; `select`/`seek` make it select
    a track (None clears) or go to a frame, once."""
    if session is None:
        return dict(EMPTY)
    snap = snapshot(session)
    dw, dh = snap.geo.display_wh
    value = {"src": f"{PREFIX.lstrip('/')}/{registry.token(session)}", "rev": snap.rev, "key": snap.key,
             "n": snap.num_frames, "fps": snap.fps, "w": dw, "h": dh}
    cmd = {}
    if select is not KEEP:
        cmd["select"] = None if select is None else int(select)
    if seek is not None:
        cmd["seek"] = min(max(int(seek), 0), snap.num_frames - 1)
    if cmd:
        value["cmd"] = {"id": secrets.token_hex(6), **cmd}
    return value


@dataclass(frozen=True)
class ViewInput:
    """What the browser said it shows: the frame and the selected track."""

    frame: int
    selected: int | None


def _int_or_none(value):
    try:
        return None if value is None or isinstance(value, bool) else int(value)
    except (TypeError, ValueError, OverflowError):
        return None


def view_input(value, num_frames: int) -> ViewInput:
    """The viewer's value as sent by a browser (anything may come): the frame
    clamped into the video, ids as ints or None."""
    value = value if isinstance(value, dict) else {}
    frame = _int_or_none(value.get("frame")) or 0
    return ViewInput(frame=min(max(frame, 0), max(num_frames - 1, 0)), selected=_int_or_none(value.get("selected")))
