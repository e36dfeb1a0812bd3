"""The local model's server dies in the middle of a CLI run: the run notices, restarts it,
and finishes with every candidate accounted for (none lost, none duplicated)."""

import os
import signal
import subprocess
import sys
import time

import pytest

from evolviz.store import RunStore

from conftest import ROOT


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-ww", "-o", "pid=,ppid=,args=", "-e"], capture_output=True,
                         text=True).stdout
    return [int(line.split()[0]) for line in out.splitlines()
            if line.split()[1] == str(pid) and ".gguf" in line]


@pytest.mark.slow
def test_server_killed_mid_run_is_restarted_and_the_run_completes(tmp_path):
    store = tmp_path / "run.db"
    proc = subprocess.Popen(
        [sys.executable, "-m", "evolviz", "run", "seeds/tiny.txt", "--store", str(store),
         "--generations", "1", "--no-progress", "--retries", "6"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "EVOLVIZ_LOCAL_BASE_URL": ""})
    try:
        deadline = time.time() + 300
        killed = None
        while time.time() < deadline and killed is None:
            time.sleep(0.5)
            if not store.exists():
                continue
            with RunStore(store, create=False, readonly=True) as s:
                if s.candidate_count() >= 2:
                    servers = _children(proc.pid)
                    assert servers, "no llama_cpp server child found"
                    os.kill(servers[0], signal.SIGKILL)
                    killed = servers[0]
        assert killed, "the run never got going"
        _, err = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err[-2000:]
    assert "restarting" in err
    with RunStore(store, create=False) as s:
        stats = s.count_generation(1)
        assert stats.finished and stats.done == stats.pool_size == 8
        assert s.candidate_count() == 8
    assert killed not in _children(proc.pid)
