"""The held-out verdict sets, rounds 2 and on (tests/verdict_heldout/): replies written after
the verdicts were built, in styles they were not built on, scored once before any fix.

docs/verdicts.md keeps each round's first-run score (round 2: 52 of 64) and what was fixed
after it; from then on a round is part of what the rules are held to, so this test keeps
every case's status (accepted or rejected) right. A new round is written when a round
stops measuring.
"""

from __future__ import annotations

import pytest

from evolviz.templates import TemplateSet
from evolviz.testing.corpus import load_cases, run_cases

from conftest import ROOT

CASES = load_cases(ROOT / "tests" / "verdict_heldout", list(TemplateSet.load().operators))


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    import asyncio

    return asyncio.run(run_cases(CASES, tmp_path_factory.mktemp("heldout")))


def test_round_two_is_large_and_varied() -> None:
    assert len(CASES) >= 60
    assert len({c.lang for c in CASES}) >= 8 and len({c.cls for c in CASES}) >= 15


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_held_out_status(outcomes, case) -> None:
    got = next(o for o in outcomes if o.case.id == case.id)
    assert got.candidate.status == case.expect["status"], (case.id, got.wrong,
                                                           got.candidate.rejection)
