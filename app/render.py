"""What the user looks at: the frame with its masks, the timeline, the class chart, the table.

Pure drawing: the masks come decoded at display size from the session
(app.session.masks.MaskStore caches them by reference, so redrawing after an
edit of one track decodes only what changed).
"""
from __future__ import annotations

import cv2
import numpy as np
import pandas as pd
import plotly.graph_objects as go

from clipvis.formats.overlay import draw_overlay, instance_color

SELECTED_OUTLINE = (255, 255, 255)


def track_color(track_id: int) -> tuple[int, int, int]:
    """The one colour of a track everywhere: viewer, table, timeline."""
    return instance_color(track_id)


def hex_color(rgb) -> str:
    return "#%02x%02x%02x" % tuple(int(c) for c in rgb)


def render_frame(frame: np.ndarray, items, *, names=None, selected: int | None = None,
                 alpha: float = 0.45) -> np.ndarray:
    """frame: (h, w, 3) display-size RGB; items: [(Track, (h, w) bool mask)]
    of the tracks to draw on this frame (hidden ones already left out);
    names: {category_id: name}. The selected track is drawn last (on top)
    with a white outline."""
    h, w = frame.shape[:2]
    names = names or {}
    items = sorted(items, key=lambda item: item[0].id == selected)  # selected last: on top
    masks = [m for _, m in items]
    labels = [f"#{tr.id} {names.get(tr.category_id, tr.category_id)} {tr.score:.2f}" for tr, _ in items]
    out = draw_overlay(frame, masks, [track_color(tr.id) for tr, _ in items], labels, alpha=alpha)
    if items and items[-1][0].id == selected:
        contours, _ = cv2.findContours(masks[-1].view(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(out, contours, -1, SELECTED_OUTLINE, max(2, w // 320))
    return out


def track_at(items, x: float, y: float):
    """The id of the top track under the display pixel (x, y), or None; items
    as render_frame's. Smallest first: a person in front of a bus is what one clicks on."""
    xi, yi = int(x), int(y)
    hits = [(int(m.sum()), tr.id) for tr, m in items if 0 <= yi < m.shape[0] and 0 <= xi < m.shape[1] and m[yi, xi]]
    return min(hits)[1] if hits else None


def timeline_figure(tracks, num_frames: int, names: dict, selected: int | None = None) -> go.Figure:
    """Every track as a row of bars over the frames it is in, coloured by class."""
    fig = go.Figure()
    rows = [f"#{tr.id} {names.get(tr.category_id, tr.category_id)}" for tr in tracks]
    by_class: dict = {}
    for tr, row in zip(tracks, rows):
        by_class.setdefault(tr.category_id, []).append((tr, row))
    for k, (cid, items) in enumerate(sorted(by_class.items())):
        base, length, ys, text, widths = [], [], [], [], []
        for tr, row in items:
            for a, b in tr.runs:  # cached per track version: a redraw never walks all frames
                base.append(a - 0.5)
                length.append(b - a + 1)
                ys.append(row)
                text.append(f"#{tr.id} {names.get(cid, cid)}<br>score {tr.score:.3f}<br>frames {a}–{b}")
                widths.append(3 if tr.id == selected else 0)
        fig.add_bar(x=length, y=ys, base=base, orientation="h", name=str(names.get(cid, cid)),
                    marker={"color": hex_color(instance_color(1000 + k)), "line": {"width": widths, "color": "#111"}},
                    hovertext=text, hoverinfo="text")
    fig.update_layout(barmode="overlay", height=max(220, 90 + 24 * len(tracks)), margin=dict(l=10, r=10, t=30, b=30),
                      xaxis=dict(title="frame", range=[-0.5, num_frames - 0.5]),
                      # Every row labelled (plotly would skip labels when crowded), first track on top.
                      yaxis=dict(categoryorder="array", categoryarray=rows[::-1], tickmode="array",
                                 tickvals=rows, automargin=True),
                      legend=dict(orientation="h", y=1.02, yanchor="bottom"), title=None)
    return fig


def class_chart(track, names: dict) -> go.Figure:
    """The selected track's top classes, as the model scored them."""
    fig = go.Figure()
    if track is not None and track.top_classes:
        labels = [str(names.get(cid, f"class {cid}")) for cid, _ in track.top_classes][::-1]
        scores = [s for _, s in track.top_classes][::-1]
        fig.add_bar(x=scores, y=labels, orientation="h", marker_color=hex_color(track_color(track.id)),
                    hovertemplate="%{y}: %{x:.3f}<extra></extra>")
    empty = track is None or not track.top_classes
    fig.update_layout(height=200, margin=dict(l=10, r=10, t=30, b=30),
                      title="select an instance to see its top classes" if track is None else
                      f"#{track.id}: top classes" + (" (none: not from the model)" if empty else ""),
                      xaxis=dict(title="score", rangemode="tozero", visible=not empty),
                      yaxis=dict(visible=not empty))
    return fig


TABLE_COLUMNS = ["id", "colour", "class", "score", "first", "last", "frames", "origin", "shown"]


def instance_table(tracks, names: dict, selected: int | None = None, threshold: float = 0.0):
    """Every track (hidden and weak ones too, greyed, so they can be selected
    and shown again), with colour swatches and the selected row highlighted."""
    def shown(tr):
        return "hidden" if tr.hidden else ("under threshold" if tr.score < threshold else "✓")

    rows = [[tr.id, "", names.get(tr.category_id, tr.category_id), tr.score, tr.first_frame, tr.last_frame,
             tr.num_present, tr.origin + (" · hand label" if tr.by_hand else ""), shown(tr)] for tr in tracks]
    df = pd.DataFrame(rows, columns=TABLE_COLUMNS)
    colours = [hex_color(track_color(tr.id)) for tr in tracks]

    def paint(row):
        tr = tracks[row.name]
        base = "font-weight: bold; background-color: #fff3b0" if tr.id == selected else (
            "color: #98a2b3" if shown(tr) != "✓" else "")
        style = [base] * len(row)
        style[1] = f"background-color: {colours[row.name]}"
        return style

    return df.style.apply(paint, axis=1).format({"score": "{:.3f}"}) if rows else df
