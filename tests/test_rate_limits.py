"""Calls in flight adapt to what the endpoint allows: fewer on 429s, more as calls succeed,
paced by rate-limit headers before a 429 happens (issue 26). How fast this runs against
a fixed `--concurrency 20` is measured in benchmarks/bench_engine.py, not here."""

from __future__ import annotations

import asyncio

from evolviz.config import RunConfig
from evolviz.run.engine import Evolution
from evolviz.run.llm import LLMClient, Sampling
from evolviz.run.pacing import Pacer, parse_reset
from evolviz.seeds import Seed
from evolviz.store import RunStore
from evolviz.templates import TemplateSet
from evolviz.testing import FakeOpenAIServer
from evolviz.testing.evol_responder import EvolResponder
from evolviz.testing.limits import Limits
from evolviz.testing.synthetic import synthetic_instructions


def seeds(n):
    return [Seed(id=f"seed-{i:06d}", instruction=t)
            for i, t in enumerate(synthetic_instructions(n))]


async def run_against(tmp_path, server, n, concurrency):
    client = LLMClient(server.base_url, models="fake-model", concurrency=concurrency,
                       timeout=10, max_retries=5, backoff_base=0.01)
    store = RunStore(tmp_path / f"c{concurrency}.db")
    evo = Evolution(store, client, TemplateSet.load(), RunConfig(seed=1), seeds=seeds(n))
    stats = await evo.run(1)
    await client.aclose()
    store.close()
    return stats[0], client


async def test_256_in_flight_against_a_cap_of_20_settles_below_it_with_few_429s(tmp_path):
    with FakeOpenAIServer(EvolResponder(), latency=0.05,
                          limits=Limits(max_in_flight=20, retry_after="0")) as server:
        stats, client = await run_against(tmp_path, server, 150, concurrency=256)
        requests, refused = server.stats.requests, server.stats.faults["429"]
    assert stats.finished and stats.done == 150 and stats.failed == 0
    assert refused / requests < 0.05, (refused, requests)
    # The calls let in flight are int(limit); past the cap the limit creeps up by
    # fractions of one (a probe now and then), so 21.4 still lets 21 in flight.
    assert client.pacer.cap is not None and 15 <= int(client.pacer.limit) <= 21
    assert client.tokens.calls["evolver"] >= 150


async def test_rate_limit_headers_pace_calls_before_a_429(tmp_path):
    """40 requests per 0.5 s window, 64 allowed in flight: without reading the headers
    the first round alone would be refused in part, and every window after it."""
    limits = Limits(requests_per_window=40, window=0.5)
    with FakeOpenAIServer(EvolResponder(), latency=0.01, limits=limits) as server:
        stats, _client = await run_against(tmp_path, server, 60, concurrency=64)
        requests, refused = server.stats.requests, server.stats.faults["429"]
    assert stats.done == 60 and stats.failed == 0
    assert requests > 120  # several windows' worth
    assert refused / requests < 0.05, (refused, requests)


async def test_the_limit_grows_back_after_429s_and_never_passes_the_ceiling():
    with FakeOpenAIServer(latency=0.01) as server:
        client = LLMClient(server.base_url, models="fake-model", concurrency=12,
                           backoff_base=0.01, max_retries=3)
        server.force_next("429", n=6)
        await asyncio.gather(*[client.chat("evolver", [{"role": "user", "content": str(i)}],
                                           Sampling()) for i in range(12)])
        low = client.pacer.limit
        assert low < 12 and client.pacer.rate_limited == 6
        for _ in range(10):
            await asyncio.gather(*[client.chat("evolver", [{"role": "user", "content": f"{i}"}],
                                               Sampling(), sample=str(i))
                                   for i in range(12)])
        assert low < client.pacer.limit <= 12 and server.stats.max_in_flight <= 12
        await client.aclose()


def test_reset_headers_in_every_form_openai_sends():
    assert parse_reset("1s") == 1.0 and parse_reset("6m0s") == 360.0
    assert parse_reset("59.2s") == 59.2 and parse_reset("20ms") == 0.02
    assert parse_reset("2") == 2.0 and parse_reset("soon") is None and parse_reset(None) is None


async def test_a_remaining_count_of_zero_holds_new_calls_until_the_reset():
    clock = [0.0]
    pacer = Pacer(8, clock=lambda: clock[0])
    await pacer.acquire()
    pacer.release()
    pacer.headers({"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "2s"})
    assert not pacer._may_start()
    clock[0] = 2.0
    assert pacer._may_start()
