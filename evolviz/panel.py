"""`Explorer`: the JupyterLab panel, a plain Python object that holds a run and its views.

Shown in a cell it is the whole panel. The evolution runs as an asyncio task on the
kernel's own event loop, so the panel answers clicks while candidates stream in; each
candidate is committed to the run store before the panel hears of it, so stopping, a
crash or a kernel restart loses only the calls in flight, and opening the same store
again resumes the run.

With no endpoint it starts the embedded local model. An API key, when one is needed, is
read from the environment variable named by `api_key_env` when a call is made: it is never
put in widget state (which a notebook saves), the store, or a log.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
import time
import traceback
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import ipywidgets as ipw

from .browse import Query, candidate_detail, filter_options, lineage, query_candidates, what_if
from .config import DEFAULT_SAMPLING, RunConfig
from .engine import Evolution, evolve_candidate
from .errors import EvolvizError, TemplateError
from .llm import LLMClient, ResponseCache
from .mapview import MapView
from .records import Candidate, PoolMember
from .rules import RULE_IDS, RuleConfig
from .seeds import Seed, load_seeds
from .store import RunStore
from .templates import ROLE_PLACEHOLDERS, TemplateSet, parse_template
from .widget import ExplorerWidget

__all__ = ["Explorer"]

STATUS_EVERY = 0.25  # seconds between status pushes while running
MAP_EVERY = 1.5  # seconds between map updates while running


def _as_seeds(seeds: Any) -> tuple[list[Seed], list[str]]:
    """Seeds from a path or a list of strings/Seeds, and any load problems as text."""
    if seeds is None:
        seeds = Path(__file__).resolve().parent.parent / "seeds" / "tiny.txt"
        if not seeds.exists():
            seeds = ["Write a haiku about the sea.", "Explain recursion with an example.",
                     "What is 17 times 23?", "Give three tips for a job interview."]
    if isinstance(seeds, str | Path):
        loaded = load_seeds(seeds)
        return loaded.seeds, [f"{p.path}:{p.line}: {p.reason}" for p in loaded.problems]
    out = []
    for i, s in enumerate(seeds):
        out.append(s if isinstance(s, Seed) else Seed(id=f"seed-{i:06d}", instruction=str(s)))
    return out, []


class Explorer:
    """Step Evol-Instruct in a notebook and see every prompt, response and verdict.

    Parameters: `seeds` (a seed file path or a list of instructions; default: the tiny
    built-in set), `references` (a folder like ../shared/refdata, else
    $EVOLVIZ_REFERENCE_DIR, else no map), `store` (the run's SQLite file; default a fresh
    temporary one), `base_url`/`model`/`api_key_env` (an OpenAI-compatible endpoint; default
    the local model), `config` (seed, rules, weights, sampling).
    """

    def __init__(
        self,
        seeds: str | Path | Sequence[str] | Sequence[Seed] | None = None,
        references: str | Path | None = None,
        *,
        store: str | Path | None = None,
        base_url: str | None = None,
        model: str | None = None,
        api_key_env: str = "OPENAI_API_KEY",
        config: RunConfig | None = None,
        templates: str | Path | None = None,
        concurrency: int | None = None,
        k: int = 20,
        reference_sample: int = 500,
        maps: bool = True,
        map_sample: int = 2000,
        price_per_1k_tokens: float = 0.0,
    ):
        self.seeds, self.seed_problems = _as_seeds(seeds)
        if store is None:
            store = Path(tempfile.mkdtemp(prefix="evolviz-")) / "run.db"
        self.store = RunStore(store)
        self.store_path = str(store)
        self.templates = TemplateSet.load(templates)
        self.base_url = base_url
        self.model = model
        self.api_key_env = api_key_env
        # The local model serves one request at a time: more in flight only queue there.
        self.concurrency = concurrency or (8 if base_url else 2)
        self.price = price_per_1k_tokens
        self.local: Any = None
        self.config = config or RunConfig()
        self.client: LLMClient | None = None
        self.cache = ResponseCache(store)
        self.evolution = Evolution(self.store, self._placeholder_client(), self.templates,
                                   self.config, seeds=self.seeds)
        self.widget = ExplorerWidget()
        self.maps = MapView(on_select=self.select) if maps else None
        self._task: asyncio.Task | None = None
        self._pending_map: list[Candidate] = []
        self._last_status = 0.0
        self._last_map = 0.0
        self._running_since: float | None = None
        self._pushing = False
        self._map_ready = False
        self.references = references
        self.reference_sample = reference_sample
        self.map_sample = map_sample
        self.k = k
        self.messages: list[str] = list(self.seed_problems[:5])
        self._push_settings()
        self._push_templates()
        self.widget.on_msg(self._on_msg)
        self.widget.observe(self._on_query, names="query")
        self.widget.observe(self._on_select, names="selected_id")
        self.widget.observe(self._on_settings, names="settings")
        self.refresh()
        self.slider = ipw.IntSlider(description="show up to gen", min=0, max=1, value=1,
                                    continuous_update=False, layout={"width": "420px"})
        self.slider.observe(lambda ch: self.maps and self.maps.show_up_to(ch["new"]), "value")
        self.map_note = ipw.Label(value="")
        self.layout = self._build_layout()
        if self.maps is not None:
            self._schedule(self._load_map())

    # -- display -----------------------------------------------------------------------

    def _build_layout(self) -> ipw.Widget:
        parts: list[ipw.Widget] = [self.widget]
        if self.maps is not None:
            parts += [ipw.HBox([self.maps.source_fig, self.maps.cluster_fig],
                               layout={"flex_flow": "row wrap"}),
                      ipw.HBox([self.slider, self.map_note]), self.maps.charts]
        return ipw.VBox(parts)

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.layout)

    # -- state to the widget -----------------------------------------------------------

    def _placeholder_client(self) -> LLMClient:
        """A client that is replaced before the first call (endpoint chosen lazily)."""
        return LLMClient(self.base_url or "http://127.0.0.1:9/v1",
                         models=self.model or "local", concurrency=self.concurrency)

    def _push_settings(self) -> None:
        cfg = self.config
        ops = list(self.templates.operators)
        self._pushing = True
        try:
            self._set_settings(cfg, ops)
        finally:
            self._pushing = False

    def _set_settings(self, cfg: RunConfig, ops: list[str]) -> None:
        self.widget.settings = {
            "seed": cfg.seed,
            "temperature": cfg.sampling["evolver"].temperature,
            "concurrency": self.concurrency,
            "base_url": self.base_url or "",
            "model": self.model or "",
            "rules": {r: cfg.rules.is_on(r) for r in RULE_IDS},
            "sorry_max_words": cfg.rules.sorry_max_words,
            "copied_ngram": cfg.rules.copied_ngram,
            "judge_difficulty": cfg.judge_difficulty,
            "weights": {op: float(cfg.operator_weights.get(op, 1.0)) for op in ops},
        }

    def _push_templates(self) -> None:
        self.widget.templates = {
            t.name: {"name": t.name, "role": t.role, "kind": t.kind, "system": t.system,
                     "user": t.user, "placeholders": list(t.placeholders),
                     "allowed": sorted(ROLE_PLACEHOLDERS[t.role]), "markers": list(t.markers),
                     "description": t.description, "path": t.path}
            for t in self.templates.all()
        }

    def refresh(self, *, page: bool = True) -> None:
        """Push counts (and the visible page) from the store to the widget."""
        g = self.evolution.next_generation()
        shown, stats = g, self.store.count_generation(g)
        if not self._running and stats.done == 0 and g > 1:
            # Between generations, the last finished one's counts say more than zeros.
            shown, stats = g - 1, self.store.count_generation(g - 1)
        tokens = sum(s.tokens for s in self.store.generation_stats())
        endpoint = self.base_url or ("local model" + (f" at {self.local.base_url}"
                                                      if self.local else ""))
        self.widget.status = {
            "running": self._running,
            "generation": g,
            "counts_generation": shown,
            "pool_size": stats.pool_size or len(self.seeds),
            "done": stats.done,
            "accepted": stats.accepted,
            "rejected": sum(stats.rejected.values()),
            "failed": stats.failed,
            "tokens": tokens,
            "cost": tokens / 1000 * self.price,
            "finished_generations": len(self.store.finished_generations()),
            "endpoint": endpoint,
            "message": " · ".join(self.messages[-3:]),
            "error": any(m.startswith("error") for m in self.messages[-1:]),
        }
        if page:
            self.widget.options = filter_options(self.store)
            self._on_query()

    @property
    def _running(self) -> bool:
        return self._running_since is not None

    def say(self, message: str) -> None:
        self.messages.append(message)
        self.refresh(page=False)

    # -- widget events -----------------------------------------------------------------

    def _on_query(self, _change: Any = None) -> None:
        q = Query.from_dict(self.widget.query or {})
        total, rows = query_candidates(self.store, q)
        self.widget.page = {"offset": q.offset, "total": total, "rows": rows,
                            "reset": q.offset == 0, "stamp": time.time()}

    def _on_select(self, change: Any) -> None:
        self.widget.detail = candidate_detail(self.store, change["new"]) if change["new"] else {}

    def select(self, candidate_id: str) -> None:
        """Show a candidate's card (also what clicking a map point does)."""
        self.widget.selected_id = candidate_id

    def _on_settings(self, change: Any) -> None:
        if self._pushing:
            return
        s = change["new"]
        try:
            rules = RuleConfig(
                enabled=tuple(r for r, on in s.get("rules", {}).items() if on
                              or r == "rewrite_invalid"),
                sorry_max_words=int(s.get("sorry_max_words", 80)),
                copied_ngram=int(s.get("copied_ngram", 8)),
            )
            temp = float(s.get("temperature", 0.7))
            sampling = dict(self.config.sampling)
            for role in ("evolver", "answerer"):
                sampling[role] = replace(sampling[role], temperature=temp)
            weights = {op: float(w) for op, w in (s.get("weights") or {}).items()}
            if all(w == 1.0 for w in weights.values()):
                weights = {}
            config = replace(self.config, seed=int(s.get("seed", 0)), rules=rules,
                             sampling=sampling, operator_weights=weights,
                             judge_difficulty=bool(s.get("judge_difficulty", False)))
            config.weights_for(list(self.templates.operators))
            if config.seed != self.config.seed and self.store.candidate_count():
                raise EvolvizError("the seed cannot change once a run has candidates; "
                                   "start a new Explorer with another store")
            self.config = config
            self.evolution.config = config
            self.concurrency = max(1, int(s.get("concurrency", self.concurrency)))
            new_url, new_model = s.get("base_url") or None, s.get("model") or None
            if (new_url, new_model) != (self.base_url, self.model) or (
                    self.client is not None and self.client.concurrency != self.concurrency):
                self.base_url, self.model = new_url, new_model
                self.client = None  # rebuilt before the next call
            self.say("settings applied")
        except (EvolvizError, ValueError, TypeError) as e:
            self.say(f"error: {e}")
            self._push_settings()

    def _on_msg(self, _widget: Any, content: dict[str, Any], _buffers: Any) -> None:
        action = content.get("action")
        try:
            if action == "step":
                self.start(1)
            elif action == "run":
                self.start(int(content.get("n", 1)))
            elif action == "stop":
                self.stop()
            elif action == "lineage":
                self.widget.lineage = lineage(self.store, str(content.get("seed_id")))
            elif action == "reapply":
                self.widget.reapply_result = what_if(self.store, self.config,
                                                     self.templates).to_dict()
                r = self.widget.reapply_result
                self.say(f"re-applied rules 2-4 with the current settings: {r['total_changed']}"
                         f" candidate(s) would change status (no LLM call made)")
            elif action == "template_check":
                self._template_check(content)
            elif action == "template_rerun":
                self._schedule(self._template_rerun(content))
            elif action == "template_apply":
                t = parse_template(_template_fields(content["template"]), path="(panel)")
                self.templates = self.templates.replace(t)
                self.evolution.templates = self.templates
                self._push_templates()
                self.say(f"template {t.name!r} will be used from the next candidate on")
            elif action == "template_save":
                self._template_save(content)
        except Exception as e:  # the panel reports, never dies
            self.say(f"error: {type(e).__name__}: {e}")

    # -- templates -----------------------------------------------------------------------

    def _default_instruction(self, given: str | None) -> str:
        if given:
            return given
        detail = self.widget.detail or {}
        return detail.get("parent_instruction") or (self.seeds[0].text if self.seeds else "")

    def _template_check(self, content: dict[str, Any]) -> None:
        fields = _template_fields(content["template"])
        name = fields.get("name", "")
        try:
            t = parse_template(fields, path=f"(edited {name})")
        except TemplateError as e:
            self.widget.template_result = {"name": name, "errors": [str(e)], "preview": []}
            return
        text = self._default_instruction(content.get("instruction"))
        values = dict.fromkeys(t.placeholders, text)
        self.widget.template_result = {"name": name, "errors": [],
                                       "preview": t.render(**values)}

    async def _template_rerun(self, content: dict[str, Any]) -> None:
        cid = content.get("candidate_id") or ""
        old = self.store.candidate(cid)
        fields = _template_fields(content["template"])
        name = fields.get("name", "")
        if old is None:
            self.widget.template_result = {"name": name, "errors": [
                "select a candidate first (the re-run evolves its parent again)"]}
            return
        t = parse_template(fields, path="(panel)")
        templates = self.templates.replace(t)
        operator = t.name if t.role == "operator" else old.operator
        self.widget.template_result = {"name": name, "errors": [], "running": True}
        parent = PoolMember(old.parent_id, old.seed_id, old.generation - 1,
                            old.parent_instruction)
        client = await self._client()
        new = await evolve_candidate(parent, operator, generation=old.generation,
                                     slot=old.slot, client=client, templates=templates,
                                     config=self.config)
        keep = ("status", "rejected_by", "instruction", "answer", "error")
        self.widget.template_result = {
            "name": name, "errors": [],
            "rerun": {"old": {k: getattr(old, k) for k in keep},
                      "new": {k: getattr(new, k) for k in keep},
                      "messages": new.calls["rewrite"].messages if "rewrite" in new.calls
                      else []},
        }
        self.last_rerun = new

    def _template_save(self, content: dict[str, Any]) -> None:
        path = str(content.get("path") or "").strip()
        fields = _template_fields(content["template"])
        if not path:
            raise EvolvizError("give a file path to save the template to")
        t = parse_template(fields, path=path)
        target = Path(path)
        if target.suffix != ".toml":
            target = target.with_suffix(".toml")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(t.to_toml(), encoding="utf-8")
        self.widget.template_result = {"name": t.name, "errors": [], "saved": str(target)}
        self.say(f"saved template {t.name!r} to {target}")

    # -- running -------------------------------------------------------------------------

    def _schedule(self, coro: Any) -> asyncio.Task:
        loop = asyncio.get_event_loop()
        task = loop.create_task(coro)
        task.add_done_callback(self._report)
        return task

    def _report(self, task: asyncio.Task) -> None:
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            detail = "".join(traceback.format_exception(exc)[-3:]).strip()
            self.say(f"error: {type(exc).__name__}: {exc}")
            self.last_error = detail

    async def _client(self) -> LLMClient:
        if self.client is not None:
            return self.client
        self.local = None
        if self.base_url:
            api_key = os.environ.get(self.api_key_env)
            url, model = self.base_url, self.model or "gpt-4o-mini"
        else:
            from .local_model import LOCAL_SAMPLING, shared_local_model

            self.say("starting the local model (SmolLM2-135M-Instruct)…")
            loop = asyncio.get_event_loop()
            self.local = await loop.run_in_executor(None, shared_local_model)
            url, model, api_key = self.local.base_url, self.model or self.local.model_name, "none"
            if dict(self.config.sampling) == dict(DEFAULT_SAMPLING):
                self.config = replace(self.config, sampling=dict(LOCAL_SAMPLING))
                self.evolution.config = self.config
        self.client = LLMClient(url, api_key=api_key, models=model, concurrency=self.concurrency,
                                cache=self.cache, timeout=120,
                                recover=self.local.recover if self.local else None)
        self.evolution.client = self.client
        return self.client

    def start(self, generations: int = 1) -> asyncio.Task:
        """Evolve `generations` more generations in the background (what Step/Run do)."""
        if self._running:
            raise EvolvizError("a run is already in progress; stop it first")
        self._running_since = time.monotonic()
        self._task = self._schedule(self._run(generations))
        return self._task

    def stop(self) -> None:
        """Cancel the calls in flight; finished candidates stay, and the run resumes later."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
            self.say("stopped; finished candidates are kept and the run resumes from here")

    async def step(self) -> list[Candidate]:
        """Evolve one generation and wait for it (for notebook cells: `await ex.step()`)."""
        return await self.run(1)

    async def run(self, generations: int = 1) -> list[Candidate]:
        return await self.start(generations)

    async def _run(self, generations: int) -> list[Candidate]:
        out: list[Candidate] = []
        try:
            await self._client()
            for _ in range(generations):
                g = self.evolution.next_generation()
                self.say(f"generation {g}: evolving {len(self.seeds)} pool members")
                async for cand in self.evolution.step():
                    out.append(cand)
                    if cand.status == "accepted":
                        self._pending_map.append(cand)
                    now = time.monotonic()
                    if now - self._last_status >= STATUS_EVERY:
                        self._last_status = now
                        self.refresh()
                    if now - self._last_map >= MAP_EVERY:
                        self._last_map = now
                        await self._flush_map()
                stats = self.store.count_generation(g)
                self.say(f"generation {g} done: {stats.accepted} accepted, "
                         f"{sum(stats.rejected.values())} rejected, {stats.failed} failed")
                await self._flush_map()
        finally:
            self._running_since = None
            self.refresh()
        return out

    # -- maps ----------------------------------------------------------------------------

    async def _load_map(self) -> None:
        from .embeddings import Encoder
        from .maps import ReferenceMap
        from .references import find_references

        notes: list[str] = []
        loop = asyncio.get_event_loop()

        def fit() -> Any:
            refs = find_references(self.references, sample=self.reference_sample,
                                   seed=self.config.seed, notes=notes)
            return ReferenceMap.fit(refs, Encoder(), seeds=[s.text for s in self.seeds],
                                    k=self.k, seed=self.config.seed, cache_dir=None)

        try:
            refmap = await loop.run_in_executor(None, fit)
            if not refmap.reference_names:
                notes.append("no reference set loaded: the map shows the seeds and the run only "
                             "(pass references=... or set EVOLVIZ_REFERENCE_DIR)")
            await loop.run_in_executor(None, self.maps.set_map, refmap,
                                       [s.text for s in self.seeds], [s.id for s in self.seeds])
            self._pending_map = self._stored_sample()
            await self._flush_map()
            self.map_note.value = " ".join([self.maps.note, *notes])[:600]
            self._map_ready = True
        except Exception as e:
            self.map_note.value = f"map unavailable: {type(e).__name__}: {e}"[:600]
            raise

    def _stored_sample(self) -> list[Candidate]:
        """What an opened store puts on the map: every accepted candidate of a small run,
        an even sample of `map_sample` per generation of a big one (a 250K-candidate store
        would otherwise mean embedding 150K texts before the map shows anything)."""
        rows = self.store.conn.execute(
            "SELECT id, generation, slot, parent_id, seed_id, operator, instruction "
            "FROM candidates WHERE status='accepted' ORDER BY generation, slot").fetchall()
        by_gen: dict[int, list[Any]] = {}
        for r in rows:
            by_gen.setdefault(r["generation"], []).append(r)
        out = []
        for gen_rows in by_gen.values():
            step = max(1, -(-len(gen_rows) // self.map_sample))
            out += [Candidate(id=r["id"], generation=r["generation"], slot=r["slot"],
                              parent_id=r["parent_id"], seed_id=r["seed_id"],
                              operator=r["operator"], parent_instruction="",
                              status="accepted", instruction=r["instruction"])
                    for r in gen_rows[::step]]
        return out

    async def _flush_map(self) -> None:
        if self.maps is None or self.maps.refmap is None:
            return  # _load_map picks up everything stored so far once the map is ready
        pending, self._pending_map = self._pending_map, []
        loop = asyncio.get_event_loop()
        by_gen: dict[int, list[Candidate]] = {}
        for c in pending:
            by_gen.setdefault(c.generation, []).append(c)
        for g, cands in sorted(by_gen.items()):
            placed = await loop.run_in_executor(
                None, self.maps.place, g, [c.id for c in cands],
                [c.instruction or "" for c in cands])
            self.maps.add(placed)
        finished = self.store.finished_generations()
        top = max([*self.maps.layers, *(finished or [0])])
        self.slider.max = max(1, top)
        self.slider.value = max(1, top)
        self.maps.update_charts(self.store)

    async def wait_for_map(self, timeout: float = 600) -> None:
        """For notebooks run top to bottom: block until the map has been drawn."""
        deadline = time.monotonic() + timeout
        while self.maps is not None and not self._map_ready:
            if self.map_note.value.startswith("map unavailable") or time.monotonic() > deadline:
                raise EvolvizError(self.map_note.value or "the map did not load in time")
            await asyncio.sleep(0.2)

    def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
        with contextlib.suppress(Exception):
            self.cache.close()
            self.store.close()


def _template_fields(d: dict[str, Any]) -> dict[str, Any]:
    keys = ("name", "role", "kind", "description", "placeholders", "markers", "system", "user")
    out = {k: d[k] for k in keys if k in d and d[k] not in (None, "")}
    out.setdefault("placeholders", [])
    return out
