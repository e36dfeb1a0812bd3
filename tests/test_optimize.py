"""`evolviz optimize`: a revision that fixes a planted flaw is kept; others are not."""

import json

import pytest

from evolviz.errors import TemplateError
from evolviz.records import Candidate
from evolviz.rules import Verdict
from evolviz.store import RunStore
from evolviz.templates import TemplateSet
from evolviz.workbench.optimize import parse_proposal, revision_messages

from conftest import broken_mutation, run_cli


def test_a_proposal_must_keep_the_placeholder_contract():
    current = TemplateSet.load().operators["mutation"]
    with pytest.raises(TemplateError, match=r"optimize step 1: .*instrution"):
        parse_proposal("<template>\nRewrite: {{instrution}}\n</template>", current,
                       "opt.db: optimize step 1")
    with pytest.raises(TemplateError, match="no <template>"):
        parse_proposal("Sure! Here is a better template: ...", current, "opt.db: step 2")
    ok = parse_proposal("<template>\nA new task like this one:\n{{instruction}}\n</template>",
                        current, "x")
    assert ok.placeholders == ("instruction",) and ok.kind == current.kind


@pytest.mark.parametrize("reply", [
    "Here is the revised template:\n<template>\n```\nA new task like this one:\n"
    "{{instruction}}\n```\n</template>\nThis keeps the placeholder.",
    "<template>```text\nA new task like this one:\n{{instruction}}\n```</template>",
    "<template>\n```markdown\nA new task like this one:\n{{instruction}}\n```  \n</template>",
])
def test_a_code_fence_inside_the_template_block_is_not_kept(reply):
    current = TemplateSet.load().operators["mutation"]
    got = parse_proposal(reply, current, "x")
    assert got.user == "A new task like this one:\n{{instruction}}"
    assert "```" not in got.user


def test_a_fence_that_is_part_of_the_template_stays():
    current = TemplateSet.load().operators["mutation"]
    text = "Rewrite the task. Keep code like this:\n```\nprint(1)\n```\n{{instruction}}"
    got = parse_proposal(f"<template>\n{text}\n</template>", current, "x")
    assert got.user == text  # a fence in the middle of a template is its content


def test_the_revision_request_shows_the_failures_and_their_verdicts():
    current = TemplateSet.load().operators["deepening"]
    c = Candidate(id="g1-000000", generation=1, slot=0, parent_id="s", seed_id="s",
                  operator="deepening", parent_instruction="Explain tides.",
                  status="rejected", rejected_by="copied_prompt_wording",
                  verdicts=[Verdict("copied_prompt_wording", False, "copies '#Harder Task#'")])
    user = revision_messages(current, [c])[-1]["content"]
    assert current.user in user and "Explain tides." in user
    assert "copied_prompt_wording: copies '#Harder Task#'" in user


def test_optimize_keeps_the_revision_that_fixes_a_planted_flaw(tmp_path, seeds_file,
                                                               fake_llm):
    seeds = seeds_file(60)
    broken = broken_mutation(tmp_path / "broken")
    store, out = tmp_path / "opt.db", tmp_path / "best"

    def optimize(*extra):
        return run_cli("optimize", str(seeds), "--operator", "mutation", "--base-url",
                       fake_llm.base_url, "--model", "fake-model", "--steps", "3", "--dev",
                       "30", "--json", *extra)

    r = optimize("--store", str(store), "--templates", str(broken), "--out", str(out))
    assert r.returncode == 0, r.stderr
    steps = json.loads(r.stdout)
    rates = [s["failure_rate"]["value"] for s in steps if "failure_rate" in s]
    assert steps[0]["status"] == "baseline" and rates[0] > 0.9  # the flaw fails everything
    assert steps[1]["status"] == "kept" and rates[1] < 0.5 and steps[1]["p"] < 0.05
    assert "+#New Task#" in steps[1]["diff"]
    assert all(s["status"] in ("unchanged", "not kept") for s in steps[2:])
    fixed = TemplateSet.load(out).operators["mutation"]
    assert "#New Task#" in fixed.user and fixed.placeholders == ("instruction",)
    with RunStore(store, create=False) as s:
        meta = s.get_meta("optimize")
        assert meta["operator"] == "mutation" and len(meta["steps"]) == len(steps)
        assert meta["steps"][1]["revision_call"]["content"].startswith("<template>")
        evaluated = {c.generation for c in s.candidates()}
        assert evaluated == {1, 2}  # baseline and the one proposal that differed
        assert s.candidate_count() == 60
    assert run_cli("check", str(store)).returncode == 0

    # The built-in template has no such flaw: nothing is kept.
    r = optimize("--store", str(tmp_path / "opt2.db"))
    assert r.returncode == 0, r.stderr
    assert [s["status"] for s in json.loads(r.stdout)][1:] == ["unchanged"] * 3
    r = optimize("--store", str(store))
    assert r.returncode == 2 and "already exists" in r.stderr
