"""Reference sets on the real messy files, the reference map, a run drawn on it, and the CLI
entry. Uses ../shared/refdata (or $EVOLVIZ_REFERENCE_DIR) and skips cleanly without it.

The map tests share one fitted map of 300 Alpaca + 300 ShareGPT texts (module fixture).
Embeddings go to the normal evolviz cache ($EVOLVIZ_CACHE_DIR or ~/.cache/evolviz), so
only the first run on a machine pays for embedding them (about 40 s on 2 cores).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

from evolviz.maps import references
from evolviz.maps.references import find_references, load_alpaca, load_sharegpt

from conftest import REFDATA

needs_refdata = pytest.mark.skipif(not (REFDATA / "alpaca").is_dir(),
                                   reason=f"no reference data at {REFDATA}")
SAMPLE = 300


# -- reference sets --------------------------------------------------------------------


@needs_refdata
def test_sharegpt_first_turns_skip_and_count_the_messy_rows() -> None:
    ref = load_sharegpt(REFDATA / "sharegpt" / "sharegpt_first_turns_2978.json", sample=None)
    assert ref.total == 2978
    assert ref.skipped["system turns only"] == 16
    assert ref.skipped["starts with a gpt turn"] == 4
    assert ref.skipped["empty request"] == 1
    assert len(ref.texts) + sum(ref.skipped.values()) == 2978
    assert all(t.strip() for t in ref.texts)
    assert max(map(len, ref.texts)) > 5000  # very long turns are kept, not dropped
    assert any(not t.isascii() for t in ref.texts)  # and so is non-English text


@needs_refdata
def test_sharegpt_conversations_take_the_first_human_turn() -> None:
    path = REFDATA / "sharegpt" / "sharegpt_conversations_1000.json"
    ref = load_sharegpt(path, sample=None)
    convs = json.loads(path.read_text())
    turns = [[t for t in c["conversations"] if t["from"] != "system"] for c in convs]
    opening = {references._clean(t[0]["value"]) for t in turns if t and t[0]["from"] == "human"}
    assert ref.skipped["starts with a gpt turn"] == 338
    assert set(ref.texts) == opening - {None}


@needs_refdata
def test_alpaca_joins_input_and_samples_reproducibly() -> None:
    path = REFDATA / "alpaca" / "alpaca_data_first1727.json"
    full = load_alpaca(path, sample=None)
    assert full.total == 1727 and len(full.texts) + sum(full.skipped.values()) == 1727
    assert any("\n\n" in t for t in full.texts)
    a, b = load_alpaca(path, sample=100, seed=3), load_alpaca(path, sample=100, seed=3)
    assert a.texts == b.texts and len(a.texts) == 100
    assert load_alpaca(path, sample=100, seed=4).texts != a.texts
    seeds = references.load_reference_file(REFDATA / "alpaca" / "self_instruct_seed_tasks.jsonl",
                                           sample=None)
    assert len(seeds.texts) == 175


def test_loaders_survive_hand_made_mess(tmp_path: Path) -> None:
    alpaca = tmp_path / "a.jsonl"
    alpaca.write_text("\n".join([
        json.dumps({"instruction": "Keep me", "input": ""}),
        json.dumps({"instruction": "", "input": "x"}),
        json.dumps({"instruction": None}),
        json.dumps({"instruction": 7}),
        json.dumps(["not", "a", "dict"]),
        "{broken json",
        json.dumps({"instruction": "  \u200b "}),
        json.dumps({"instruction": "Ctrl\x07 char \ud800", "input": "Inp"}),
        json.dumps({"instruction": "Keep me", "input": ""}),
    ]), encoding="utf-8")
    ref = load_alpaca(alpaca, sample=None)
    assert ref.texts == ["Keep me", "Ctrl char \ufffd\n\nInp"]
    assert ref.skipped == {"no instruction": 4, "not an object": 2, "duplicate": 1}
    chat = tmp_path / "c.json"
    chat.write_text(json.dumps([
        {"conversations": [{"from": "system", "value": "banner"},
                           {"from": "human", "value": "after a system prompt"}]},
        {"conversations": [{"from": "gpt", "value": "later segment"},
                           {"from": "human", "value": "follow-up"}]},
        {"conversations": []},
        {"conversations": "nope"},
        {"conversations": [{"from": "human", "value": None}]},
        {"conversations": [{"from": "user", "value": "user role counts"}]},
        {"conversations": ["odd"]},
        {"id": "no conversations"},
    ]), encoding="utf-8")
    ref = load_sharegpt(chat, sample=None)
    assert ref.texts == ["after a system prompt", "user role counts"]
    assert ref.skipped == {"starts with a gpt turn": 1, "no conversation": 3,
                           "empty request": 1, "malformed turn": 1}


@needs_refdata
def test_find_references_by_folder_file_and_environment(monkeypatch: pytest.MonkeyPatch,
                                                         tmp_path: Path) -> None:
    notes: list[str] = []
    refs = find_references(REFDATA, sample=50, notes=notes)
    assert [(r.name, Path(r.source_path).name, len(r)) for r in refs] == [
        ("alpaca", "alpaca_data_first1727.json", 50),
        ("sharegpt", "sharegpt_first_turns_2978.json", 50)]
    assert "skipped" in notes[1]
    one = find_references(str(REFDATA / "sharegpt" / "sharegpt_conversations_1000.json"),
                          sample=10)
    assert [r.name for r in one] == ["sharegpt"]
    monkeypatch.setenv("EVOLVIZ_REFERENCE_DIR", str(REFDATA))
    assert [r.name for r in find_references(sample=5)] == ["alpaca", "sharegpt"]
    notes.clear()
    assert find_references(tmp_path / "missing", notes=notes) == []
    assert "does not exist" in notes[0]


def test_no_reference_offline_is_quick_and_says_so(monkeypatch: pytest.MonkeyPatch,
                                                   tmp_path: Path) -> None:
    monkeypatch.delenv("EVOLVIZ_REFERENCE_DIR", raising=False)
    monkeypatch.setenv("EVOLVIZ_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(references, "_HUB_HOST", "hub.invalid")  # never a real lookup
    notes: list[str] = []
    start = time.monotonic()
    assert find_references(None, notes=notes, timeout=1.0) == []
    assert time.monotonic() - start < 3
    assert "no reference loaded" in notes[0] and "not reachable" in notes[0]


def test_hub_rows_are_saved_in_the_refdata_layout(monkeypatch: pytest.MonkeyPatch,
                                                  tmp_path: Path) -> None:
    def fake_fetch(url: str, params: dict, timeout: float) -> dict:
        n = min(params["length"], 250 - params["offset"])
        if params["dataset"] == references.HUB_SOURCES["alpaca"]:
            rows = [{"instruction": f"task {params['offset'] + i}", "input": "", "output": "o",
                     "text": "t"} for i in range(n)]
        else:
            rows = [{"id": str(i), "conversations": [
                {"from": "human", "value": f"question {params['offset'] + i}"}]}
                for i in range(n)]
        return {"rows": [{"row_idx": i, "row": r} for i, r in enumerate(rows)]}

    references._download_hub(tmp_path, rows=300, timeout=1, fetch=fake_fetch)
    refs = references._load_path(tmp_path, sample=100, seed=0)
    assert [(r.name, len(r), r.total) for r in refs] == [("alpaca", 100, 250),
                                                         ("sharegpt", 100, 250)]


# -- the reference map -----------------------------------------------------------------


@pytest.fixture(scope="module")
def encoder():
    from evolviz.embeddings.encoder import Encoder

    with Encoder() as enc:
        yield enc


@pytest.fixture(scope="module")
def map_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("maps")


@pytest.fixture(scope="module")
def refs():
    if not (REFDATA / "alpaca").is_dir():
        pytest.skip(f"no reference data at {REFDATA}")
    return find_references(REFDATA, sample=SAMPLE, seed=0)


SEEDS = ["Write a haiku about autumn leaves.", "Explain what a linked list is.",
         "Suggest a name for a bakery."]


@pytest.fixture(scope="module")
def refmap(refs, encoder, map_cache):
    from evolviz.maps import ReferenceMap

    return ReferenceMap.fit(refs, encoder, seeds=SEEDS, k=12, seed=0, cache_dir=map_cache)


@pytest.mark.slow
def test_warm_start_loads_the_same_map_without_the_model(refs, refmap, map_cache) -> None:
    from evolviz.embeddings.encoder import Encoder
    from evolviz.maps import ReferenceMap

    fresh = Encoder()  # a new session: the model is not loaded unless a text is missing
    start = time.perf_counter()
    again = ReferenceMap.fit(refs, fresh, seeds=SEEDS, k=12, seed=0, cache_dir=map_cache)
    assert time.perf_counter() - start < 3
    assert again.loaded_from_cache and fresh._model is None
    assert np.array_equal(again.reference_coords, refmap.reference_coords)
    assert again.cluster_labels == refmap.cluster_labels
    other = ReferenceMap.fit(refs, fresh, seeds=SEEDS, k=12, seed=0, cache_dir=False)
    assert not other.loaded_from_cache  # cache off: fitted again (embeddings still cached)


@pytest.mark.slow
def test_map_shape_and_cluster_labels(refmap) -> None:
    n = 2 * SAMPLE
    assert refmap.reference_coords.shape == (n, 2)
    assert refmap.reference_coords.dtype == np.float32
    assert refmap.reference_clusters.dtype == np.int32
    assert set(refmap.reference_labels) == {"alpaca", "sharegpt"}
    assert len(refmap.cluster_labels) == refmap.k == 12
    assert all(lab and "," in lab for lab in refmap.cluster_labels)
    agree = refmap.predict(refmap.reference_embeddings) == refmap.reference_clusters
    assert agree.mean() > 0.99


@pytest.mark.slow
def test_placement_keeps_references_fixed_and_lands_near_twins(refmap) -> None:
    before = refmap.reference_coords.copy()
    rng = np.random.default_rng(7)
    rows = rng.choice(len(refmap.reference_texts), 20, replace=False)
    twins = [refmap.reference_texts[i] + " Keep the answer short." for i in rows]
    coords, clusters = refmap.place(twins)
    assert coords.shape == (20, 2) and coords.dtype == np.float32
    assert clusters.shape == (20,) and clusters.dtype == np.int32
    assert np.array_equal(refmap.reference_coords, before)  # bit-identical
    # ... and so is the fitted embedding that placement measures against
    assert np.array_equal(np.asarray(refmap._tsne, dtype=np.float32), before)
    ref = refmap.reference_coords
    pair = np.linalg.norm(ref[:, None] - ref[None], axis=2)
    median = np.median(pair[np.triu_indices(len(ref), 1)])
    dist = np.linalg.norm(ref[None] - coords[:, None], axis=2)
    own = dist[np.arange(20), rows]
    rank = (dist < own[:, None]).sum(axis=1)
    assert (own < median).all()
    assert (rank < 10).mean() >= 0.8, rank
    _, again_clusters = refmap.place(twins)
    assert np.array_equal(again_clusters, clusters)
    on_base, _ = refmap.place([refmap.reference_texts[5]])
    assert np.array_equal(on_base[0], ref[5])
    by_vectors, _ = refmap.place(refmap.embed(twins[:3]))
    assert by_vectors.shape == (3, 2)
    empty, none = refmap.place([])
    assert empty.shape == (0, 2) and none.shape == (0,)


@pytest.mark.slow
def test_identical_texts_cover_one_cluster_and_spread_texts_more(refmap) -> None:
    from evolviz.embeddings import diversity

    same = ["Explain what a linked list is."] * 10
    varied = [refmap.reference_texts[i] for i in range(0, 2 * SAMPLE, 60)]
    m_same = diversity.metrics(refmap.embed(same), refmap.place(same)[1], refmap.k)
    m_var = diversity.metrics(refmap.embed(varied), refmap.place(varied)[1], refmap.k,
                              refmap.reference_embeddings)
    assert m_same["vendi_score"] == pytest.approx(1.0, abs=1e-4)
    assert m_same["clusters_covered"] == 1
    assert m_var["clusters_covered"] > 3
    assert m_var["vendi_score"] > 5
    assert m_var["entropy_norm"] > m_same["entropy_norm"]


@pytest.mark.slow
def test_refit_in_background_keeps_clusters_and_the_old_map(refmap) -> None:
    extra = ["Write a sonnet about a lighthouse keeper.", "Sort a list of tuples in Python.",
             "Plan a three-day trip to Kyoto."]
    old = refmap.reference_coords.copy()
    future = refmap.refit(extra, background=True)
    new = future.result(timeout=120)
    assert np.array_equal(refmap.reference_coords, old)
    assert len(new.reference_texts) == len(refmap.reference_texts) + 3
    assert list(new.reference_labels[-3:]) == ["added"] * 3
    assert new.cluster_labels == refmap.cluster_labels
    coords, _ = new.place(extra)
    assert np.array_equal(coords, new.reference_coords[-3:])


# -- a run on the map, and the CLI entry -----------------------------------------------


def make_store(path: Path):
    from evolviz.records import Candidate
    from evolviz.seeds import Seed
    from evolviz.store import RunStore

    store = RunStore(path)
    store.add_seeds([Seed(f"seed-{i:06d}", text, "", "t.txt", i + 1)
                     for i, text in enumerate(SEEDS)])
    gens = {
        1: ["Write a haiku about autumn leaves that mentions a river.",
            "Explain what a doubly linked list is and when to prefer it.",
            "<b>Suggest</b> a name for a vegan bakery & café <script>alert(1)</script>"],
        2: ["Write two haiku about autumn leaves, one sad and one hopeful, mentioning a river.",
            "Implement a doubly linked list in Python with insert and delete."],
    }
    for g, texts in gens.items():
        for i, text in enumerate(texts):
            store.add_candidate(Candidate(
                id=f"g{g}-{i:06d}", generation=g, slot=i, parent_id=f"seed-{i:06d}",
                seed_id=f"seed-{i:06d}", operator="deepening", parent_instruction=SEEDS[i],
                status="accepted", instruction=text, finished_at=time.time()))
    store.add_candidate(Candidate(
        id="g2-000002", generation=2, slot=2, parent_id="g1-000002", seed_id="seed-000002",
        operator="breadth", parent_instruction="x", status="rejected",
        instruction="rejected text", finished_at=time.time()))
    return store


@pytest.mark.slow
def test_run_map_metrics_and_escaped_hover(refmap, tmp_path: Path) -> None:
    from evolviz.maps import metrics_by_generation, paper_figure, run_map

    store = make_store(tmp_path / "r.db")
    df = run_map(store, refmap)
    store.close()
    assert list(dict.fromkeys(df["group"])) == ["alpaca", "sharegpt", "seeds", "gen 1",
                                                 "gen 2"]
    assert (df["group"] == "gen 2").sum() == 2  # rejected candidates are not population
    assert "rejected text" not in set(df["text"])
    table = metrics_by_generation(df, refmap)
    assert list(table["source"]) == ["alpaca", "sharegpt", "seeds", "gen 1", "gen 2"]
    assert table.set_index("source").loc["gen 1", "n"] == 3
    assert (table["novelty"] > 0).all() and (table["vendi_score"] >= 1).all()
    fig = paper_figure(df)
    hovers = [h for tr in fig.data for h in (() if tr.hovertext is None else tr.hovertext)
              if "alert(1)" in h]
    assert hovers and all("<script>" not in h and "&lt;script&gt;" in h for h in hovers)
    assert all(tr.type == "scattergl" for tr in fig.data)


@pytest.mark.slow
@needs_refdata
def test_write_map_writes_html(tmp_path: Path) -> None:
    from evolviz.maps import write_map

    make_store(tmp_path / "r.db").close()
    out = tmp_path / "out" / "map.html"
    made = write_map(str(tmp_path / "r.db"), str(REFDATA), str(out), sample=SAMPLE, k=12)
    assert made.html == out
    page = out.read_text()
    assert page.startswith("<!DOCTYPE html>") and "Diversity by source" in page
    assert "gen 2" in page and "<script>alert(1)</script>" not in page
    assert "sharegpt" in made.table.to_string()


@pytest.mark.slow
def test_write_map_without_reference_maps_the_seeds(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from evolviz.errors import InputError
    from evolviz.maps import write_map

    monkeypatch.delenv("EVOLVIZ_REFERENCE_DIR", raising=False)
    monkeypatch.setattr(references, "_HUB_HOST", "hub.invalid")
    monkeypatch.setattr(references, "default_cache_root", lambda: tmp_path / "nocache")
    make_store(tmp_path / "r.db").close()
    out = tmp_path / "map.html"
    write_map(str(tmp_path / "r.db"), None, str(out), k=3)
    assert "No reference is loaded" in out.read_text()
    with pytest.raises(InputError, match=r"missing\.db"):  # the CLI's exit 2
        write_map(str(tmp_path / "missing.db"), None, str(out))
