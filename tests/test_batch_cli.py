"""`evolviz run --batch` and `evolviz batches` as a user runs them: real subprocesses against
the scripted Files and Batches server on 127.0.0.1, kill -9 included."""

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter

from evolviz.store import RunStore, check_store
from evolviz.store.batches import BatchLedger
from evolviz.testing import FakeBatchServer, FakeOpenAIServer, LineFaults
from evolviz.testing.evol_responder import EvolResponder

from conftest import ROOT, run_cli

FAULTS = LineFaults(fail_rate=0.15, kinds=("500", "429"), expire_rate=0.1)


def args(server, seeds, store, *extra, generations=2):
    return ["run", str(seeds), "--store", str(store), "--generations", str(generations),
            "--base-url", server.base_url, "--model", "fake-model", "--no-progress",
            "--seed", "11", *extra]


BATCH = ("--batch", "--poll-interval", "0.05")


def snapshot(path):
    """Candidate for candidate: status, verdicts, instruction, answer (and the pools)."""
    with RunStore(path, create=False) as s:
        rows = [(c.id, c.parent_id, c.operator, c.status, c.rejected_by, c.error_class,
                 c.instruction, c.answer, [v.to_dict() for v in c.verdicts])
                for c in s.candidates()]
        pools = [[m.id for m in s.pool(g) or []] for g in (1, 2, 3)]
        return rows, pools, check_store(s)


def test_a_batch_run_equals_the_same_run_made_live(tmp_path, seeds_file):
    seeds = seeds_file(24)
    with FakeBatchServer(EvolResponder(), batch_delay=0.1, line_faults=FAULTS) as server:
        live = run_cli(*args(server, seeds, tmp_path / "live.db", "--concurrency", "4"))
        assert live.returncode == 0, live.stderr
        r = run_cli(*args(server, seeds, tmp_path / "batch.db", *BATCH))
        assert r.returncode == 0, r.stderr
        assert "submitted request file evolviz-g1-rewrite-" in r.stderr
        assert "batches (" in r.stdout and "submitted and" in r.stdout
        ids = set(server.batches)
    expected, got = snapshot(tmp_path / "live.db"), snapshot(tmp_path / "batch.db")
    assert got[2] == [] and len(got[0]) == 48
    assert got == expected

    r = run_cli("batches", str(tmp_path / "batch.db"), "--price-in", "0.15",
                "--price-out", "0.60")
    assert r.returncode == 0, r.stderr
    for word in ("rewrite", "equality", "answer", "retry", "completed", "expired",
                 "USD at the batch price (0.5 x the live price)"):
        assert word in r.stdout, word
    table = json.loads(run_cli("batches", str(tmp_path / "batch.db"), "--json").stdout)
    assert table["open"] == 0 and table["batch_run"] is True
    assert {b["batch_id"] for b in table["batches"]} == ids

    # The same tokens; the batch run's calls at half the price.
    r = run_cli("compare", str(tmp_path / "live.db"), str(tmp_path / "batch.db"), "--json",
                "--price-in", "1", "--price-out", "1")
    report = json.loads(r.stdout)
    assert report["a"]["prompt_tokens"] == report["b"]["prompt_tokens"]
    cpa = report["cost_per_accepted"]
    assert abs(cpa["b"]["value"] - 0.5 * cpa["a"]["value"]) < 1e-12
    assert run_cli("check", str(tmp_path / "batch.db")).returncode == 0

    # estimate prices the same run made as batches, with its stage rounds.
    r = run_cli("estimate", str(seeds), "--generations", "4", "--from-store",
                str(tmp_path / "live.db"), "--json", "--price-in", "1", "--price-out", "2")
    report = json.loads(r.stdout)
    batch, live_cost = report["batch"], report["projection"]["cost_usd"]
    assert batch["discount"] == 0.5 and batch["rounds_per_generation"] >= 3
    assert batch["cost_usd"]["value"] == 0.5 * live_cost["value"]
    assert "as batches" in run_cli("estimate", str(seeds), "--generations", "4",
                                   "--from-store", str(tmp_path / "live.db")).stdout


def test_kill_9_while_batches_are_out_then_the_same_command(tmp_path, seeds_file):
    seeds = seeds_file(30)
    rng = random.Random(20261126)
    with FakeBatchServer(EvolResponder(), batch_delay=0.3, line_faults=FAULTS) as straight, \
            FakeBatchServer(EvolResponder(), batch_delay=0.3, line_faults=FAULTS) as killed:
        r = run_cli(*args(straight, seeds, tmp_path / "straight.db", *BATCH))
        assert r.returncode == 0, r.stderr
        expected = snapshot(tmp_path / "straight.db")
        assert expected[2] == [] and len(expected[0]) == 60

        store, seen = tmp_path / "killed.db", []
        for _ in range(10):
            proc = subprocess.Popen([sys.executable, "-m", "evolviz",
                                     *args(killed, seeds, store, *BATCH)], cwd=ROOT,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(rng.uniform(0.3, 2.5))
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            if store.exists():
                with RunStore(store, create=False) as s:
                    seen.append((s.candidate_count(), len(BatchLedger(s).batches()),
                                 len(BatchLedger(s).batches(open_only=True))))
        print(f"\n(candidates, batches, open batches) at each kill: {seen}")
        assert len({n for n, _, _ in seen}) >= 3, f"kills not at varied moments: {seen}"
        assert any(o for _, _, o in seen), "no kill landed while a batch was out"
        r = run_cli(*args(killed, seeds, store, *BATCH))
        assert r.returncode == 0, r.stderr
        # No batch submitted twice: no line out twice at once, no file made a batch twice,
        # and every line sent as often as in the uninterrupted run (failures and expiry
        # included), so no finished result was paid for twice.
        assert killed.overlaps == []
        assert max(Counter(b.input_file_id for b in killed.batches.values()).values()) == 1
        assert killed.submissions == straight.submissions
    got = snapshot(store)
    assert got[2] == [], got[2]
    assert len(got[0]) == len({row[0] for row in got[0]}) == 60
    assert got == expected


def test_detach_submits_and_exits_and_the_same_command_continues(tmp_path, seeds_file):
    seeds = seeds_file(8)
    with FakeBatchServer(EvolResponder(), batch_delay=0.2) as server:
        live = run_cli(*args(server, seeds, tmp_path / "live.db", generations=1))
        assert live.returncode == 0
        runs = 0
        while True:
            r = run_cli(*args(server, seeds, tmp_path / "b.db", *BATCH, "--detach",
                              generations=1))
            assert r.returncode == 0, r.stderr
            runs += 1
            if "batches are out there" not in r.stderr:
                break
            assert runs < 20
            time.sleep(0.25)
        assert server.overlaps == []
    assert runs >= 3
    assert snapshot(tmp_path / "b.db") == snapshot(tmp_path / "live.db")


def test_cancel_stops_the_run_cleanly_and_the_same_command_finishes_it(tmp_path, seeds_file):
    seeds = seeds_file(12)
    store = tmp_path / "c.db"
    with FakeBatchServer(EvolResponder(), batch_delay=2.0) as server:
        proc = subprocess.Popen([sys.executable, "-m", "evolviz",
                                 *args(server, seeds, store, *BATCH, generations=1)],
                                cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        deadline = time.monotonic() + 60
        while not server.created and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.8)
        r = run_cli("batches", str(store), "--cancel", "--base-url", server.base_url)
        assert r.returncode == 0, r.stderr
        assert "-> cancelling" in r.stderr
        _out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        assert "the run's batches were cancelled" in err
        with RunStore(store, create=False) as s:
            (row,) = BatchLedger(s).batches()
            assert row.state == "cancelled" and 0 < row.completed < 12
            assert s.finished_generations() == []
        server.batch_delay = 0.1
        r = run_cli(*args(server, seeds, store, *BATCH, generations=1))
        assert r.returncode == 0, r.stderr
        live = run_cli(*args(server, seeds, tmp_path / "live.db", generations=1))
        assert live.returncode == 0
        assert server.overlaps == []
    assert snapshot(store) == snapshot(tmp_path / "live.db")


def test_what_batch_mode_refuses_says_why(tmp_path, seeds_file):
    seeds = seeds_file(6)
    r = run_cli("run", str(seeds), "--store", str(tmp_path / "x.db"), "--generations", "1",
                "--batch")
    assert r.returncode == 2 and "--batch needs --base-url" in r.stderr
    with FakeBatchServer(EvolResponder(), batch_delay=30, max_file_bytes=3000) as server:
        r = run_cli(*args(server, seeds, tmp_path / "d.db", "--detach"))
        assert r.returncode == 2 and "--detach and --batch-dir go with --batch" in r.stderr
        r = run_cli(*args(server, seeds, tmp_path / "big.db", *BATCH))
        assert r.returncode == 1
        assert "evolviz-g1-rewrite-00001.jsonl" in r.stderr and "HTTP 413" in r.stderr
        assert "--batch-max-mb" in r.stderr
        r = run_cli(*args(server, seeds, tmp_path / "open.db", *BATCH, "--detach",
                          "--batch-max-mb", "0.002"))
        assert r.returncode == 0, r.stderr
        r = run_cli(*args(server, seeds, tmp_path / "open.db"))  # live, batches still out
        assert r.returncode == 2 and "still out there" in r.stderr
        assert server.stats.requests == 0  # not one live call was made
        r = run_cli("batches", str(tmp_path / "open.db"), "--cancel")
        assert r.returncode == 2 and "--cancel needs --base-url" in r.stderr
        r = run_cli("batches", str(tmp_path / "open.db"), "--batch-discount", "2")
        assert r.returncode == 2 and "--batch-discount" in r.stderr


def test_a_folder_for_an_offline_runner_gives_the_live_run(tmp_path, seeds_file):
    """--batch-dir: request files for `vllm run-batch`, results read back from beside
    them; the scripted runner answers as the live server does."""
    seeds, folder = seeds_file(10), tmp_path / "batches"
    with FakeOpenAIServer(EvolResponder()) as server:
        live = run_cli(*args(server, seeds, tmp_path / "live.db"))
        assert live.returncode == 0, live.stderr
    command = ["run", str(seeds), "--store", str(tmp_path / "f.db"), "--generations", "2",
               "--model", "fake-model", "--no-progress", "--seed", "11", "--batch",
               "--batch-dir", str(folder), "--detach"]
    rounds = 0
    while True:
        r = run_cli(*command)
        assert r.returncode == 0, r.stderr
        if "batches are out there" not in r.stderr:
            break
        runner = subprocess.run([sys.executable, "-m", "evolviz.testing.run_batch",
                                 "--folder", str(folder)], cwd=ROOT, capture_output=True,
                                text=True, timeout=120)
        assert runner.returncode == 0, runner.stderr
        rounds += 1
        assert rounds < 30
    assert rounds >= 6  # rewrites, judges, answers, for each of two generations
    requests = [f for f in folder.glob("evolviz-g*.jsonl") if ".output" not in f.name]
    assert len(requests) == len(list(folder.glob("*.output.jsonl"))) == rounds
    line = json.loads(requests[0].read_text().splitlines()[0])
    assert set(line) == {"custom_id", "method", "url", "body"}
    assert snapshot(tmp_path / "f.db") == snapshot(tmp_path / "live.db")


def test_the_key_reaches_the_batch_api_and_nothing_else(tmp_path, seeds_file):
    seeds, key = seeds_file(4), "sk-planted-batch-7f3a9c"
    with FakeBatchServer(EvolResponder(), batch_delay=0.05) as server:
        r = run_cli(*args(server, seeds, tmp_path / "k.db", *BATCH, "--api-key-env",
                          "EVZ_BATCH_KEY", generations=1), env={"EVZ_BATCH_KEY": key})
        assert r.returncode == 0, r.stderr
        assert server.stats.authorizations == {f"Bearer {key}": sum(
            server.stats.authorizations.values())}
        uploaded = b"".join(f.data for f in server.files.values())
    assert key.encode() not in uploaded
    for path in tmp_path.glob("k.db*"):
        assert key.encode() not in path.read_bytes(), path
    assert key not in r.stdout + r.stderr
