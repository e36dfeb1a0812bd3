"""The dataset stage, gate by gate: the normal form, the settings, benchmark contamination and
duplicates (exact, near), each decided in slot order whatever the arrival order.

The gates inside real runs (kill -9, concurrency, the what-if, the CLI) are
tests/test_gates_in_runs.py."""

import json
import random

import pytest

from evolviz.config import RunConfig
from evolviz.errors import ConfigError, InputError
from evolviz.gates import (
    DatasetStage,
    GateConfig,
    NgramIndex,
    load_benchmark,
    normal_form,
)
from evolviz.gates.decontam import BenchmarkItem
from evolviz.records import Candidate

# Benchmark-style items (written for these tests, in the style of GSM8K and MT-bench).
GSM = [
    "A baker makes 24 loaves of bread every morning and sells three quarters of them before "
    "noon. If each loaf costs 4 dollars, how much money does the baker make before noon?",
    "Tom has twice as many marbles as Jerry, and together they have 36 marbles. How many "
    "marbles does Tom have?",
    "A train leaves the station at 9 am travelling at 60 miles per hour. How far has it "
    "gone by half past eleven?",
]


MT = ["Compose an engaging travel blog post about a recent trip to Hawaii, highlighting "
      "cultural experiences and must-see attractions.", "Short item."]


def cand(slot, text, *, gen=1, parent=None, status="accepted", rejected_by=None):
    return Candidate(id=f"g{gen}-{slot:06d}", generation=gen, slot=slot,
                     parent_id=parent or f"seed-{slot:06d}", seed_id=f"seed-{slot:06d}",
                     operator="deepening", parent_instruction="p", status=status,
                     rejected_by=rejected_by, instruction=text, answer="An answer.")


def test_normal_form_ignores_case_spacing_and_edge_punctuation_unicode_aware():
    same = ["Sort the list!", "  sort THE\tlist. ", "«Sort the list»", "Sort — the list…",
            "ＳＯＲＴ the list"]  # full-width letters fold under NFKC
    assert {normal_form(s) for s in same} == {"sort the list"}
    assert normal_form("Grüße an die STRASSE") == normal_form("grüsse an die Straße")
    # Punctuation inside a word is part of it: these are different questions.
    assert normal_form("What is 2*2?") != normal_form("What is 2/2?")
    assert normal_form("Learn C++") != normal_form("Learn C")


def test_gate_config_validates_and_round_trips_with_the_run_config():
    g = GateConfig(near_dup=0.9, decontaminate=("a.jsonl",), decontaminate_field="q",
                   decontaminate_ngram=10)
    assert GateConfig.from_dict(g.to_dict()) == g
    rc = RunConfig(seed=3, gates=g)
    assert RunConfig.from_dict(json.loads(json.dumps(rc.to_dict()))).gates == g
    # A store written before the gates existed: duplicates on, nothing else.
    old = rc.to_dict()
    del old["gates"]
    assert RunConfig.from_dict(old).gates == GateConfig()
    assert GateConfig(near_dup=1.0).near_dup == 1.0
    for bad in (0, 0.0, -0.5, 1.01, 2):
        with pytest.raises(ConfigError, match=r"\(0, 1\]"):
            GateConfig(near_dup=bad)
    with pytest.raises(ConfigError, match="ngram"):
        GateConfig(decontaminate_ngram=3)


def index_of(texts, file="gsm8k_test.jsonl", n=13):
    return NgramIndex([BenchmarkItem(file, i + 1, i, t) for i, t in enumerate(texts)], n)


def test_a_shared_13_word_run_is_found_and_quoted_despite_case_and_punctuation():
    ix = index_of(GSM + MT)
    leaked = ("Solve step by step: a BAKER makes 24 loaves of bread every morning, and "
              "sells three quarters of them before noon; what is the revenue?")
    m = ix.find(leaked)
    assert m is not None and m.item.index == 0 and m.item.file == "gsm8k_test.jsonl"
    # The quote runs as far as the shared words go, not just 13 of them.
    assert m.shared == ("a baker makes 24 loaves of bread every morning and sells three "
                        "quarters of them before noon")
    # "three-quarters" is one word, so the same text hyphenated shares only 11 in a row.
    assert ix.find(leaked.replace("three quarters", "three-quarters")) is None
    eleven = "tom has twice as many marbles as jerry and together they have"
    assert ix.find(eleven + " forty marbles") is None
    assert ix.find("Write a haiku about autumn.") is None
    assert ix.too_short == 1  # "Short item." can share no 13-gram


def test_batch_lookup_matches_one_by_one_and_the_earliest_item_wins():
    shared = ("Tom has twice as many marbles as Jerry, and together they have 36 marbles. "
              "How many marbles does Tom have?")
    ix = index_of([*GSM, "Preface. " + shared])  # item 3 repeats item 1's words
    texts = [shared, "nothing to see here at all, just a question about the weather today "
             "and tomorrow", GSM[2].upper(), ""] * 50
    batch = ix.find_many(texts)
    assert [m.item.index if m else None for m in batch] == \
        [m.item.index if m else None for m in map(ix.find, texts)]
    assert batch[0].item.index == 1  # not 3: the earlier item
    assert batch[2].item.index == 2 and batch[1] is None and batch[3] is None


def test_benchmark_files_load_in_every_seed_format_and_bad_ones_name_the_file(tmp_path):
    (tmp_path / "b.jsonl").write_text("".join(json.dumps({"question": q, "answer": "42"}) + "\n"
                                              for q in GSM))
    (tmp_path / "b.csv").write_text("id,prompt\n" + "".join(f'{i},"{q}"\n'
                                                            for i, q in enumerate(GSM)))
    (tmp_path / "alpaca.json").write_text(json.dumps([{"instruction": q, "input": "",
                                                       "output": "x"} for q in MT]))
    assert len(load_benchmark(tmp_path / "b.jsonl", "question")[0]) == 3
    items, info = load_benchmark(tmp_path / "b.csv", "prompt")
    assert items[1].text == GSM[1] and info["items"] == 3 and len(info["sha256"]) == 64
    assert load_benchmark(tmp_path / "alpaca.json")[0][0].text == MT[0]
    with pytest.raises(InputError, match=r"missing\.jsonl: no such file"):
        load_benchmark(tmp_path / "missing.jsonl")
    (tmp_path / "empty.jsonl").write_text("")
    with pytest.raises(InputError, match=r"empty\.jsonl: the file is empty"):
        load_benchmark(tmp_path / "empty.jsonl")
    with pytest.raises(InputError, match=r"b\.jsonl.*decontaminate_field"):
        load_benchmark(tmp_path / "b.jsonl")  # no 'instruction' key: which one is the text?
    (tmp_path / "blank.jsonl").write_text('{"question": ""}\n{"question": "  "}\n')
    with pytest.raises(InputError, match=r"blank\.jsonl: no item with a usable text field"):
        load_benchmark(tmp_path / "blank.jsonl", "question")


def test_exact_duplicates_the_earlier_slot_wins_whatever_the_arrival_order():
    seeds = [("seed-000000", "Explain recursion."), ("seed-000001", "Name three rivers.")]
    cands = [cand(0, "Explain recursion with an example."),
             cand(1, "explain recursion, with an example!"),
             cand(2, "Name three rivers."),  # equals a seed
             cand(3, "Something new.", status="rejected", rejected_by="sorry_short_answer"),
             cand(4, "something new"),  # the equal text before it was rejected: not in the set
             cand(5, "EXPLAIN RECURSION WITH AN EXAMPLE")]
    for order in (cands, cands[::-1], random.Random(3).sample(cands, len(cands))):
        stage = DatasetStage(GateConfig(), seeds)
        rejected = {c.id: c for c in stage.judge(order)}
        assert sorted(rejected) == ["g1-000001", "g1-000002", "g1-000005"]
        assert rejected["g1-000001"].rejection.detail == {"of": "g1-000000", "kind": "exact"}
        assert "duplicates g1-000000" in rejected["g1-000001"].rejection.reason
        assert rejected["g1-000002"].rejection.detail["of"] == "seed-000001"
        assert all(c.status == "rejected" and c.rejected_by == "duplicate"
                   for c in rejected.values())
    # The next generation is judged against what the first kept.
    assert [c.id for c in stage.judge([cand(0, "Something new!", gen=2)])] == ["g2-000000"]
    assert DatasetStage(GateConfig(dedup=False), seeds).judge(cands) == []


def test_contamination_is_judged_before_duplication_and_names_file_and_item(tmp_path):
    bench = tmp_path / "mt_bench.jsonl"
    bench.write_text("".join(json.dumps({"turns": [q]}) + "\n" for q in MT))
    cfg = GateConfig(decontaminate=(str(bench),), decontaminate_field="turns")
    with pytest.raises(InputError):  # a list is not text: the loader says so
        DatasetStage(cfg, [])
    bench.write_text("".join(json.dumps({"prompt": q}) + "\n" for q in MT))
    cfg = cfg.with_(decontaminate_field="prompt")
    stage = DatasetStage(cfg, [])
    leak = "Please compose an engaging travel blog post about a recent trip to Hawaii, " \
           "highlighting cultural experiences."
    out = stage.judge([cand(0, leak), cand(1, leak), cand(2, "A clean instruction.")])
    assert [(c.id, c.rejected_by) for c in out] == [("g1-000000", "contaminated"),
                                                    ("g1-000001", "contaminated")]
    v = out[0].rejection
    assert "mt_bench.jsonl item 0 (line 1)" in v.reason
    assert '"compose an engaging travel blog post about a recent trip to hawaii' in v.reason
    assert v.detail["shared_words"] == 15 and v.detail["file"] == str(bench)


def test_near_duplicates_use_the_real_encoder_and_skip_a_candidates_own_ancestors(tmp_path):
    from evolviz.embeddings.encoder import Encoder

    enc = Encoder(cache_dir=tmp_path / "emb")
    seeds = [("seed-000000", "Write a short poem about a bakery."),
             ("seed-000001", "Explain compound interest to a ten-year-old.")]
    stage = DatasetStage(GateConfig(near_dup=0.9), seeds, encoder=enc)
    cands = [cand(0, "Write a short poem about a bakery at dawn, in four lines."),
             cand(1, "Write a brief poem about a bakery at dawn, in four lines."),
             cand(2, "List the planets of the solar system in order.")]
    out = stage.judge(cands)
    assert [c.id for c in out] == ["g1-000001"]
    d = out[0].rejection.detail
    assert d["kind"] == "near" and d["of"] == "g1-000000" and 0.9 <= d["score"] <= 1.0
    assert "near duplicate of g1-000000 (cosine" in out[0].rejection.reason
    # Slot 0 is close to its own seed (that is what evolving does) and was kept; a child
    # of slot 0 is close to slot 0 and kept too, but another seed's child is not.
    vec = enc.encode(["Write a short poem about a bakery at dawn, in four lines, rhyming."])
    assert stage.near.nearest(vec[0]).of == "g1-000000"
    gen2 = [cand(0, "Write a short poem about a bakery at dawn, in four lines, rhyming.",
                 gen=2, parent="g1-000000"),
            Candidate(**{**cand(1, "Write a short poem about a bakery at dawn, in four "
                                   "lines, rhymed.", gen=2).__dict__,
                         "seed_id": "seed-000001", "parent_id": "seed-000001"})]
    assert [c.id for c in stage.judge(gen2)] == ["g2-000001"]
