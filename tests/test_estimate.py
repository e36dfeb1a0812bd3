"""`evolviz estimate`: a pilot's projection holds the real run inside its range."""

import json
from collections import Counter

import pytest

from evolviz.records import Candidate
from evolviz.store import RunStore
from evolviz.testing import FakeOpenAIServer
from evolviz.testing.evol_responder import EvolResponder
from evolviz.workbench.estimate import PilotRow, project

from conftest import run_cli

PRICES = ("--price-in", "0.15", "--price-out", "0.60")


def _endpoint(server):
    return ("--base-url", server.base_url, "--model", "fake-model", "--concurrency", "8")


def _actual(store):
    """What the run really made, keyed like the projection."""
    out = Counter()
    with RunStore(store, create=False) as s:
        for c in s.candidates():
            for call in c.calls.values():
                out[f"calls.{call.role}"] += 1
                out[f"prompt.{call.role}"] += call.prompt_tokens
                out[f"completion.{call.role}"] += call.completion_tokens
    for kind in ("calls", "prompt", "completion"):
        out[f"{kind}.total"] = sum(v for k, v in out.items() if k.startswith(kind + ".")
                                   and not k.endswith(".total"))
    out["tokens.total"] = out["prompt.total"] + out["completion.total"]
    out["cost_usd"] = (out["prompt.total"] * 0.15 + out["completion.total"] * 0.60) / 1e6
    return out


def test_the_pilot_projection_holds_the_real_run(tmp_path, seeds_file):
    seeds = seeds_file(100)
    with FakeOpenAIServer(EvolResponder(), latency=0.005) as server:
        r = run_cli("estimate", str(seeds), "--generations", "3", "--pilot", "20", "--json",
                    *_endpoint(server), *PRICES)
        assert r.returncode == 0, r.stderr
        report = json.loads(r.stdout)
        pilot_calls = server.stats.ok
        store = tmp_path / "real.db"
        r = run_cli("run", str(seeds), "--store", str(store), "--generations", "3",
                    "--no-progress", *_endpoint(server))
        assert r.returncode == 0, r.stderr
    assert report["pilot_candidates"] == 20 and report["candidates"] == 300
    assert 40 <= pilot_calls <= 80 and report["pilot_tokens"]["prompt"] > 0  # one generation
    actual = _actual(store)
    proj = report["projection"]
    for key, value in actual.items():
        iv = proj[key]
        assert iv["low"] <= value <= iv["high"], (key, value, iv)
    # The range is a range, not a shrug: the total's is within +-25% of the point.
    tokens = proj["tokens.total"]
    assert tokens["high"] < 1.25 * tokens["value"] and tokens["low"] > 0.75 * tokens["value"]
    # Instructions grow as they evolve; the projection knows (it would be low otherwise).
    assert proj["growth_tokens"]["value"] > 3
    assert proj["wall_time_s"]["value"] > 0

    # From the real store's generation 1 instead of a pilot: the same holds, tighter.
    r = run_cli("estimate", str(seeds), "--generations", "3", "--from-store", str(store),
                "--json", *PRICES)
    assert r.returncode == 0, r.stderr
    again = json.loads(r.stdout)["projection"]
    lo, hi = again["tokens.total"]["low"], again["tokens.total"]["high"]
    assert lo <= actual["tokens.total"] <= hi and hi - lo < tokens["high"] - tokens["low"]

    text = run_cli("estimate", str(seeds), "--generations", "3", "--from-store", str(store))
    assert text.returncode == 0 and "give --price-in and --price-out" in text.stdout


def test_estimate_refuses_bad_options(tmp_path, seeds_file):
    seeds = seeds_file(5)
    r = run_cli("estimate", str(seeds), "--generations", "2", "--pilot", "0")
    assert r.returncode == 2 and "--pilot" in r.stderr
    r = run_cli("estimate", str(seeds), "--generations", "2", "--from-store",
                str(tmp_path / "none.db"))
    assert r.returncode == 2 and "none.db: no such run store" in r.stderr


def test_projection_scales_with_seeds_and_generations():
    from evolviz.calls import CallResult

    def cand(i, accepted):
        c = Candidate(id=f"g1-{i:06d}", generation=1, slot=i, parent_id="s", seed_id="s",
                      operator="mutation", parent_instruction="Write a poem.",
                      status="accepted" if accepted else "rejected",
                      instruction="Write a poem about the sea." if accepted else None)
        c.calls["rewrite"] = CallResult("evolver", "m", [], {}, content=c.instruction or "",
                                        prompt_tokens=100, completion_tokens=6)
        return PilotRow.of(c)

    rows = [cand(i, i % 2 == 0) for i in range(10)]
    one = project(rows, seeds=10, generations=1, concurrency=4)["projection"]
    assert one["calls.evolver"]["value"] == 10 and one["prompt.evolver"]["value"] == 1000
    three = project(rows, seeds=20, generations=3, concurrency=4)["projection"]
    assert three["calls.evolver"]["value"] == 60
    # An accepted rewrite is 14 characters longer than its parent, at 30 tokens per 135
    # rewrite characters; half are accepted, so generation g carries 0.5 x (g - 1) growths
    # in the rewrite prompt: 20 seeds x (0 + 0.5 + 1) x growth extra tokens in all.
    growth = 14 * 30 / 135
    assert three["growth_tokens"]["value"] == pytest.approx(growth)
    assert three["prompt.evolver"]["value"] == pytest.approx(60 * 100 + 20 * 1.5 * growth)
