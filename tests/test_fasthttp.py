"""The fast path for chat requests speaks HTTP/1.1 as servers really answer it (chunked
bodies, bodies to end of connection, keep-alive connections closed while idle), and its
errors are openai's: a call fails or retries alike whichever way it went."""

from __future__ import annotations

import asyncio
import json

import pytest

from evolviz.errors import LLMCallError
from evolviz.run import fasthttp
from evolviz.run.llm import LLMClient, Sampling
from evolviz.testing import FakeOpenAIServer

MSGS = [{"role": "user", "content": "Name a colour."}]
REPLY = json.dumps({"choices": [{"message": {"content": "teal"}, "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 3, "completion_tokens": 1}}).encode()


async def raw_server(framing: str, close_after: int | None = None):
    """A loopback server answering every POST with REPLY, framed as asked."""
    served = [0]

    async def handle(reader, writer):
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(next(h.split(b":")[1] for h in head.split(b"\r\n")
                              if h.lower().startswith(b"content-length")))
                await reader.readexactly(length)
                served[0] += 1
                if framing == "chunked":
                    half = len(REPLY) // 2
                    body = (f"{half:x}\r\n".encode() + REPLY[:half] + b"\r\n"
                            + f"{len(REPLY) - half:x};ext=1\r\n".encode() + REPLY[half:]
                            + b"\r\n0\r\nx-trailer: 1\r\n\r\n")
                    writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n" + body)
                elif framing == "eof":
                    writer.write(b"HTTP/1.1 200 OK\r\n\r\n" + REPLY)
                    await writer.drain()
                    break
                else:
                    writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: "
                                 + str(len(REPLY)).encode() + b"\r\n\r\n" + REPLY)
                await writer.drain()
                if close_after is not None and served[0] % close_after == 0:
                    break  # a keep-alive connection the server drops while it is idle
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/v1", served


@pytest.mark.parametrize("framing,close_after", [("chunked", None), ("eof", None),
                                                 ("length", 1)])
async def test_the_fast_path_reads_every_framing_and_survives_dropped_idle_connections(
        framing, close_after):
    server, url, served = await raw_server(framing, close_after)
    c = LLMClient(url, models="m", max_retries=0, timeout=5)
    for i in range(4):  # sequential: each reuses (or finds dropped) the last connection
        r = await c.chat("evolver", MSGS, Sampling(), sample=str(i))
        assert r.content == "teal" and r.attempts == 1
    assert c._fast is not None and served[0] == 4
    await c.aclose()
    server.close()


@pytest.mark.parametrize("fast", [True, False])
async def test_errors_are_the_same_either_way(fast):
    with FakeOpenAIServer() as s:
        c = LLMClient(s.base_url, models="fake-model", max_retries=1, backoff_base=0.01,
                      fast_path=fast)
        await c.chat("evolver", MSGS, Sampling())
        assert (c._fast is not None) is fast
        s.force_next("429")
        r = await c.chat("evolver", MSGS, Sampling(), sample="a")
        assert r.retries == ["RateLimited"] and c.pacer.rate_limited == 1
        s.force_next("500", n=2)
        with pytest.raises(LLMCallError, match="HTTP 500: Error code: 500 - Injected 500"):
            await c.chat("evolver", MSGS, Sampling(), sample="b")
        await c.aclose()


def test_proxies_and_query_strings_keep_the_openai_path(monkeypatch):
    assert fasthttp.usable("http://127.0.0.1:8000/v1")
    assert fasthttp.usable("https://api.example.com/v1")
    assert not fasthttp.usable("https://x.openai.azure.com/openai?api-version=2024-06-01")
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy:3128")
    assert not fasthttp.usable("https://api.example.com/v1")

