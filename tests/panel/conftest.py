"""Shared by the panel's tests: a real scripted endpoint, a panel on it, and `press`, which
does what a button does (`Explorer.act`, the same path) and waits for what it started."""

import asyncio

import pytest

from evolviz.panel import Explorer
from evolviz.testing import FakeOpenAIServer
from evolviz.testing.evol_responder import EvolResponder

from conftest import ROOT

TINY = ROOT / "seeds" / "tiny.txt"


@pytest.fixture
def server():
    with FakeOpenAIServer(EvolResponder(p_copy_marker=0.3)) as s:
        yield s


def explorer(server, tmp_path, **kw):
    kw.setdefault("maps", False)
    return Explorer(TINY, base_url=server.base_url, model="fake-model",
                    store=tmp_path / "run.db", **kw)


async def press(ex, action, **content):
    """What a button does (`Explorer.act`), then wait for what it started."""
    started = ex.act(action, **content)
    if isinstance(started, asyncio.Task):
        await started
