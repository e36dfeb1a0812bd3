"""`Explorer`: the JupyterLab panel, a plain Python object over one run session.

Shown in a cell it is the whole panel. The run is wired up by
`evolviz.run.session.RunSession` (the same code the CLI uses) and evolved in the
background by `run_loop.RunLoop`; this class only translates the panel's actions
(actions.py, one table shared with js/) into session calls and store reads into widget
state (state.py). An API key, when one is needed, is read from the environment variable
named by `api_key_env` when a call is made: never put in widget state, the store or a log.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Unpack

import ipywidgets as ipw

from ..config import RunConfig
from ..errors import EvolvizError
from ..records import Candidate
from ..run.batch_admin import batch_status
from ..run.budget import Budget
from ..run.session import Endpoint, RunSession
from ..run.whatif import what_if
from ..seeds import Seed
from ..store import Query, RunView
from ..templates import TemplateSet
from . import status
from .actions import ACTIONS, by_name
from .compare_view import comparison
from .map_controller import MapController
from .revision_controller import RevisionController
from .run_loop import Background, RunLoop
from .session_setup import RunOptions, open_session
from .settings_codec import (
    decode_budget,
    decode_settings,
    decode_style,
    encode_budget,
    encode_settings,
)
from .templates_controller import TemplatesController
from .widget import ExplorerWidget

__all__ = ["Explorer"]


class Explorer:
    """Step Evol-Instruct in a notebook and see every prompt, response and verdict.

    `Explorer(seeds, references)` starts a new run (default seeds: the tiny demo set; default
    store: a fresh temporary file); `Explorer.open("run.db")` reopens a stored one. The
    run's options (`store`, endpoint `base_url`/`model`/`api_key_env`/`concurrency`,
    `config`, `templates`) are those of `session_setup.RunOptions`; default endpoint: the
    embedded local model. `ex.act("step")` does what the Step button does.
    """

    def __init__(self, seeds: str | Path | Sequence[str] | Sequence[Seed] | None = None,
                 references: str | Path | None = None, *, session: RunSession | None = None,
                 budget: Budget | None = None, maps: bool = True,
                 price_per_1k_tokens: float = 0.0, k: int = 20, reference_sample: int = 500,
                 **run: Unpack[RunOptions]):
        self.seed_problems: list[str] = []
        if session is None:
            session, self.seed_problems = open_session(seeds, **run)
        self.session = session
        session.notify = self.say
        self.price = price_per_1k_tokens
        # The spending limit Step and Run stop at, as `evolviz run --max-tokens/--max-cost`
        # does; None: no limit.
        self.budget = budget
        self.notes = [status.Note(p) for p in self.seed_problems[:5]]
        self.widget = ExplorerWidget()
        self._pushing = False
        self.background = Background(lambda e: self.report(e))
        self.templates_ui = TemplatesController(session, self.widget, self.say)
        self.revisions = RevisionController(session, self.widget, self.say,
                                            lambda: self.seeds)
        self.maps = (MapController(session, references=references, on_select=self.select,
                                   on_lasso=self.show_ids, k=k, reference_sample=reference_sample)
                     if maps else None)
        self.loop = RunLoop(session, self.background, say=self.say, refresh=self.refresh,
                            maps=self.maps, budget=self._spending)
        self._dispatch = self._handlers()
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
            self.background.schedule(self.maps.load())
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
    def messages(self) -> list[str]:
        return [n.text for n in self.notes]

    @property
    def last_error(self) -> str | None:
        """The end of the last background failure's traceback."""
        return self.background.last_error

    @property
    def last_rerun(self) -> Candidate | None:
        return self.templates_ui.last_rerun

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.layout)

    # -- actions: what the buttons do, for cells and tests too ---------------------------

    def act(self, action: str, **payload: Any) -> Any:
        """Do what the panel's control for `action` does, by the same path: `action` is a
        name of actions.ACTIONS ("step", "run" with n=3, "compare" with path=...). A
        failure is reported in the panel, never raised; returns what the action started
        (the task of a Step, Run, re-run or revision) or made."""
        try:
            spec = by_name(action)
            if spec is None:
                raise EvolvizError(f"unknown action {action!r}; the panel's actions are "
                                   f"{', '.join(a.name for a in ACTIONS.values())}")
            extra = set(payload) - set(spec.payload)
            if extra:
                raise EvolvizError(f"action {action!r} takes "
                                   f"{', '.join(spec.payload) or 'no payload'}, "
                                   f"not {', '.join(sorted(extra))}")
            return self._dispatch[spec.name](**payload)
        except Exception as e:  # the panel reports, never dies
            self.report(e)
            return None

    def _handlers(self) -> dict[str, Callable[..., Any]]:
        """The dispatch table: one handler per key of actions.ACTIONS, by wire name."""
        handlers: dict[str, Callable[..., Any]] = {
            "STEP": lambda: self.start(1),
            "RUN": lambda n=1: self.start(int(n)),
            "STOP": self.stop,
            "LINEAGE": self._lineage,
            "REAPPLY": self._reapply,
            "COMPARE": lambda path="": self.compare(str(path or "")),
            "COMPARE_CLEAR": lambda: self.compare(None),
            "TEMPLATE_CHECK": lambda **p: self.templates_ui.check(p),
            "TEMPLATE_RERUN": lambda **p: self.background.schedule(
                self.templates_ui.rerun(p, self.session.client_async)),
            "TEMPLATE_APPLY": lambda **p: self.templates_ui.apply(p),
            "TEMPLATE_SAVE": lambda **p: self.templates_ui.save(p),
            "TEMPLATE_SUGGEST": lambda **p: self._suggest(p),
            "TEMPLATE_SUGGEST_STOP": self.stop,
        }
        if set(handlers) != set(ACTIONS):
            raise AssertionError(f"actions without a handler or handlers without an action: "
                                 f"{sorted(set(handlers) ^ set(ACTIONS))}")
        return {ACTIONS[key].name: fn for key, fn in handlers.items()}

    def _on_msg(self, _widget: Any, content: dict[str, Any], _buffers: Any) -> None:
        payload = dict(content)
        self.act(str(payload.pop("action", "")), **payload)

    def _lineage(self, seed_id: str | None = None) -> None:
        steps = RunView(self.store).lineage(str(seed_id))
        self.widget.lineage = [s.to_dict() for s in steps]

    def _reapply(self) -> dict[str, Any]:
        r = what_if(self.store, self.config, self.templates).to_dict()
        self.widget.reapply_result = r
        self.say(f"re-applied rules 2-4 with the current settings: {r['total_changed']}"
                 f" candidate(s) would change status (no LLM call made)")
        return r

    # -- state to the widget -----------------------------------------------------------

    def _push_settings(self) -> None:
        self._pushing = True
        try:
            self.widget.settings = {**encode_settings(self.config, self.session.endpoint,
                                                      list(self.templates.operators),
                                                      self.templates.style),
                                    "budget": encode_budget(self.budget)}
        finally:
            self._pushing = False

    def refresh(self, *, page: bool = True) -> None:
        """Push the status (and the visible page) from the store to the widget."""
        store = self.store
        g = self.evolution.next_generation()
        self.widget.status = status.compose(
            {"running": self.loop.running, "revising": self.revisions.running,
             "generation": g, "finished_generations": len(store.finished_generations()),
             "endpoint": self.session.endpoint_label(), "store": self.store_path},
            status.counts(store, g, self.loop.running),
            status.spending(store, self._spending(), self.price,
                            stopped=self.loop.stopped_by_budget),
            status.calls(self.session.client, running=self.loop.running),
            {"batches": batch_status(store)},  # "" unless the run is made in batch mode
            status.messages(self.notes))
        if page:
            self.widget.options = RunView(store).filter_options()
            self._on_query()

    def _spending(self) -> Budget | None:
        """The budget with what the whole run has spent (the live one during a run)."""
        if self.loop.live_budget is not None or self.budget is None:
            return self.loop.live_budget
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

    def say(self, message: str, *, error: bool = False) -> None:
        """Show a message in the status line (`error`: the status says it is one)."""
        self.notes.append(status.Note(message, error))
        self.refresh(page=False)

    def report(self, exc: BaseException) -> None:
        """Show a failure in the status line, flagged as an error."""
        self.say(f"error: {type(exc).__name__}: {exc}", error=True)

    # -- two-way state: the list's query, the selected card, the settings form -----------

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
            style = decode_style(change["new"], self.templates.style)
            templates = TemplateSet.load(style=style) if style else None
            changed = endpoint != self.session.endpoint
            self.session.configure(config=config, endpoint=endpoint, templates=templates)
            self.budget = budget
            self.say("settings applied (from the next generation on)" + (
                f"; the built-in {style.replace('_', '-')} templates replace the ones "
                f"in use" if style else ""))
            if style:
                self.templates_ui.push()
            if changed and not endpoint.local:
                self.background.schedule(self.loop.check_endpoint())
        except (EvolvizError, ValueError, TypeError) as e:
            self.say(f"error: {e}", error=True)
            self._push_settings()

    # -- templates, revisions, comparison ---------------------------------------------

    def _suggest(self, content: dict[str, Any]) -> asyncio.Task:
        if self.loop.running:
            raise EvolvizError("a run is in progress; a revision is tried between "
                               "generations (stop the run first)")
        task = self.revisions.start(content, self.background.schedule)
        self.refresh(page=False)
        task.add_done_callback(lambda _t: self.refresh(page=False))
        return task

    async def suggest_revision(self, operator: str, *, steps: int = 3, dev: int = 8,
                               user: str | None = None) -> list[dict[str, Any]]:
        """What the template editor's "Suggest a revision" does, for notebook cells: the
        evolver revises `operator`'s template (its current text, or `user`) from its
        failures on `dev` of the run's seeds, keeping a revision only if it fails
        significantly less; at most `steps` steps. The run itself is left as it is;
        `Explorer.revisions.history` and the Templates tab show every step."""
        return await self._suggest(self.revisions.request(operator, steps=steps, dev=dev,
                                                          user=user))

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

    # -- running -------------------------------------------------------------------------

    def start(self, generations: int = 1) -> asyncio.Task:
        """Evolve `generations` more generations in the background (what Step/Run do)."""
        if self.revisions.running:
            raise EvolvizError("a revision is being evaluated; stop it first")
        return self.loop.start(generations)

    def stop(self) -> None:
        """Cancel the calls in flight; finished candidates stay, and the run resumes later."""
        if self.loop.stop():
            self.say("stopped; finished candidates are kept and the run resumes from here")
        if self.revisions.stop():
            self.say("stopped the revision loop; the steps so far are kept in its store")

    async def step(self) -> list[Candidate]:
        """Evolve one generation and wait for it (for notebook cells: `await ex.step()`)."""
        return await self.run(1)

    async def run(self, generations: int = 1) -> list[Candidate]:
        return await self.start(generations)

    async def wait_for_map(self, timeout: float = 600) -> None:
        """For notebooks run top to bottom: block until the map has been drawn."""
        if self.maps is not None:
            await self.maps.wait(timeout)

    def close(self) -> None:
        """Cancel the run and every background task (map load, re-runs); close the run."""
        self.background.cancel_all()
        with contextlib.suppress(Exception):
            self.session.close()
