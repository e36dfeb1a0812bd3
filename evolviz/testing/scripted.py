"""A responder that replays exact replies per candidate and per call kind.

The engine sends every call with a seed fixed by (run seed, candidate id, call name), see
`evolviz.run.engine.call_seed`, so the scripted server can tell, from the request alone, which
candidate's which call it is serving, and answer exactly what a test scripted for it,
including the judge's re-ask and a finish reason. Nothing is matched on prompt wording, so
templates can change without breaking the script.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from ..calls import CallName, call_seed
from .wire import Reply

__all__ = ["CALL_KINDS", "ScriptedResponder"]

CALL_KINDS = tuple(c.value for c in CallName)


class ScriptedResponder:
    """`script[key][call_name]` is the reply (a string or a `Reply`); the key is a
    candidate id, or a seed id for the difficulty judge's ratings of seeds.

    A call the script does not name gets `fallback[call_name]` if given; otherwise the
    responder raises, which the server turns into a loud 500: a test must not pass on a
    reply nobody wrote.
    """

    def __init__(self, script: Mapping[str, Mapping[str, Reply | str]], *, run_seed: int,
                 fallback: Mapping[str, Reply | str] | None = None):
        self._by_seed: dict[int, tuple[str, str]] = {}
        for cid in script:
            for kind in CALL_KINDS:
                self._by_seed[call_seed(run_seed, cid, kind)] = (cid, kind)
        self.script = {cid: dict(calls) for cid, calls in script.items()}
        self.fallback = dict(fallback or {})
        self._lock = threading.Lock()
        self.served: list[tuple[str, str]] = []

    def __call__(self, request: dict[str, Any]) -> Reply | str:
        seed = request.get("seed")
        if not isinstance(seed, int) or seed not in self._by_seed:
            raise LookupError(f"no scripted call has seed {seed!r}")
        cid, kind = self._by_seed[seed]
        with self._lock:
            self.served.append((cid, kind))
        calls = self.script[cid]
        if kind in calls:
            return calls[kind]
        if kind in self.fallback:
            return self.fallback[kind]
        raise LookupError(f"candidate {cid}: no reply scripted for call {kind!r}")
