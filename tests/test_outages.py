"""An endpoint that is not there, or goes away mid-run: the run stops cleanly or waits for
it, and never writes the outage into the store as failed candidates (issue 26)."""

from __future__ import annotations

import asyncio
import socket
import threading

import pytest

from evolviz.config import RunConfig
from evolviz.errors import EndpointOutage
from evolviz.run.engine import Evolution
from evolviz.run.llm import LLMClient
from evolviz.seeds import Seed
from evolviz.store import RunStore, check_store
from evolviz.templates import TemplateSet
from evolviz.testing import FakeOpenAIServer
from evolviz.testing.evol_responder import EvolResponder
from evolviz.testing.synthetic import synthetic_instructions

from conftest import run_cli


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def seeds(n):
    return [Seed(id=f"seed-{i:06d}", instruction=t)
            for i, t in enumerate(synthetic_instructions(n))]


def test_nothing_listening_stops_the_run_at_once_with_exit_1_and_records_nothing(
        tmp_path, seeds_file):
    url = f"http://127.0.0.1:{free_port()}/v1"
    store = tmp_path / "r.db"
    # The bound is a hang guard, not a speed test: the old behaviour retried for 90 s.
    r = run_cli("run", str(seeds_file(40)), "--store", str(store), "--base-url", url,
                "--model", "m", "--no-progress", "--generations", "2", timeout=60)
    assert r.returncode == 1, r.stderr
    assert url in r.stderr and "unreachable" in r.stderr and "refused" in r.stderr.lower()
    assert "--base-url" in r.stderr  # the flag to fix, in the CLI's words
    assert "done" not in r.stdout
    with RunStore(store, create=False, readonly=True) as s:
        assert s.candidate_count() == 0 and s.plan(1) is None and s.writer() is None


def _restart_later(server: FakeOpenAIServer, down: threading.Event, seconds: float) -> None:
    server.stop()
    down.set()
    threading.Event().wait(seconds)
    server.start()


async def test_a_server_stopped_mid_generation_and_restarted_fails_no_candidate(tmp_path):
    """Stopped with calls in flight, back 3 s later on the same port: the calls wait
    through the outage and the run finishes with every candidate judged, none failed."""
    n = 40
    server = FakeOpenAIServer(EvolResponder(), latency=0.05).start()
    port = server.port
    client = LLMClient(server.base_url, models="fake-model", concurrency=8, timeout=2.0,
                       max_retries=1, backoff_base=0.01)
    client.health.backoff_base = 0.25  # probe often: the test waits for the restart
    store = RunStore(tmp_path / "run.db")
    evo = Evolution(store, client, TemplateSet.load(), RunConfig(seed=1), seeds=seeds(n))
    down = threading.Event()
    seen: list[str] = []
    restarter: threading.Thread | None = None

    def on_candidate(cand):
        nonlocal restarter
        if restarter is None and store.candidate_count() >= 10:
            restarter = threading.Thread(target=_restart_later, args=(server, down, 3.0))
            restarter.start()
        if down.is_set() and client.health.down:
            seen.append(client.health.describe())

    try:
        stats = await evo.run(1, on_candidate=on_candidate)
    finally:
        if restarter is not None:
            await asyncio.get_running_loop().run_in_executor(None, restarter.join)
        await client.aclose()
        server.stop()
    assert server.port == port and down.is_set()
    assert client.health.outages >= 1
    assert stats[0].finished and stats[0].failed == 0 and stats[0].done == n
    assert all(c.status != "failed" for c in store.candidates())
    assert check_store(store) == []
    store.close()


async def test_an_outage_longer_than_max_outage_stops_the_run_and_the_same_run_resumes(
        tmp_path):
    n = 16
    server = FakeOpenAIServer(EvolResponder(), latency=0.02).start()
    client = LLMClient(server.base_url, models="fake-model", concurrency=4, timeout=1.0,
                       max_retries=1, backoff_base=0.01, max_outage=1.0)
    client.health.backoff_base = 0.2
    store = RunStore(tmp_path / "run.db")
    evo = Evolution(store, client, TemplateSet.load(), RunConfig(seed=1), seeds=seeds(n))

    def on_candidate(cand):
        if server.running and store.candidate_count() >= 4:
            server.stop()

    with pytest.raises(EndpointOutage, match="longer than max_outage") as e:
        await evo.run(1, on_candidate=on_candidate)
    assert "resume" in str(e.value)
    assert all(c.status != "failed" for c in store.candidates())
    done = store.candidate_count()
    assert 4 <= done < n
    server.start()  # the endpoint is back: the same run picks up where it stopped
    stats = await evo.run(1)
    assert stats[0].done == n and stats[0].failed == 0
    await client.aclose()
    server.stop()
    store.close()


def test_max_outage_flag_reads_durations(tmp_path, seeds_file, fake_llm):
    r = run_cli("run", str(seeds_file(3)), "--store", str(tmp_path / "r.db"), "--base-url",
                fake_llm.base_url, "--model", "fake-model", "--no-progress",
                "--generations", "1", "--max-outage", "90s")
    assert r.returncode == 0, r.stderr
    bad = run_cli("run", str(seeds_file(3)), "--store", str(tmp_path / "r2.db"),
                  "--base-url", fake_llm.base_url, "--max-outage", "soon")
    assert bad.returncode == 2 and "--max-outage" in bad.stderr
