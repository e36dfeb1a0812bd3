"""The fake server is what every engine test and benchmark trusts, so these tests check it
through the same real clients (`openai`, `httpx`) the engine uses, over real sockets."""

from __future__ import annotations

import asyncio
import json
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import openai
import pytest

from evolviz.testing import ALL_FAULTS, FakeOpenAIServer, Faults, Reply, default_responder

MESSAGES = [
    {"role": "system", "content": "You rewrite instructions."},
    {"role": "user", "content": "Make this harder: list three fruits"},
]


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(hang_seconds=2.0) as srv:
        yield srv


@pytest.fixture
def client(server: FakeOpenAIServer) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=0, timeout=5) as c:
        yield c


def chat(client: openai.OpenAI, model: str = "fake-model", **kwargs: object):
    return client.chat.completions.create(model=model, messages=MESSAGES, **kwargs)


# -- normal operation ------------------------------------------------------------------------


def test_completion_parses_and_counts_words_as_tokens(server, client):
    resp = chat(client, temperature=0.7, max_tokens=64)
    expected = default_responder({"messages": MESSAGES})
    assert resp.object == "chat.completion"
    assert resp.id.startswith("chatcmpl-")
    assert resp.model == "fake-model"
    assert resp.created > 0
    [choice] = resp.choices
    assert choice.index == 0
    assert choice.message.role == "assistant"
    assert choice.message.content == expected
    assert choice.finish_reason == "stop"
    assert resp.usage.prompt_tokens == 3 + 6  # whitespace words over all messages
    assert resp.usage.completion_tokens == len(expected.split())
    assert resp.usage.total_tokens == resp.usage.prompt_tokens + resp.usage.completion_tokens
    body = server.stats.bodies[-1]
    assert body["temperature"] == 0.7 and body["max_tokens"] == 64
    assert body["messages"] == MESSAGES
    assert server.stats.requests == 1 and server.stats.outcomes == ["ok"]


def test_default_responder_is_deterministic_per_prompt(client):
    a1 = chat(client).choices[0].message.content
    a2 = chat(client).choices[0].message.content
    other = client.chat.completions.create(
        model="fake-model", messages=[{"role": "user", "content": "something else"}]
    )
    assert a1 == a2
    assert other.choices[0].message.content != a1
    assert "sorry" not in a1.lower()


def test_custom_responder_gets_the_request_and_can_return_reply_or_str(server, client):
    seen = []

    def responder(request):
        seen.append(request)
        if request.get("temperature") == 0:
            return Reply(content="cut short here", finish_reason="length")
        return "plain answer"

    server.responder = responder
    assert chat(client).choices[0].message.content == "plain answer"
    cut = chat(client, temperature=0).choices[0]
    assert (cut.message.content, cut.finish_reason) == ("cut short here", "length")
    assert seen[0]["model"] == "fake-model" and seen[1]["temperature"] == 0
    usage = chat(client).usage
    assert usage.completion_tokens == 2


def test_async_responder_is_awaited():
    async def responder(request):
        await asyncio.sleep(0.01)
        return "awaited"

    with (
        FakeOpenAIServer(responder) as srv,
        openai.OpenAI(base_url=srv.base_url, api_key="x", max_retries=0) as c,
    ):
        assert chat(c).choices[0].message.content == "awaited"


def test_responder_error_becomes_500_with_the_reason(server, client):
    def responder(request):
        raise KeyError("no script for this prompt")

    server.responder = responder
    with pytest.raises(openai.InternalServerError, match="no script for this prompt"):
        chat(client)


def test_empty_content_counts_as_one_completion_token(server, client):
    server.responder = lambda request: ""
    assert chat(client).usage.completion_tokens == 1


def test_per_model_counts(server, client):
    chat(client, model="a")
    chat(client, model="b")
    chat(client, model="a")
    assert server.stats.models == {"a": 2, "b": 1}
    assert [b["model"] for b in server.stats.bodies] == ["a", "b", "a"]


def test_models_endpoint_lists_configured_models():
    with (
        FakeOpenAIServer(models=("small", "large")) as srv,
        openai.OpenAI(base_url=srv.base_url, api_key="x", max_retries=0) as c,
    ):
        assert [m.id for m in c.models.list()] == ["small", "large"]


def test_health_and_unknown_routes(server):
    root = server.base_url.removesuffix("/v1")
    assert httpx.get(f"{root}/health").json() == {"status": "ok"}
    assert httpx.get(f"{server.base_url}/nope").status_code == 404
    assert httpx.get(f"{server.base_url}/chat/completions").status_code == 405


def test_invalid_request_bodies_get_400_and_are_not_counted_as_requests(server):
    url = f"{server.base_url}/chat/completions"
    assert httpx.post(url, content=b"{not json").status_code == 400
    assert httpx.post(url, json={"messages": []}).status_code == 400
    assert httpx.post(url, json={"model": "m"}).status_code == 400
    assert httpx.post(url, json=[1, 2]).status_code == 400
    assert server.stats.requests == 0 and server.stats.invalid == 4


def test_keep_alive_reuses_one_connection(server):
    with httpx.Client(base_url=server.base_url) as c:
        for _ in range(5):
            r = c.post("/chat/completions", json={"model": "m", "messages": MESSAGES})
            assert r.status_code == 200
    assert server.stats.connections == 1 and server.stats.requests == 5


def test_keep_requests_false_and_capped():
    with FakeOpenAIServer(keep_requests=False) as srv:
        with openai.OpenAI(base_url=srv.base_url, api_key="x", max_retries=0) as c:
            chat(c)
            chat(c)
        assert srv.stats.requests == 2 and len(srv.stats.bodies) == 0
    with FakeOpenAIServer(keep_requests=1) as srv:
        with openai.OpenAI(base_url=srv.base_url, api_key="x", max_retries=0) as c:
            chat(c, model="first")
            chat(c, model="second")
        assert [b["model"] for b in srv.stats.bodies] == ["second"]


def test_stats_reset(server, client):
    server.force_next("500")
    with pytest.raises(openai.InternalServerError):
        chat(client)
    chat(client)
    assert server.stats.snapshot()["faults"] == {"500": 1}
    assert server.stats.ok == 1
    server.stats.reset()
    assert server.stats.snapshot() == {
        "requests": 0,
        "ok": 0,
        "invalid": 0,
        "connections": 0,
        "faults": {},
        "models": {},
        "in_flight": 0,
        "max_in_flight": 0,
    }


# -- faults, one kind at a time through the openai client -------------------------------------


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


# -- random faults ----------------------------------------------------------------------------


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


# -- latency and concurrency ------------------------------------------------------------------


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


# -- lifecycle and safety ---------------------------------------------------------------------


def test_refuses_non_loopback_hosts():
    for host in ("0.0.0.0", "192.168.1.10", "example.com", "::"):
        with pytest.raises(ValueError, match="loopback"):
            FakeOpenAIServer(host=host)
    FakeOpenAIServer(host="127.0.0.2")
    FakeOpenAIServer(host="localhost")


def test_ipv6_loopback_url_is_bracketed():
    try:
        srv = FakeOpenAIServer(host="::1").start()
    except OSError:
        pytest.skip("no IPv6 loopback here")
    with srv:
        assert srv.base_url.startswith("http://[::1]:")
        assert httpx.get(srv.base_url + "/models").status_code == 200


def test_lifecycle():
    srv = FakeOpenAIServer()
    with pytest.raises(RuntimeError):
        _ = srv.base_url
    srv.start()
    with pytest.raises(RuntimeError):
        srv.start()
    url = srv.base_url
    srv.stop()
    srv.stop()  # idempotent
    with pytest.raises(httpx.ConnectError):
        httpx.get(url + "/models")


def test_port_in_use_raises_on_start(server):
    with pytest.raises(OSError):
        FakeOpenAIServer(port=server.port).start()


def test_cli_serves_until_interrupted():
    proc = subprocess.Popen(
        [sys.executable, "-m", "evolviz.testing.serve", "--latency", "0.01",
         "--fault-rate", "1", "--kinds", "503", "--models", "x,y"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        base_url = proc.stdout.readline().strip()
        assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/v1")
        assert [m["id"] for m in httpx.get(base_url + "/models").json()["data"]] == ["x", "y"]
        r = httpx.post(base_url + "/chat/completions", json={"model": "x", "messages": MESSAGES})
        assert r.status_code == 503
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
        assert "'requests': 1" in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_cli_rejects_bad_arguments():
    proc = subprocess.run(
        [sys.executable, "-m", "evolviz.testing.serve", "--host", "0.0.0.0"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 2
    assert "loopback" in proc.stderr
