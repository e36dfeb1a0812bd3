"""A run session: the one place that wires up a run, for the CLI and the panel alike.

Before this module the CLI and the panel each resolved the endpoint, started the local
model, picked the sampling preset, built the client, cache, store and engine in their own
way, and a run made by one could not be reopened by the other. Now both ask a
`RunSession`, which:

- resolves the endpoint: an explicit base URL (its key read from an environment variable
  when a call is made, never stored), else the embedded local model;
- picks the sampling preset that suits it (`DEFAULT_SAMPLING` or the local model's);
- builds the store, the response cache, the client and the `Evolution`, and closes them;
- rebuilds (and closes) the client when the endpoint or the concurrency changes;
- reopens a stored run from the store alone (`RunSession.open`): seeds, settings and
  templates all come from the store, so continuing it is exactly `evolviz run` continuing.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..calls import ROLES, Sampling
from ..config import DEFAULT_SAMPLING, RunConfig
from ..errors import ConfigError, StoreError
from ..store import ResponseCache, RunStore
from ..templates import TemplateSet
from .engine import Evolution
from .health import DEFAULT_MAX_OUTAGE
from .llm import LLMClient

__all__ = ["Endpoint", "RunRecipe", "RunSession", "default_judge", "default_sampling",
           "default_style", "stored_templates"]

#: Model name used when an explicit endpoint is given without one.
DEFAULT_REMOTE_MODEL = "gpt-4o-mini"


@dataclass(frozen=True)
class Endpoint:
    """Where LLM calls go. `base_url=None` means the embedded local model.

    Holds the *name* of the variable with the API key, never the key: this object is shown
    in the panel and its settings are saved with notebooks.
    """

    base_url: str | None = None
    model: str | None = None
    role_models: Mapping[str, str] = field(default_factory=dict)
    api_key_env: str = "OPENAI_API_KEY"
    concurrency: int | None = None
    timeout: float = 120.0
    retries: int = 5
    max_outage: float = DEFAULT_MAX_OUTAGE  # seconds a run waits for a down endpoint

    def __post_init__(self) -> None:
        unknown = [r for r in self.role_models if r not in ROLES]
        if unknown:
            raise ConfigError(f"models given for unknown role(s) {unknown}; roles are "
                              f"{list(ROLES)}")
        if self.concurrency is not None and self.concurrency < 1:
            raise ConfigError("concurrency must be >= 1")
        if self.timeout <= 0:
            raise ConfigError("timeout must be > 0 seconds")
        if self.retries < 0:
            raise ConfigError("retries must be >= 0")
        if self.max_outage < 0:
            raise ConfigError("must be >= 0 seconds", field="max_outage")

    @property
    def local(self) -> bool:
        return not self.base_url

    @property
    def calls_in_flight(self) -> int:
        # The local model's server says how many calls it decodes at once: llama-server
        # batches its slots' calls, llama-cpp-python's serves one at a time and more in
        # flight is slower, not just queued (benchmarks/bench_local_model.py).
        if self.concurrency:
            return self.concurrency
        if self.local:
            from ..local_model.programs import local_slots

            return local_slots()
        return 8


Notify = Callable[[str], None]


@dataclass(frozen=True)
class RunRecipe:
    """What decides a run's calls apart from its seeds and its store: where the calls go,
    the settings and the templates.

    `evolviz run`, `estimate` and `optimize` build one from the same options, so that a
    pilot or an optimisation step makes exactly the calls the real run would.
    """

    endpoint: Endpoint
    config: RunConfig
    templates: TemplateSet

    def start(self, store: str | Path, seeds: Sequence[Any],
              notify: Notify | None = None, *, writer: str = "a run") -> RunSession:
        """A session over `seeds` in `store`, its client built (the local model started
        when the endpoint is local), holding the store's writer lock as `writer` (what the
        lock says is writing) until it closes. Blocking, like `RunSession.build_client`."""
        session = RunSession(store, seeds=seeds, config=self.config,
                             templates=self.templates, endpoint=self.endpoint, notify=notify,
                             writer=writer)
        try:
            session.build_client()
        except BaseException:
            session.close()
            raise
        return session


def default_style(endpoint: Endpoint) -> str:
    """The prompt style that suits an endpoint: few-shot completions for the embedded 135M
    model, which continues patterns but cannot follow long editing instructions; the
    paper-faithful chat templates for any other endpoint."""
    return "few_shot" if endpoint.local else "chat"


def default_judge(endpoint: Endpoint) -> str:
    """Who decides rule 1 and `not_a_task` by default: on the embedded 135M model the checks
    that need no model (they measure better than its judge, docs/local_model.md), elsewhere
    the judge model."""
    return "check" if endpoint.local else "model"


def default_sampling(endpoint: Endpoint) -> dict[str, Sampling]:
    """The sampling preset for an endpoint: the local 135M model wants shorter outputs."""
    if endpoint.local:
        from ..local_model import LOCAL_SAMPLING

        return dict(LOCAL_SAMPLING)
    return dict(DEFAULT_SAMPLING)


def stored_templates(store: RunStore) -> TemplateSet:
    """The templates a stored run was made with; the built-ins for a store that predates
    storing them (checked against the operators it names)."""
    fields = store.get_meta("templates")
    if fields:
        return TemplateSet.from_fields(fields, origin=f"{store.path}")
    templates = TemplateSet.load()
    names = store.get_meta("operators") or []
    missing = [n for n in names if n not in templates.operators]
    if missing:
        raise StoreError(f"{store.path}: made with operator template(s) {missing} that this "
                         f"store does not hold; pass templates=... (the folder it used)")
    return templates



class RunSession:
    """A store, its cache, a client and an engine, built together and closed together."""

    def __init__(
        self,
        store: str | Path | None = None,
        *,
        seeds: Sequence[Any] | None = None,
        config: RunConfig | None = None,
        templates: TemplateSet | None = None,
        endpoint: Endpoint | None = None,
        notify: Notify | None = None,
        writer: str | None = None,
    ):
        self.endpoint = endpoint or Endpoint()
        if store is None:
            store = Path(tempfile.mkdtemp(prefix="evolviz-")) / "run.db"
        self.store_path = str(store)
        self.notify = notify or (lambda _message: None)
        self.store = RunStore(store)
        #: The holder of a stale writer lock this session took over (its process was gone).
        self.took_over: dict[str, Any] | None = None
        try:
            if writer is not None:  # before anything is written: a refused writer wrote nothing
                self.lock_writer(writer)
            self.cache = ResponseCache(store)
            if config is None:
                config = RunConfig(sampling=default_sampling(self.endpoint),
                                   judge=default_judge(self.endpoint))
            templates = templates or TemplateSet.load(style=default_style(self.endpoint))
            self.evolution = Evolution(self.store, None, templates, config, seeds=seeds)
        except BaseException:
            self.store.close()
            raise
        self.local: Any = None
        self._client: LLMClient | None = None

    @classmethod
    def open(cls, store: str | Path, *, endpoint: Endpoint | None = None,
             templates: TemplateSet | None = None, config: RunConfig | None = None,
             notify: Notify | None = None) -> RunSession:
        """Reopen a stored run, made by the CLI or the panel, from the store alone."""
        path = Path(store)
        if not path.exists():
            raise StoreError(f"{path}: no such run store")
        with RunStore(path, create=False, readonly=True) as peek:
            if not peek.has_seeds():
                raise StoreError(f"{path}: the store holds no seeds yet, so no run to open")
            stored = peek.get_meta("config")
            stored_config = RunConfig.from_dict(stored) if stored else None
            stored_set = templates or stored_templates(peek)
        return cls(path, config=config or stored_config, templates=stored_set,
                   endpoint=endpoint, notify=notify)

    @staticmethod
    def has_run(store: str | Path) -> bool:
        """Whether `store` is a run store that holds a run (seeds at least)."""
        path = Path(store)
        if not path.exists() or path.stat().st_size == 0:
            return False
        with RunStore(path, create=False, readonly=True) as peek:
            return peek.has_seeds()

    # -- settings ------------------------------------------------------------------------

    def lock_writer(self, purpose: str) -> None:
        """Become the store's one writer (re-entrant); `StoreLockedError` if another live
        process is. A lock left by a process that is gone is taken over and said so."""
        stale = self.store.acquire_writer(purpose)
        if stale is not None:
            self.took_over = stale
            self.notify(f"took over the store's writer lock from pid {stale['pid']} on "
                        f"{stale['host']} ({stale.get('purpose') or 'a run'}), which is gone")

    def unlock_writer(self) -> None:
        self.store.release_writer()

    @property
    def config(self) -> RunConfig:
        return self.evolution.config

    @property
    def templates(self) -> TemplateSet:
        return self.evolution.templates

    @property
    def client(self) -> LLMClient | None:
        return self._client

    def configure(self, *, config: RunConfig | None = None,
                  templates: TemplateSet | None = None,
                  endpoint: Endpoint | None = None) -> None:
        """New settings from the next generation on; a new endpoint or concurrency closes
        the old client (its connections) and a new one is built before the next call."""
        if endpoint is not None and endpoint != self.endpoint:
            old, self.endpoint = self.endpoint, endpoint
            self._drop_client()
            base = config or self.config
            if old.local != endpoint.local:
                # The other kind of endpoint wants its own presets (sampling, who judges,
                # prompt style), each unless it was set by hand.
                if dict(base.sampling) == default_sampling(old):
                    base = replace(base, sampling=default_sampling(endpoint))
                if base.judge == default_judge(old):
                    base = replace(base, judge=default_judge(endpoint))
                config = base
                builtin = TemplateSet.load(style=default_style(old))
                if templates is None and self.templates.to_fields() == builtin.to_fields():
                    templates = TemplateSet.load(style=default_style(endpoint))
        self.evolution.configure(config=config, templates=templates)

    def _drop_client(self) -> None:
        old, self._client = self._client, None
        if old is not None:
            with contextlib.suppress(RuntimeError):
                asyncio.get_running_loop().create_task(old.aclose())

    # -- the client ----------------------------------------------------------------------

    def build_client(self) -> LLMClient:
        """The client for the current endpoint (starting the local model if that is it).

        Blocking: starting the local model takes seconds; the panel calls it in a thread.
        """
        if self._client is not None:
            return self._client
        ep = self.endpoint
        if ep.local:
            from ..local_model import shared_local_model

            self.notify("starting the local model (SmolLM2-135M-Instruct)…")
            self.local = shared_local_model()
            url, api_key = self.local.base_url, "none"
            model = ep.model or self.local.model_name
            recover = self.local.recover
        else:
            url, api_key = str(ep.base_url), os.environ.get(ep.api_key_env)
            model, recover = ep.model or DEFAULT_REMOTE_MODEL, None
            self.local = None
        models = {role: ep.role_models.get(role, model) for role in ROLES}
        self._client = LLMClient(url, api_key=api_key, models=models,
                                 concurrency=(ep.concurrency or self.local.slots) if ep.local
                                 else ep.calls_in_flight, timeout=ep.timeout,
                                 max_retries=ep.retries, cache=self.cache, recover=recover,
                                 max_outage=ep.max_outage,
                                 structured_style="llama_cpp" if ep.local else "openai")
        self.evolution.configure(client=self._client)
        return self._client

    async def client_async(self) -> LLMClient:
        if self._client is not None:
            return self._client
        return await asyncio.get_running_loop().run_in_executor(None, self.build_client)

    def endpoint_label(self) -> str:
        if self.endpoint.local:
            return "local model" + (f" at {self.local.base_url}" if self.local else "")
        return str(self.endpoint.base_url)

    # -- closing -------------------------------------------------------------------------

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        self.close()

    def close(self) -> None:
        """Close the cache and the store (the client's sockets close with its loop)."""
        with contextlib.suppress(Exception):
            self.cache.close()
        with contextlib.suppress(Exception):
            self.store.close()

    def __enter__(self) -> RunSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
