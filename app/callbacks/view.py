"""What every handler returns: the view of a session, as {output name: value}.

ui.py turns these dicts into Gradio outputs; names not in a dict are left
unchanged. `frame_view` is the fast path (scrubbing, playing): one image.
"""
from __future__ import annotations

import gradio as gr

from app import render

# Outputs `full_view` fills, in the order ui.py wires them.
FULL_VIEW = ("viewer", "frame", "frame_info", "table", "timeline", "selected_info", "top5", "class_chart",
             "merge_with", "history", "message", "undo", "redo")


def clamp_frame(session, t) -> int:
    try:
        t = int(t or 0)
    except (TypeError, ValueError):
        t = 0
    return min(max(t, 0), session.meta.num_frames - 1)


def names(session) -> dict:
    return {c.id: c.name for c in session.state.vocabulary.classes}


def shown_tracks(session) -> list:
    """Visible tracks; the selected one stays shown even under the threshold."""
    tracks = session.state.visible(session.meta.threshold)
    sel = session.state.tracks.get(session.selected)
    if sel is not None and sel not in tracks:
        tracks.append(sel)
    return tracks


def frame_image(session, t: int):
    frame = session.frames.get(t)
    return render.render_frame(frame, shown_tracks(session), t, names=names(session), selected=session.selected)


def frame_info(session, t: int) -> str:
    m = session.meta
    present = sum(1 for tr in shown_tracks(session) if tr.segmentations[t] is not None)
    time_s = f" · {t / m.fps:.2f} s" if m.fps else ""
    return f"Frame **{t}** / {m.num_frames - 1}{time_s} · {present} instance(s) on this frame"


def frame_view(session, t) -> dict:
    if session is None:
        return {}
    t = clamp_frame(session, t)
    return {"viewer": frame_image(session, t), "frame_info": frame_info(session, t)}


def selected_info(session) -> str:
    tr = session.state.tracks.get(session.selected)
    if tr is None:
        return "No instance selected: click one on the image or in the table."
    label = session.state.class_name(tr.category_id)
    how = {"model": "found by the model", "promoted": "promoted from a low-score query",
           "imported": "imported", "split": "split off another track"}[tr.origin]
    extra = " · label set by hand (re-query keeps it)" if tr.by_hand else ""
    hidden = " · **hidden**" if tr.hidden else ""
    span = f"frames {tr.first_frame}–{tr.last_frame}" if tr.frames else "no frames"
    return f"**#{tr.id} {label}** · score {tr.score:.3f} · {span} · {how}{extra}{hidden}"


def top5_choices(session) -> list[tuple[str, int]]:
    tr = session.state.tracks.get(session.selected)
    if tr is None:
        return []
    n = names(session)
    return [(f"{n.get(cid, f'class {cid}')} ({score:.2f})", cid) for cid, score in tr.top_classes if cid in n]


def history_text(session) -> str:
    h = session.history
    last = h.undo_stack[-1].label if h.undo_stack else "nothing yet"
    saved = f"saved to disk (revision {session.revision})"
    return f"Last edit: {last} · {len(h.undo_stack)} undo / {len(h.redo_stack)} redo · {saved}"


def full_view(session, t, message: str = "") -> dict:
    """Everything that depends on the tracks, for after an edit or a load."""
    if session is None:
        return {"message": message}
    t = clamp_frame(session, t)
    n = names(session)
    every = sorted(session.state.tracks.values(), key=lambda tr: tr.id)
    tracks = sorted(shown_tracks(session), key=lambda tr: tr.id)
    sel = session.state.tracks.get(session.selected)
    others = [(f"#{tr.id} {n.get(tr.category_id, tr.category_id)}", tr.id) for tr in every if tr.id != session.selected]
    return {
        "viewer": frame_image(session, t),
        "frame": gr.update(maximum=max(session.meta.num_frames - 1, 1), value=t),
        "frame_info": frame_info(session, t),
        "table": render.instance_table(every, n, session.selected, session.meta.threshold),
        "timeline": render.timeline_figure(tracks, session.meta.num_frames, n, session.selected),
        "selected_info": selected_info(session),
        "top5": gr.update(choices=top5_choices(session), value=None),
        "class_chart": render.class_chart(sel, n),
        "merge_with": gr.update(choices=others, value=None),
        "history": history_text(session),
        "message": message,
        "undo": gr.update(interactive=bool(session.history.undo_stack)),
        "redo": gr.update(interactive=bool(session.history.redo_stack)),
    }


def select_track(session, t, track_id, message: str = "") -> dict:
    if session is None:
        return {}
    session.selected = track_id if track_id in session.state.tracks else None
    return full_view(session, t, message)


def select_from_table(session, t, evt: gr.SelectData) -> dict:
    if session is None or not evt.row_value:
        return {}
    try:
        track_id = int(evt.row_value[0])
    except (TypeError, ValueError):
        return {}
    return select_track(session, t, track_id)


def select_from_image(session, t, evt: gr.SelectData) -> dict:
    """A click on the viewer selects the instance under the pointer (or clears)."""
    if session is None or not evt.index:
        return {}
    t = clamp_frame(session, t)
    h, w = session.frames.get(t).shape[:2]
    x, y = evt.index[0], evt.index[1]
    return select_track(session, t, render.track_at(shown_tracks(session), t, x, y, (w, h)))


def step(session, t, delta: int) -> dict:
    if session is None:
        return {}
    t = clamp_frame(session, (t or 0) + delta)
    return {"frame": t, **frame_view(session, t)}


def play_tick(session, t) -> dict:
    """One timer tick while playing: the next frame, stopping at the end."""
    if session is None:
        return {"timer": gr.Timer(active=False), "play": "▶ Play"}
    t = clamp_frame(session, t)
    if t >= session.meta.num_frames - 1:
        return {"timer": gr.Timer(active=False), "play": "▶ Play"}
    return step(session, t, 1)


def toggle_play(session, playing: bool) -> dict:
    playing = not playing and session is not None
    return {"timer": gr.Timer(active=playing), "play": "⏸ Pause" if playing else "▶ Play", "playing": playing}
