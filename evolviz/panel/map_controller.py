"""The panel's maps: fit the reference map once, then place the run's points as they come.

Everything slow (embedding, t-SNE placement, the reference fit) runs in a worker thread of
the kernel's event loop; the figures are updated on the loop itself, so the panel keeps
answering clicks while a map loads or a generation streams in.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import ipywidgets as ipw

from ..errors import EvolvizError
from ..mapview import MapView
from ..records import Candidate
from ..session import RunSession
from ..store import RunView

__all__ = ["MapController"]


class MapController:
    """The map and chart widgets of one panel, fed from its run session."""

    def __init__(self, session: RunSession, *, references: Any, on_select: Callable[[str], None],
                 k: int = 20, reference_sample: int = 500, map_sample: int = 2000):
        self.session = session
        self.references = references
        self.k = k
        self.reference_sample = reference_sample
        self.map_sample = map_sample
        self.view = MapView(on_select=on_select)
        self.pending: list[Candidate] = []
        self.ready = False
        self.slider = ipw.IntSlider(description="show up to gen", min=0, max=1, value=1,
                                    continuous_update=False, layout={"width": "420px"})
        self.slider.observe(lambda ch: self.view.show_up_to(ch["new"]), "value")
        self.note = ipw.Label(value="")

    def widgets(self) -> list[ipw.Widget]:
        return [ipw.HBox([self.view.source_fig, self.view.cluster_fig],
                         layout={"flex_flow": "row wrap"}),
                ipw.HBox([self.slider, self.note]), self.view.charts]

    def add(self, cand: Candidate) -> None:
        if cand.status == "accepted":
            self.pending.append(cand)

    async def load(self) -> None:
        """Fit (or load from cache) the reference map, then draw what the store holds."""
        from ..embeddings import Encoder
        from ..maps import ReferenceMap
        from ..references import find_references

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
            await loop.run_in_executor(None, self.view.set_map, refmap, seed_texts, seed_ids)
            self.pending = [p.as_candidate() for p in RunView(self.session.store).map_points(
                per_generation=self.map_sample)] + self.pending
            await self.flush()
            self.note.value = " ".join([self.view.note, *notes])[:600]
            self.ready = True
        except Exception as e:
            self.note.value = f"map unavailable: {type(e).__name__}: {e}"[:600]
            raise

    async def flush(self) -> None:
        """Place and draw the accepted candidates that arrived since the last flush."""
        if self.view.refmap is None:
            return  # `load` picks up everything stored so far once the map is ready
        pending, self.pending = self.pending, []
        loop = asyncio.get_running_loop()
        by_gen: dict[int, list[Candidate]] = {}
        seen: set[str] = set()
        for c in pending:
            if c.id not in seen:
                seen.add(c.id)
                by_gen.setdefault(c.generation, []).append(c)
        for g, cands in sorted(by_gen.items()):
            placed = await loop.run_in_executor(
                None, self.view.place, g, [c.id for c in cands],
                [c.instruction or "" for c in cands])
            self.view.add(placed)
        store = self.session.store
        top = max([*self.view.layers, *(store.finished_generations() or [0])])
        self.slider.max = max(1, top)
        self.slider.value = max(1, top)
        self.view.update_charts(store)

    async def wait(self, timeout: float = 600) -> None:
        deadline = time.monotonic() + timeout
        while not self.ready:
            if self.note.value.startswith("map unavailable") or time.monotonic() > deadline:
                raise EvolvizError(self.note.value or "the map did not load in time")
            await asyncio.sleep(0.2)
