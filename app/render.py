"""What the user looks at: the frame with its masks, the timeline, the class chart, the table.

Masks are stored at the video's full size; the viewer shows a downscaled
frame. Decoded, downscaled masks are cached by their RLE, so revisiting a
frame or redrawing after an edit of one track decodes only what changed.
"""
from __future__ import annotations

import threading
from collections import OrderedDict

import cv2
import numpy as np
import pandas as pd
import plotly.graph_objects as go

from clipvis.formats.overlay import draw_overlay, instance_color
from clipvis.formats.rle import rle_to_mask

SELECTED_OUTLINE = (255, 255, 255)


def track_color(track_id: int) -> tuple[int, int, int]:
    """The one colour of a track everywhere: viewer, table, timeline."""
    return instance_color(track_id)


def hex_color(rgb) -> str:
    return "#%02x%02x%02x" % tuple(int(c) for c in rgb)


class MaskCache:
    """RLE -> bool mask at a display size, least recently used dropped first."""

    def __init__(self, capacity: int = 1024):
        self.capacity = capacity
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, rle: dict, size: tuple[int, int]) -> np.ndarray:
        """size: (width, height) wanted."""
        key = (rle["counts"], tuple(rle["size"]), size)
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
                return hit
        mask = rle_to_mask(rle)
        if (mask.shape[1], mask.shape[0]) != size:
            mask = cv2.resize(mask.view(np.uint8), size, interpolation=cv2.INTER_NEAREST).view(bool)
        with self._lock:
            self._items[key] = mask
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)
        return mask


MASKS = MaskCache()


def render_frame(frame: np.ndarray, tracks, t: int, *, names=None, selected: int | None = None,
                 alpha: float = 0.45, cache: MaskCache = MASKS) -> np.ndarray:
    """frame: (h, w, 3) display-size RGB; tracks: the Tracks to draw (hidden
    ones already left out); names: {category_id: name}. The selected track is
    drawn last (on top) with a white outline."""
    h, w = frame.shape[:2]
    names = names or {}
    present = [tr for tr in tracks if tr.segmentations[t] is not None]
    present.sort(key=lambda tr: tr.id == selected)  # selected last: on top
    masks = [cache.get(tr.segmentations[t], (w, h)) for tr in present]
    labels = [f"#{tr.id} {names.get(tr.category_id, tr.category_id)} {tr.score:.2f}" for tr in present]
    out = draw_overlay(frame, masks, [track_color(tr.id) for tr in present], labels, alpha=alpha)
    if present and present[-1].id == selected:
        contours, _ = cv2.findContours(masks[-1].view(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(out, contours, -1, SELECTED_OUTLINE, max(2, w // 320))
    return out


def track_at(tracks, t: int, x: float, y: float, display_wh: tuple[int, int], cache: MaskCache = MASKS):
    """The id of the top track under the display pixel (x, y) on frame t, or None."""
    w, h = display_wh
    xi, yi = int(x), int(y)
    if not (0 <= xi < w and 0 <= yi < h):
        return None
    hits = [tr for tr in tracks if tr.segmentations[t] is not None and cache.get(tr.segmentations[t], (w, h))[yi, xi]]
    # Smallest first: a person in front of a bus is what one clicks on.
    hits.sort(key=lambda tr: cache.get(tr.segmentations[t], (w, h)).sum())
    return hits[0].id if hits else None


def _runs(frames: list[int]) -> list[tuple[int, int]]:
    """[3, 4, 5, 9] -> [(3, 5), (9, 9)]."""
    runs = []
    for f in frames:
        if runs and f == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], f)
        else:
            runs.append((f, f))
    return runs


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
            for a, b in _runs(tr.frames):
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
             len(tr.frames), tr.origin + (" · hand label" if tr.by_hand else ""), shown(tr)] for tr in tracks]
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
