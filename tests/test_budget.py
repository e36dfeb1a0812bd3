"""Budgets: a run stops cleanly before it would overspend, and resumes to the same run."""

import re

import pytest

from evolviz.calls import Sampling
from evolviz.errors import ConfigError
from evolviz.run.budget import Budget, BudgetReached
from evolviz.store import RunStore

from conftest import run_cli

MSG = [{"role": "user", "content": "x" * 400}]  # about 100 tokens by the 4-chars rule


def test_a_call_is_refused_when_spent_plus_reserved_would_cross():
    b = Budget(max_tokens=1000)
    hold = b.reserve("evolver", MSG, Sampling(max_tokens=200))  # guess: 101 + 200
    b.settle(hold, 120, 80)
    assert b.spent_prompt + b.spent_completion == 200
    holds = [b.reserve("evolver", MSG, Sampling(max_tokens=200)) for _ in range(4)]  # 4x200
    with pytest.raises(BudgetReached, match="max_tokens 1000"):
        b.reserve("evolver", MSG, Sampling(max_tokens=200))
    for h in holds:  # the calls in flight finish and are paid for ...
        b.settle(h, 10, 10)
    with pytest.raises(BudgetReached):  # ... but once reached, nothing new starts
        b.reserve("judge", MSG, Sampling(max_tokens=1))
    assert "280 tokens spent of 1,000" in b.spent()


def test_cost_budget_needs_prices_and_counts_dollars():
    with pytest.raises(ConfigError, match="needs prices"):
        Budget(max_cost=1.0)
    b = Budget(max_cost=0.001, prices=(1.0, 4.0))  # USD per million tokens
    b.settle(b.reserve("answerer", MSG, Sampling(max_tokens=100)), 200, 100)
    assert b.cost(200, 100) == pytest.approx(0.0006)
    with pytest.raises(BudgetReached, match="max_cost"):
        b.reserve("answerer", MSG, Sampling(max_tokens=100))


def _snapshot(store):
    with RunStore(store, create=False) as s:
        return [(c.id, c.parent_id, c.operator, c.status, c.rejected_by, c.instruction,
                 c.answer, [v.to_dict() for v in c.verdicts]) for c in s.candidates()]


def _totals(store):
    with RunStore(store, create=False) as s:
        return s.token_totals(), s.candidate_count(), s.finished_generations()


def test_budget_stop_resumes_to_exactly_the_uninterrupted_run(tmp_path, seeds_file, fake_llm):
    seeds = seeds_file(40)

    def run(store, *extra):
        return run_cli("run", str(seeds), "--store", str(store), "--base-url",
                       fake_llm.base_url, "--model", "fake-model", "--no-progress",
                       "--generations", "2", "--concurrency", "4", *extra)

    full = tmp_path / "full.db"
    assert run(full).returncode == 0
    (fp, fc), n_full, _ = _totals(full)
    assert n_full == 80

    store = tmp_path / "budget.db"
    limit = (fp + fc) // 3
    r = run(store, "--max-tokens", str(limit))
    assert r.returncode == 0, r.stderr
    assert f"the budget (--max-tokens {limit}) is reached" in r.stderr
    assert "run the same command with a larger budget" in r.stderr
    session = int(re.search(r"(\d+) tokens this session", r.stdout).group(1))
    assert session <= limit  # calls in flight included: the limit is not crossed
    (p, c), n, finished = _totals(store)
    assert 0 < n < 40 and finished == [] and p + c <= limit
    with RunStore(store, create=False) as s:  # unstarted candidates are not "failed"
        assert all(x.status != "failed" for x in s.candidates())

    # The same budget again: nothing more fits, still a clean stop, nothing duplicated.
    r = run(store, "--max-tokens", str(limit))
    assert r.returncode == 0 and "is reached" in r.stderr

    # A cost budget that ends inside generation 2, then no budget at all.
    r = run(store, "--max-cost", "0.003", "--price-in", "0.15", "--price-out", "0.60")
    assert r.returncode == 0 and "--max-cost 0.003" in r.stderr and "USD" in r.stderr
    (p, c), n, finished = _totals(store)
    assert (p * 0.15 + c * 0.60) / 1e6 <= 0.003 and finished == [1] and n < 80
    r = run(store)
    assert r.returncode == 0, r.stderr
    reused = int(re.search(r"(\d+) cached responses reused", r.stdout).group(1))
    assert reused > 0  # the calls in flight at the stop were kept and cost nothing now
    assert _snapshot(store) == _snapshot(full)
    assert run_cli("check", str(store)).returncode == 0

    r = run(tmp_path / "x.db", "--max-cost", "1")
    assert r.returncode == 2 and "--price-in" in r.stderr
