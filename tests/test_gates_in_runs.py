"""The dataset stage in real runs: duplicates and contamination are decided at a generation's
close in slot order (so concurrency and kill -9 change nothing), the what-if applies the
gates, and bad gate input exits 2 naming it."""

import json
import os
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from evolviz.config import RunConfig
from evolviz.gates import (
    GateConfig,
    gates_what_if,
)
from evolviz.run.engine import Evolution
from evolviz.run.llm import LLMClient
from evolviz.run.whatif import what_if
from evolviz.seeds import Seed
from evolviz.store import RunStore, check_store
from evolviz.templates import TemplateSet
from evolviz.testing import FakeOpenAIServer
from evolviz.testing.dup_responder import DuplicatingResponder, topic_of
from evolviz.testing.synthetic import synthetic_instructions

from conftest import ROOT, run_cli


def dup_seeds(n=40):
    texts = [*synthetic_instructions(n - 1), "in depth — describe topic number 0"]
    return [Seed(id=f"seed-{i:06d}", instruction=t) for i, t in enumerate(texts)]


def expected_gen1(seeds):
    """Which slot keeps each topic in generation 1 (the earliest), from the seeds alone."""
    winners = {0: "seed-000039"}  # topic 0 duplicates that seed's normal form
    for slot, s in enumerate(seeds[:-1]):
        winners.setdefault(topic_of(s.instruction), f"g1-{slot:06d}")
    return winners


def snapshot(path):
    with RunStore(path, create=False) as s:
        rows = [(c.id, c.status, c.rejected_by, c.instruction,
                 c.rejection.detail.get("of") if c.rejection else None) for c in s.candidates()]
        pools = [[m.id for m in (s.pool(g) or [])] for g in (1, 2, 3, 4)]
        return rows, pools, check_store(s)


async def test_duplicates_are_decided_at_close_so_an_interrupted_close_resumes_the_same(
        tmp_path):
    seeds = dup_seeds()
    with FakeOpenAIServer(DuplicatingResponder(), latency=0.01, jitter=0.03) as server:
        async def evo(name, concurrency):
            client = LLMClient(server.base_url, models="fake-model", concurrency=concurrency,
                               timeout=5)
            return Evolution(RunStore(tmp_path / name), client, TemplateSet.load(),
                             RunConfig(seed=5), seeds=seeds), client

        straight, c1 = await evo("straight.db", 16)
        await straight.run(2)
        await c1.aclose()
        # Every candidate of generation 1 is committed, then the process "dies" before
        # the close (the consumer raises on the last one): nothing is judged yet.
        broken, c2 = await evo("broken.db", 3)
        with pytest.raises(RuntimeError):
            async for _ in broken.step():
                if broken.store.candidate_count(1) == len(seeds):
                    raise RuntimeError("killed")
        assert broken.store.finished_generations() == []
        assert all(c.status == "accepted" for c in broken.store.candidates())
        await c2.aclose()
        resumed, c3 = await evo("broken.db", 3)
        await resumed.run(2)
        await c3.aclose()
    got, want = snapshot(tmp_path / "broken.db"), snapshot(tmp_path / "straight.db")
    assert got == want and got[2] == []
    rows = {r[0]: r for r in want[0]}
    winners = expected_gen1(seeds)
    for slot, s in enumerate(seeds[:-1]):
        cid, winner = f"g1-{slot:06d}", winners[topic_of(s.instruction)]
        if cid == winner:
            assert rows[cid][1] == "accepted"
        else:
            assert rows[cid][1:3] == ("rejected", "duplicate") and rows[cid][4] == winner
    with RunStore(tmp_path / "broken.db") as store:  # re-recorded with its calls intact
        dups = [c for c in store.candidates(generation=1) if c.rejected_by == "duplicate"]
        assert dups and all(c.calls["rewrite"].content and c.calls["answer"].content
                            for c in dups)
    # A rejected slot keeps its seed and evolves the same text again: a duplicate of the
    # winner of generation 1, across generations; the pool never takes a duplicate.
    pool2 = dict(enumerate(want[1][1]))
    for slot, s in enumerate(seeds[:-1]):
        if rows[f"g1-{slot:06d}"][1] == "rejected":
            assert pool2[slot] == s.id
            assert rows[f"g2-{slot:06d}"][4] == winners[topic_of(s.instruction)]


def test_cli_duplicates_survive_kill_9_and_concurrency(tmp_path):
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("\n".join(s.instruction for s in dup_seeds()) + "\n")
    rng = random.Random(20261203)
    with FakeOpenAIServer(DuplicatingResponder(), latency=0.04, jitter=0.04) as server:
        def args(store, conc):
            return ["run", str(seeds), "--store", str(store), "--generations", "3",
                    "--base-url", server.base_url, "--model", "fake-model", "--concurrency",
                    str(conc), "--no-progress", "--seed", "2"]

        straight = tmp_path / "straight.db"
        r = run_cli(*args(straight, 12))
        assert r.returncode == 0, r.stderr
        head = next(line for line in r.stdout.splitlines() if line.startswith("gen "))
        assert "contam" in head.split() and "dup" in head.split()
        want = snapshot(straight)
        store = tmp_path / "killed.db"
        seen = []
        for _ in range(6):
            proc = subprocess.Popen([sys.executable, "-m", "evolviz", *args(store, 3)],
                                    cwd=ROOT, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
            time.sleep(rng.uniform(0.5, 3.5))  # start-up, mid-generation, at a close
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            if store.exists():
                with RunStore(store, create=False) as s:
                    seen.append((s.candidate_count(), len(s.finished_generations())))
        print(f"\n(candidates, closed generations) at each kill: {seen}")
        assert len(set(seen)) >= 2, seen
        r = run_cli(*args(store, 3))
        assert r.returncode == 0, r.stderr
    got = snapshot(store)
    assert got == want and got[2] == []
    dups = [row for row in got[0] if row[2] == "duplicate"]
    assert {row[0][:2] for row in dups} == {"g1", "g2", "g3"}
    shown = run_cli("show", str(store), "--candidate", dups[0][0])
    assert f"FAIL duplicate: duplicates {dups[0][4]}" in shown.stdout


def test_what_if_i_had_decontaminated_against_this_file(tmp_path):
    seeds = dup_seeds()
    with FakeOpenAIServer(DuplicatingResponder()) as server:
        store = tmp_path / "run.db"
        (tmp_path / "s.txt").write_text("\n".join(s.instruction for s in seeds) + "\n")
        r = run_cli("run", str(tmp_path / "s.txt"), "--store", str(store), "--generations",
                    "2", "--base-url", server.base_url, "--model", "m", "--no-progress")
        assert r.returncode == 0, r.stderr
    bench = tmp_path / "leaked.jsonl"
    # A benchmark item holding topic 3's evolved instruction (and more), n = 6.
    bench.write_text(json.dumps({"instruction": "Quiz: in depth, describe topic number 3. "
                                                "Then stop."}) + "\n")
    with RunStore(store, create=False) as s:
        before = list(s.candidates())
        out = gates_what_if(s, GateConfig(decontaminate=(str(bench),),
                                          decontaminate_ngram=6))
        assert [c.status for c in s.candidates()] == [c.status for c in before]  # unchanged
        same = gates_what_if(s, GateConfig())
        undup = gates_what_if(s, GateConfig(dedup=False))
        # The panel's rules what-if runs the gates after rules 2-4: with the run's own
        # settings nothing changes (duplicates stay duplicates).
        rules_same = what_if(s, RunConfig.from_dict(s.get_meta("config")), TemplateSet.load())
        assert rules_same.total_changed == 0
    topic3 = [c for c in before if (c.instruction or "").startswith(
        "In depth: describe topic number 3")]
    accepted3 = [c for c in topic3 if c.status == "accepted"]
    assert accepted3 and out["total_changed"] >= len(accepted3)
    changed = {x["id"]: x for x in out["changed"]}
    for c in accepted3:
        assert changed[c.id]["after"] == "rejected" and changed[c.id]["rule"] == "contaminated"
        assert "leaked.jsonl item 0" in changed[c.id]["reason"]
    g1 = out["per_generation"][0]
    assert g1["contaminated_after"] >= 1 and g1["contaminated_before"] == 0
    assert g1["accepted_after"] == g1["accepted_before"] - sum(
        c.generation == 1 for c in accepted3)
    assert same["total_changed"] == 0  # the run's own settings reproduce the run
    n_dup = sum(c.rejected_by == "duplicate" for c in before)
    assert n_dup > 10 and undup["total_changed"] == n_dup
    assert all(x["after"] == "accepted" for x in undup["changed"])


@pytest.mark.parametrize("case", ["missing", "empty", "nofield", "threshold0",
                                  "threshold_big", "ngram"])
def test_bad_gate_input_exits_2_naming_it_before_the_run_starts(tmp_path, seeds_file, case):
    seeds, store = seeds_file(5), tmp_path / "run.db"
    bench = tmp_path / f"{case}.jsonl"
    extra, want = ["--decontaminate", str(bench)], f"{case}.jsonl"
    if case == "empty":
        bench.write_text("")
    elif case == "nofield":
        bench.write_text(json.dumps({"question": "q", "answer": 1}) + "\n")
    elif case.startswith("threshold"):
        extra, want = ["--near-dup", "0" if case == "threshold0" else "1.5"], "(0, 1]"
    elif case == "ngram":
        extra, want = ["--decontaminate-ngram", "2"], "--decontaminate-ngram"
    r = run_cli("run", str(seeds), "--store", str(store), "--generations", "1",
                "--base-url", "http://127.0.0.1:9/v1", "--model", "m", *extra, timeout=60)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert want in r.stderr and "Traceback" not in r.stderr
    assert not store.exists()  # the run did not start


def test_near_index_blocks_agree_with_single_lookups():
    from evolviz.gates.duplicates import NearIndex

    rng = np.random.default_rng(0)
    base = rng.normal(size=(700, 384)).astype(np.float32)
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    ix = NearIndex()
    ix.add_many([f"c{i}" for i in range(700)], base)
    q = base[[5, 9, 600]] + 0.01
    excl = [set(), {"c9"}, set()]
    many = ix.nearest_many(q, excl, block=2)
    assert [m.of for m in many] == [ix.nearest(v, e).of for v, e in zip(q, excl, strict=True)]
    assert many[0].of == "c5" and many[1].of != "c9" and many[2].of == "c600"


def test_cli_near_dup_names_the_nearest_and_its_score(tmp_path):
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("\n".join(s.instruction for s in dup_seeds(20)) + "\n")
    store = tmp_path / "run.db"
    with FakeOpenAIServer(DuplicatingResponder()) as server:
        r = run_cli("run", str(seeds), "--store", str(store), "--generations", "2",
                    "--base-url", server.base_url, "--model", "m", "--no-progress",
                    "--near-dup", "0.97", env={"EVOLVIZ_CACHE_DIR": str(tmp_path / "c")})
        assert r.returncode == 0, r.stderr
    with RunStore(store, create=False) as s:
        near = [c for c in s.candidates() if c.rejection and c.rejection.rule == "duplicate"
                and c.rejection.detail["kind"] == "near"]
        ids = {c.id for c in s.candidates()} | {r["id"] for r in s.seed_rows()}
        assert RunConfig.from_dict(s.get_meta("config")).gates.near_dup == 0.97
    # "topic number 1." and "topic number 5." differ by one token: near, not exact.
    assert near, "no near duplicate among the topic instructions"
    for c in near:
        d = c.rejection.detail
        assert d["of"] in ids and d["of"] != c.parent_id and 0.97 <= d["score"] <= 1.0
        assert f"near duplicate of {d['of']} (cosine" in c.rejection.reason
