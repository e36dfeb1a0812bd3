"""The panel's maps: fit the reference map once, then place the run's points as they come.

Everything slow (embedding, t-SNE placement, the reference fit) runs in a worker thread of
the kernel's event loop; the widgets are updated on the loop itself, so the panel keeps
answering clicks while a map loads or a generation streams in. A stored run's accepted
candidates are all placed (not a sample), in batches, with progress in the map's note;
so are its rejected ones with an instruction, shown when the map is coloured by status or
rule (about a quarter more to embed on a typical run).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import ipywidgets as ipw

from ..errors import EvolvizError
from ..maps.population import Population
from ..records import Candidate
from ..run.session import RunSession
from ..store import RunView
from .charts import Charts
from .scatter_map import COLOUR_BY, TOOLTIP_CHARS, ScatterMap

__all__ = ["MapController"]

REDRAW_EVERY = 2.0  # seconds between map redraws while a stored run is placed


class MapController:
    """The map and chart widgets of one panel, fed from its run session: one `Population`
    (maps/), drawn by the scatter map and summed up by the charts."""

    def __init__(self, session: RunSession, *, references: Any, on_select: Callable[[str], None],
                 on_lasso: Callable[[list[str] | None], None] | None = None,
                 k: int = 20, reference_sample: int = 500, batch: int = 2000):
        self.session = session
        self.references = references
        self.k = k
        self.reference_sample = reference_sample
        self.batch = batch
        self.population = Population(text_limit=TOOLTIP_CHARS)
        self.scatter = ScatterMap(self.population, on_select=on_select, on_lasso=on_lasso)
        self.charts = Charts()
        self.note_text = ("The map is loading (embedding the references the first time "
                          "takes a while).")
        self.pending: list[Candidate] = []
        self.ready = False
        self.slider = ipw.IntSlider(description="show up to gen", min=0, max=1, value=1,
                                    continuous_update=False, layout={"width": "420px"},
                                    style={"description_width": "initial"})
        self.slider.observe(lambda ch: self.scatter.show_up_to(ch["new"]), "value")
        self.colour = ipw.Dropdown(description="colour by", options=list(COLOUR_BY),
                                   value=self.scatter.colour_by, layout={"width": "220px"})
        self.colour.observe(lambda ch: self.scatter.colour(ch["new"]), "value")
        self.note = ipw.Label(value="")

    def widgets(self) -> list[ipw.Widget]:
        # Charts of a fixed width that wrap: a FigureWidget does not shrink to a grid cell.
        charts = list(self.charts.figures.values())
        return [ipw.HBox([self.colour, self.slider]), self.note, self.scatter.box,
                ipw.HBox(charts, layout={"flex_flow": "row wrap", "width": "100%"})]

    def add(self, cand: Candidate) -> None:
        """Queue a candidate for the map: the accepted (the population) and the rejected
        that have an instruction, which only the status and rule colourings show."""
        if cand.status == "accepted" or (cand.status == "rejected" and cand.instruction):
            self.pending.append(cand)

    async def load(self) -> None:
        """Fit (or load from cache) the reference map, then draw what the store holds."""
        from ..embeddings.encoder import Encoder
        from ..maps import ReferenceMap
        from ..maps.references import find_references

        notes: list[str] = []
        loop = asyncio.get_running_loop()
        seeds = RunView(self.session.store).seed_texts()
        seed_ids, seed_texts = [i for i, _ in seeds], [t for _, t in seeds]
        seed = self.session.config.seed

        def fit() -> Any:
            refs = find_references(self.references, sample=self.reference_sample,
                                   seed=seed, notes=notes)
            return ReferenceMap.fit(refs, Encoder(), seeds=seed_texts, k=self.k, seed=seed,
                                    cache_dir=None)

        try:
            refmap = await loop.run_in_executor(None, fit)
            if not refmap.reference_names:
                notes.append("no reference set loaded: the map shows the seeds and the run only "
                             "(pass references=... or set EVOLVIZ_REFERENCE_DIR)")
            await loop.run_in_executor(None, self.population.set_base, refmap, seed_texts,
                                       seed_ids)
            self.note_text = (
                f"Map: {len(refmap.reference_labels)} reference points, k={refmap.k} "
                f"clusters. New points are placed into the fixed reference map; relations "
                f"among new points are not shown until a refit.")
            self.scatter.redraw()
            stored = RunView(self.session.store).map_points(rejected=True)
            self.pending = [p.as_candidate() for p in stored] + self.pending
            await self.flush(progress=len(stored) > self.batch)
            self.note.value = " ".join([self.note_text, *notes])[:600]
            self.ready = True
        except Exception as e:
            self.note.value = f"map unavailable: {type(e).__name__}: {e}"[:600]
            raise

    async def flush(self, *, progress: bool = False) -> None:
        """Place and draw the accepted candidates that arrived since the last flush, in
        batches of `batch`; the map is redrawn at most every `REDRAW_EVERY` seconds while
        batches come (each redraw sends every point), and once at the end."""
        if self.population.refmap is None:
            return  # `load` picks up everything stored so far once the map is ready
        pending, self.pending = self.pending, []
        loop = asyncio.get_running_loop()
        by_gen: dict[int, list[Candidate]] = {}
        seen: set[str] = set()
        for c in pending:
            if c.id not in seen:
                seen.add(c.id)
                by_gen.setdefault(c.generation, []).append(c)
        total, done, last = len(seen), 0, time.monotonic()
        for g, cands in sorted(by_gen.items()):
            for i in range(0, len(cands), self.batch):
                part = cands[i:i + self.batch]
                placed = await loop.run_in_executor(
                    None, self.population.place, g, [c.id for c in part],
                    [c.instruction or "" for c in part])
                done += len(part)
                now = time.monotonic()
                draw = now - last >= max(REDRAW_EVERY, self.scatter.redraw_gap())
                self.scatter.add(placed, draw=draw, operators=[c.operator for c in part],
                              rules=[(c.rejected_by or "rejected") if c.status == "rejected"
                                     else "" for c in part])
                if draw:
                    last = now
                if progress:
                    self.note.value = f"placing the run's points on the map: {done}/{total}"
        if total:
            wait = self.scatter.redraw_gap() - (time.monotonic() - self.scatter.last_redraw)
            if wait > 0:
                await asyncio.sleep(wait)
            self.scatter.redraw()
        store = self.session.store
        top = max([*self.population.layers, *(store.finished_generations() or [0])])
        self.slider.max = max(1, top)
        self.slider.value = max(1, top)
        self.charts.update(store, self.population)

    def overlay(self, label: str | None, series: dict[str, Any] | None = None) -> None:
        """Overlay another run's charts on this one's (None: this run alone)."""
        self.charts.overlay(label, series)
        self.charts.update(self.session.store, self.population)

    async def wait(self, timeout: float = 600) -> None:
        deadline = time.monotonic() + timeout
        while not self.ready:
            if self.note.value.startswith("map unavailable") or time.monotonic() > deadline:
                raise EvolvizError(self.note.value or "the map did not load in time")
            await asyncio.sleep(0.2)
