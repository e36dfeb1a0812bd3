"""The panel's per-generation charts: plotly FigureWidgets, one question each.

Each chart has one y axis. Plotly keeps the state a new view is built from
(`_widget_data`/`_widget_layout`) as it was when first displayed and sends later changes
as one-shot deltas, so after each update the current figure is copied into that state:
otherwise a reloaded page shows the charts as they were before the first Step.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from copy import deepcopy
from typing import Any

import plotly.graph_objects as go

from ..maps.population import Population
from ..store import RunStore, RunView
from .colours import palette

__all__ = ["CHART_WIDTH", "TITLES", "Charts", "keep_for_reload"]

#: Each chart's (title, y axis title); a comparison adds the other run's name to the title.
TITLES = {
    "acceptance": ("acceptance by operator", "accepted share"),
    "rejections": ("rejections by rule", "rejected candidates"),
    "difficulty": ("mean difficulty by generation (0 = seeds)", "mean difficulty"),
    "diversity": ("diversity of the accepted by generation", "metric (0-1)"),
}
CHART_WIDTH = 460  # px: two charts side by side in the panel's default width, else wrapped
_DIVERSITY = (("coverage", "cluster coverage"),
              ("entropy_norm", "cluster entropy (normalised)"),
              ("mean_pairwise_cosine_distance", "mean pairwise distance"),
              ("novelty", "novelty vs references"))


class Charts:
    """The four charts of one panel, and the other run they are compared with, if any."""

    def __init__(self) -> None:
        self.figures: dict[str, go.FigureWidget] = {
            key: _chart(title, y_title) for key, (title, y_title) in TITLES.items()}
        self.compared: tuple[str, dict[str, Any]] | None = None  # see `overlay`

    def overlay(self, label: str | None, series: dict[str, Any] | None = None) -> None:
        """Draw another run's per-generation series over this one's (dashed, "B"), or
        none. Only what its store holds: its diversity needs its points on this map."""
        self.compared = None if label is None or series is None else (label, series)

    def update(self, store: RunStore, population: Population) -> dict[str, Any]:
        """Redraw every chart from the store's series and the population's diversity."""
        data = RunView(store).chart_series()
        rows = population.diversity_rows()
        other = self.compared[1] if self.compared else None
        runs = [("A", data, "solid"), ("B", other, "dash")] if other else [("", data, "solid")]
        self._acceptance(runs, data, other)
        self._rejections(runs, data, other)
        self._difficulty(runs)
        for key in ("acceptance", "rejections", "difficulty"):
            base = TITLES[key][0]
            self.figures[key].layout.title.text = (
                f"{base} · A: this run, B: {self.compared[0]}" if self.compared else base)
        self._diversity(rows, population)
        for fig in self.figures.values():
            keep_for_reload(fig)
        return {"charts": data, "diversity": rows}

    def _acceptance(self, runs: list, data: dict[str, Any], other: dict[str, Any] | None
                    ) -> None:
        acc = self.figures["acceptance"]
        colours = palette([*data["acceptance"], *(other or {}).get("acceptance", {})])
        with acc.batch_update():
            acc.data = ()
            for run, series, dash in runs:
                for op, s in series["acceptance"].items():
                    acc.add_trace(go.Scatter(x=s["x"], y=s["y"], name=_named(op, run),
                                             mode="lines+markers", legendgroup=op,
                                             line={"color": colours[op], "dash": dash}))
            acc.update_layout(yaxis={"range": [0, 1.05]})

    def _rejections(self, runs: list, data: dict[str, Any], other: dict[str, Any] | None
                    ) -> None:
        rej = self.figures["rejections"]
        rules = palette([*data["rejections"], *(other or {}).get("rejections", {})])
        gens = sorted({g for _, series, _ in runs for s in series["rejections"].values()
                       for g in s["x"]})
        with rej.batch_update():
            rej.data = ()
            for rule, colour in rules.items():
                x, y = _bars([(run, series["rejections"].get(rule)) for run, series, _ in runs],
                             gens)
                rej.add_trace(go.Bar(x=x, y=y, name=rule, marker={"color": colour}))
            rej.update_layout(barmode="stack")

    def _difficulty(self, runs: list) -> None:
        dif = self.figures["difficulty"]
        with dif.batch_update():
            dif.data = ()
            for run, series, dash in runs:
                d = series["difficulty"]
                dif.add_trace(go.Scatter(x=d["x"], y=d["y"], name=_named("mean difficulty", run),
                                         mode="lines+markers", line={"dash": dash}))

    def _diversity(self, rows: list[dict[str, Any]], population: Population) -> None:
        div = self.figures["diversity"]
        with div.batch_update():
            div.data = ()
            for key, label in _DIVERSITY:
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
                    y=[_share(r["vendi_score"], population.accepted_count(r["generation"]))
                       for r in rows],
                    name="Vendi score / n", mode="lines+markers", line={"dash": "dot"}))


def _named(name: str, run: str) -> str:
    return f"{name} ({run})" if run else name


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


def _share(value: Any, n: int) -> float | None:
    v = _finite(value)
    return None if v is None or n <= 0 else v / n


def _finite(value: Any) -> float | None:
    """NaN (a metric undefined for one point) as a gap: JSON, hence the widget, has no NaN."""
    return None if value is None or not math.isfinite(float(value)) else float(value)
