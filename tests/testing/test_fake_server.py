"""The fake server is what every engine test and benchmark trusts, so these tests check it
through the same real clients (`openai`, `httpx`) the engine uses, over real sockets: normal
operation, and its lifecycle and safety. Its faults are tests/testing/test_fake_server_faults.py."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys

import httpx
import openai
import pytest

from evolviz.testing import FakeOpenAIServer, Reply, default_responder

from .conftest import MESSAGES, chat


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
