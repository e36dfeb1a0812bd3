"""The panel's live plots: the population on the reference map, and per-generation charts.

Plotly FigureWidgets (WebGL traces). The slow parts (embedding, t-SNE placement) run in a
worker thread and hand back plain arrays; only the figure update runs on the kernel's
event loop, throttled by the panel, so the page stays responsive while a run streams in.
Each trace is capped (`max_points`) by an even sample: a 250K-candidate run draws a
faithful picture of its spread without sending 250K points to the browser.
"""

from __future__ import annotations

import html
import math
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import plotly.colors as pc
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from . import diversity
from .store import RunStore, RunView

__all__ = ["MapView", "Placed", "generation_charts_data"]

_REF_COLOURS = {"alpaca": "#7aa6d6", "sharegpt": "#f2a65a"}


def hover_text(text: str, width: int = 70, limit: int = 300) -> str:
    """Escaped, cut and wrapped: LLM text is untrusted and plotly hover renders some HTML."""
    text = " ".join(str(text or "").split())
    if len(text) > limit:
        text = text[:limit] + "…"
    return "<br>".join(html.escape(line) for line in textwrap.wrap(text, width) or [""])


@dataclass
class Placed:
    """New points placed on the map, ready to draw (computed off the event loop)."""

    generation: int
    ids: list[str]
    texts: list[str]
    coords: np.ndarray
    clusters: np.ndarray
    embeddings: np.ndarray


@dataclass
class _Layer:
    ids: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    hovers: list[str] = field(default_factory=list)  # built once per point, not per redraw
    coords: list[np.ndarray] = field(default_factory=list)
    clusters: list[np.ndarray] = field(default_factory=list)
    embeddings: list[np.ndarray] = field(default_factory=list)

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if not self.coords:
            return (np.zeros((0, 2), np.float32), np.zeros(0, np.int32),
                    np.zeros((0, 1), np.float32))
        return (np.concatenate(self.coords), np.concatenate(self.clusters),
                np.concatenate(self.embeddings))


def _count_label(name: str, total: int, drawn: int) -> str:
    """Legend text with the real count, and how many are drawn when sampled."""
    return f"{name} ({total})" if drawn == total else f"{name} ({total}, {drawn} drawn)"


def _sample(n: int, cap: int) -> np.ndarray:
    return np.arange(n) if n <= cap else np.linspace(0, n - 1, cap).astype(np.int64)


class MapView:
    """Owns the figures; `refmap` is an `evolviz.maps.ReferenceMap` (or None: no map)."""

    def __init__(self, *, max_points: int = 20000, on_select: Callable[[str], None] | None = None):
        self.refmap: Any = None
        self.max_points = max_points
        self.on_select = on_select
        self.layers: dict[int, _Layer] = {}
        self.note = "The map is loading (embedding the references the first time takes a while)."
        self.source_fig = go.FigureWidget(layout=self._layout("population on the reference map "
                                                              "(t-SNE, coloured by source)"))
        self.cluster_fig = go.FigureWidget(layout=self._layout("k-means topics"))
        self.charts = go.FigureWidget(make_subplots(
            rows=2, cols=2, subplot_titles=("acceptance by operator", "rejections by rule",
                                            "diversity of the accepted", "mean difficulty"),
            vertical_spacing=0.16))
        self.charts.update_layout(height=520, template="plotly_white", margin={"t": 40, "b": 30},
                                  legend={"font": {"size": 10}})
        self.visible_up_to: int | None = None

    @staticmethod
    def _layout(title: str) -> go.Layout:
        axis = {"showticklabels": False, "showgrid": False, "zeroline": False}
        return go.Layout(title={"text": title, "font": {"size": 13}}, template="plotly_white",
                         height=460, margin={"l": 10, "r": 10, "t": 40, "b": 10},
                         xaxis=axis, yaxis=axis, legend={"font": {"size": 10}},
                         hovermode="closest")

    # -- base ----------------------------------------------------------------------------

    def set_map(self, refmap: Any, seed_texts: Sequence[str], seed_ids: Sequence[str]) -> None:
        """Draw references and seeds (once the map is fitted)."""
        self.refmap = refmap
        coords, clusters = refmap.place(list(seed_texts)) if seed_texts else (
            np.zeros((0, 2), np.float32), np.zeros(0, np.int32))
        labels = np.asarray(refmap.reference_labels).astype(str)
        with self.source_fig.batch_update(), self.cluster_fig.batch_update():
            self.source_fig.data = ()
            self.cluster_fig.data = ()
            for name in dict.fromkeys(labels):
                idx = np.flatnonzero(labels == name)
                total = len(idx)
                idx = idx[_sample(total, self.max_points)]
                self.source_fig.add_trace(go.Scattergl(
                    x=refmap.reference_coords[idx, 0], y=refmap.reference_coords[idx, 1],
                    mode="markers", name=_count_label(name, total, len(idx)),
                    hoverinfo="text",
                    hovertext=[hover_text(refmap.reference_texts[i]) for i in idx],
                    marker={"size": 4, "opacity": 0.4,
                            "color": _REF_COLOURS.get(name, "#9ccc9c")},
                    meta={"kind": "reference", "source": name}))
            self.source_fig.add_trace(go.Scattergl(
                x=coords[:, 0], y=coords[:, 1], mode="markers", name=f"seeds ({len(coords)})",
                hovertext=[hover_text(t) for t in seed_texts], hoverinfo="text",
                customdata=list(seed_ids), marker={"size": 7, "color": "#222"},
                meta={"kind": "seeds"}))
            all_c = np.concatenate([refmap.reference_clusters, clusters])
            all_xy = np.concatenate([refmap.reference_coords, coords])
            idx = _sample(len(all_c), self.max_points)
            self.cluster_fig.add_trace(go.Scattergl(
                x=all_xy[idx, 0], y=all_xy[idx, 1], mode="markers", name="references + seeds",
                hovertext=[f"cluster {c}: {html.escape(refmap.cluster_labels[c])}"
                           for c in all_c[idx]], hoverinfo="text",
                marker={"size": 4, "color": all_c[idx], "colorscale": "Turbo", "opacity": 0.5,
                        "cmin": 0, "cmax": max(1, refmap.k - 1)}, meta={"kind": "base"}))
        self.note = (f"Map: {len(labels)} reference points, k={refmap.k} clusters. New points "
                     f"are placed into the fixed reference map; relations among new points "
                     f"are not shown until a refit.")

    # -- live points -----------------------------------------------------------------

    def place(self, generation: int, ids: Sequence[str], texts: Sequence[str]) -> Placed:
        """Embed and place new texts; blocking, so call it from a worker thread."""
        coords, clusters = self.refmap.place(list(texts))
        emb = self.refmap.embed(list(texts))
        return Placed(generation, list(ids), list(texts), coords, clusters, emb)

    def add(self, placed: Placed) -> None:
        layer = self.layers.setdefault(placed.generation, _Layer())
        seen = set(layer.ids)
        keep = [i for i, cid in enumerate(placed.ids) if cid not in seen]
        if len(keep) < len(placed.ids):  # drawn already (a map load raced a running step)
            placed = Placed(placed.generation, [placed.ids[i] for i in keep],
                            [placed.texts[i] for i in keep], placed.coords[keep],
                            placed.clusters[keep], placed.embeddings[keep])
        layer.ids += placed.ids
        layer.texts += placed.texts
        layer.hovers += [f"<b>{html.escape(cid)}</b><br>{hover_text(t)}"
                         for cid, t in zip(placed.ids, placed.texts, strict=True)]
        layer.coords.append(placed.coords)
        layer.clusters.append(placed.clusters)
        layer.embeddings.append(placed.embeddings)
        self._draw_generation(placed.generation)

    def _draw_generation(self, g: int) -> None:
        layer = self.layers[g]
        coords, clusters, _ = layer.arrays()
        idx = _sample(len(coords), self.max_points)
        gens = sorted(self.layers)
        colours = pc.sample_colorscale("Plasma", [i / max(1, len(gens)) for i in range(len(gens))])
        name = _count_label(f"gen {g}", len(coords), len(idx))
        args = {
            "x": coords[idx, 0], "y": coords[idx, 1], "name": name,
            "customdata": [layer.ids[i] for i in idx],
            "hovertext": [layer.hovers[i] for i in idx],
        }
        with self.source_fig.batch_update(), self.cluster_fig.batch_update():
            trace = next((t for t in self.source_fig.data
                          if (t.meta or {}).get("generation") == g), None)
            if trace is None:
                self.source_fig.add_trace(go.Scattergl(mode="markers", hoverinfo="text",
                                                       marker={"size": 8},
                                                       meta={"kind": "gen", "generation": g},
                                                       **args))
                trace = self.source_fig.data[-1]
                if self.on_select is not None:
                    trace.on_click(self._clicked)
                ctrace = go.Scattergl(mode="markers", hoverinfo="text",
                                      meta={"kind": "gen", "generation": g},
                                      marker={"size": 8, "symbol": "diamond", "colorscale": "Turbo",
                                              "cmin": 0, "cmax": max(1, self.refmap.k - 1),
                                              "line": {"width": 1, "color": "#222"}}, **args)
                self.cluster_fig.add_trace(ctrace)
                if self.on_select is not None:
                    self.cluster_fig.data[-1].on_click(self._clicked)
            else:
                trace.update(**args)
            ctrace = next(t for t in self.cluster_fig.data
                          if (t.meta or {}).get("generation") == g)
            ctrace.update(**args)
            ctrace.marker.color = clusters[idx]
            for t in self.source_fig.data:
                meta = t.meta or {}
                if meta.get("kind") == "gen":
                    t.marker.color = colours[gens.index(meta["generation"])]
        if self.visible_up_to is not None:
            self.show_up_to(self.visible_up_to)

    def _clicked(self, trace: Any, points: Any, _selector: Any) -> None:
        if points.point_inds and self.on_select is not None:
            self.on_select(trace.customdata[points.point_inds[0]])

    def show_up_to(self, generation: int | None) -> None:
        """Replay: show the population up to a generation (None: all)."""
        self.visible_up_to = generation
        with self.source_fig.batch_update(), self.cluster_fig.batch_update():
            for fig in (self.source_fig, self.cluster_fig):
                for t in fig.data:
                    g = (t.meta or {}).get("generation")
                    if g is not None:
                        t.visible = generation is None or g <= generation

    def point_counts(self) -> dict[str, int]:
        """How many points each kind of trace holds (the browser test reads these too)."""
        counts: dict[str, int] = {}
        for t in self.source_fig.data:
            kind = (t.meta or {}).get("kind", "?")
            counts[kind] = counts.get(kind, 0) + (len(t.x) if t.x is not None else 0)
        return counts

    # -- charts ------------------------------------------------------------------------

    def diversity_rows(self) -> list[dict[str, Any]]:
        if self.refmap is None:
            return []
        ref_emb = self.refmap.reference_embeddings
        rows = []
        for g in sorted(self.layers):
            _, clusters, emb = self.layers[g].arrays()
            if len(emb):
                rows.append({"generation": g, **diversity.metrics(emb, clusters, self.refmap.k,
                                                                  ref_emb)})
        return rows

    def update_charts(self, store: RunStore) -> dict[str, Any]:
        data = generation_charts_data(store)
        rows = self.diversity_rows()
        with self.charts.batch_update():
            self.charts.data = ()
            for op, series in data["acceptance"].items():
                self.charts.add_trace(go.Scatter(x=series["x"], y=series["y"], name=op,
                                                 mode="lines+markers", legendgroup="op"),
                                      row=1, col=1)
            for rule, series in data["rejections"].items():
                self.charts.add_trace(go.Bar(x=series["x"], y=series["y"], name=rule,
                                             legendgroup="rule"), row=1, col=2)
            for key in ("coverage", "entropy_norm", "mean_pairwise_cosine_distance", "novelty"):
                if rows and key in rows[0]:
                    self.charts.add_trace(go.Scatter(
                        x=[r["generation"] for r in rows], y=[_finite(r[key]) for r in rows],
                        name=key,
                        mode="lines+markers", legendgroup="div"), row=2, col=1)
            if rows and "vendi_score" in rows[0]:
                self.charts.add_trace(go.Scatter(
                    x=[r["generation"] for r in rows],
                    y=[_finite(r["vendi_score"]) for r in rows],
                    name="Vendi score", mode="lines+markers", line={"dash": "dot"}),
                    row=2, col=1)
            d = data["difficulty"]
            self.charts.add_trace(go.Scatter(x=d["x"], y=d["y"], name="mean difficulty",
                                             mode="lines+markers"), row=2, col=2)
            self.charts.update_layout(barmode="stack")
            self.charts.update_xaxes(dtick=1)
        return {"charts": data, "diversity": rows}


def _finite(value: Any) -> float | None:
    """NaN (a metric undefined for one point) as a gap: JSON, hence the widget, has no NaN."""
    return None if value is None or not math.isfinite(float(value)) else float(value)


def generation_charts_data(store: RunStore) -> dict[str, Any]:
    """Per-generation series straight from the store (cheap aggregate queries)."""
    return RunView(store).chart_series()
