"""The client against a real HTTP server that misbehaves on purpose."""

import time

import pytest

from evolviz.errors import EndpointUnreachable, LLMCallError
from evolviz.run.llm import LLMClient, ResponseCache, Sampling
from evolviz.testing import FakeOpenAIServer

MSGS = [{"role": "user", "content": "Name a colour."}]


def client(server, **kw):
    kw.setdefault("max_retries", 3)
    kw.setdefault("backoff_base", 0.01)
    kw.setdefault("timeout", 2.0)
    return LLMClient(server.base_url, api_key="sk-test", models="fake-model", **kw)


@pytest.fixture
def server():
    with FakeOpenAIServer(hang_seconds=3.0) as s:
        yield s


async def test_plain_call_counts_tokens(server):
    c = client(server)
    r = await c.chat("evolver", MSGS, Sampling())
    assert r.content and r.finish_reason == "stop" and r.attempts == 1
    assert r.prompt_tokens > 0 and r.completion_tokens > 0
    assert c.tokens.prompt["evolver"] == r.prompt_tokens and c.tokens.calls["evolver"] == 1
    await c.aclose()


@pytest.mark.parametrize("kind,error_class", [
    ("429", "RateLimited"), ("500", "ServerError"), ("503", "ServerError"),
    ("drop", "ConnectionError"), ("broken_json", "MalformedResponse"),
    ("empty_choices", "MalformedResponse"), ("null_content", "MalformedResponse"),
    ("timeout", "Timeout"),
])
async def test_each_fault_is_retried_then_succeeds(server, kind, error_class):
    c = client(server, timeout=0.5)
    server.force_next(kind, n=2)
    r = await c.chat("answerer", MSGS, Sampling())
    assert r.content and r.attempts == 3
    assert r.retries == [error_class, error_class]
    await c.aclose()


async def test_persistent_fault_raises_with_error_class_and_partial_record(server):
    """On an endpoint that is otherwise healthy (a call got through, its models list
    answers), a call that keeps failing is that call's failure, recorded as such."""
    c = client(server, max_retries=2)
    await c.chat("judge", MSGS, Sampling())
    server.force_next("500", n=3)
    with pytest.raises(LLMCallError) as e:
        await c.chat("judge", MSGS, Sampling())
    assert e.value.error_class == "ServerError" and e.value.attempts == 3
    assert e.value.result.messages == MSGS and e.value.result.error_class == "ServerError"
    assert c.tokens.failed_calls == 1
    await c.aclose()


async def test_an_endpoint_where_no_call_ever_succeeded_is_unreachable_not_a_failure(server):
    """Every call failing from the start is a wrong or broken endpoint, not bad luck: the
    caller gets `EndpointUnreachable` (the run stops) instead of a failure to record."""
    c = client(server, max_retries=2)
    server.force_next("500", n=10)
    with pytest.raises(EndpointUnreachable, match=r"no call has succeeded.*HTTP 500"):
        await c.chat("judge", MSGS, Sampling())
    await c.aclose()


async def test_retry_after_is_honoured():
    with FakeOpenAIServer(retry_after="1") as s:
        c = client(s)
        s.force_next("429", n=1)
        t = time.perf_counter()
        r = await c.chat("evolver", MSGS, Sampling())
        assert r.attempts == 2 and time.perf_counter() - t >= 0.95
        await c.aclose()


async def test_length_and_content_filter_are_answers_not_errors(server):
    c = client(server)
    server.force_next("length")
    r = await c.chat("evolver", MSGS, Sampling())
    assert r.finish_reason == "length" and r.attempts == 1
    server.force_next("content_filter")
    r = await c.chat("evolver", MSGS, Sampling())
    assert r.finish_reason == "content_filter"
    await c.aclose()


async def test_cache_replays_without_a_request(server, tmp_path):
    cache = ResponseCache(tmp_path / "cache.db")
    c = client(server, cache=cache)
    first = await c.chat("evolver", MSGS, Sampling(), sample="a")
    n = server.stats.requests
    again = await c.chat("evolver", MSGS, Sampling(), sample="a")
    assert again.cached and again.content == first.content and server.stats.requests == n
    other = await c.chat("evolver", MSGS, Sampling(), sample="b")
    assert not other.cached and server.stats.requests == n + 1
    hotter = await c.chat("evolver", MSGS, Sampling(temperature=1.0), sample="a")
    assert not hotter.cached
    await c.aclose()
    cache.close()


async def test_concurrency_limit_is_respected():
    import asyncio

    with FakeOpenAIServer(latency=0.05) as s:
        c = client(s, concurrency=3)
        await asyncio.gather(*[c.chat("evolver", [{"role": "user", "content": str(i)}],
                                      Sampling()) for i in range(12)])
        assert s.stats.max_in_flight == 3
        await c.aclose()


def test_the_key_is_not_in_repr():
    c = LLMClient("http://127.0.0.1:9/v1", api_key="sk-SECRET-123", models="m")
    assert "SECRET" not in repr(c)


async def test_a_dead_endpoint_is_recovered_once_and_calls_carry_on():
    """What the local model's restart relies on: connection errors trigger one recovery
    (which may move the endpoint), and the calls in flight retry against the new one."""
    import asyncio

    first = FakeOpenAIServer().start()
    second = FakeOpenAIServer()
    recovered = []

    async def recover():
        recovered.append(1)
        second.start()
        return second.base_url

    c = LLMClient(first.base_url, models="fake-model", max_retries=3, backoff_base=0.01,
                  timeout=2.0, recover=recover, concurrency=4)
    await c.chat("evolver", MSGS, Sampling())
    first.stop()  # the server dies mid-run
    results = await asyncio.gather(*[
        c.chat("evolver", [{"role": "user", "content": f"q{i}"}], Sampling())
        for i in range(6)])
    assert all(r.content for r in results)
    assert recovered == [1] and c.base_url == second.base_url
    assert second.stats.requests == 6
    await c.aclose()
    second.stop()


async def test_response_format_goes_into_the_body_and_the_cache_key(tmp_path):
    from evolviz.rules import EQUALITY_FORMAT
    from evolviz.run.llm import cache_key

    assert cache_key("m", MSGS, Sampling(), "0") != cache_key("m", MSGS, Sampling(), "0",
                                                              EQUALITY_FORMAT)
    with FakeOpenAIServer() as s:
        c = client(s, cache=ResponseCache(tmp_path / "c.db"))
        r = await c.chat("judge", MSGS, Sampling(), response_format=EQUALITY_FORMAT)
        plain = await c.chat("judge", MSGS, Sampling())
        assert not plain.cached  # asking for JSON is another question
        again = await c.chat("judge", MSGS, Sampling(), response_format=EQUALITY_FORMAT)
        bodies = list(s.stats.bodies)
    assert bodies[0]["response_format"] == EQUALITY_FORMAT and "response_format" not in bodies[1]
    assert r.response_format == EQUALITY_FORMAT and again.cached and len(bodies) == 2


async def test_an_endpoint_without_structured_output_is_asked_again_in_plain_text():
    from evolviz.rules import EQUALITY_FORMAT

    with FakeOpenAIServer(structured_output=False) as s:
        c = client(s, max_retries=0)  # the fallback is not a retry: it works even with none
        r = await c.chat("judge", MSGS, Sampling(), response_format=EQUALITY_FORMAT)
        later = await c.chat("judge", MSGS, Sampling(), sample="1",
                             response_format=EQUALITY_FORMAT)
        assert s.stats.invalid == 1  # only the first call tried it
    assert r.content and r.response_format is None and "StructuredOutputRefused" in r.retries
    assert later.content and later.attempts == 1
