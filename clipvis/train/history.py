"""The loss log of a run: a list of records (one per log period), written as
JSON and as a self-contained plotly HTML page (it opens offline)."""
from __future__ import annotations

from pathlib import Path

from clipvis.atomic import write_json, write_text

from .criterion import LOSS_NAMES

LOG_JSON = "losses.json"
LOG_HTML = "losses.html"


def loss_figure(history: list[dict]):
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.75, 0.25], vertical_spacing=0.06,
                        subplot_titles=("weighted losses (last decoder layer; total = all layers)", "learning rate"))
    x = [r["iter"] for r in history]
    for name in ("total",) + LOSS_NAMES:
        fig.add_trace(go.Scatter(x=x, y=[r[name] for r in history], mode="lines", name=name), row=1, col=1)
    fig.add_trace(go.Scatter(x=x, y=[r["lr"] for r in history], mode="lines", name="lr", showlegend=False),
                  row=2, col=1)
    fig.update_yaxes(type="log", row=1, col=1)
    fig.update_xaxes(title_text="iteration", row=2, col=1)
    fig.update_layout(height=640, margin=dict(l=60, r=20, t=40, b=40), hovermode="x unified")
    return fig


def write_loss_log(out, history: list[dict]):
    out = Path(out)
    write_json(out / LOG_JSON, history)
    if history:
        write_text(out / LOG_HTML, loss_figure(history).to_html(include_plotlyjs=True, full_html=True))
