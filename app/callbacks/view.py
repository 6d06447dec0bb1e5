"""What the handlers send back: the viewer's value and the tools beside the selection.

The browser draws frames, overlays, the timeline and the track list itself
(app/static/viewer.js), so a handler never re-renders them: after an edit it
sends the viewer's new value (a small dict whose key tells the browser to
fetch what changed) and the few tool widgets that depend on the selection.
Selecting a track sends the tools only.
"""
from __future__ import annotations

import gradio as gr

from app.callbacks.text import md
from app.viewer.component import KEEP, view_input, viewer_value

# Outputs `tools` fills; `changed` adds the viewer and the message.
TOOLS = ("selected_info", "hide_btn", "merge_with", "undo", "redo", "history")
CHANGED = ("viewer", "message", *TOOLS)


def names(session) -> dict:
    return {c.id: c.name for c in session.state.vocabulary.classes}


def where(session, value):
    """The viewer's value as the handlers use it (frame clamped, ids as ints)."""
    return view_input(value, session.meta.num_frames)


def span(track) -> str:
    frames = track.frames
    if not frames:
        return "no frames"
    return f"frames {frames[0]}–{frames[-1]}" + ("" if len(frames) == frames[-1] - frames[0] + 1 else
                                                f" ({len(frames)} of them)")


def selected_info(session, selected) -> str:
    tr = session.state.tracks.get(selected)
    if tr is None:
        return "No instance selected: click one on the frame or in the list (Tab steps through this frame)."
    how = {"model": "found by the model", "promoted": "promoted from a low-score query",
           "imported": "imported", "split": "split off another track"}.get(tr.origin, tr.origin)
    extra = " · label set by hand (re-label keeps it)" if tr.by_hand else ""
    shown = " · **hidden** (h shows it)" if tr.hidden else (
        " · under the score threshold" if tr.score < session.meta.threshold else "")
    return (f"**#{tr.id} {md(session.state.class_name(tr.category_id))}** · score {tr.score:.3f} · {span(tr)} · "
            f"{how}{extra}{shown}")


def merge_choices(session, selected) -> list[tuple[str, int]]:
    """Every other track, with what tells two tracks apart: class, frames, score."""
    n = names(session)
    out = []
    for tr in sorted(session.state.tracks.values(), key=lambda tr: tr.id):
        if tr.id != selected:
            out.append((f"#{tr.id} {n.get(tr.category_id, f'class {tr.category_id}')} · {span(tr)} · "
                        f"score {tr.score:.2f}", tr.id))
    return out


def history_text(session) -> str:
    h = session.history
    last = md(h.undo_stack[-1].label) if h.undo_stack else "nothing yet"
    return f"Last edit: {last} · {len(h.undo_stack)} undo / {len(h.redo_stack)} redo · saved (revision {session.revision})"


def tools(session, selected) -> dict:
    """The widgets that depend on the selection and the history."""
    if session is None:
        return {"selected_info": "No video loaded.", "hide_btn": gr.update(value="Hide (h)"),
                "merge_with": gr.update(choices=[], value=None), "undo": gr.update(interactive=False),
                "redo": gr.update(interactive=False), "history": ""}
    tr = session.state.tracks.get(selected)
    return {
        "selected_info": selected_info(session, selected),
        "hide_btn": gr.update(value="Show (h)" if tr is not None and tr.hidden else "Hide (h)"),
        "merge_with": gr.update(choices=merge_choices(session, selected), value=None),
        "undo": gr.update(interactive=bool(session.history.undo_stack)),
        "redo": gr.update(interactive=bool(session.history.redo_stack)),
        "history": history_text(session),
    }


def folded_ask(session) -> dict:
    """The Ask panel folded into one line that says what was asked (open it to re-label)."""
    names = session.state.vocabulary.names
    asked = ", ".join(names[:6]) + (f" and {len(names) - 6} more" if len(names) > 6 else "")
    return gr.update(open=False, label=f"2 · Ask — {asked} (open to ask again or re-label)")


def changed(studio, session, selected, message: str = "", *, select=KEEP, seek=None) -> dict:
    """After anything that changed the session: the viewer's new state, the tools, the message.
    `select` (a track id or None) makes the browser select it; KEEP leaves its selection."""
    now = selected if select is KEEP else select
    if now is not None and now not in session.state.tracks:
        now, select = None, None
    return {"viewer": viewer_value(studio.viewer, session, select=select, seek=seek),
            "message": message, **tools(session, now)}


def select_track(session, value, evt: gr.EventData) -> dict:
    """The viewer's `track` event: the user selected a track (or none) in the browser."""
    if session is None:
        return tools(None, None)
    data = getattr(evt, "_data", None) or {}
    track = where(session, {"selected": data.get("track")}).selected
    return tools(session, track if track in session.state.tracks else None)
