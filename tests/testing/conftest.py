"""Fixtures shared by the fake server's tests: a server and a real `openai` client on it."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest

from evolviz.testing import FakeOpenAIServer

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
