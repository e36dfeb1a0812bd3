"""One writer per store: a second writer is refused (exit 2, store untouched), readers are
never blocked, a lock whose process was killed is taken over (issue 26)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from evolviz.errors import StoreLockedError
from evolviz.run.session import Endpoint, RunSession
from evolviz.seeds import Seed
from evolviz.store import RunStore, check_store
from evolviz.testing import FakeOpenAIServer
from evolviz.testing.evol_responder import EvolResponder

from conftest import ROOT, run_cli


def start_run(seeds, store, server, *extra) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "evolviz", "run", str(seeds), "--store", str(store),
         "--base-url", server.base_url, "--model", "fake-model", "--no-progress",
         "--generations", "1", *extra],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=ROOT)


def wait_for_writer(store: Path, proc: subprocess.Popen, timeout: float = 60) -> dict:
    """Until the run holds the lock and has planned its generation (it is then waiting
    on its calls, which the slow server holds)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        if store.exists():
            try:
                with RunStore(store, create=False, readonly=True) as s:
                    holder = s.writer()
                    if holder is not None and s.plan(1) is not None:
                        return holder
            except Exception:  # the first writer may still be creating it
                pass
        time.sleep(0.1)
    raise AssertionError("the first run never took the lock")


def snapshot(store: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(store.parent.glob(store.name + "*"))
            if not p.name.endswith("-shm")}  # -shm is SQLite's shared memory, not data


def test_a_second_writer_is_refused_naming_the_first_and_touches_nothing(tmp_path,
                                                                        seeds_file):
    seeds, store = seeds_file(6), tmp_path / "r.db"
    with FakeOpenAIServer(EvolResponder(), latency=60.0) as slow:
        first = start_run(seeds, store, slow)
        try:
            holder = wait_for_writer(store, first)
            assert holder["pid"] == first.pid and holder["purpose"] == "evolviz run"
            before = snapshot(store)
            second = run_cli("run", str(seeds), "--store", str(store), "--base-url",
                             slow.base_url, "--model", "fake-model", "--no-progress",
                             "--generations", "1", timeout=60)
            assert second.returncode == 2, second.stderr
            assert f"pid {first.pid}" in second.stderr and "evolviz run" in second.stderr
            assert "damaged" not in second.stderr
            assert snapshot(store) == before  # byte-identical, the WAL included
            # Readers are never blocked by the lock.
            for command in (("show", str(store)), ("check", str(store))):
                r = run_cli(*command, timeout=60)
                assert r.returncode == 0, r.stderr
        finally:
            first.terminate()
            first.wait(timeout=30)


def test_a_lock_left_by_a_killed_run_is_taken_over_saying_so(tmp_path, seeds_file):
    seeds, store = seeds_file(6), tmp_path / "r.db"
    with FakeOpenAIServer(EvolResponder(), latency=60.0) as slow:
        first = start_run(seeds, store, slow)
        holder = wait_for_writer(store, first)
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=30)
    with RunStore(store, create=False, readonly=True) as s:
        assert s.writer()["pid"] == holder["pid"]  # the lock outlived its process
    with FakeOpenAIServer(EvolResponder()) as fast:
        r = run_cli("run", str(seeds), "--store", str(store), "--base-url", fast.base_url,
                    "--model", "fake-model", "--no-progress", "--generations", "1")
    assert r.returncode == 0, r.stderr
    assert f"took over the store's writer lock from pid {holder['pid']}" in r.stderr
    with RunStore(store, create=False, readonly=True) as s:
        assert s.writer() is None and s.candidate_count() == 6 and check_store(s) == []


def test_the_panel_and_a_session_in_one_process_take_turns(tmp_path):
    """Two sessions on one store: the second cannot write while the first holds the lock
    (the same process counts: two objects would still collide); once released it can."""
    seeds = [Seed(id=f"s{i}", instruction=f"Explain idea number {i}.") for i in range(3)]
    path = tmp_path / "r.db"
    with FakeOpenAIServer(EvolResponder()) as server:
        endpoint = Endpoint(base_url=server.base_url, model="fake-model")
        first = RunSession(path, seeds=seeds, endpoint=endpoint, writer="evolviz run")
        with pytest.raises(StoreLockedError, match=f"pid {os.getpid()}"):
            RunSession(path, seeds=seeds, endpoint=endpoint, writer="evolviz run")
        browsing = RunSession.open(path, endpoint=endpoint)  # a reader: not blocked
        with pytest.raises(StoreLockedError):
            browsing.lock_writer("the panel's Step/Run")
        first.close()  # releases the lock
        browsing.lock_writer("the panel's Step/Run")
        browsing.lock_writer("the panel's Step/Run")  # re-entrant
        browsing.unlock_writer()
        assert browsing.store.writer()["purpose"] == "the panel's Step/Run"
        browsing.unlock_writer()
        assert browsing.store.writer() is None
        browsing.close()
