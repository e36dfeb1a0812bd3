"""Pool semantics, operator choice and streaming, against a real scripted endpoint."""

from collections import Counter

import pytest

from evolviz.config import RunConfig, operator_plan
from evolviz.errors import ConfigError, StoreMismatchError
from evolviz.rules import RuleConfig
from evolviz.run.engine import Evolution, reapply_rules
from evolviz.run.llm import LLMClient, ResponseCache, Sampling
from evolviz.seeds import Seed
from evolviz.store import RunStore
from evolviz.templates import TemplateSet
from evolviz.testing import FakeOpenAIServer, Reply
from evolviz.testing.evol_responder import EvolResponder, prompt_kind
from evolviz.testing.synthetic import synthetic_instructions as make_seeds

OPS = ["add_constraints", "complicate_input", "concretizing", "deepening",
       "increase_reasoning", "mutation"]


def seeds(n):
    return [Seed(id=f"seed-{i:06d}", instruction=t) for i, t in enumerate(make_seeds(n))]


def evolution(tmp_path, server, n=10, config=None, name="run.db", cache=False, **kw):
    store = RunStore(tmp_path / name)
    client = LLMClient(server.base_url, models="fake-model", concurrency=4, backoff_base=0.01,
                       max_retries=kw.pop("max_retries", 2), timeout=2.0,
                       cache=ResponseCache(tmp_path / name) if cache else None)
    return Evolution(store, client, TemplateSet.load(), config or RunConfig(seed=7),
                     seeds=seeds(n), **kw)


def test_operator_plan_is_seeded_and_uniform_by_default():
    a = operator_plan(1, 1, OPS, [1] * 6, 6000)
    assert a == operator_plan(1, 1, OPS, [1] * 6, 6000)
    assert a != operator_plan(2, 1, OPS, [1] * 6, 6000)
    assert a != operator_plan(1, 2, OPS, [1] * 6, 6000)
    counts = Counter(a)
    assert set(counts) == set(OPS)
    assert all(900 < n < 1100 for n in counts.values()), counts  # ~1000 each


def test_operator_weights_shift_the_draw_and_are_validated():
    weights = RunConfig(operator_weights={"mutation": 0}).weights_for(OPS)
    assert "mutation" not in operator_plan(0, 1, OPS, weights, 2000)
    with pytest.raises(ConfigError, match="unknown operator"):
        RunConfig(operator_weights={"nope": 1}).weights_for(OPS)
    with pytest.raises(ConfigError, match="every operator weight is 0"):
        RunConfig(operator_weights=dict.fromkeys(OPS, 0)).weights_for(OPS)


async def test_accepted_replaces_parent_and_failed_parent_is_evolved_again(tmp_path):
    # Every rewrite of seed 3 is answered with a refusal, so seed 3 never passes; the rest
    # pass. Seed 3 must then be the parent again in generation 2 (paper's pool semantics).
    base = EvolResponder(p_copy_marker=0, p_identical=0, p_empty=0, p_equal=0, p_sorry=0,
                         p_stopwords=0)
    victim = make_seeds(10)[3]

    def responder(req):
        if prompt_kind(req) == "answer" and victim in req["messages"][-1]["content"]:
            return "Sorry, no."
        return base(req)

    with FakeOpenAIServer(responder) as server:
        evo = evolution(tmp_path, server, n=10)
        await evo.run(2)
    store = evo.store
    g1 = {c.slot: c for c in store.candidates(generation=1)}
    g2 = {c.slot: c for c in store.candidates(generation=2)}
    assert g1[3].status == "rejected" and g1[3].rejected_by == "sorry_short_answer"
    assert g2[3].parent_id == "seed-000003"  # evolved again from the seed
    for slot in set(g1) - {3}:
        assert g1[slot].status == "accepted"
        assert g2[slot].parent_id == g1[slot].id  # the child replaced its parent
        assert g2[slot].seed_id == f"seed-{slot:06d}"
    assert [m.id for m in store.pool(3)][3] == "seed-000003"


async def test_step_yields_each_candidate_as_it_commits(tmp_path):
    with FakeOpenAIServer(EvolResponder(), latency=0.01) as server:
        evo = evolution(tmp_path, server, n=12)
        seen = []
        async for cand in evo.step():
            # Already in the store when we see it: a UI can rely on that.
            assert evo.store.candidate(cand.id) is not None
            seen.append(cand.slot)
        assert sorted(seen) == list(range(12))
        assert evo.next_generation() == 2
        stats = evo.store.count_generation(1)
        assert stats.finished and stats.done == stats.pool_size == 12


async def test_records_hold_prompts_responses_and_verdicts(tmp_path):
    with FakeOpenAIServer(EvolResponder(p_copy_marker=0, p_identical=0, p_empty=0, p_equal=0,
                                        p_sorry=0, p_stopwords=0)) as server:
        evo = evolution(tmp_path, server, n=3, config=RunConfig(seed=1, judge_difficulty=True))
        await evo.run(1)
    for c in evo.store.candidates():
        assert c.status == "accepted"
        assert set(c.calls) == {"rewrite", "equality", "answer", "difficulty"}
        assert c.parent_instruction in c.calls["rewrite"].messages[-1]["content"]
        assert c.calls["rewrite"].content.startswith(c.parent_instruction)
        assert c.instruction and c.answer and 1 <= c.difficulty <= 10
        assert {v.rule for v in c.verdicts} == {"rewrite_invalid", "copied_prompt_wording",
                                               "not_a_task", "no_information_gain",
                                               "sorry_short_answer", "stopwords_only_answer"}
        assert all(v.passed for v in c.verdicts)
        assert c.calls["rewrite"].model == "fake-model" and c.tokens > 0
        assert c.calls["rewrite"].sampling["temperature"] == 0.7


async def test_a_failing_llm_marks_the_candidate_failed_and_the_generation_completes(tmp_path):
    with FakeOpenAIServer(EvolResponder()) as server:
        evo = evolution(tmp_path, server, n=6, max_retries=0)
        # A call has succeeded: the endpoint is known to work, so the 500s are failures of
        # their calls (on an endpoint that never answered, they would stop the run).
        await evo.client.chat("evolver", [{"role": "user", "content": "hi"}], Sampling())
        server.force_next("500", n=3)
        await evo.run(1)
    stats = evo.store.count_generation(1)
    assert stats.failed >= 1 and stats.done == 6 and stats.finished
    failed = list(evo.store.candidates(status="failed"))
    assert all(c.error_class == "ServerError" for c in failed)
    assert all(c.calls[next(iter(c.calls))].error_class == "ServerError" for c in failed)


async def test_switched_off_rules_do_not_run(tmp_path):
    cfg = RunConfig(seed=3, rules=RuleConfig().without(["no_information_gain",
                                                        "sorry_short_answer"]))
    with FakeOpenAIServer(EvolResponder(p_sorry=1.0)) as server:
        evo = evolution(tmp_path, server, n=5, config=cfg)
        await evo.run(1)
        kinds = Counter(prompt_kind(r) for r in server.stats.bodies)
    assert kinds["equality"] == 0
    assert evo.store.count_generation(1).rejected.get("sorry_short_answer", 0) == 0


async def test_same_seed_and_cache_replay_an_identical_run_for_free(tmp_path):
    with FakeOpenAIServer(EvolResponder()) as server:
        first = evolution(tmp_path, server, n=8, cache=True)
        await first.run(2)
        calls = server.stats.requests
        # Same seed, same cache file, fresh run tables: copy the cache into a new store.
        import shutil

        first.store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        shutil.copy(tmp_path / "run.db", tmp_path / "replay.db")
        store = RunStore(tmp_path / "replay.db")
        store.conn.executescript("DELETE FROM candidates; DELETE FROM generations; "
                                 "DELETE FROM pool WHERE generation > 1;")
        client = LLMClient(server.base_url, models="fake-model",
                           cache=ResponseCache(tmp_path / "replay.db"))
        replay = Evolution(store, client, TemplateSet.load(), RunConfig(seed=7),
                           seeds=seeds(8))
        await replay.run(2)
        assert server.stats.requests == calls  # nothing was paid for twice
    a = [(c.id, c.status, c.instruction, c.answer) for c in first.store.candidates()]
    b = [(c.id, c.status, c.instruction, c.answer) for c in replay.store.candidates()]
    assert a == b


async def test_resume_refuses_other_seeds_or_seed(tmp_path):
    with FakeOpenAIServer(EvolResponder()) as server:
        await evolution(tmp_path, server, n=4).run(1)
        with pytest.raises(StoreMismatchError, match="other seeds"):
            evolution(tmp_path, server, n=5)
        with pytest.raises(StoreMismatchError, match="seed 7"):
            evolution(tmp_path, server, n=4, config=RunConfig(seed=8))


async def test_breaking_off_a_step_keeps_what_finished_and_resumes(tmp_path):
    with FakeOpenAIServer(EvolResponder(), latency=0.02) as server:
        evo = evolution(tmp_path, server, n=20)
        got = 0
        async for _ in evo.step():
            got += 1
            if got == 5:
                break
        assert 5 <= evo.store.candidate_count(1) < 20
        assert evo.next_generation() == 1
        await evo.run(1)
        assert evo.store.candidate_count(1) == 20
        assert evo.next_generation() == 2


async def test_a_new_step_stops_the_workers_of_one_broken_off_but_not_yet_closed(tmp_path):
    # `break` does not close an async generator: Python finalizes it later (or never,
    # while a reference lives), and its workers keep evolving slots the next step also
    # takes. Holding the iterator here makes that order certain rather than a race.
    with FakeOpenAIServer(EvolResponder(), latency=0.02) as server:
        evo = evolution(tmp_path, server, n=20)
        broken_off = evo.step()
        got = 0
        async for _ in broken_off:
            got += 1
            if got == 3:
                break
        await evo.run(1)
        cands = list(evo.store.candidates(generation=1))
        assert sorted(c.slot for c in cands) == list(range(20))
        assert evo.next_generation() == 2
        await broken_off.aclose()  # closing it late changes nothing stored
        assert evo.store.candidate_count(1) == 20


async def test_reapply_rules_changes_thresholds_without_llm_calls(tmp_path):
    with FakeOpenAIServer(EvolResponder(p_copy_marker=0, p_identical=0, p_empty=0, p_equal=0,
                                        p_sorry=0, p_stopwords=0)) as server:
        evo = evolution(tmp_path, server, n=4)
        await evo.run(1)
        n = server.stats.requests
        strict = RunConfig(seed=7, rules=RuleConfig(copied_ngram=3))
        # Answers from EvolResponder are ~25 words: a 'sorry' threshold cannot matter, but
        # a marker that every answer's instruction holds can.
        marked = RunConfig(seed=7, rules=RuleConfig(extra_markers=("step",)))
        for c in evo.store.candidates():
            again = reapply_rules(c, strict, evo.templates)
            failing = [v for v in again.verdicts if not v.passed]
            assert again.status == ("rejected" if failing else c.status)
            assert again.rejected_by == (failing[0].rule if failing else c.rejected_by)
            flagged = reapply_rules(c, marked, evo.templates)
            if "step" in (c.instruction or "").lower():
                assert flagged.status == "rejected"
                assert flagged.rejected_by == "copied_prompt_wording"
        assert server.stats.requests == n


def test_reapply_rules_on_a_refusal_with_a_higher_threshold():
    from evolviz.records import Candidate
    from evolviz.rules import Verdict
    from evolviz.run.llm import CallResult

    c = Candidate(id="g1-000000", generation=1, slot=0, parent_id="seed-000000",
                  seed_id="seed-000000", operator="deepening", parent_instruction="Say hi.",
                  status="accepted", instruction="Say hi to a friend in Welsh.",
                  answer="Sorry, " + "word " * 100,
                  verdicts=[Verdict("no_information_gain", True, "judge: not equal")],
                  calls={"rewrite": CallResult("evolver", "m", [], {},
                                               content="Say hi to a friend in Welsh.",
                                               finish_reason="stop"),
                         "answer": CallResult("answerer", "m", [], {}, content="x")})
    ts = TemplateSet.load()
    assert reapply_rules(c, RunConfig(), ts).status == "accepted"
    stricter = reapply_rules(c, RunConfig(rules=RuleConfig(sorry_max_words=500)), ts)
    assert stricter.status == "rejected" and stricter.rejected_by == "sorry_short_answer"
    assert any(v.rule == "no_information_gain" for v in stricter.verdicts)


def test_reply_with_length_is_rejected_as_truncated(tmp_path):
    import asyncio

    def responder(req):
        if prompt_kind(req) == "rewrite":
            return Reply("Write a very long", finish_reason="length")
        return "fine"

    with FakeOpenAIServer(responder) as server:
        evo = evolution(tmp_path, server, n=2)
        asyncio.run(evo.run(1))
    for c in evo.store.candidates():
        assert c.rejected_by == "rewrite_invalid" and "cut off" in c.rejection.reason
        assert "answer" not in c.calls  # no money spent answering an unusable rewrite


async def test_seeds_are_rated_before_generation_one_and_only_once(tmp_path):
    from evolviz.run.difficulty import rate_seeds

    with FakeOpenAIServer(EvolResponder()) as server:
        evo = evolution(tmp_path, server, n=5, config=RunConfig(seed=2, judge_difficulty=True))
        await evo.run(1)
        rated = {r["id"]: r["difficulty"] for r in evo.store.seed_rows()}
        assert all(1 <= d <= 10 for d in rated.values()) and len(rated) == 5
        n = server.stats.requests
        assert await rate_seeds(evo.store, evo.client, evo.templates, evo.config) == 0
        assert server.stats.requests == n  # a resumed run does not pay twice
    raw = [r["difficulty_raw"] for r in evo.store.seed_rows()]
    assert all(r.startswith("Rating:") for r in raw)
