"""`evolviz export --format hf`: a folder `datasets.load_dataset` reads, with lineage
columns and a dataset card that says how the data was made."""

import json
import struct
import zlib

import pytest
import yaml

datasets = pytest.importorskip("datasets")

from evolviz.store import RunStore  # noqa: E402
from evolviz.testing import FakeOpenAIServer  # noqa: E402
from evolviz.testing.dup_responder import DuplicatingResponder  # noqa: E402
from evolviz.testing.evol_responder import EvolResponder  # noqa: E402
from evolviz.testing.synthetic import synthetic_instructions  # noqa: E402

from conftest import run_cli  # noqa: E402


class Mixed:
    """Colliding rewrites for a third of the seeds, the usual scripted mix for the rest:
    a run where rules 1-4 and the gates all reject something."""

    def __init__(self):
        self.dup, self.evol = DuplicatingResponder(topics=4), EvolResponder()

    def __call__(self, request):
        user = str(request["messages"][-1]["content"])
        return (self.dup if "poem" in user or "In depth" in user else self.evol)(request)


def load(folder):
    """`datasets.load_dataset` with a cache of this folder's own: its shared cache keys a
    local folder by its name and file layout, so two exports named alike (every test's
    `hf`) would otherwise read each other's cached rows."""
    return datasets.load_dataset(str(folder), cache_dir=str(folder.parent / f"{folder.name}.cache"))


def card(folder):
    text = (folder / "README.md").read_text(encoding="utf-8")
    assert text.startswith("---\n")
    head, body = text[4:].split("\n---\n", 1)
    return yaml.safe_load(head), body


def png(path):
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    raw = zlib.compress(b"\x00\xff\x00\x00")
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2,
                                                                       0, 0, 0))
                     + chunk(b"IDAT", raw) + chunk(b"IEND", b""))
    return path


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hf")
    seeds = tmp / "seeds.txt"
    seeds.write_text("\n".join(synthetic_instructions(60)) + "\n")
    bench = tmp / "bench.jsonl"
    bench.write_text(json.dumps({"q": "Quiz: in depth, describe topic number 2, then stop "
                                      "and explain."}) + "\n")
    store = tmp / "run.db"
    with FakeOpenAIServer(Mixed()) as server:
        r = run_cli("run", str(seeds), "--store", str(store), "--generations", "3",
                    "--base-url", server.base_url, "--model", "fake-model", "--no-progress",
                    "--judge-difficulty", "--decontaminate", str(bench),
                    "--decontaminate-field", "q", "--decontaminate-ngram", "6")
        assert r.returncode == 0, r.stderr
    return tmp, store, bench


def test_hf_folder_loads_with_datasets_and_holds_only_accepted_rows(run):
    tmp, store, _ = run
    out = tmp / "hf"
    r = run_cli("export", str(store), "--format", "hf", "-o", str(out), "--thumbnail",
                str(png(tmp / "map.png")))
    assert r.returncode == 0, r.stderr
    ds = load(out)["train"]
    with RunStore(store, create=False) as s:
        cands = {c.id: c for c in s.candidates()}
        stats = s.generation_stats()
    accepted = {i for i, c in cands.items() if c.status == "accepted"}
    assert set(ds["id"]) == accepted and len(ds) == len(accepted)
    rejected_by = {c.rejected_by for c in cands.values() if c.status == "rejected"}
    assert {"duplicate", "contaminated"} <= rejected_by  # and none of them exported
    assert {"id", "parent_id", "seed_id", "generation", "operator", "difficulty",
            "rules_passed", "instruction", "input", "output"} <= set(ds.column_names)
    row = ds[0]
    c = cands[row["id"]]
    assert (row["parent_id"], row["seed_id"], row["generation"], row["operator"],
            row["instruction"], row["output"]) == (c.parent_id, c.seed_id, c.generation,
                                                   c.operator, c.instruction, c.answer)
    assert row["difficulty"] is not None and 1 <= row["difficulty"] <= 10
    assert set(row["rules_passed"]) == {"rewrite_invalid", "not_a_task", "no_information_gain",
                                        "sorry_short_answer", "stopwords_only_answer",
                                        "copied_prompt_wording", "contaminated", "duplicate"}

    meta, body = card(out)
    ev = meta["evolviz"]
    assert meta["configs"][0]["data_files"][0]["path"] == "data/train-*.parquet"
    assert ev["rows"] == len(ds) and ev["seeds"]["count"] == 60
    assert ev["seeds"]["files"] == [str(tmp / "seeds.txt")]
    assert ev["models"]["evolver"] == {"fake-model": len(cands)}
    assert {t["name"] for t in ev["templates"]} >= {"deepening", "answer", "equality"}
    assert all(len(t["sha256"]) == 64 for t in ev["templates"])
    assert ev["gates"]["decontaminate_ngram"] == 6 and ev["gates"]["dedup"] is True
    assert ev["benchmarks"]["files"][0]["items"] == 1
    assert ev["sampling"]["judge"]["temperature"] == 0.0
    assert ev["rules"]["sorry_max_words"] == 80
    assert [g["accepted"] for g in ev["per_generation"]] == [g.accepted for g in stats]
    n_rej = {}
    for g in stats:
        for k, v in g.rejected.items():
            n_rej[k] = n_rej.get(k, 0) + v
    assert ev["rejections_by_rule"] == n_rej
    ops = ev["acceptance_by_operator"]
    assert sum(o["accepted"] for o in ops.values()) == len(ds)
    assert ev["rejudged"] is None and ev["include_seeds"] is False
    assert (out / "map.png").exists() and "![map of the run](map.png)" in body
    assert "| `duplicate` |" in body and "## Acceptance by operator" in body


def test_include_seeds_adds_generation_0_and_closes_the_lineage(run):
    tmp, store, _ = run
    out = tmp / "hf_seeds"
    assert run_cli("export", str(store), "--format", "hf", "-o", str(out),
                   "--include-seeds").returncode == 0
    ds = load(out)["train"]
    ids = set(ds["id"])
    gen0 = [r for r in ds if r["generation"] == 0]
    assert len(gen0) == 60 and all(r["parent_id"] is None for r in gen0)
    # Every row's parent is in the export: an instruction's evolution can be followed
    # back to its seed from the data alone.
    assert all(r["parent_id"] in ids for r in ds if r["generation"] > 0)
    assert card(out)[0]["evolviz"]["include_seeds"] is True


def test_rejudging_is_explicit_and_recorded(run):
    tmp, store, bench = run
    # Re-judging with the run's own settings reproduces the run's own export.
    same = tmp / "hf_same"
    assert run_cli("export", str(store), "--format", "hf", "-o", str(same), "--rejudge",
                   "--decontaminate", str(bench), "--decontaminate-field", "q",
                   "--decontaminate-ngram", "6").returncode == 0
    plain = tmp / "hf_plain"
    assert run_cli("export", str(store), "--format", "hf", "-o", str(plain)).returncode == 0
    plain = load(plain)["train"]
    assert load(same)["train"]["id"] == plain["id"]
    r = run_cli("export", str(store), "--format", "hf", "-o", str(tmp / "x"), "--no-dedup")
    assert r.returncode == 2 and "--rejudge" in r.stderr and not (tmp / "x").exists()
    r = run_cli("export", str(store), "--format", "hf", "-o", str(tmp / "x"),
                "--include-rejected")
    assert r.returncode == 2 and "rejected rows never go in" in r.stderr
    out = tmp / "hf_undup"
    r = run_cli("export", str(store), "--format", "hf", "-o", str(out), "--rejudge",
                "--no-dedup")
    assert r.returncode == 0, r.stderr
    ds = load(out)["train"]
    with RunStore(store, create=False) as s:
        cands = list(s.candidates())
    gated = {c.id for c in cands if c.rejected_by in ("duplicate", "contaminated")}
    kept = {c.id for c in cands if c.status == "accepted"}
    # The gates given replace the run's: no file given, so no contamination check either.
    assert gated and set(ds["id"]) == kept | gated
    meta, body = card(out)
    assert meta["evolviz"]["rejudged"]["gates"]["dedup"] is False
    assert "Re-judged at export" in body
    assert all("duplicate" not in r and "contaminated" not in r for r in ds["rules_passed"])
    assert len(ds) > len(plain)
    r = run_cli("export", str(store), "--format", "hf", "-o", str(out))
    assert r.returncode == 2 and "not empty" in r.stderr


def test_rejudging_rules_keeps_the_runs_gates_and_says_so(run):
    tmp, store, _ = run
    out = tmp / "hf_rules"
    # Rule 2 and rule 3 off, and answer_refusal too (it reads the same refusals without
    # needing the word "sorry"): then the answered refusals come back.
    r = run_cli("export", str(store), "--format", "hf", "-o", str(out), "--rejudge",
                "--no-rule", "sorry_short_answer", "--no-rule", "stopwords_only_answer",
                "--no-rule", "answer_refusal")
    assert r.returncode == 0, r.stderr
    ds = load(out)["train"]
    with RunStore(store, create=False) as s:
        cands = list(s.candidates())
    answered_refusals = {c.id for c in cands if c.rejected_by in (
        "sorry_short_answer", "stopwords_only_answer")}
    assert answered_refusals and answered_refusals <= set(ds["id"])
    contaminated = {c.id for c in cands if c.rejected_by == "contaminated"}
    assert contaminated and not contaminated & set(ds["id"])  # the run's gates still apply
    ev = card(out)[0]["evolviz"]
    assert "sorry_short_answer" not in ev["rules"]["enabled"]
    assert ev["rejudged"]["rules"]["enabled"] == ev["rules"]["enabled"]
    assert ev["rejudged"]["gates"] is None and ev["gates"]["decontaminate_ngram"] == 6


def test_diversity_numbers_come_from_cached_embeddings_only(run):
    from evolviz.embeddings.encoder import Encoder

    tmp, store, _ = run
    cache = tmp / "cache"
    env = {"EVOLVIZ_CACHE_DIR": str(cache)}
    assert run_cli("export", str(store), "--format", "hf", "-o", str(tmp / "d0"),
                   env=env).returncode == 0
    meta, body = card(tmp / "d0")
    assert meta["evolviz"]["diversity"] is None and "Not computed" in body
    assert not cache.exists()  # looking did not create a cache
    with RunStore(store, create=False) as s:
        texts = [c.instruction for c in s.candidates(status="accepted")]
    with Encoder(cache_dir=cache / "embeddings") as enc:  # what drawing a map leaves behind
        enc.encode(texts)
    assert run_cli("export", str(store), "--format", "hf", "-o", str(tmp / "d1"),
                   env=env).returncode == 0
    div = card(tmp / "d1")[0]["evolviz"]["diversity"]
    assert div["all"]["n"] == len(texts) and div["all"]["vendi_score"] > 1
    assert 0 < div["per_generation"]["1"]["mean_pairwise_cosine_distance"] < 2


def test_the_card_counts_models_by_the_role_each_call_records():
    """Re-asks are judge calls: the card must not list `equality_reask` as a role."""
    from evolviz.calls import CallResult
    from evolviz.exports.hf import _Stats
    from evolviz.records import Candidate

    calls = {name: CallResult(role, f"{role}-model", [], {}) for name, role in (
        ("rewrite", "evolver"), ("equality", "judge"), ("equality_reask", "judge"),
        ("answer", "answerer"), ("difficulty_reask", "judge"))}
    stats = _Stats()
    stats.count(Candidate(id="g1-000000", generation=1, slot=0, parent_id="s", seed_id="s",
                          operator="deepening", parent_instruction="p", status="accepted",
                          calls=calls))
    assert stats.models == {"evolver": {"evolver-model": 1}, "judge": {"judge-model": 3},
                            "answerer": {"answerer-model": 1}}
