"""The paper-style figure of a run: t-SNE by source and by k-means cluster, side by side.

Every string drawn comes from the store, so it is untrusted LLM output: hover labels are
escaped before plotly sees them.
"""

from __future__ import annotations

import html
import textwrap
from typing import Any

import numpy as np
import pandas as pd

from .refmap import SEED_SOURCE

__all__ = ["paper_figure"]

_REF_COLOURS = {"alpaca": "#8fb3de", "sharegpt": "#9fd19f"}
_OTHER_REF = ["#9ccc9c", "#c7a3d9", "#d6c37a"]


def _hover(text: str, width: int = 80, limit: int = 400) -> str:
    """Escape first: the text is untrusted LLM output, and plotly renders some HTML tags
    in hover labels. Then cut and wrap, so a long turn does not fill the screen."""
    text = " ".join(str(text).split())
    if len(text) > limit:
        text = text[:limit] + "…"
    return "<br>".join(html.escape(line) for line in textwrap.wrap(text, width) or [""])


def paper_figure(df: pd.DataFrame, title: str | None = None) -> Any:
    """Two panels like the paper's picture: the t-SNE coloured by source (left) and by
    k-means cluster (right). WebGL traces, so tens of thousands of points stay responsive."""
    import plotly.colors as pc
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.04,
                        subplot_titles=("t-SNE by source", "t-SNE by k-means cluster"))
    hover = [
        f"<b>{html.escape(str(s))}</b>"
        f"{' · ' + html.escape(str(cid)) if cid else ''}"
        f"<br>cluster {html.escape(str(c))}<br>{_hover(t)}"
        for s, cid, c, t in zip(df["group"], df["id"], df["cluster"], df["text"], strict=True)
    ]
    df = df.assign(_hover=hover, _cluster=df["cluster"].cat.codes.astype(int))
    groups = list(dict.fromkeys(df["group"]))
    gens = sorted({int(g) for g in df.loc[df["kind"] == "evolved", "gen"]})
    # Evolved generations run purple -> orange, away from the pale reference colours.
    gen_colours = pc.sample_colorscale(
        "Plasma", list(np.linspace(0.3, 0.8, len(gens))) if len(gens) > 1 else [0.3])
    other = iter(_OTHER_REF * 10)
    for group in groups:
        part = df[df["group"] == group]
        is_ref = (part["kind"] == "reference").all()
        symbol = "circle"
        if group == SEED_SOURCE:
            colour, size, symbol = "#333333", 7, "diamond"
        elif is_ref:
            colour, size = _REF_COLOURS.get(group) or next(other), 4
        else:
            g = int(part["gen"].iloc[0])
            colour, size = gen_colours[gens.index(g)] if g in gens else "#444", 7
        fig.add_trace(go.Scattergl(
            x=part["x"], y=part["y"], mode="markers", name=f"{group} ({len(part)})",
            marker={"size": size, "color": colour, "symbol": symbol,
                    "opacity": 0.5 if is_ref else 0.9},
            hovertext=part["_hover"], hoverinfo="text", legendgroup="source",
            legend="legend"), row=1, col=1)
    palette = pc.qualitative.Dark24 + pc.qualitative.Light24
    for c in sorted(df["_cluster"].unique()):
        part = df[df["_cluster"] == c]
        label = str(part["cluster"].iloc[0])  # "id: keywords"
        evolved = part["kind"] == "evolved"
        fig.add_trace(go.Scattergl(
            x=part["x"], y=part["y"], mode="markers",
            name=f"{html.escape(label)} ({int(evolved.sum())} evolved)",
            marker={"size": np.where(evolved, 7, 4).tolist(),
                    "color": palette[int(c) % len(palette)],
                    "opacity": 0.75},
            hovertext=part["_hover"], hoverinfo="text", legend="legend2"), row=1, col=2)
    # Square panels (t-SNE distances mean the same along both axes), legends beneath.
    for axis in ("xaxis", "yaxis", "xaxis2", "yaxis2"):
        fig.layout[axis].update(showticklabels=False, showgrid=False, zeroline=False)
    fig.update_yaxes(domain=[0.3, 1.0])
    fig.update_layout(
        title=title, template="plotly_white", height=1050, width=1500,
        xaxis={"scaleanchor": "y", "constrain": "domain"},
        xaxis2={"scaleanchor": "y2", "constrain": "domain"},
        legend={"x": 0.0, "y": 0.27, "yanchor": "top"},
        legend2={"x": 0.52, "y": 0.27, "yanchor": "top", "font": {"size": 10}},
        margin={"l": 20, "r": 20, "t": 70, "b": 20},
    )
    return fig
