"""What every handler returns: the view of a session, as {output name: value}.

Handlers take the tab's ViewState (app/view_state.py) and return a changed
copy under "view" with the rest; ui.py turns these dicts into Gradio outputs,
and names not in a dict are left unchanged. `frame_view` is the fast path
(scrubbing, playing): one image.
"""
from __future__ import annotations

import time

import gradio as gr

from app import render
from app.session import store
from app.messages import problem
from app.view_state import ViewState

# Outputs `full_view` fills, in the order ui.py wires them.
FULL_VIEW = ("view", "viewer", "frame", "frame_info", "table", "timeline", "selected_info", "top5", "class_chart",
             "merge_with", "history", "message", "undo", "redo", "sessions")


def clamp_frame(session, t) -> int:
    try:
        t = int(t or 0)
    except (TypeError, ValueError):
        t = 0
    return min(max(t, 0), session.meta.num_frames - 1)


def names(session) -> dict:
    return {c.id: c.name for c in session.state.vocabulary.classes}


def shown_tracks(view: ViewState) -> list:
    """Visible tracks; the selected one stays shown even under the threshold."""
    session = view.session
    tracks = session.state.visible(session.meta.threshold)
    sel = view.selected_track
    if sel is not None and sel not in tracks:
        tracks.append(sel)
    return tracks


def frame_items(view: ViewState, t: int, size: tuple[int, int]) -> list:
    """[(track, mask at display size)] of the shown tracks present on frame t."""
    masks = view.session.masks
    return [(tr, masks.shown(tr.refs[t], t, size)) for tr in shown_tracks(view) if tr.refs[t]]


def frame_image(view: ViewState, t: int):
    frame = view.session.frames.get(t)
    size = (frame.shape[1], frame.shape[0])
    return render.render_frame(frame, frame_items(view, t, size), names=names(view.session), selected=view.selected)


def frame_info(view: ViewState, t: int) -> str:
    m = view.session.meta
    present = sum(1 for tr in shown_tracks(view) if tr.refs[t])
    time_s = f" · {t / m.fps:.2f} s" if m.fps else ""
    return f"Frame **{t}** / {m.num_frames - 1}{time_s} · {present} instance(s) on this frame"


def frame_view(view: ViewState, t) -> dict:
    if view is None or view.session is None:
        return {}
    t = clamp_frame(view.session, t)
    return {"view": view.with_(frame=t), "viewer": frame_image(view, t), "frame_info": frame_info(view, t)}


def selected_info(view: ViewState) -> str:
    tr = view.selected_track
    if tr is None:
        return "No instance selected: click one on the image or in the table."
    label = view.session.state.class_name(tr.category_id)
    how = {"model": "found by the model", "promoted": "promoted from a low-score query",
           "imported": "imported", "split": "split off another track"}[tr.origin]
    extra = " · label set by hand (re-query keeps it)" if tr.by_hand else ""
    hidden = " · **hidden**" if tr.hidden else ""
    span = f"frames {tr.first_frame}–{tr.last_frame}" if tr.num_present else "no frames"
    return f"**#{tr.id} {label}** · score {tr.score:.3f} · {span} · {how}{extra}{hidden}"


def top5_choices(view: ViewState) -> list[tuple[str, int]]:
    tr = view.selected_track
    if tr is None:
        return []
    n = names(view.session)
    return [(f"{n.get(cid, f'class {cid}')} ({score:.2f})", cid) for cid, score in tr.top_classes if cid in n]


def history_text(session) -> str:
    last = session.undo_stack[-1][1] if session.undo_stack else "nothing yet"
    saved = f"saved to disk (revision {session.revision})"
    return f"Last edit: {last} · {len(session.undo_stack)} undo / {len(session.redo_stack)} redo · {saved}"


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


def full_view(view: ViewState, t, message: str = "") -> dict:
    """Everything that depends on the tracks, for after an edit or a load;
    the tab's view is now drawn from the document's current revision."""
    if view is None or view.session is None:
        return {"message": message}
    session = view.session
    with session.lock:  # one revision throughout
        t = clamp_frame(session, t)
        if view.selected is not None and view.selected not in session.state.tracks:
            view = view.with_(selected=None)
        view = view.with_(frame=t, revision=session.revision)
        n = names(session)
        every = sorted(session.state.tracks.values(), key=lambda tr: tr.id)
        tracks = sorted(shown_tracks(view), key=lambda tr: tr.id)
        sel = view.selected_track
        others = [(f"#{tr.id} {n.get(tr.category_id, tr.category_id)}", tr.id) for tr in every
                  if tr.id != view.selected]
        return {
            "view": view,
            "viewer": frame_image(view, t),
            "frame": gr.update(maximum=max(session.meta.num_frames - 1, 1), value=t),
            "frame_info": frame_info(view, t),
            "table": render.instance_table(every, n, view.selected, session.meta.threshold),
            "timeline": render.timeline_figure(tracks, session.meta.num_frames, n, view.selected),
            "selected_info": selected_info(view),
            "top5": gr.update(choices=top5_choices(view), value=None),
            "class_chart": render.class_chart(sel, n),
            "merge_with": gr.update(choices=others, value=None),
            "history": history_text(session),
            "message": message,
            "undo": gr.update(interactive=bool(session.undo_stack)),
            "redo": gr.update(interactive=bool(session.redo_stack)),
            "sessions": sessions_list(view),
        }


def select_track(view: ViewState, t, track_id, message: str = "") -> dict:
    if view is None or view.session is None:
        return problem("load a video first")
    tracks = view.session.state.tracks
    return full_view(view.with_(selected=track_id if track_id in tracks else None), t, message)


def select_from_table(view: ViewState, t, evt: gr.SelectData) -> dict:
    if view is None or view.session is None or not evt.row_value:
        return {}
    try:
        track_id = int(evt.row_value[0])
    except (TypeError, ValueError):
        return {}
    return select_track(view, t, track_id)


def select_from_image(view: ViewState, t, evt: gr.SelectData) -> dict:
    """A click on the viewer selects the instance under the pointer (or clears)."""
    if view is None or view.session is None or not evt.index:
        return {}
    t = clamp_frame(view.session, t)
    frame = view.session.frames.get(t)
    items = frame_items(view, t, (frame.shape[1], frame.shape[0]))
    return select_track(view, t, render.track_at(items, evt.index[0], evt.index[1]))


def step(view: ViewState, t, delta: int) -> dict:
    if view is None or view.session is None:
        return {}
    t = clamp_frame(view.session, (t or 0) + delta)
    return {"frame": t, **frame_view(view, t)}


def play_tick(view: ViewState, t) -> dict:
    """One timer tick while playing: the next frame, stopping at the end."""
    if view is None or view.session is None:
        return {"timer": gr.Timer(active=False), "play": "▶ Play"}
    t = clamp_frame(view.session, t)
    if t >= view.session.meta.num_frames - 1:
        return {"timer": gr.Timer(active=False), "play": "▶ Play"}
    return step(view, t, 1)


def toggle_play(view: ViewState, playing: bool) -> dict:
    playing = not playing and view is not None and view.session is not None
    return {"timer": gr.Timer(active=playing), "play": "⏸ Pause" if playing else "▶ Play", "playing": playing}
