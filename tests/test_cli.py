"""The CLI contract, end to end: a subprocess against a real HTTP endpoint on 127.0.0.1."""

import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from evolviz.store import RunStore
from evolviz.testing import FakeOpenAIServer, Faults
from evolviz.testing.evol_responder import EvolResponder

from conftest import ROOT, run_cli


def run_args(seeds, store, server, *extra):
    return ["run", str(seeds), "--store", str(store), "--base-url", server.base_url,
            "--model", "fake-model", "--no-progress", *extra]


def test_200_seeds_2_generations_with_10pct_failing_calls(tmp_path, seeds_file):
    seeds = seeds_file(200)
    store = tmp_path / "run.db"
    faults = Faults(rate=0.10, seed=5, kinds=("429", "500", "503", "drop", "broken_json",
                                              "empty_choices", "null_content", "timeout"))
    with FakeOpenAIServer(EvolResponder(), faults=faults, hang_seconds=3) as server:
        r = run_cli(*run_args(seeds, store, server, "--generations", "2", "--concurrency",
                              "32", "--timeout", "1", "--retries", "1"))
        assert r.returncode == 0, r.stderr
        injected = sum(server.stats.faults.values())
    assert injected > 50  # the server really did fail about 10% of ~1,300 calls
    with RunStore(store, create=False) as s:
        stats = s.generation_stats()
        assert [g.generation for g in stats if g.finished] == [1, 2]
        for g in stats[:2]:
            # Every candidate is accounted for: accepted + rejected + failed = pool size.
            assert g.accepted + sum(g.rejected.values()) + g.failed == g.pool_size == 200
            assert g.accepted > 100
        failed = list(s.candidates(status="failed"))
        assert failed, "with one retry, some calls should have failed for good"
        assert all(c.error_class for c in failed)
    shown = run_cli("show", str(store))
    assert shown.returncode == 0
    assert "r2_sorry" in shown.stdout and "failed by error class" in shown.stdout
    row1 = shown.stdout.splitlines()[1].split()
    assert row1[:3] == ["1", "200", "200"]

    # Every export parses, and holds what it says.
    accepted = sum(g.accepted for g in stats[:2])
    for fmt, name in [("alpaca", "a.json"), ("sharegpt", "s.jsonl"), ("jsonl", "r.jsonl"),
                      ("parquet", "p.parquet")]:
        out = tmp_path / name
        r = run_cli("export", str(store), "--format", fmt, "-o", str(out))
        assert r.returncode == 0, r.stderr
        if fmt == "alpaca":
            items = json.loads(out.read_text())
            assert len(items) == accepted and {"instruction", "input", "output"} <= set(items[0])
        elif fmt == "parquet":
            assert len(pd.read_parquet(out)) == accepted
        else:
            lines = [json.loads(x) for x in out.read_text().splitlines()]
            assert len(lines) == accepted
    r = run_cli("export", str(store), "--format", "jsonl", "-o", str(tmp_path / "all.jsonl"),
                "--include-rejected")
    records = [json.loads(x) for x in (tmp_path / "all.jsonl").read_text().splitlines()]
    assert len(records) == 400
    rejected = [x for x in records if x["status"] == "rejected"]
    assert rejected and all(x["rejected_by"] and x["verdicts"] for x in rejected)
    assert run_cli("check", str(store)).returncode == 0


def _snapshot(store):
    with RunStore(store, create=False) as s:
        return [(c.id, c.parent_id, c.operator, c.status, c.instruction, c.answer)
                for c in s.candidates()]


def test_kill_9_mid_generation_then_resume_loses_nothing_and_duplicates_nothing(
        tmp_path, seeds_file):
    seeds = seeds_file(40)
    with FakeOpenAIServer(EvolResponder(), latency=0.03) as server:
        reference = tmp_path / "straight.db"
        args = run_args(seeds, reference, server, "--generations", "2", "--concurrency", "4")
        assert run_cli(*args).returncode == 0
        expected = _snapshot(reference)

        store = tmp_path / "killed.db"
        args = run_args(seeds, store, server, "--generations", "2", "--concurrency", "4")
        for target in (12, 55):  # once in generation 1, once in generation 2
            proc = subprocess.Popen([sys.executable, "-m", "evolviz", *args], cwd=ROOT,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            deadline = time.time() + 60
            while time.time() < deadline:
                time.sleep(0.05)
                if store.exists():
                    try:
                        with RunStore(store, create=False, readonly=True) as s:
                            if s.candidate_count() >= target:
                                break
                    except Exception:
                        continue
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            with RunStore(store, create=False) as s:
                n = s.candidate_count()
            assert target <= n < 80, f"killed too late ({n} candidates)"
        r = run_cli(*args)
        assert r.returncode == 0, r.stderr
    got = _snapshot(store)
    assert len(got) == len({c[0] for c in got}) == 80  # none missing, none twice
    assert got == expected  # same seed, same responses: the same run as without the kills
    assert run_cli("check", str(store)).returncode == 0


def test_bad_input_exits_2_with_a_message_naming_it(tmp_path, fake_llm):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"instruction": "ok"}\n{not json\n', encoding="utf-8")
    store = tmp_path / "r.db"
    r = run_cli(*run_args(bad, store, fake_llm, "--generations", "1", "--strict"))
    assert r.returncode == 2 and "bad.jsonl:2" in r.stderr
    r = run_cli(*run_args(tmp_path / "nope.txt", store, fake_llm, "--generations", "1"))
    assert r.returncode == 2 and "nope.txt" in r.stderr
    r = run_cli("show", str(tmp_path / "missing.db"))
    assert r.returncode == 2 and "missing.db" in r.stderr
    r = run_cli("run", "x")
    assert r.returncode == 2 and "--store" in r.stderr
    notastore = tmp_path / "notes.db"
    notastore.write_text("hello")
    r = run_cli(*run_args(ROOT / "seeds" / "tiny.txt", notastore, fake_llm, "--generations",
                          "1"))
    assert r.returncode == 2 and "not an evolviz run store" in r.stderr
    assert notastore.read_text() == "hello"  # nothing overwritten
    r = run_cli(*run_args(ROOT / "seeds" / "tiny.txt", store, fake_llm, "--generations", "1",
                          "--no-rule", "nope"))
    assert r.returncode == 2 and "unknown rule" in r.stderr
    r = run_cli(*run_args(ROOT / "seeds" / "tiny.txt", store, fake_llm, "--generations", "1",
                          "--weight", "mutation"))
    assert r.returncode == 2 and "OPERATOR=NUMBER" in r.stderr


def test_resume_with_other_seeds_is_refused_and_the_store_kept(tmp_path, fake_llm, seeds_file):
    store = tmp_path / "r.db"
    assert run_cli(*run_args(seeds_file(5), store, fake_llm, "--generations", "1")
                   ).returncode == 0
    before = _snapshot(store)
    r = run_cli(*run_args(seeds_file(6), store, fake_llm, "--generations", "2"))
    assert r.returncode == 2 and "other seeds" in r.stderr
    assert _snapshot(store) == before


def test_api_key_comes_from_the_named_variable_and_is_never_stored(tmp_path, fake_llm):
    key = "sk-PLANTED-0123456789abcdef"
    store = tmp_path / "r.db"
    r = run_cli(*run_args(ROOT / "seeds" / "tiny.txt", store, fake_llm, "--generations", "1",
                          "--api-key-env", "MY_KEY"), env={"MY_KEY": key})
    assert r.returncode == 0, r.stderr
    with RunStore(store, create=False) as s:
        s.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    for path in tmp_path.iterdir():
        assert key.encode() not in path.read_bytes(), path
    assert key not in r.stdout + r.stderr


@pytest.mark.parametrize("rule", ["sorry_short_answer", "no_information_gain"])
def test_no_rule_switches_a_rule_off(tmp_path, fake_llm, rule):
    store = tmp_path / "r.db"
    r = run_cli(*run_args(ROOT / "seeds" / "starter.jsonl", store, fake_llm, "--generations",
                          "1", "--no-rule", rule))
    assert r.returncode == 0, r.stderr
    with RunStore(store, create=False) as s:
        assert rule not in s.count_generation(1).rejected
        assert all(rule not in {v.rule for v in c.verdicts} for c in s.candidates())


def test_run_flags_for_the_rules_beyond_the_paper_and_max_tokens(tmp_path, seeds_file):
    from evolviz.testing.evol_responder import prompt_kind

    def refusing(req):  # every answer is a short refusal without "sorry"
        if prompt_kind(req) == "answer":
            return "I can't help with that."
        return EvolResponder(p_copy_marker=0, p_identical=0, p_empty=0, p_equal=0)(req)

    seeds = seeds_file(4)
    with FakeOpenAIServer(refusing) as server:
        default = tmp_path / "default.db"
        assert run_cli(*run_args(seeds, default, server, "--generations", "1",
                                 "--max-tokens-answer", "77")).returncode == 0
        paper = tmp_path / "paper.db"
        r = run_cli(*run_args(seeds, paper, server, "--generations", "1", "--paper-rules",
                              "--unclear-judge", "reject", "--max-tokens-judge", "40"))
        assert r.returncode == 0, r.stderr
        bodies = list(server.stats.bodies)
    answer_limits = {b["max_tokens"] for b in bodies if prompt_kind(b) == "answer"}
    assert answer_limits == {77, 512}  # the flag's, then the default in the second run
    assert any(b.get("response_format") for b in bodies if prompt_kind(b) == "equality")
    with RunStore(default, create=False) as s:
        cfg = s.get_meta("config")
        assert cfg["sampling"]["answerer"]["max_tokens"] == 77
        assert s.count_generation(1).rejected == {"answer_refusal": 4}
        cand = next(s.candidates())
    with RunStore(paper, create=False) as s:
        cfg = s.get_meta("config")
        assert "answer_refusal" not in cfg["rules"]["enabled"]
        assert "judge_unclear" in cfg["rules"]["enabled"]
        assert cfg["sampling"]["judge"]["max_tokens"] == 40
        assert s.count_generation(1).accepted == 4  # the paper's rules keep a refusal
    shown = run_cli("show", str(default), "--candidate", cand.id).stdout
    assert "FAIL answer_refusal" in shown and "evidence: cause=refusal" in shown
    assert "matched=I can't help" in shown
    assert "x_refusal" in run_cli("show", str(default)).stdout
