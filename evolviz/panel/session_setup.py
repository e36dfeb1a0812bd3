"""How a panel gets its run session: a new run from seeds, or the run a store holds.

Kept out of the `Explorer` facade so the facade takes the session's options as one group
(`RunOptions`) instead of a parameter each.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypedDict

from ..config import RunConfig
from ..run.session import Endpoint, RunSession
from ..seeds import Seed, load_seeds
from ..templates import TemplateSet

__all__ = ["DEMO_SEEDS", "RunOptions", "open_session"]

DEMO_SEEDS = Path(__file__).resolve().parents[2] / "seeds" / "tiny.txt"
_FALLBACK_SEEDS = ("Write a haiku about the sea.", "Explain recursion with an example.",
                   "What is 17 times 23?", "Give three tips for a job interview.")


class RunOptions(TypedDict, total=False):
    """What `Explorer(...)` passes on to the run session (all optional)."""

    store: str | Path | None  # default: a fresh temporary file
    base_url: str | None  # default: the embedded local model
    model: str | None
    api_key_env: str  # the *name* of the variable holding the key
    config: RunConfig | None
    templates: str | Path | TemplateSet | None
    concurrency: int | None


def _as_seeds(seeds: Any) -> tuple[list[Seed], list[str]]:
    """Seeds from a path or a list of strings/Seeds, and any load problems as text."""
    if seeds is None:
        seeds = DEMO_SEEDS if DEMO_SEEDS.exists() else list(_FALLBACK_SEEDS)
    if isinstance(seeds, str | Path):
        loaded = load_seeds(seeds)
        return loaded.seeds, [f"{p.path}:{p.line}: {p.reason}" for p in loaded.problems]
    out = []
    for i, s in enumerate(seeds):
        out.append(s if isinstance(s, Seed) else Seed(id=f"seed-{i:06d}", instruction=str(s)))
    return out, []


def open_session(seeds: str | Path | Sequence[str] | Sequence[Seed] | None,
                 **options: Any) -> tuple[RunSession, list[str]]:
    """The session for a panel, and the seed file's problems as text. A store that holds a
    run already, given without seeds, is that run (not the demo seeds)."""
    unknown = set(options) - set(RunOptions.__annotations__)
    if unknown:
        raise TypeError(f"unexpected option(s) {sorted(unknown)}; the run's options are "
                        f"{sorted(RunOptions.__annotations__)}")
    store = options.get("store")
    endpoint = Endpoint(base_url=options.get("base_url"), model=options.get("model"),
                        api_key_env=options.get("api_key_env") or "OPENAI_API_KEY",
                        concurrency=options.get("concurrency"))
    templates = options.get("templates")
    # None: the stored run's templates, or the built-ins for a new run.
    template_set = TemplateSet.load(templates) if isinstance(templates, str | Path) else templates
    config = options.get("config")
    if seeds is None and store is not None and RunSession.has_run(store):
        return RunSession.open(store, endpoint=endpoint, config=config,
                               templates=template_set), []
    loaded, problems = _as_seeds(seeds)
    return RunSession(store, seeds=loaded, config=config, templates=template_set,
                      endpoint=endpoint), problems
