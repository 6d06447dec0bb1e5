"""What the handlers send back: the tab's view, the viewer's value and the tools beside the selection.

The browser draws frames, overlays, the timeline and the track list itself
(app/static/viewer.js), so a handler never re-renders them: after a change
it sends the viewer's new value (a small dict whose revision tells the
browser to fetch what changed), the tab's ViewState (app/view_state.py) and
the few tool widgets that depend on the selection. Selecting a track sends
the tools only.

The viewer's value is what the user sees in this tab: the frame shown and
the track selected. `tab` makes the tab's ViewState say the same before any
handler acts, so an edit always acts on what is on the screen.
"""
from __future__ import annotations

import time

import gradio as gr

from app.messages import md, problem
from app.session import store
from app.view_state import ViewState
from app.viewer.component import KEEP, view_input, viewer_value

# Outputs `tools` fills; `changed` adds the tab's view, the viewer, the message and the Sessions list.
TOOLS = ("selected_info", "hide_btn", "merge_with", "undo", "redo", "history")
CHANGED = ("view", "viewer", "message", "sessions", *TOOLS)


def names(session) -> dict:
    return {c.id: c.name for c in session.state.vocabulary.classes}


def tab(view: ViewState, value) -> ViewState:
    """The tab's view as its viewer says it is: the frame shown and the track
    selected. The revision stays the one of the last answer to this tab: the
    viewer may already draw an edit made in another tab (it polls), but an
    edit is made against what the server last showed this tab, so one on a
    track changed since is refused and redrawn rather than applied unseen."""
    if view is None or view.session is None or not isinstance(value, dict):
        return view
    shown = view_input(value, view.session.meta.num_frames)
    changes = {}
    if "frame" in value:
        changes["frame"] = shown.frame
    if "selected" in value:
        changes["selected"] = shown.selected
    return view.with_(**changes)


def span(track) -> str:
    n = track.num_present
    if not n:
        return "no frames"
    first, last = track.first_frame, track.last_frame
    return f"frames {first}–{last}" + ("" if n == last - first + 1 else f" ({n} of them)")


def selected_info(view: ViewState) -> str:
    tr = view.selected_track
    if tr is None:
        return "No instance selected: click one on the frame or in the list (Tab steps through this frame)."
    session = view.session
    how = {"model": "found by the model", "promoted": "promoted from a low-score query",
           "imported": "imported", "split": "split off another track",
           "clicked": "clicked and tracked (SAM 2), labelled by CLIP"}.get(tr.origin, tr.origin)
    extra = " · label set by hand (re-label keeps it)" if tr.by_hand else ""
    shown = " · **hidden** (h shows it)" if tr.hidden else (
        " · under the score threshold" if tr.score < session.meta.threshold else "")
    return (f"**#{tr.id} {md(session.state.class_name(tr.category_id))}** · score {tr.score:.3f} · {span(tr)} · "
            f"{how}{extra}{shown}")


def merge_choices(view: ViewState) -> list[tuple[str, int]]:
    """Every other track, with what tells two tracks apart: class, frames, score."""
    n = names(view.session)
    out = []
    for tr in sorted(view.session.state.tracks.values(), key=lambda tr: tr.id):
        if tr.id != view.selected:
            out.append((f"#{tr.id} {n.get(tr.category_id, f'class {tr.category_id}')} · {span(tr)} · "
                        f"score {tr.score:.2f}", tr.id))
    return out


def history_text(session) -> str:
    last = md(session.undo_stack[-1][1]) if session.undo_stack else "nothing yet"
    return (f"Last edit: {last} · {len(session.undo_stack)} undo / {len(session.redo_stack)} redo · "
            f"saved (revision {session.revision})")


def tools(view: ViewState) -> dict:
    """The widgets that depend on the tab's selection and the history."""
    if view is None or view.session is None:
        return {"selected_info": "No video loaded.", "hide_btn": gr.update(value="Hide (h)"),
                "merge_with": gr.update(choices=[], value=None), "undo": gr.update(interactive=False),
                "redo": gr.update(interactive=False), "history": ""}
    session, tr = view.session, view.selected_track
    return {
        "selected_info": selected_info(view),
        "hide_btn": gr.update(value="Show (h)" if tr is not None and tr.hidden else "Hide (h)"),
        "merge_with": gr.update(choices=merge_choices(view), value=None),
        "undo": gr.update(interactive=bool(session.undo_stack)),
        "redo": gr.update(interactive=bool(session.redo_stack)),
        "history": history_text(session),
    }


def session_choices(root, browser) -> list[tuple[str, str]]:
    """The Sessions list: (label, session id), newest first."""
    out = []
    for s in store.list_sessions(root, browser):
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(s["updated"]))
        out.append((f"{s['name']} · {s['frames']} frames · {s['tracks']} tracks · {when}", s["id"]))
    return out


def sessions_list(view: ViewState) -> dict:
    """The Sessions list as it is now (a run or an edit changes its counts), the tab's session picked."""
    session = view.session
    if not view.browser or session is None:
        return gr.update()
    return gr.update(choices=session_choices(session.folder.parents[1], view.browser), value=session.meta.id)


def folded_ask(session) -> dict:
    """The Ask panel folded into one line that says what was asked (open it to re-label)."""
    names_ = session.state.vocabulary.names
    asked = ", ".join(names_[:6]) + (f" and {len(names_) - 6} more" if len(names_) > 6 else "")
    return gr.update(open=False, label=f"2 · Ask — {asked} (open to ask again or re-label)")


def changed(studio, view: ViewState, message: str = "", *, select=KEEP, seek=None) -> dict:
    """After anything that changed the session: the tab's view drawn from the
    current revision, the viewer's new state, the tools, the message.
    `select` (a track id or None) makes the browser select it; KEEP leaves
    its selection (cleared if that track is gone)."""
    session = view.session
    with session.lock:  # one revision throughout
        now = view.selected if select is KEEP else select
        if now is not None and now not in session.state.tracks:
            now, select = None, None
        view = view.with_(selected=now, revision=session.revision)
        return {"view": view, "viewer": viewer_value(studio.viewer, session, select=select, seek=seek),
                "message": message, "sessions": sessions_list(view), **tools(view)}


def select_track(view: ViewState, value, evt: gr.EventData) -> dict:
    """The viewer's `track` event: the user selected a track (or none) in the browser."""
    if view is None or view.session is None:
        return problem("load a video first")
    data = getattr(evt, "_data", None) or {}
    view = tab(view, {**(value if isinstance(value, dict) else {}), "selected": data.get("track")})
    if view.selected is not None and view.selected not in view.session.state.tracks:
        view = view.with_(selected=None)
    return {"view": view, **tools(view)}
