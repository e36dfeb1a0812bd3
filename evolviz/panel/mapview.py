"""The panel's live plots: the population on the reference map, and per-generation charts.

The map is one jupyter-scatter plot (an anywidget over regl-scatterplot): every point of a
run, references and seeds included, goes to the browser as one binary buffer, so a
250K-candidate run is drawn whole instead of a 20K sample (measured against the plotly
map it replaced: docs/benchmarks_panel.md). Its state lives in widget traits, so a
reloaded page draws it again. Tooltips carry plain text: jupyter-scatter puts a preview
in with `textContent`, so LLM text is shown, never parsed.

The charts stay plotly FigureWidgets, one per question, each with one y axis. Plotly keeps
the state a new view is built from (`_widget_data`/`_widget_layout`) as it was when first
displayed and sends later changes as one-shot deltas, so after each update the current
figure is copied into that state: otherwise a reloaded page shows the charts as they were
before the first Step.

The slow parts (embedding, t-SNE placement) run in a worker thread and hand back plain
arrays; only the widget update runs on the kernel's event loop.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from copy import deepcopy
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import plotly.colors as pc
import plotly.graph_objects as go

from ..embeddings import diversity
from ..store import RunStore, RunView

__all__ = ["COLOUR_BY", "MapView", "Placed", "tooltip_text"]

_REF_COLOURS = {"alpaca": "#7aa6d6", "sharegpt": "#f2a65a"}
_SEED_COLOUR = "#222222"
_OTHER_REF = "#9ccc9c"
#: What the map can be coloured by (a column of `MapView.frame()`).
COLOUR_BY = ("source", "generation", "cluster", "operator", "status", "rule")
#: Colourings that show the rejected candidates too; the others show the population (the
#: accepted), which is what the references are compared with.
SHOWS_REJECTED = ("status", "rule")
_STATUS_COLOURS = {"accepted": "#2ca02c", "rejected": "#d62728"}
TOOLTIP_CHARS = 300
#: Each chart's (title, y axis title); a comparison adds the other run's name to the title.
_TITLES = {
    "acceptance": ("acceptance by operator", "accepted share"),
    "rejections": ("rejections by rule", "rejected candidates"),
    "difficulty": ("mean difficulty by generation (0 = seeds)", "mean difficulty"),
    "diversity": ("diversity of the accepted by generation", "metric (0-1)"),
}
CHART_WIDTH = 460  # px: two charts side by side in the panel's default width, else wrapped


def tooltip_text(text: str, limit: int = TOOLTIP_CHARS) -> str:
    """One line, cut: the tooltip shows it as text (textContent), so nothing is escaped
    here; escaping would show `&lt;` to the reader instead of `<`."""
    text = " ".join(str(text or "").split())
    return text[:limit] + "…" if len(text) > limit else text


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
    operators: list[str] = field(default_factory=list)
    rules: list[str] = field(default_factory=list)  # "" for an accepted candidate
    coords: list[np.ndarray] = field(default_factory=list)
    clusters: list[np.ndarray] = field(default_factory=list)
    embeddings: list[np.ndarray] = field(default_factory=list)

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if not self.coords:
            return (np.zeros((0, 2), np.float32), np.zeros(0, np.int32),
                    np.zeros((0, 1), np.float32))
        return (np.concatenate(self.coords), np.concatenate(self.clusters),
                np.concatenate(self.embeddings))

    def accepted(self) -> np.ndarray:
        return np.fromiter((not r for r in self.rules), bool, len(self.rules))


class MapView:
    """Owns the map and the charts; `refmap` is an `evolviz.maps.ReferenceMap`.

    `scatter` is None until `set_map` (jupyter-scatter cannot draw zero points); `box`
    is the container the panel shows, holding a note until then."""

    def __init__(self, *, on_select: Callable[[str], None] | None = None,
                 on_lasso: Callable[[list[str] | None], None] | None = None,
                 height: int = 520):
        import ipywidgets as ipw

        self.refmap: Any = None
        self.on_select = on_select
        self.on_lasso = on_lasso
        self.height = height
        self.layers: dict[int, _Layer] = {}
        self.note = "The map is loading (embedding the references the first time takes a while)."
        self.colour_by = "source"
        self.scatter: Any = None
        self._frame: pd.DataFrame | None = None
        self._base: dict[str, Any] = {}
        self.visible_up_to: int | None = None
        self.compared: tuple[str, dict[str, Any]] | None = None  # see `overlay`
        self.last_redraw = 0.0  # time.monotonic() of the last send of the points
        self.box = ipw.VBox([ipw.HTML("<i>map loading…</i>")],
                           layout={"width": "100%", "min_height": f"{height}px"})
        self.charts: dict[str, go.FigureWidget] = {
            key: _chart(title, y_title) for key, (title, y_title) in _TITLES.items()}

    # -- base ----------------------------------------------------------------------------

    def set_map(self, refmap: Any, seed_texts: Sequence[str], seed_ids: Sequence[str]) -> None:
        """Remember references and seeds (once the map is fitted) and draw them."""
        self.refmap = refmap
        coords, clusters = refmap.place(list(seed_texts)) if seed_texts else (
            np.zeros((0, 2), np.float32), np.zeros(0, np.int32))
        labels = np.asarray(refmap.reference_labels).astype(str)
        n_ref = len(labels)
        self._base = {
            "x": np.concatenate([refmap.reference_coords[:, 0], coords[:, 0]]),
            "y": np.concatenate([refmap.reference_coords[:, 1], coords[:, 1]]),
            "kind": ["reference"] * n_ref + ["seed"] * len(coords),
            "source": [*labels.tolist(), *(["seeds"] * len(coords))],
            "gen": np.concatenate([np.full(n_ref, -1), np.zeros(len(coords))]).astype(np.int32),
            "cluster": np.concatenate([np.asarray(refmap.reference_clusters), clusters]),
            "id": [*([""] * n_ref), *seed_ids],
            "text": [tooltip_text(t) for t in [*refmap.reference_texts, *seed_texts]],
        }
        self.note = (f"Map: {n_ref} reference points, k={refmap.k} clusters. New points are "
                     f"placed into the fixed reference map; relations among new points are "
                     f"not shown until a refit.")
        self.redraw()

    # -- live points -----------------------------------------------------------------

    def place(self, generation: int, ids: Sequence[str], texts: Sequence[str]) -> Placed:
        """Embed and place new texts; blocking, so call it from a worker thread."""
        emb = self.refmap.embed(list(texts))
        coords, clusters = self.refmap.place(emb)
        return Placed(generation, list(ids), list(texts), coords, clusters, emb)

    def add(self, placed: Placed, *, draw: bool = True,
            operators: Sequence[str] | None = None,
            rules: Sequence[str | None] | None = None) -> None:
        """Keep new points; `draw=False` when more batches follow (drawn once at the end).
        `rules`: the rule that rejected each point (None or "": accepted)."""
        layer = self.layers.setdefault(placed.generation, _Layer())
        seen = set(layer.ids)
        keep = [i for i, cid in enumerate(placed.ids) if cid not in seen]
        ops = list(operators) if operators is not None else [""] * len(placed.ids)
        why = list(rules) if rules is not None else [""] * len(placed.ids)
        layer.ids += [placed.ids[i] for i in keep]
        layer.texts += [tooltip_text(placed.texts[i]) for i in keep]
        layer.operators += [ops[i] or "evolved" for i in keep]
        layer.rules += [why[i] or "" for i in keep]
        layer.coords.append(placed.coords[keep])
        layer.clusters.append(placed.clusters[keep])
        layer.embeddings.append(placed.embeddings[keep])
        if draw:
            self.redraw()

    def frame(self) -> pd.DataFrame:
        """Every point as one row: what the map draws, and what tooltips and filters read.

        Built from numpy arrays and category codes, with ids and texts as object columns
        (pandas would otherwise convert 250K strings per column on every redraw)."""
        gens = sorted(self.layers)
        base = self._base
        n_base = len(base["id"]) if base else 0
        ref_names = [n for n in dict.fromkeys(base["source"][:n_base]) if n != "seeds"] \
            if base else []
        source_cats = [*ref_names, "seeds", "evolved"]
        source_code = {name: i for i, name in enumerate(source_cats)}
        ops = sorted({o for g in gens for o in self.layers[g].operators} - {"reference", "seed"})
        op_cats = ["reference", "seed", *ops]
        op_code = {name: i for i, name in enumerate(op_cats)}
        gen_labels = ["reference", "seeds", *[f"gen {g}" for g in gens if g > 0]]
        gen_code = {g: i + 2 for i, g in enumerate(g for g in gens if g > 0)}
        rule_cats = ["reference", "seed", "accepted",
                     *sorted({r for g in gens for r in self.layers[g].rules} - {""})]
        rule_code = {name: i for i, name in enumerate(rule_cats)}
        rule_code[""] = rule_code["accepted"]
        cols: dict[str, list[np.ndarray]] = {c: [] for c in (
            "x", "y", "gen", "cluster", "kind", "source", "operator", "generation", "status",
            "rule", "id", "text")}
        if base:
            kind = np.where(np.asarray(base["kind"]) == "reference", 0, 1)
            for c in ("x", "y", "gen", "cluster"):
                cols[c].append(np.asarray(base[c]))
            cols["kind"].append(kind)
            cols["source"].append(np.fromiter((source_code[v] for v in base["source"]),
                                              np.int64, n_base))
            for c in ("operator", "generation", "status", "rule"):
                cols[c].append(kind)
            cols["id"].append(np.asarray(base["id"], dtype=object))
            cols["text"].append(np.asarray(base["text"], dtype=object))
        for g in gens:
            layer = self.layers[g]
            coords, clusters, _ = layer.arrays()
            n = len(layer.ids)
            cols["x"].append(coords[:, 0])
            cols["y"].append(coords[:, 1])
            cols["gen"].append(np.full(n, g, np.int32))
            cols["cluster"].append(clusters)
            cols["kind"].append(np.full(n, 2))
            cols["source"].append(np.full(n, source_code["evolved"]))
            cols["operator"].append(np.fromiter((op_code[o] for o in layer.operators),
                                                np.int64, n))
            cols["generation"].append(np.full(n, gen_code.get(g, 1)))
            rule = np.fromiter((rule_code[r] for r in layer.rules), np.int64, n)
            cols["rule"].append(rule)
            cols["status"].append(np.where(rule == rule_code["accepted"], 2, 3))
            cols["id"].append(np.asarray(layer.ids, dtype=object))
            cols["text"].append(np.asarray(layer.texts, dtype=object))
        arr = {c: np.concatenate(v) if v else np.zeros(0) for c, v in cols.items()}
        k = self.refmap.k if self.refmap is not None else 1
        names = list(getattr(self.refmap, "cluster_labels", []) or [])
        cl = [f"{c}: {names[c]}" if c < len(names) else str(c) for c in range(k)]

        def cat(codes: np.ndarray, cats: list[str]) -> pd.Categorical:
            return pd.Categorical.from_codes(codes.astype(np.int64), categories=cats)

        return pd.DataFrame({
            "x": arr["x"].astype(np.float32), "y": arr["y"].astype(np.float32),
            "kind": cat(arr["kind"], ["reference", "seed", "evolved"]),
            "source": cat(arr["source"], source_cats),
            "gen": arr["gen"].astype(np.int32),
            "generation": cat(arr["generation"], gen_labels),
            "cluster": cat(np.clip(arr["cluster"].astype(np.int64), 0, k - 1), cl),
            "operator": cat(arr["operator"], op_cats),
            "status": cat(arr["status"], ["reference", "seed", "accepted", "rejected"]),
            "rule": cat(arr["rule"], rule_cats),
            "id": pd.Series(arr["id"].astype(object), dtype=object),
            "text": pd.Series(arr["text"].astype(object), dtype=object),
        })

    def _colour_map(self, df: pd.DataFrame, by: str) -> list[str]:
        cats = list(df[by].cat.categories)
        if by == "source":
            return [_REF_COLOURS.get(c, _OTHER_REF) if c not in ("seeds", "evolved") else
                    _SEED_COLOUR if c == "seeds" else "#d62728" for c in cats]
        fixed = {"reference": "#d0d0d0", "seeds": _SEED_COLOUR, "seed": _SEED_COLOUR}
        if by in SHOWS_REJECTED:
            fixed["accepted"] = _STATUS_COLOURS["accepted"]
            fixed["rejected"] = _STATUS_COLOURS["rejected"]
            rules = _palette([c for c in cats if c not in fixed])
            return [_hex(fixed.get(c) or rules[c]) for c in cats]
        rest = [c for c in cats if c not in fixed]
        scale = "Turbo" if by == "cluster" else "Plasma"
        sampled = pc.sample_colorscale(scale, [i / max(1, len(rest) - 1) * 0.9
                                               for i in range(len(rest))]) if rest else []
        colours = dict(zip(rest, sampled, strict=True))
        return [_hex(fixed.get(c) or colours[c]) for c in cats]

    def redraw(self) -> None:
        """Send every point to the map (one binary buffer), keeping colour and filter."""
        import jscatter

        df = self.frame()
        self._frame = df
        if not len(df):
            return
        self.last_redraw = time.monotonic()
        colours = self._colour_map(df, self.colour_by)
        if self.scatter is None:
            self.scatter = jscatter.Scatter(
                data=df, x="x", y="y", color_by=self.colour_by, color_map=colours,
                size_by="kind", size_map=[2, 6, 4], opacity_by="density",
                height=self.height, legend=True, legend_position="top-right",
                axes=False, tooltip=True, tooltip_properties=["color", "id"],
                tooltip_preview="text", tooltip_preview_type="text",
                tooltip_preview_text_lines=5)
            self.scatter.widget.observe(self._selected, names="selection")
            self.box.children = (self.scatter.show(),)
        else:
            self.scatter.data(df)
            self.scatter.color(by=self.colour_by, map=colours)
        self.show_up_to(self.visible_up_to)

    def redraw_gap(self) -> float:
        """Seconds to leave between two sends of the points. regl-scatterplot builds its
        spatial index in a worker, and a second set of points sent while the first is
        indexed can be overtaken by it (seen in chromium: a map left one update behind),
        so the panel spaces its redraws by about the time an index takes."""
        n = 0 if self._frame is None else len(self._frame)
        return max(1.0, n / 200_000)

    def colour(self, by: str) -> None:
        """Colour the map by one of `COLOUR_BY`."""
        if by not in COLOUR_BY:
            raise ValueError(f"colour by one of {', '.join(COLOUR_BY)}, not {by!r}")
        shown_before = self.colour_by in SHOWS_REJECTED
        self.colour_by = by
        if self.scatter is not None and self._frame is not None:
            self.scatter.color(by=by, map=self._colour_map(self._frame, by))
            if (by in SHOWS_REJECTED) != shown_before:
                self.show_up_to(self.visible_up_to)

    def _selected(self, change: Any) -> None:
        """A click selects one point (its card opens); a lasso filters the list to the
        evolved candidates inside it; an empty selection clears that filter."""
        idx = change["new"]
        df = self._frame
        if df is None:
            return
        idx = [] if idx is None else [int(i) for i in np.asarray(idx).ravel() if i < len(df)]
        ids = [df["id"].iat[i] for i in idx]
        if len(idx) == 1 and ids[0] and self.on_select is not None:
            self.on_select(ids[0])
        elif self.on_lasso is not None:
            evolved = [cid for i, cid in zip(idx, ids, strict=True)
                       if df["kind"].iat[i] == "evolved"]
            self.on_lasso(evolved if idx else None)

    def select_points(self, ids: Sequence[str]) -> None:
        """Select points by candidate id, as a click or a lasso on the page would."""
        df = self._frame
        want = set(ids)
        idx = [] if df is None else np.flatnonzero(df["id"].isin(want).to_numpy())
        if self.scatter is not None:  # the widget's selection trait calls `_selected`
            self.scatter.selection(list(map(int, idx)))
        else:
            self._selected({"new": np.asarray(idx, dtype=np.int64)})

    def show_up_to(self, generation: int | None) -> None:
        """Replay: show the population up to a generation (None: all); rejected
        candidates are shown only when the colouring is about them."""
        self.visible_up_to = generation
        if self.scatter is None or self._frame is None:
            return
        df = self._frame
        keep = np.ones(len(df), bool)
        if generation is not None:
            keep &= df["gen"].to_numpy() <= generation
        if self.colour_by not in SHOWS_REJECTED:
            keep &= (df["status"] != "rejected").to_numpy()
        self.scatter.filter(None if keep.all() else np.flatnonzero(keep))

    def point_counts(self) -> dict[str, int]:
        """How many points of each kind the map holds (the browser test reads the page's)."""
        df = self._frame if self._frame is not None else self.frame()
        counts = {str(k): int(v) for k, v in df["status"].value_counts().items() if v}
        # The names the panel has always reported: references, seeds, new (accepted) points.
        return {"reference": counts.get("reference", 0), "seeds": counts.get("seed", 0),
                "gen": counts.get("accepted", 0), "rejected": counts.get("rejected", 0)}

    # -- charts ------------------------------------------------------------------------

    def diversity_rows(self) -> list[dict[str, Any]]:
        if self.refmap is None:
            return []
        ref_emb = self.refmap.reference_embeddings
        rows = []
        for g in sorted(self.layers):
            _, clusters, emb = self.layers[g].arrays()
            accepted = self.layers[g].accepted()  # the population, not what was eliminated
            clusters, emb = clusters[accepted], emb[accepted]
            if len(emb):
                rows.append({"generation": g, **diversity.metrics(emb, clusters, self.refmap.k,
                                                                  ref_emb)})
        return rows

    def overlay(self, label: str | None, series: dict[str, Any] | None = None) -> None:
        """Draw another run's per-generation series over this one's (dashed, "B"), or
        none. Only what its store holds: its diversity needs its points on this map."""
        self.compared = None if label is None or series is None else (label, series)

    def update_charts(self, store: RunStore) -> dict[str, Any]:
        data = RunView(store).chart_series()
        rows = self.diversity_rows()
        acc, rej, dif, div = (self.charts[k] for k in
                              ("acceptance", "rejections", "difficulty", "diversity"))
        other = self.compared[1] if self.compared else None
        runs = [("A", data, "solid"), ("B", other, "dash")] if other else [("", data, "solid")]

        def named(name: str, run: str) -> str:
            return f"{name} ({run})" if run else name

        colours = _palette([*data["acceptance"], *(other or {}).get("acceptance", {})])
        with acc.batch_update():
            acc.data = ()
            for run, series, dash in runs:
                for op, s in series["acceptance"].items():
                    acc.add_trace(go.Scatter(x=s["x"], y=s["y"], name=named(op, run),
                                             mode="lines+markers", legendgroup=op,
                                             line={"color": colours[op], "dash": dash}))
            acc.update_layout(yaxis={"range": [0, 1.05]})
        rules = _palette([*data["rejections"], *(other or {}).get("rejections", {})])
        gens = sorted({g for _, series, _ in runs for s in series["rejections"].values()
                       for g in s["x"]})
        with rej.batch_update():
            rej.data = ()
            for rule, colour in rules.items():
                x, y = _bars([(run, series["rejections"].get(rule)) for run, series, _ in runs],
                             gens)
                rej.add_trace(go.Bar(x=x, y=y, name=rule, marker={"color": colour}))
            rej.update_layout(barmode="stack")
        with dif.batch_update():
            dif.data = ()
            for run, series, dash in runs:
                d = series["difficulty"]
                dif.add_trace(go.Scatter(x=d["x"], y=d["y"], name=named("mean difficulty", run),
                                         mode="lines+markers", line={"dash": dash}))
        for key in ("acceptance", "rejections", "difficulty"):
            base = _TITLES[key][0]
            self.charts[key].layout.title.text = (
                f"{base} · A: this run, B: {self.compared[0]}" if self.compared else base)
        with div.batch_update():
            div.data = ()
            for key, label in (("coverage", "cluster coverage"),
                               ("entropy_norm", "cluster entropy (normalised)"),
                               ("mean_pairwise_cosine_distance", "mean pairwise distance"),
                               ("novelty", "novelty vs references")):
                if rows and key in rows[0]:
                    div.add_trace(go.Scatter(x=[r["generation"] for r in rows],
                                             y=[_finite(r[key]) for r in rows], name=label,
                                             mode="lines+markers"))
            if rows and "vendi_score" in rows[0]:
                # Vendi score / n: the share of the generation's points that are
                # effectively distinct, on the same 0-1 axis as the others (plotly's JS
                # refuses a second y axis added to a live FigureWidget).
                div.add_trace(go.Scatter(
                    x=[r["generation"] for r in rows],
                    y=[_share(r["vendi_score"], int(self.layers[r["generation"]].accepted().sum()))
                       for r in rows],
                    name="Vendi score / n", mode="lines+markers", line={"dash": "dot"}))
        for fig in self.charts.values():
            keep_for_reload(fig)
        return {"charts": data, "diversity": rows}


def _chart(title: str, y_title: str) -> go.FigureWidget:
    """One question per chart, with its own legend below it and both axes named."""
    return go.FigureWidget(layout=go.Layout(
        title={"text": title, "font": {"size": 13}}, template="plotly_white", height=320,
        width=CHART_WIDTH,
        margin={"l": 55, "r": 50, "t": 40, "b": 40},
        xaxis={"title": {"text": "generation"}, "dtick": 1},
        yaxis={"title": {"text": y_title}},
        legend={"font": {"size": 10}, "orientation": "h", "y": -0.25},
        hovermode="closest"))


def _palette(names: Sequence[str]) -> dict[str, str]:
    """One colour per name, the same in both runs of a comparison."""
    colours = pc.qualitative.Plotly
    unique = list(dict.fromkeys(names))
    return {n: colours[i % len(colours)] for i, n in enumerate(unique)}


def _bars(parts: Sequence[tuple[str, dict[str, list] | None]], gens: Sequence[int]
          ) -> tuple[Any, list]:
    """A rule's bars: by generation for one run; for two, a (generation, run) category
    axis over every generation either run rejected in, so each generation shows A's stack
    beside B's in the same order in every trace."""
    if len(parts) == 1:
        s = parts[0][1] or {"x": [], "y": []}
        return s["x"], s["y"]
    values = {(g, run): v for run, s in parts if s for g, v in zip(s["x"], s["y"], strict=True)}
    cats = [(g, run) for g in gens for run, _ in parts]
    return [[str(g) for g, _ in cats], [run for _, run in cats]], [values.get(c, 0) for c in cats]


def keep_for_reload(fig: go.FigureWidget) -> None:
    """Copy the figure as it is now into the state a new view is built from (see the
    module docstring); the live view ignores this change, a reloaded page draws it."""
    fig._widget_layout = deepcopy(fig._layout_obj._props)
    fig._widget_data = deepcopy(fig._data)


def _hex(colour: str) -> str:
    """plotly's 'rgb(r, g, b)' as '#rrggbb' (what matplotlib, under jscatter, reads)."""
    if colour.startswith("#"):
        return colour
    r, g, b = (int(float(v)) for v in colour[colour.index("(") + 1:-1].split(",")[:3])
    return f"#{r:02x}{g:02x}{b:02x}"


def _share(value: Any, n: int) -> float | None:
    v = _finite(value)
    return None if v is None or n <= 0 else v / n


def _finite(value: Any) -> float | None:
    """NaN (a metric undefined for one point) as a gap: JSON, hence the widget, has no NaN."""
    return None if value is None or not math.isfinite(float(value)) else float(value)

