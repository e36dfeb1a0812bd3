"""Tests for evolviz.seeds on real files: the project's seed files and the real messy
reference files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evolviz.errors import SeedFileError
from evolviz.seeds import load_seeds

from conftest import REFDATA

REPO = Path(__file__).resolve().parents[1]


def refdata_file(name: str) -> Path:
    """Find a reference file by name, in the folder or one level below it."""
    if not REFDATA.is_dir():
        pytest.skip(f"reference data not found at {REFDATA} (set EVOLVIZ_REFERENCE_DIR)")
    for candidate in (REFDATA / name, *REFDATA.glob(f"*/{name}")):
        if candidate.is_file():
            return candidate
    pytest.skip(f"{name} not found under {REFDATA}")


@pytest.mark.parametrize(("name", "minimum"), [("starter.jsonl", 60), ("tiny.txt", 8)])
def test_project_seed_files_load_cleanly(name: str, minimum: int) -> None:
    load = load_seeds(REPO / "seeds" / name, strict=True)
    assert load.problems == []
    assert len(load.seeds) >= minimum


def test_starter_has_inputs() -> None:
    seeds = load_seeds(REPO / "seeds" / "starter.jsonl").seeds
    assert len(seeds) >= 72
    assert sum(1 for s in seeds if s.input) >= 15


def test_refdata_alpaca() -> None:
    path = refdata_file("alpaca_data_first1727.json")
    load = load_seeds(path, strict=True)
    assert len(load.seeds) == 1727
    records = json.loads(path.read_text(encoding="utf-8"))
    with_input = [s for s in load.seeds if s.input]
    assert len(with_input) == sum(1 for r in records if r["input"].strip())
    seed = with_input[0]
    assert seed.text == f"{records[seed.line - 1]['instruction'].strip()}\n\n{seed.input}"


def test_refdata_self_instruct() -> None:
    load = load_seeds(refdata_file("self_instruct_seed_tasks.jsonl"), strict=True)
    assert len(load.seeds) == 175
    assert [s.line for s in load.seeds] == list(range(1, 176))
    assert sum(1 for s in load.seeds if s.input) > 50


def test_refdata_sharegpt_first_turns() -> None:
    path = refdata_file("sharegpt_first_turns_2978.json")
    load = load_seeds(path)
    records = json.loads(path.read_text(encoding="utf-8"))
    assert len(records) == 2978
    assert len(load.seeds) + len(load.problems) == 2978
    kinds = [p.reason.split(": ", 1)[1] for p in load.problems]
    no_human = [k for k in kinds if k.startswith("no human turn")]
    assert len(no_human) == 20  # the 16 system-first and 4 gpt-first records
    assert sum("system" in k for k in no_human) == 16
    assert sum("gpt" in k for k in no_human) == 4
    assert sum(k.endswith("is empty") for k in kinds) == 1
    duplicates = sum(k.startswith("duplicate of") for k in kinds)
    assert len(kinds) == 21 + duplicates
    assert 2800 < len(load.seeds) < 2958
    for seed in load.seeds[:50]:
        turn = records[seed.line - 1]["conversations"][0]
        assert turn["from"] == "human" and turn["value"].strip() == seed.instruction
    with pytest.raises(SeedFileError, match=r"sharegpt_first_turns_2978\.json:\d+: record"):
        load_seeds(path, strict=True)


def test_refdata_sharegpt_conversations() -> None:
    path = refdata_file("sharegpt_conversations_1000.json")
    load = load_seeds(path)
    records = json.loads(path.read_text(encoding="utf-8"))
    assert len(load.seeds) + len(load.problems) == len(records) == 1000
    assert len(load.seeds) > 900
    kinds = [p.reason.split(": ", 1)[1] for p in load.problems]
    assert sum(k.startswith("no human turn") for k in kinds) == 9
    # A conversation that opens with a gpt turn still gives its first human turn.
    by_line = {s.line: s for s in load.seeds}
    gpt_first = [
        (i, r)
        for i, r in enumerate(records, start=1)
        if r["conversations"] and r["conversations"][0]["from"] == "gpt" and i in by_line
    ]
    assert len(gpt_first) > 100
    for line, record in gpt_first[:20]:
        human = next(t for t in record["conversations"] if t["from"] == "human")
        assert by_line[line].instruction == human["value"].strip()
    assert all(len(s.text) <= 20000 for s in load.seeds)
