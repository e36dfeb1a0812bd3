"""The template editor's "Suggest a revision": `evolviz optimize`, started from the panel.

The loop evolves the same dev seeds once per step (generation k = step k), so it gets a run
store of its own next to the run's: those candidates must not enter the run's generations,
yet every call is kept like any run's and the store can be read later (`evolviz compare`,
`Explorer.open`). It starts from the template as edited in the panel, not as saved: the
point is to let the evolver fix what a person is looking at.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import EvolvizError
from ..run.session import RunSession
from ..seeds import Seed
from ..templates import Template, parse_template
from ..workbench.optimize import dev_slice, kept, optimize
from .templates_controller import template_fields, template_state

__all__ = ["RevisionController", "shown_step"]

MAX_STEPS = 10
REPLY_SHOWN = 2000  # characters of an unusable revision reply shown in the panel


def shown_step(h: dict[str, Any]) -> dict[str, Any]:
    """A step record for the widget: the numbers and diff, and of the revision call only
    what explains a step that went nowhere (its reply or its error), not its messages."""
    out = {k: v for k, v in h.items() if k != "revision_call"}
    call = h.get("revision_call") or {}
    if h.get("status") == "invalid":
        out["reply"] = (call.get("content") or "")[:REPLY_SHOWN]
        out["call_error"] = call.get("error")
    if call:
        out["tokens"] = int(call.get("prompt_tokens") or 0) + int(
            call.get("completion_tokens") or 0)
    return out


class RevisionController:
    """Runs one revision loop at a time for the panel and mirrors it into widget state."""

    def __init__(self, session: RunSession, widget: Any, say: Callable[[str], None],
                 seeds: Callable[[], list[Seed]]):
        self.session = session
        self.widget = widget
        self.say = say
        self.seeds = seeds
        self.task: asyncio.Task | None = None
        self.history: list[dict[str, Any]] = []

    @property
    def running(self) -> bool:
        return self.task is not None and not self.task.done()

    def request(self, operator: str, *, steps: int, dev: int,
                user: str | None = None) -> dict[str, Any]:
        """What the editor's button sends, for `operator`'s template as it is in use (or
        with `user` as its user prompt), so a cell asks exactly what a click does."""
        operators = self.session.templates.operators
        if operator not in operators:
            raise EvolvizError(f"{operator!r}: operators are {list(operators)}")
        template = template_state(operators[operator])
        if user is not None:
            template["user"] = user
        return {"template": template, "steps": steps, "dev": dev}

    def store_for(self, operator: str) -> Path:
        """The first free `<run>.optimize-<operator>-<n>.db` beside the run store."""
        run = Path(self.session.store_path)
        for n in itertools.count(1):
            path = run.with_name(f"{run.stem}.optimize-{operator}-{n}.db")
            if not path.exists():
                return path
        raise AssertionError("unreachable")

    def _push(self, **state: Any) -> None:
        self.widget.revision = {**(self.widget.revision or {}), **state}

    def _prepare(self, content: dict[str, Any]) -> tuple[Template, int, list[Seed], Path]:
        """Check the request before anything runs: a bad one is refused with the field
        named, and the previous suggestion stays on screen."""
        fields = template_fields(content["template"])
        name = str(fields.get("name", ""))
        t = parse_template(fields, path=f"(edited {name})")
        if t.role != "operator":
            raise EvolvizError(f"{t.name!r} is a {t.role} template: a revision is suggested "
                               f"for the operators' rewrite prompts "
                               f"({', '.join(self.session.templates.operators)})")
        try:
            steps, dev = int(content.get("steps") or 3), int(content.get("dev") or 8)
        except (TypeError, ValueError):
            raise EvolvizError("steps and dev seeds must be whole numbers") from None
        if not 1 <= steps <= MAX_STEPS:
            raise EvolvizError(f"steps: give 1 to {MAX_STEPS}, not {steps}")
        seeds = self.seeds()
        if dev < 2 or len(seeds) < 2:
            raise EvolvizError(f"dev seeds: give at least 2 (the run has {len(seeds)} seeds)")
        chosen = dev_slice(seeds, dev, self.session.config.seed)
        return t, steps, chosen, self.store_for(t.name)

    async def _run(self, t: Template, steps: int, chosen: list[Seed], path: Path
                   ) -> list[dict[str, Any]]:
        opt = RunSession(path, seeds=chosen, config=self.session.config,
                         templates=self.session.templates.replace(t),
                         endpoint=self.session.endpoint)

        def progress(history: list[dict[str, Any]], doing: str) -> None:
            self.history = list(history)
            self._push(steps=[shown_step(h) for h in history], doing=doing)

        try:
            client = await opt.client_async()
            history = await optimize(opt.store, client, opt.templates, opt.config,
                                     opt.store.pool(1) or [], t.name, steps, progress=progress)
        except asyncio.CancelledError:
            self._push(running=False, doing="", error="stopped; the steps so far are kept "
                                                      f"in {path}")
            raise
        except Exception as e:
            self._push(running=False, doing="", error=f"{type(e).__name__}: {e}")
            raise
        finally:
            await opt.aclose()
        best = kept(history)
        self._push(running=False, doing="", best={"step": best["step"],
                                                  "template": best["template"]})
        rates = " → ".join(f"{100 * h['failure_rate']['value']:.0f}%"
                           for h in history if "failure_rate" in h)
        self.say(f"suggested revisions of {t.name!r}: failure rate per evaluated step "
                 f"{rates}; " + ("kept step " + str(best["step"]) if best["step"]
                                 else "none kept (the current template stays)")
                 + f"; every call is in {path}")
        return history

    def start(self, content: dict[str, Any],
              schedule: Callable[[Any], asyncio.Task]) -> asyncio.Task:
        """Revise the edited operator template from its failures on a dev slice of the run's
        seeds, in the background; each step is shown as it is recorded. The task's result
        is the step records."""
        if self.running:
            raise EvolvizError("a revision is already being evaluated; stop it first")
        t, steps, chosen, path = self._prepare(content)
        self.history = []
        self.widget.revision = {"name": t.name, "store": str(path), "dev": len(chosen),
                                "steps_asked": steps, "running": True, "steps": [],
                                "doing": "starting", "best": None, "error": None}
        self.task = schedule(self._run(t, steps, chosen, path))
        return self.task

    def stop(self) -> bool:
        if self.running and self.task is not None:
            self.task.cancel()
            return True
        return False
