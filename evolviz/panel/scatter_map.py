"""The panel's population map: one jupyter-scatter plot of a `Population`'s frame.

jupyter-scatter is an anywidget over regl-scatterplot: every point of a run, references
and seeds included, goes to the browser as one binary buffer, so a 250K-candidate run is
drawn whole instead of a 20K sample (measured against the plotly map it replaced:
docs/benchmarks_panel.md). Its state lives in widget traits, so a reloaded page draws it
again. Tooltips carry plain text: jupyter-scatter puts a preview in with `textContent`,
so LLM text is shown, never parsed.

The slow parts (embedding, t-SNE placement: `Population.place`) run in a worker thread
and hand back plain arrays; only the widget update runs on the kernel's event loop.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..maps.population import Placed, Population, one_line
from .colours import palette, sampled, to_hex

__all__ = ["COLOUR_BY", "SHOWS_REJECTED", "TOOLTIP_CHARS", "ScatterMap", "tooltip_text"]

_REF_COLOURS = {"alpaca": "#7aa6d6", "sharegpt": "#f2a65a"}
_SEED_COLOUR = "#222222"
_OTHER_REF = "#9ccc9c"
#: What the map can be coloured by (a column of `Population.frame()`).
COLOUR_BY = ("source", "generation", "cluster", "operator", "status", "rule")
#: Colourings that show the rejected candidates too; the others show the population (the
#: accepted), which is what the references are compared with.
SHOWS_REJECTED = ("status", "rule")
_STATUS_COLOURS = {"accepted": "#2ca02c", "rejected": "#d62728"}
TOOLTIP_CHARS = 300


def tooltip_text(text: str, limit: int = TOOLTIP_CHARS) -> str:
    """One line, cut: the tooltip shows it as text (textContent), so nothing is escaped
    here; escaping would show `&lt;` to the reader instead of `<`."""
    return one_line(text, limit)


class ScatterMap:
    """Draws a population on the reference map; click, lasso, colour and replay act on it.

    `plot` is None until the first points are drawn (jupyter-scatter cannot draw zero
    points); `box` is the container the panel shows, holding a note until then."""

    def __init__(self, population: Population | None = None, *,
                 on_select: Callable[[str], None] | None = None,
                 on_lasso: Callable[[list[str] | None], None] | None = None,
                 height: int = 520):
        import ipywidgets as ipw

        self.population = population or Population(text_limit=TOOLTIP_CHARS)
        self.on_select = on_select
        self.on_lasso = on_lasso
        self.height = height
        self.colour_by = "source"
        self.plot: Any = None
        #: The frame the plot holds now: selections index into it, not into a newer one.
        self.drawn: pd.DataFrame | None = None
        self.visible_up_to: int | None = None
        self.last_redraw = 0.0  # time.monotonic() of the last send of the points
        self.box = ipw.VBox([ipw.HTML("<i>map loading…</i>")],
                            layout={"width": "100%", "min_height": f"{height}px"})

    def set_map(self, refmap: Any, seed_texts: Sequence[str], seed_ids: Sequence[str]) -> None:
        """Take the fitted map's references and the run's seeds, and draw them."""
        self.population.set_base(refmap, seed_texts, seed_ids)
        self.redraw()

    def add(self, placed: Placed, *, draw: bool = True,
            operators: Sequence[str] | None = None,
            rules: Sequence[str | None] | None = None) -> None:
        """Keep new points; `draw=False` when more batches follow (drawn once at the end).
        `rules`: the rule that rejected each point (None or "": accepted)."""
        self.population.add(placed, operators=operators, rules=rules)
        if draw:
            self.redraw()

    def _colour_map(self, df: pd.DataFrame, by: str) -> list[str]:
        cats = list(df[by].cat.categories)
        if by == "source":
            return [_REF_COLOURS.get(c, _OTHER_REF) if c not in ("seeds", "evolved") else
                    _SEED_COLOUR if c == "seeds" else "#d62728" for c in cats]
        fixed = {"reference": "#d0d0d0", "seeds": _SEED_COLOUR, "seed": _SEED_COLOUR}
        if by in SHOWS_REJECTED:
            fixed["accepted"] = _STATUS_COLOURS["accepted"]
            fixed["rejected"] = _STATUS_COLOURS["rejected"]
            rules = palette([c for c in cats if c not in fixed])
            return [to_hex(fixed.get(c) or rules[c]) for c in cats]
        rest = [c for c in cats if c not in fixed]
        colours = dict(zip(rest, sampled("Turbo" if by == "cluster" else "Plasma", len(rest)),
                           strict=True))
        return [to_hex(fixed.get(c) or colours[c]) for c in cats]

    def redraw(self) -> None:
        """Send every point to the map (one binary buffer), keeping colour and filter."""
        import jscatter

        df = self.population.frame()
        self.drawn = df
        if not len(df):
            return
        self.last_redraw = time.monotonic()
        colours = self._colour_map(df, self.colour_by)
        if self.plot is None:
            self.plot = jscatter.Scatter(
                data=df, x="x", y="y", color_by=self.colour_by, color_map=colours,
                size_by="kind", size_map=[2, 6, 4], opacity_by="density",
                height=self.height, legend=True, legend_position="top-right",
                axes=False, tooltip=True, tooltip_properties=["color", "id"],
                tooltip_preview="text", tooltip_preview_type="text",
                tooltip_preview_text_lines=5)
            self.plot.widget.observe(self._selected, names="selection")
            self.box.children = (self.plot.show(),)
        else:
            self.plot.data(df)
            self.plot.color(by=self.colour_by, map=colours)
        self.show_up_to(self.visible_up_to)

    def redraw_gap(self) -> float:
        """Seconds to leave between two sends of the points. regl-scatterplot builds its
        spatial index in a worker, and a second set of points sent while the first is
        indexed can be overtaken by it (seen in chromium: a map left one update behind),
        so the panel spaces its redraws by about the time an index takes."""
        n = 0 if self.drawn is None else len(self.drawn)
        return max(1.0, n / 200_000)

    def colour(self, by: str) -> None:
        """Colour the map by one of `COLOUR_BY`."""
        if by not in COLOUR_BY:
            raise ValueError(f"colour by one of {', '.join(COLOUR_BY)}, not {by!r}")
        shown_before = self.colour_by in SHOWS_REJECTED
        self.colour_by = by
        if self.plot is not None and self.drawn is not None:
            self.plot.color(by=by, map=self._colour_map(self.drawn, by))
            if (by in SHOWS_REJECTED) != shown_before:
                self.show_up_to(self.visible_up_to)

    def _selected(self, change: Any) -> None:
        """A click selects one point (its card opens); a lasso filters the list to the
        evolved candidates inside it; an empty selection clears that filter."""
        idx = change["new"]
        df = self.drawn
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
        df = self.drawn
        want = set(ids)
        idx = [] if df is None else np.flatnonzero(df["id"].isin(want).to_numpy())
        if self.plot is not None:  # the widget's selection trait calls `_selected`
            self.plot.selection(list(map(int, idx)))
        else:
            self._selected({"new": np.asarray(idx, dtype=np.int64)})

    def show_up_to(self, generation: int | None) -> None:
        """Replay: show the population up to a generation (None: all); rejected
        candidates are shown only when the colouring is about them."""
        self.visible_up_to = generation
        if self.plot is None or self.drawn is None:
            return
        df = self.drawn
        keep = np.ones(len(df), bool)
        if generation is not None:
            keep &= df["gen"].to_numpy() <= generation
        if self.colour_by not in SHOWS_REJECTED:
            keep &= (df["status"] != "rejected").to_numpy()
        self.plot.filter(None if keep.all() else np.flatnonzero(keep))
