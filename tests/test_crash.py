"""kill -9 at random moments across a 3-generation run, then resume: the same run.

Each resumed run must end with exactly the candidates of an uninterrupted run with the
same seed and the same responses (the scripted endpoint answers as a function of the
prompt and the per-call seed): no duplicates, none missing, same statuses and texts.
"""

import os
import random
import signal
import subprocess
import sys
import time

from evolviz.store import RunStore, check_store
from evolviz.testing import FakeOpenAIServer
from evolviz.testing.evol_responder import EvolResponder

from conftest import ROOT, run_cli


def snapshot(path):
    with RunStore(path, create=False) as s:
        rows = [(c.id, c.parent_id, c.operator, c.status, c.rejected_by, c.instruction,
                 c.answer) for c in s.candidates()]
        pools = [[m.id for m in s.pool(g)] for g in (1, 2, 3, 4)]
        return rows, pools, check_store(s)


def test_ten_kills_at_random_moments(tmp_path, seeds_file):
    seeds = seeds_file(30)
    rng = random.Random(20261125)
    # Slow enough (about 12 s for the whole run) that ten kills 0.3-2.5 s after each
    # start land all through it: at start-up, mid-generation and between generations.
    with FakeOpenAIServer(EvolResponder(), latency=0.1) as server:
        def args(store):
            return ["run", str(seeds), "--store", str(store), "--generations", "3",
                    "--base-url", server.base_url, "--model", "fake-model", "--concurrency",
                    "2", "--no-progress", "--seed", "11"]

        straight = tmp_path / "straight.db"
        assert run_cli(*args(straight)).returncode == 0
        expected = snapshot(straight)
        assert expected[2] == [] and len(expected[0]) == 90

        store = tmp_path / "killed.db"
        seen = []
        for _ in range(10):
            proc = subprocess.Popen([sys.executable, "-m", "evolviz", *args(store)], cwd=ROOT,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(rng.uniform(0.3, 2.5))  # start-up, mid-generation, between generations
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            if store.exists():
                with RunStore(store, create=False) as s:
                    seen.append(s.candidate_count())
        assert len(set(seen)) >= 3, f"the kills did not land at varied moments: {seen}"
        print(f"\ncandidates stored at each kill: {seen}")
        assert min(seen) < 90 and sum(n < 90 for n in seen) >= 5, seen
        r = run_cli(*args(store))
        assert r.returncode == 0, r.stderr
    got = snapshot(store)
    assert got[2] == [], got[2]  # evolviz check finds nothing wrong
    assert len(got[0]) == len({row[0] for row in got[0]}) == 90
    assert got == expected
    assert run_cli("check", str(store)).returncode == 0
