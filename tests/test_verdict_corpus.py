"""Every case of tests/verdict_corpus, end to end: the real engine, a real store, the
scripted OpenAI-compatible server over real sockets, and the verdict a careful person
gives. One run per operator; the cases are the candidates."""

from collections import Counter

import pytest

from evolviz.config import RunConfig
from evolviz.errors import InputError
from evolviz.rules import BEYOND_PAPER, RULE_IDS, RuleConfig
from evolviz.run.engine import reapply_rules
from evolviz.store import RunStore
from evolviz.templates import TemplateSet
from evolviz.testing.corpus import SEED_RATING, load_cases, run_cases

from conftest import ROOT

CORPUS = ROOT / "tests" / "verdict_corpus"
TEMPLATES = TemplateSet.load()
CASES = load_cases(CORPUS, list(TEMPLATES.operators))


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    import asyncio

    workdir = tmp_path_factory.mktemp("corpus")
    return workdir, asyncio.run(run_cases(CASES, workdir, templates=TEMPLATES))


def test_the_corpus_is_large_and_covers_every_class_and_language():
    assert len(CASES) >= 150
    classes = Counter(c.cls for c in CASES)
    for needed in ("rewrite_refusal", "rewrite_preamble", "rewrite_markers",
                   "rewrite_code_fence", "rewrite_trailing", "rewrite_unusable",
                   "rewrite_truncated", "judge_negation", "judge_reasoning", "judge_yes_no",
                   "judge_unclear", "judge_json", "answer_punctuation", "answer_stopwords",
                   "answer_truncated", "answer_filtered", "answer_refusal", "answer_sorry",
                   "answer_asks_input", "answer_legit", "legit_marker_like", "bad_input",
                   "difficulty"):
        assert classes[needed] >= 2, needed
    assert {"zh", "es", "ru", "ar", "hi", "ja", "de"} <= {c.lang for c in CASES}
    # Every verdict the pipeline can give is expected somewhere.
    expected = {c.expect.get("rule") for c in CASES} - {None}
    assert expected == set(RULE_IDS)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case_verdict(outcomes, case):
    _, results = outcomes
    got = next(o for o in results if o.case.id == case.id)
    assert not got.wrong, (case.source, got.wrong, got.candidate.rejection)
    cand = got.candidate
    if cand.status == "rejected":
        # The evidence is on the verdict: a reason, and what it read.
        assert cand.rejection.reason and cand.rejection.detail, cand.rejection


def test_what_if_under_the_same_settings_agrees_with_the_live_run(outcomes):
    _, results = outcomes
    config = RunConfig(judge_difficulty=True)
    for o in results:
        again = reapply_rules(o.candidate, config.with_(judge=o.case.judge), TEMPLATES)
        assert (again.status, again.rejected_by) == (o.candidate.status,
                                                     o.candidate.rejected_by), o.case.id
        assert [v.to_dict() for v in again.verdicts] == [
            v.to_dict() for v in o.candidate.verdicts], o.case.id


def test_paper_rules_switch_the_rules_beyond_the_paper_off(outcomes):
    _, results = outcomes
    paper = RunConfig(rules=RuleConfig.paper())
    for o in results:
        again = reapply_rules(o.candidate, paper, TEMPLATES)
        if again.rejected_by in BEYOND_PAPER:
            # Stopped by a rule beyond the paper before its answer was asked for: the
            # what-if cannot invent the answer, so the candidate stays as it was.
            assert "answer" not in o.candidate.calls, o.case.id
            assert not any(not v.passed and v.rule in BEYOND_PAPER for v in again.verdicts)
        if o.candidate.rejected_by == "answer_refusal":
            assert again.status == "accepted", o.case.id  # the paper would keep it


def test_unclear_judge_treatment_is_a_setting(outcomes):
    _, results = outcomes
    unclear = {o.case.id for o in results if o.candidate.rejected_by == "judge_unclear"}
    assert {"jd-unclear-04", "jd-unclear-05"} <= unclear
    keep = RunConfig(rules=RuleConfig().without(["judge_unclear"]))
    for o in results:
        if o.case.id in unclear:  # kept, as the paper does, when the rule is off
            again = reapply_rules(o.candidate, keep, TEMPLATES)
            assert not any(v.rule == "judge_unclear" for v in again.verdicts), o.case.id
            assert any(v.rule == "no_information_gain" and v.passed for v in again.verdicts)
    # The re-ask is on the record beside the first reply, and in the verdict's evidence.
    cand = next(o.candidate for o in results if o.case.id == "jd-unclear-04")
    assert {"equality", "equality_reask"} <= set(cand.calls)
    bad = cand.rejection
    assert bad.rule == "judge_unclear" and bad.detail["reasked"] is True
    assert bad.detail["first_text"] == "I cannot judge this."


def test_seeds_are_rated_at_generation_zero(outcomes):
    workdir, _ = outcomes
    with RunStore(workdir / "corpus-deepening.db", create=False) as store:
        ratings = {r["difficulty"] for r in store.seed_rows()}
    assert ratings == {float(SEED_RATING.split()[-1].rstrip("}"))}


def test_judges_were_asked_for_json(outcomes):
    _, results = outcomes
    cand = next(o.candidate for o in results if o.case.id == "jd-json-01")
    assert cand.calls["equality"].response_format["type"] == "json_schema"
    assert "answer" not in cand.calls  # rejected by the judge: nothing paid for an answer
    kept = next(o.candidate for o in results if o.case.id == "jd-json-02")
    assert kept.calls["answer"].response_format is None  # answers stay free text


def test_a_bad_case_file_names_file_case_and_field(tmp_path):
    (tmp_path / "x.toml").write_text('[[case]]\nid = "a"\nclass = "c"\nexpect_status = "kept"\n')
    with pytest.raises(InputError, match=r"x\.toml: case 1 \(a\): field 'expect_status'"):
        load_cases(tmp_path, list(TEMPLATES.operators))
    (tmp_path / "x.toml").write_text('[[case]]\nid = "a"\nclass = "c"\nanswr = "typo"\n'
                                     'expect_status = "accepted"\n')
    with pytest.raises(InputError, match=r"unknown field\(s\) \['answr'\]"):
        load_cases(tmp_path, list(TEMPLATES.operators))
