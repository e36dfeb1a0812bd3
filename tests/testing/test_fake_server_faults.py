"""The fake server's faults, through the real `openai` client over real sockets: one kind at
a time, at random (a plausible, seeded rate), and its latency under concurrency."""

from __future__ import annotations

import asyncio
import json
import random
import time

import httpx
import openai
import pytest

from evolviz.testing import ALL_FAULTS, FakeOpenAIServer, Faults

from .conftest import MESSAGES, chat


def test_429_is_rate_limit_error_with_retry_after_visible(server, client):
    server.force_next("429")
    with pytest.raises(openai.RateLimitError) as info:
        chat(client)
    assert info.value.status_code == 429
    assert info.value.response.headers["retry-after"] == "0"
    assert server.stats.faults["429"] == 1
    assert chat(client).choices[0].finish_reason == "stop"  # only the next one was forced


def test_429_retry_after_is_configurable():
    with FakeOpenAIServer(retry_after="7") as srv:
        srv.force_next("429")
        with (
            openai.OpenAI(base_url=srv.base_url, api_key="x", max_retries=0) as c,
            pytest.raises(openai.RateLimitError) as info,
        ):
            chat(c)
    assert info.value.response.headers["retry-after"] == "7"


@pytest.mark.parametrize("kind", ["500", "503"])
def test_5xx_is_internal_server_error(server, client, kind):
    server.force_next(kind)
    with pytest.raises(openai.InternalServerError) as info:
        chat(client)
    assert info.value.status_code == int(kind)


def test_timeout_hangs_until_client_gives_up(server):
    server.force_next("timeout")
    with openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=0, timeout=0.3) as c:
        start = time.monotonic()
        with pytest.raises(openai.APITimeoutError):
            chat(c)
        assert time.monotonic() - start < 1.5  # the client's timeout fired, not hang_seconds
    assert server.stats.faults["timeout"] == 1
    assert server.stats.in_flight == 1  # the server is still sitting on it
    start = time.monotonic()
    server.stop()
    assert time.monotonic() - start < 1.0  # stop() does not wait for hung requests


def test_timeout_closes_after_hang_seconds():
    with FakeOpenAIServer(hang_seconds=0.2) as srv:
        srv.force_next("timeout")
        with openai.OpenAI(base_url=srv.base_url, api_key="x", max_retries=0, timeout=5) as c:
            start = time.monotonic()
            with pytest.raises(openai.APIConnectionError):
                chat(c)
            assert 0.2 <= time.monotonic() - start < 2.0


def test_drop_is_connection_error(server, client):
    server.force_next("drop")
    with pytest.raises(openai.APIConnectionError) as info:
        chat(client)
    assert type(info.value) is openai.APIConnectionError  # not the timeout subclass
    assert chat(client).choices  # the client recovers on a fresh connection


def test_broken_json_raises_json_decode_error_not_an_openai_error(server, client):
    server.force_next("broken_json")
    with pytest.raises(json.JSONDecodeError) as info:
        chat(client)
    assert not isinstance(info.value, openai.OpenAIError)
    raw = httpx.post(
        f"{server.base_url}/chat/completions",
        json={"model": "m", "messages": MESSAGES},
    )
    assert raw.status_code == 200  # (the forced fault was used up above)
    server.force_next("broken_json")
    raw = httpx.post(
        f"{server.base_url}/chat/completions", json={"model": "m", "messages": MESSAGES}
    )
    assert raw.status_code == 200
    assert raw.headers["content-type"] == "application/json"
    with pytest.raises(json.JSONDecodeError):
        json.loads(raw.content)


def test_empty_choices(server, client):
    server.force_next("empty_choices")
    resp = chat(client)
    assert resp.choices == []
    assert resp.usage is not None


def test_null_content(server, client):
    server.force_next("null_content")
    choice = chat(client).choices[0]
    assert choice.message.content is None
    assert choice.finish_reason == "stop"


def test_length_cuts_the_responder_content(server, client):
    server.responder = lambda request: "one two three four five six seven"
    server.force_next("length")
    resp = chat(client)
    choice = resp.choices[0]
    assert choice.finish_reason == "length"
    assert choice.message.content == "one two three"
    assert resp.usage.completion_tokens == 3


def test_content_filter(server, client):
    server.force_next("content_filter")
    choice = chat(client).choices[0]
    assert choice.finish_reason == "content_filter"
    assert not choice.message.content


def test_force_next_queues_in_order_and_beats_random_faults(server, client):
    server.set_faults(Faults(rate=1.0, kinds=["503"]))
    server.force_next("429", n=2)
    server.force_next("null_content")
    with pytest.raises(openai.RateLimitError):
        chat(client)
    with pytest.raises(openai.RateLimitError):
        chat(client)
    assert chat(client).choices[0].message.content is None
    with pytest.raises(openai.InternalServerError):
        chat(client)
    assert server.stats.outcomes == ["429", "429", "null_content", "503"]
    server.set_faults(None)
    assert chat(client).choices[0].message.content


def test_openai_retries_are_separate_requests(server):
    server.force_next("500")
    with openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=1) as c:
        assert chat(c).choices[0].message.content
    assert server.stats.outcomes == ["500", "ok"]


def test_bad_fault_settings_are_rejected(server):
    with pytest.raises(ValueError, match="unknown fault"):
        server.force_next("404")
    with pytest.raises(ValueError):
        Faults(rate=1.5)
    with pytest.raises(ValueError, match="unknown fault"):
        Faults(rate=0.1, kinds=["500", "teapot"])
    with pytest.raises(TypeError):
        Faults(rate=0.1, kinds="500")
    assert Faults().kinds == ALL_FAULTS


def _run_random_faults(seed: int) -> list[str]:
    kinds = ["429", "500", "503", "empty_choices", "null_content", "length", "content_filter"]
    with FakeOpenAIServer(faults=Faults(rate=0.3, kinds=kinds, seed=seed)) as srv:
        with httpx.Client(base_url=srv.base_url) as c:
            for i in range(200):
                c.post("/chat/completions", json={"model": "m", "messages": [{"content": str(i)}]})
        assert srv.stats.requests == 200
        return list(srv.stats.outcomes)


def test_random_fault_rate_is_plausible_and_deterministic_per_seed():
    first = _run_random_faults(seed=11)
    again = _run_random_faults(seed=11)
    other = _run_random_faults(seed=12)
    failed = sum(o != "ok" for o in first)
    # Binomial(200, 0.3): mean 60, sd 6.5. [35, 85] is nearly 4 sd either side.
    assert 35 <= failed <= 85
    assert len({o for o in first if o != "ok"}) >= 4  # several kinds are drawn
    assert first == again
    assert first != other
    # The documented algorithm, replayed: one draw for "fails?", one for the kind.
    rng = random.Random(11)
    kinds = ["429", "500", "503", "empty_choices", "null_content", "length", "content_filter"]
    expected = [rng.choice(kinds) if rng.random() < 0.3 else "ok" for _ in range(200)]
    assert first == expected


def test_latency_overlaps_across_concurrent_async_requests():
    latency = 0.5

    async def run(base_url: str) -> float:
        async with openai.AsyncOpenAI(base_url=base_url, api_key="x", max_retries=0) as c:
            await c.chat.completions.create(model="warm-up", messages=MESSAGES)
            start = time.monotonic()
            results = await asyncio.gather(
                *(
                    c.chat.completions.create(
                        model="fake-model", messages=[{"role": "user", "content": f"q{i}"}]
                    )
                    for i in range(50)
                )
            )
            elapsed = time.monotonic() - start
        assert len({r.choices[0].message.content for r in results}) == 50
        return elapsed

    with FakeOpenAIServer(latency=latency) as srv:
        elapsed = asyncio.run(run(srv.base_url))
        assert latency <= elapsed < latency * 4  # serial would be 25 s
        assert srv.stats.max_in_flight == 50
        assert srv.stats.in_flight == 0


def test_jitter_adds_bounded_delay():
    with (
        FakeOpenAIServer(latency=0.05, jitter=0.1) as srv,
        httpx.Client(base_url=srv.base_url) as c,
    ):
        for _ in range(5):
            start = time.monotonic()
            c.post("/chat/completions", json={"model": "m", "messages": MESSAGES})
            assert 0.05 <= time.monotonic() - start < 0.5


def test_three_hundred_concurrent_connections():
    """The engine's own client (openai, pool of up to 1000 connections) opens one connection
    per concurrent request; the listener's backlog must take them all without SYN drops."""

    async def run(base_url: str) -> list[str | None]:
        async with openai.AsyncOpenAI(base_url=base_url, api_key="x", max_retries=0) as c:
            responses = await asyncio.gather(
                *(c.chat.completions.create(model="m", messages=MESSAGES) for _ in range(300))
            )
        return [r.choices[0].finish_reason for r in responses]

    with FakeOpenAIServer(latency=0.3) as srv:
        start = time.monotonic()
        finish_reasons = asyncio.run(run(srv.base_url))
        elapsed = time.monotonic() - start
        assert finish_reasons == ["stop"] * 300
        assert srv.stats.connections == 300
        assert srv.stats.max_in_flight >= 250
        assert elapsed < 5.0
