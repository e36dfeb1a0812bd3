"""`Explorer`: the JupyterLab panel, a plain Python object over one run session.

Shown in a cell it is the whole panel. The evolution runs as an asyncio task on the
kernel's own event loop, so the panel answers clicks while candidates stream in; each
candidate is committed to the run store before the panel hears of it, so stopping, a
crash or a kernel restart loses only the calls in flight, and opening the same store
again (`Explorer.open`) resumes the run, whether the CLI or a panel made it.

The run is wired up by `evolviz.run.session.RunSession` (the same code the CLI uses); this
class only translates widget events into session calls and store reads into widget state.
An API key, when one is needed, is read from the environment variable named by
`api_key_env` when a call is made: never put in widget state, the store or a log.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import traceback
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any

import ipywidgets as ipw

from ..config import RunConfig
from ..errors import EvolvizError
from ..records import Candidate
from ..run.budget import Budget, BudgetReached
from ..run.session import Endpoint, RunSession
from ..run.whatif import what_if
from ..seeds import Seed, load_seeds
from ..store import Query, RunView
from ..templates import TemplateSet
from .compare_view import comparison
from .map_controller import MapController
from .revision_controller import RevisionController
from .settings_codec import decode_budget, decode_settings, encode_budget, encode_settings
from .templates_controller import TemplatesController, template_state
from .widget import ExplorerWidget

__all__ = ["Explorer"]

STATUS_EVERY = 0.25  # seconds between status pushes while running
MAP_EVERY = 1.5  # seconds between map updates while running
DEMO_SEEDS = Path(__file__).resolve().parents[2] / "seeds" / "tiny.txt"


def _as_seeds(seeds: Any) -> tuple[list[Seed], list[str]]:
    """Seeds from a path or a list of strings/Seeds, and any load problems as text."""
    if seeds is None:
        seeds = DEMO_SEEDS
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

    `Explorer(seeds, references)` starts a new run (default seeds: the tiny demo set; default
    store: a fresh temporary file); `Explorer.open("run.db")` reopens a stored one.
    Endpoint: `base_url`/`model`/`api_key_env` (default: the embedded local model).
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
        templates: str | Path | TemplateSet | None = None,
        concurrency: int | None = None,
        maps: bool = True,
        price_per_1k_tokens: float = 0.0,
        k: int = 20,
        reference_sample: int = 500,
        session: RunSession | None = None,
        budget: Budget | None = None,
    ):
        self.seed_problems: list[str] = []
        if session is None:
            endpoint = Endpoint(base_url=base_url, model=model, api_key_env=api_key_env,
                                concurrency=concurrency)
            # None: the stored run's templates, or the built-ins for a new run.
            template_set = (TemplateSet.load(templates) if isinstance(templates, str | Path)
                            else templates)
            if seeds is None and store is not None and RunSession.has_run(store):
                # A store that holds a run already: look at that run, not the demo seeds.
                session = RunSession.open(store, endpoint=endpoint, config=config,
                                          templates=template_set)
            else:
                loaded, self.seed_problems = _as_seeds(seeds)
                session = RunSession(store, seeds=loaded, config=config,
                                     templates=template_set, endpoint=endpoint)
        self.session = session
        session.notify = self.say
        self.price = price_per_1k_tokens
        # The spending limit Step and Run stop at, as `evolviz run --max-tokens/--max-cost`
        # does; None: no limit. `_live_budget` is the one the client consults mid-run.
        self.budget = budget
        self._live_budget: Budget | None = None
        self.messages: list[str] = list(self.seed_problems[:5])
        self.widget = ExplorerWidget()
        self._task: asyncio.Task | None = None
        self._tasks: set[asyncio.Task] = set()
        self._running_since: float | None = None
        self._last_status = 0.0
        self._last_map = 0.0
        self._pushing = False
        self.last_error: str | None = None
        self.templates_ui = TemplatesController(session, self.widget, self.say,
                                                self._default_instruction)
        self.revisions = RevisionController(session, self.widget, self.say,
                                            lambda: self.seeds)
        self.maps = (MapController(session, references=references, on_select=self.select,
                                   on_lasso=self.show_ids, k=k, reference_sample=reference_sample)
                     if maps else None)
        self._push_settings()
        self.templates_ui.push()
        self.widget.on_msg(self._on_msg)
        self.widget.observe(self._on_query, names="query")
        self.widget.observe(self._on_select, names="selected_id")
        self.widget.observe(self._on_settings, names="settings")
        self.refresh()
        parts: list[ipw.Widget] = [self.widget]
        if self.maps is not None:
            parts += self.maps.widgets()
            self._schedule(self.maps.load())
        self.layout = ipw.VBox(parts)

    @classmethod
    def open(cls, store: str | Path, references: str | Path | None = None, *,
             base_url: str | None = None, model: str | None = None,
             api_key_env: str = "OPENAI_API_KEY", concurrency: int | None = None,
             templates: str | Path | None = None, **options: Any) -> Explorer:
        """Reopen a stored run (made by `evolviz run` or a panel) from the store alone:
        its seeds, settings, templates and operator plan. Step continues it exactly as
        `evolviz run` would; only the endpoint is chosen anew (it is never stored)."""
        endpoint = Endpoint(base_url=base_url, model=model, api_key_env=api_key_env,
                            concurrency=concurrency)
        session = RunSession.open(store, endpoint=endpoint,
                                  templates=TemplateSet.load(templates) if templates else None)
        return cls(references=references, session=session, **options)

    # -- what the facade exposes -------------------------------------------------------

    @property
    def store(self) -> Any:
        return self.session.store

    @property
    def store_path(self) -> str:
        return self.session.store_path

    @property
    def evolution(self) -> Any:
        return self.session.evolution

    @property
    def config(self) -> RunConfig:
        return self.session.config

    @property
    def templates(self) -> TemplateSet:
        return self.session.templates

    @property
    def client(self) -> Any:
        return self.session.client

    @property
    def seeds(self) -> list[Seed]:
        """The run's seeds, as stored (so a reopened run shows its own, not the demo's)."""
        return [Seed(id=r["id"], instruction=r["instruction"], input=r["input"],
                     source=r["source"] or "", line=r["line"] or 0)
                for r in self.store.seed_rows()]

    @property
    def last_rerun(self) -> Candidate | None:
        return self.templates_ui.last_rerun

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.layout)

    # -- state to the widget -----------------------------------------------------------

    def _push_settings(self) -> None:
        self._pushing = True
        try:
            self.widget.settings = {**encode_settings(self.config, self.session.endpoint,
                                                      list(self.templates.operators)),
                                    "budget": encode_budget(self.budget)}
        finally:
            self._pushing = False

    def refresh(self, *, page: bool = True) -> None:
        """Push counts (and the visible page) from the store to the widget."""
        store = self.store
        g = self.evolution.next_generation()
        shown, stats = g, store.count_generation(g)
        if not self._running and stats.done == 0 and g > 1:
            # Between generations, the last finished one's counts say more than zeros.
            shown, stats = g - 1, store.count_generation(g - 1)
        tokens = sum(s.tokens for s in store.generation_stats())
        limit = self._spending()
        self.widget.status = {
            "running": self._running,
            "generation": g,
            "counts_generation": shown,
            "pool_size": stats.pool_size or store.seed_count(),
            "done": stats.done,
            "accepted": stats.accepted,
            "rejected": sum(stats.rejected.values()),
            "failed": stats.failed,
            "tokens": tokens,
            "cost": (limit.cost(limit.spent_prompt, limit.spent_completion)
                     if limit is not None and limit.prices else tokens / 1000 * self.price),
            "budget": "" if limit is None else "budget: " + limit.spent() + (
                " (reached)" if limit.reached else ""),
            "finished_generations": len(store.finished_generations()),
            "endpoint": self.session.endpoint_label(),
            # Calls in flight (and the adaptive limit), calls/s, and while the endpoint is
            # down "endpoint unreachable since HH:MM, retrying in N s" ("" when it is up).
            **self._calls_status(),
            "store": self.store_path,
            "message": " · ".join(self.messages[-3:]),
            "error": any(m.startswith("error") for m in self.messages[-1:]),
        }
        if page:
            self.widget.options = RunView(store).filter_options()
            self._on_query()

    def _calls_status(self) -> dict[str, Any]:
        client = self.session.client
        if client is None or not self._running:
            return {"in_flight": 0, "calls_per_s": 0.0, "endpoint_health": ""}
        calls = client.status()
        return {"in_flight": calls["in_flight"], "calls_per_s": calls["calls_per_s"],
                "endpoint_health": calls["endpoint"]}

    def _spending(self) -> Budget | None:
        """The budget with what the whole run has spent (the live one during a run)."""
        if self._live_budget is not None or self.budget is None:
            return self._live_budget
        return self.budget.renewed(*self.store.token_totals())

    def set_budget(self, max_tokens: int | None = None, max_cost: float | None = None,
                   prices: tuple[float, float] | None = None) -> None:
        """Stop Step/Run before a call would cross this many tokens or USD for the whole
        run (prices: USD per million input and output tokens). No arguments: no limit."""
        unset = max_tokens is None and max_cost is None and prices is None
        self.budget = None if unset else Budget(max_tokens=max_tokens, max_cost=max_cost,
                                                prices=prices)
        self._push_settings()
        self.refresh(page=False)

    @property
    def _running(self) -> bool:
        return self._running_since is not None

    def say(self, message: str) -> None:
        self.messages.append(message)
        self.refresh(page=False)

    # -- widget events -----------------------------------------------------------------

    def _on_query(self, _change: Any = None) -> None:
        q = Query.from_dict(self.widget.query or {})
        page = RunView(self.store).page(q)
        self.widget.page = {"offset": page.offset, "total": page.total,
                            "rows": [r.to_dict() for r in page.rows],
                            "reset": q.offset == 0, "stamp": time.time()}

    def _on_select(self, change: Any) -> None:
        cid = change["new"]
        self.widget.detail = RunView(self.store).detail(cid) if cid else {}

    def select(self, candidate_id: str) -> None:
        """Show a candidate's card (also what clicking a map point does)."""
        self.widget.selected_id = candidate_id

    def show_ids(self, ids: Sequence[str] | None) -> None:
        """Filter the candidate list to these ids (a lasso on the map); None shows all."""
        q = {k: v for k, v in (self.widget.query or {}).items() if k != "ids"}
        self.widget.query = {**q, "offset": 0, **({} if ids is None else {"ids": list(ids)})}

    def _on_settings(self, change: Any) -> None:
        if self._pushing:
            return
        try:
            config, endpoint = decode_settings(change["new"], self.config,
                                               self.session.endpoint,
                                               list(self.templates.operators))
            budget = decode_budget(change["new"].get("budget"))
            changed = endpoint != self.session.endpoint
            self.session.configure(config=config, endpoint=endpoint)
            self.budget = budget
            self.say("settings applied (from the next generation on)")
            if changed and not endpoint.local:
                self._schedule(self._check_endpoint())
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
                steps = RunView(self.store).lineage(str(content.get("seed_id")))
                self.widget.lineage = [s.to_dict() for s in steps]
            elif action == "reapply":
                r = what_if(self.store, self.config, self.templates).to_dict()
                self.widget.reapply_result = r
                self.say(f"re-applied rules 2-4 with the current settings: {r['total_changed']}"
                         f" candidate(s) would change status (no LLM call made)")
            elif action == "compare":
                self.compare(str(content.get("path") or ""))
            elif action == "compare_clear":
                self.compare(None)
            elif action == "template_check":
                self.templates_ui.check(content)
            elif action == "template_rerun":
                self._schedule(self.templates_ui.rerun(content, self.session.client_async))
            elif action == "template_apply":
                self.templates_ui.apply(content)
            elif action == "template_save":
                self.templates_ui.save(content)
            elif action == "template_suggest":
                self._suggest(content)
            elif action == "template_suggest_stop":
                self.stop()
        except Exception as e:  # the panel reports, never dies
            self.say(f"error: {type(e).__name__}: {e}")

    def _suggest(self, content: dict[str, Any]) -> asyncio.Task:
        if self._running:
            raise EvolvizError("a run is in progress; a revision is tried between "
                               "generations (stop the run first)")
        return self.revisions.start(content, self._schedule)

    async def suggest_revision(self, operator: str, *, steps: int = 3, dev: int = 8,
                               user: str | None = None) -> list[dict[str, Any]]:
        """What the template editor's "Suggest a revision" does, for notebook cells: the
        evolver revises `operator`'s template (its current text, or `user`) from its
        failures on `dev` of the run's seeds, keeping a revision only if it fails
        significantly less; at most `steps` steps. The run itself is left as it is;
        `Explorer.revisions.history` and the Templates tab show every step."""
        if operator not in self.templates.operators:
            raise EvolvizError(f"{operator!r}: operators are {list(self.templates.operators)}")
        template = template_state(self.templates.operators[operator])
        if user is not None:
            template["user"] = user
        return await self._suggest({"template": template, "steps": steps, "dev": dev})

    def compare(self, other: str | Path | None) -> dict[str, Any]:
        """This run (A) against another stored run (B), shown in the Compare tab: what
        `evolviz compare A B --json` reports, with the flipped seeds' text; the charts
        overlay B's acceptance, rejections and difficulty (dashed) until `compare(None)`."""
        if other is None:
            self.widget.comparison = {}
            if self.maps is not None:
                self.maps.overlay(None)
            self.say("comparison cleared")
            return {}
        limit = self.budget
        report, series = comparison(self.store, other, limit.prices if limit else None)
        self.widget.comparison = report
        if self.maps is not None:
            self.maps.overlay(str(other), series)
        self.say(f"compared with {other}: {len(report['significant'])} significant "
                 f"difference(s)" + ("; the charts show it dashed (B)" if self.maps else ""))
        return report

    def _default_instruction(self, given: str | None) -> str:
        if given:
            return given
        detail = self.widget.detail or {}
        seeds = self.seeds
        return detail.get("parent_instruction") or (seeds[0].text if seeds else "")

    # -- running -------------------------------------------------------------------------

    def _schedule(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task:
        """Run `coro` on the kernel's loop; its failure is reported in the panel.

        Called from widget callbacks and from `__init__` in a cell, where the kernel's loop
        is running but may not be the *current* one: `get_running_loop` first, else the
        policy's loop (never `get_event_loop`, deprecated for this)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = asyncio.get_event_loop_policy().get_event_loop()
        task = loop.create_task(coro)
        # The loop holds tasks weakly: keep each one alive until it is done.
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(self._report)
        return task

    def _report(self, task: asyncio.Task) -> None:
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            self.last_error = "".join(traceback.format_exception(exc)[-3:]).strip()
            self.say(f"error: {type(exc).__name__}: {exc}")

    def start(self, generations: int = 1) -> asyncio.Task:
        """Evolve `generations` more generations in the background (what Step/Run do)."""
        if self._running:
            raise EvolvizError("a run is already in progress; stop it first")
        if self.revisions.running:
            raise EvolvizError("a revision is being evaluated; stop it first")
        self._running_since = time.monotonic()
        self._task = self._schedule(self._run(generations))
        return self._task

    def stop(self) -> None:
        """Cancel the calls in flight; finished candidates stay, and the run resumes later."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
            self.say("stopped; finished candidates are kept and the run resumes from here")
        if self.revisions.stop():
            self.say("stopped the revision loop; the steps so far are kept in its store")

    async def step(self) -> list[Candidate]:
        """Evolve one generation and wait for it (for notebook cells: `await ex.step()`)."""
        return await self.run(1)

    async def run(self, generations: int = 1) -> list[Candidate]:
        return await self.start(generations)

    async def _check_endpoint(self) -> None:
        """A new endpoint is probed at once, so a typo shows before the next Step."""
        client = await self.session.client_async()
        await client.check_endpoint()
        self.say(f"endpoint {self.session.endpoint_label()} answers")

    async def _tick(self) -> None:
        """Status while a run waits (an outage sends no candidates to refresh it)."""
        while True:
            await asyncio.sleep(1.0)
            self.refresh(page=False)

    async def _run(self, generations: int) -> list[Candidate]:
        out: list[Candidate] = []
        ticking: asyncio.Task | None = None
        locked = False
        try:
            # One writer per store: a CLI run on this store refuses the Step (and says
            # who is writing); the panel keeps browsing it.
            self.session.lock_writer("the panel's Step/Run")
            locked = True
            ticking = asyncio.get_running_loop().create_task(self._tick())
            client = await self.session.client_async()
            client.budget = self._live_budget = self._spending()
            for _ in range(generations):
                g = self.evolution.next_generation()
                self.say(f"generation {g}: evolving {self.store.seed_count()} pool members")
                async for cand in self.evolution.step():
                    out.append(cand)
                    if self.maps is not None:
                        self.maps.add(cand)
                    now = time.monotonic()
                    if now - self._last_status >= STATUS_EVERY:
                        self._last_status = now
                        self.refresh()
                    if self.maps is not None and now - self._last_map >= MAP_EVERY:
                        self._last_map = now
                        await self.maps.flush()
                stats = self.store.count_generation(g)
                self.say(f"generation {g} done: {stats.accepted} accepted, "
                         f"{sum(stats.rejected.values())} rejected, {stats.failed} failed")
                if self.maps is not None:
                    await self.maps.flush()
        except BudgetReached as e:
            limit = self._live_budget
            self.say(f"stopped: {e} ({limit.spent() if limit else ''}). Everything finished "
                     f"is saved; raise or clear the budget in Settings and Step again to "
                     f"continue")
        finally:
            if ticking is not None:
                ticking.cancel()
            if locked:
                self.session.unlock_writer()
            if self.session.client is not None:
                self.session.client.budget = None
            self._live_budget = None
            self._running_since = None
            self.refresh()
        return out

    async def wait_for_map(self, timeout: float = 600) -> None:
        """For notebooks run top to bottom: block until the map has been drawn."""
        if self.maps is not None:
            await self.maps.wait(timeout)

    def close(self) -> None:
        """Cancel the run and every background task (map load, re-runs); close the run."""
        for task in list(self._tasks):
            task.cancel()
        with contextlib.suppress(Exception):
            self.session.close()
