"""The fault matrix: every kind of endpoint misbehaviour, alone and mixed at 10% and 30%.

Whatever the endpoint does, the run completes and every candidate ends accepted, rejected
by a named rule, or failed with an error class; the counts add up; nothing raises. The one
exception is an endpoint that is down from the start (5xx, timeouts or dropped connections
on every call): that run stops with `EndpointUnreachable` and records nothing.
"""

import pytest

from evolviz.config import RunConfig
from evolviz.errors import EndpointUnreachable
from evolviz.rules import RULE_IDS
from evolviz.run.engine import Evolution
from evolviz.run.llm import LLMClient
from evolviz.seeds import Seed
from evolviz.store import RunStore
from evolviz.templates import TemplateSet
from evolviz.testing import ALL_FAULTS, FakeOpenAIServer, Faults
from evolviz.testing.evol_responder import EvolResponder
from evolviz.testing.synthetic import synthetic_instructions

ERROR_CLASSES = {"RateLimited", "ServerError", "Timeout", "ConnectionError",
                 "MalformedResponse", "BadRequest"}


async def run_with(tmp_path, faults, n=40, retries=1, generations=2):
    seeds = [Seed(id=f"seed-{i:06d}", instruction=t)
             for i, t in enumerate(synthetic_instructions(n))]
    with FakeOpenAIServer(EvolResponder(), faults=faults, hang_seconds=2.0) as server:
        client = LLMClient(server.base_url, models="fake-model", concurrency=16,
                           timeout=0.5, max_retries=retries, backoff_base=0.01)
        store = RunStore(tmp_path / "run.db")
        evo = Evolution(store, client, TemplateSet.load(), RunConfig(seed=1), seeds=seeds)
        stats = await evo.run(generations)
        injected = dict(server.stats.faults)
        await client.aclose()
    return store, stats, injected


def check_accounting(store, stats, n):
    assert [s.generation for s in stats] == [1, 2] and all(s.finished for s in stats)
    for s in stats:
        assert s.accepted + sum(s.rejected.values()) + s.failed == s.pool_size == n
        assert set(s.rejected) <= set(RULE_IDS)
        assert set(s.failed_by) <= ERROR_CLASSES
    for c in store.candidates():
        if c.status == "rejected":
            assert c.rejected_by in RULE_IDS and c.rejection is not None
        elif c.status == "failed":
            assert c.error_class in ERROR_CLASSES and c.error
    assert store.candidate_count() == 2 * n


#: Faults that say the endpoint itself is down rather than answering badly.
ENDPOINT_DOWN = ("500", "503", "timeout", "drop")


@pytest.mark.parametrize("kind", [k for k in ALL_FAULTS if k not in ENDPOINT_DOWN])
async def test_each_fault_alone_every_call(tmp_path, kind):
    """Every single call misbehaves the same way: nothing can pass, nothing may crash."""
    store, stats, injected = await run_with(tmp_path, Faults(rate=1.0, kinds=(kind,)), n=6,
                                            retries=1)
    assert injected.get(kind, 0) > 0
    check_accounting(store, stats, 6)
    statuses = {c.status for c in store.candidates()}
    if kind in ("length", "content_filter"):
        # An answer, not an error: the rewrite is unusable, so a named rule rejects it.
        assert statuses == {"rejected"}
        assert all(c.rejected_by == "rewrite_invalid" for c in store.candidates())
    else:
        assert statuses == {"failed"}


@pytest.mark.parametrize("kind", ENDPOINT_DOWN)
async def test_an_endpoint_down_on_every_call_from_the_start_stops_the_run(tmp_path, kind):
    """5xx, timeouts or dropped connections on every call of a fresh run are a broken
    endpoint, not bad luck: the run stops naming it, and no candidate is recorded."""
    with pytest.raises(EndpointUnreachable, match="no call has succeeded") as e:
        await run_with(tmp_path, Faults(rate=1.0, kinds=(kind,)), n=6, retries=1)
    assert "127.0.0.1" in str(e.value)
    with RunStore(tmp_path / "run.db", create=False) as store:
        assert store.candidate_count() == 0


@pytest.mark.parametrize("rate", [0.10, 0.30])
async def test_mixed_faults(tmp_path, rate):
    store, stats, injected = await run_with(tmp_path, Faults(rate=rate, seed=3), n=40)
    total = sum(injected.values())
    assert total > 0 and len(injected) >= 5  # a real mix was injected
    check_accounting(store, stats, 40)
    # With a retry, most candidates still get through at 10%; at 30% failures show up.
    accepted = sum(s.accepted for s in stats)
    assert accepted > (40 if rate == 0.10 else 10)
