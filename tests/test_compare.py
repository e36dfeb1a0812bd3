"""`evolviz compare`: intervals, tests and flags, on runs made against the scripted server."""

import json

import pytest

from evolviz.workbench.stats import bootstrap, fisher_exact, holm, mcnemar_exact, wilson

from conftest import broken_mutation, run_cli


def test_wilson_matches_published_values():
    iv = wilson(5, 10)
    assert iv.value == 0.5 and iv.low == pytest.approx(0.2366, abs=1e-4)
    assert iv.high == pytest.approx(0.7634, abs=1e-4)
    zero = wilson(0, 10)  # the broken-template case: 0/n still has an honest upper bound
    assert zero.low == 0.0 and zero.high == pytest.approx(0.2775, abs=1e-4)
    assert wilson(0, 0).value is None


def test_exact_tests_and_holm_match_textbook_values():
    # Fisher's tea-tasting style table [[8, 2], [1, 5]]: two-sided p = 0.0350 (R, scipy).
    assert fisher_exact(8, 10, 1, 6) == pytest.approx(0.03497, abs=1e-4)
    assert fisher_exact(5, 10, 5, 10) == pytest.approx(1.0)
    assert mcnemar_exact(0, 10) == pytest.approx(2 / 1024)
    assert mcnemar_exact(3, 3) == 1.0
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])


def test_bootstrap_ratio_keeps_rows_together_and_is_seeded():
    rows = [(100, 1), (120, 0), (90, 1), (300, 1), (80, 0)] * 4
    stat = lambda rs: sum(t for t, _ in rs) / max(1, sum(a for _, a in rs))  # noqa: E731
    a = bootstrap(rows, stat, seed=3)
    assert a == bootstrap(rows, stat, seed=3)
    assert a.low < a.value < a.high


def _run(seeds, store, server, *extra):
    r = run_cli("run", str(seeds), "--store", str(store), "--base-url", server.base_url,
                "--model", "fake-model", "--no-progress", "--generations", "2", *extra)
    assert r.returncode == 0, r.stderr
    return store


def _compare(a, b, *extra):
    r = run_cli("compare", str(a), str(b), "--json", *extra)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_compare_flags_the_broken_operator_and_no_other(tmp_path, seeds_file, fake_llm):
    seeds = seeds_file(120)
    good = _run(seeds, tmp_path / "good.db", fake_llm)
    broken = _run(seeds, tmp_path / "broken.db", fake_llm, "--templates",
                  str(broken_mutation(tmp_path / "broken")))

    report = _compare(good, broken, "--price-in", "0.15", "--price-out", "0.60")
    assert report["paired"] and report["pairs"] == 240
    flagged_ops = {s["name"] for s in report["significant"] if s["kind"] == "operator"}
    assert flagged_ops == {"mutation"}
    mutation = next(t for t in report["tests"] if t["name"] == "mutation")
    assert mutation["b"]["value"] < 0.1 < 0.5 < mutation["a"]["value"]
    assert mutation["test"] == "mcnemar" and mutation["only_a"] > 20 >= mutation["only_b"]
    # The only rule flagged is the one the broken template trips.
    assert {s["name"] for s in report["significant"] if s["kind"] == "rule"} <= {
        "copied_prompt_wording"}
    # In generation 1 both runs evolve the same seeds: only mutation can have flipped.
    gen1 = [f for f in report["flipped"] if f["generation"] == 1]
    assert gen1 and {f["operator"] for f in gen1} == {"mutation"}
    assert all(f["a"] == "accepted" for f in gen1)
    cpa = report["cost_per_accepted"]
    assert cpa["a"]["low"] <= cpa["a"]["value"] <= cpa["a"]["high"]
    assert cpa["b"]["value"] > cpa["a"]["value"]  # fewer accepted for about the same spend

    # Another --seed: unpaired (Fisher), still flags mutation and only mutation.
    other = _run(seeds, tmp_path / "broken_s1.db", fake_llm, "--seed", "1", "--templates",
                 str(tmp_path / "broken"))
    unpaired = _compare(good, other)
    assert not unpaired["paired"] and "--seed" in unpaired["pairing"]
    assert {s["name"] for s in unpaired["significant"] if s["kind"] == "operator"} == {
        "mutation"}
    assert unpaired["flipped"] == []

    # The same templates under another seed: nothing is significant.
    same = _run(seeds, tmp_path / "good_s1.db", fake_llm, "--seed", "1")
    assert _compare(good, same)["significant"] == []

    text = run_cli("compare", str(good), str(broken))
    assert text.returncode == 0
    assert "operator mutation acceptance lower in B" in text.stdout
    assert "flipped between accepted and not" in text.stdout


def test_a_run_against_its_replay_differs_in_nothing(tmp_path, seeds_file, fake_llm):
    seeds = seeds_file(30)
    a = _run(seeds, tmp_path / "a.db", fake_llm, "--judge-difficulty")
    b = _run(seeds, tmp_path / "b.db", fake_llm, "--judge-difficulty")
    report = _compare(a, b)
    assert report["paired"] and report["pairs"] == 60 and report["unpaired_candidates"] == 0
    assert report["significant"] == [] and report["flipped"] == []
    by_gen = report["difficulty_by_generation"]
    assert [d["generation"] for d in by_gen] == [1, 2]
    for d in by_gen:  # same responses, same ratings: identical means, honest intervals
        assert d["a"] == d["b"] and 1 <= d["a"]["low"] <= d["a"]["value"] <= d["a"]["high"] <= 10


def test_compare_refuses_a_missing_store_and_half_a_price(tmp_path, seeds_file, fake_llm):
    good = _run(seeds_file(10), tmp_path / "good.db", fake_llm)
    r = run_cli("compare", str(good), str(tmp_path / "nope.db"))
    assert r.returncode == 2 and "nope.db: no such run store" in r.stderr
    r = run_cli("compare", str(good), str(good), "--price-in", "1")
    assert r.returncode == 2 and "--price-out" in r.stderr


class _EchoingJudge:
    """The scripted LLM, except for a broken deepening template (its line against naming
    the markers removed): its rewrites come back behind the template's "#Harder Task#"
    marker, the parent with nothing added but a "Thanks."; and the judge, shown such a
    rewrite, only echoes it behind the marker, stating no verdict. Read by its words, that
    reply once passed every broken candidate ("Harder" read as "not equal")."""

    def __init__(self) -> None:
        from evolviz.testing.evol_responder import EvolResponder, prompt_kind

        self.inner, self.kind = EvolResponder(p_copy_marker=0, p_identical=0, p_empty=0,
                                              p_equal=0, p_sorry=0, p_stopwords=0), prompt_kind

    def __call__(self, request):
        user = str(request["messages"][-1]["content"])
        first = str(request["messages"][1]["content"]) if len(request["messages"]) > 1 else user
        kind = self.kind(request)
        if kind == "rewrite" and "asking for more depth" in user and "Do not mention" not in user:
            parent = user.split("#Original Task#")[1].split("#Harder Task#")[0].strip()
            return f"#Harder Task# {parent} Thanks."
        if kind.startswith("equality") and "Thanks." in first.split("Task B:")[-1]:
            return "#Harder Task# " + first.split("Task B:")[1].split("Answer with")[0].strip()
        return self.inner(request)


def test_compare_flags_a_broken_template_whose_judge_echoes_it(tmp_path, seeds_file):
    from evolviz.testing import FakeOpenAIServer

    seeds = seeds_file(80)
    with FakeOpenAIServer(_EchoingJudge()) as server:
        good = _run(seeds, tmp_path / "good.db", server, "--no-structured-judge")
        broken_dir = tmp_path / "broken"
        broken_dir.mkdir()
        from conftest import ROOT

        text = (ROOT / "evolviz" / "templates" / "chat" / "deepening.toml").read_text()
        # The broken edit: the instruction not to mention the markers is gone.
        text = "\n".join(x for x in text.splitlines() if "Do not mention" not in x)
        (broken_dir / "deepening.toml").write_text(text + "\n")
        broken = _run(seeds, tmp_path / "broken.db", server, "--no-structured-judge",
                      "--templates", str(broken_dir))
    report = _compare(good, broken)
    flagged = {s["name"] for s in report["significant"] if s["kind"] == "operator"}
    assert flagged == {"deepening"}
    deepening = next(t for t in report["tests"] if t["name"] == "deepening")
    assert deepening["b"]["value"] < 0.1 < 0.5 < deepening["a"]["value"]
