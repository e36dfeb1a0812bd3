"""One evolviz process against a big serving engine: thousands of calls in flight.

A multi-node OpenAI-compatible deployment (vLLM behind a router, and the like) looks like
one endpoint that answers slowly but in great numbers; the scripted server plays that role
with a long latency. See docs/scale_out.md.
"""

import pytest

from evolviz.config import RunConfig
from evolviz.run.engine import Evolution
from evolviz.run.llm import LLMClient
from evolviz.seeds import Seed
from evolviz.store import RunStore
from evolviz.templates import TemplateSet
from evolviz.testing import FakeOpenAIServer
from evolviz.testing.evol_responder import EvolResponder
from evolviz.testing.synthetic import synthetic_instructions


@pytest.mark.slow
async def test_thousands_of_calls_in_flight(tmp_path):
    n, concurrency = 1500, 1500
    seeds = [Seed(id=f"seed-{i:06d}", instruction=t)
             for i, t in enumerate(synthetic_instructions(n))]
    with FakeOpenAIServer(EvolResponder(), latency=1.5, keep_requests=False) as server:
        client = LLMClient(server.base_url, models="m", concurrency=concurrency, timeout=120)
        store = RunStore(tmp_path / "run.db")
        evo = Evolution(store, client, TemplateSet.load(), RunConfig(), seeds=seeds)
        stats = await evo.run(1)
        await client.aclose()
        assert server.stats.max_in_flight >= 1000
    assert stats[0].done == stats[0].pool_size == n and stats[0].failed == 0
