"""The bad-input corpus (tests/bad_inputs): a clear error naming the spot, nothing lost."""

import shutil
import sqlite3

import pytest

from evolviz.store import SCHEMA_VERSION, RunStore

from conftest import ROOT, run_cli

BAD = ROOT / "tests" / "bad_inputs"


def run(seed_file, store, server, *extra):
    return run_cli("run", str(seed_file), "--store", str(store), "--generations", "1",
                   "--base-url", server.base_url, "--model", "fake-model", "--no-progress",
                   *extra)


@pytest.fixture
def good_store(tmp_path, fake_llm):
    """A store holding a finished generation, to prove bad input never touches it."""
    store = tmp_path / "good.db"
    assert run(ROOT / "seeds" / "tiny.txt", store, fake_llm).returncode == 0
    with RunStore(store, create=False) as s:
        s.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return store


@pytest.mark.parametrize("name,strict,expect", [
    ("truncated.json", False, "truncated.json"),
    ("broken_line3.jsonl", True, "broken_line3.jsonl:3"),
    ("wrong_fields.jsonl", False, "prompt"),
    ("empty_and_wrong_type.jsonl", True, "empty_and_wrong_type.jsonl:2"),
    ("control_chars.jsonl", True, "control_chars.jsonl:1"),
    ("latin1.txt", False, "latin1.txt"),
    ("huge_instruction.jsonl", True, "huge_instruction.jsonl:1"),
])
def test_bad_seed_files_exit_2_naming_the_spot_and_keep_the_store(
        name, strict, expect, good_store, fake_llm):
    before = good_store.read_bytes()
    r = run(BAD / name, good_store, fake_llm, *(["--strict"] if strict else []))
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert expect in r.stderr and "Traceback" not in r.stderr
    assert good_store.read_bytes() == before


@pytest.mark.parametrize("name,line", [("broken_line3.jsonl", 3),
                                       ("empty_and_wrong_type.jsonl", 2),
                                       ("huge_instruction.jsonl", 1)])
def test_without_strict_bad_rows_are_reported_and_skipped(name, line, tmp_path, fake_llm):
    r = run(BAD / name, tmp_path / "r.db", fake_llm)
    assert r.returncode == 0, r.stderr
    assert f"{name}:{line}" in r.stderr and "skipped" in r.stderr


def test_wrong_fields_work_with_field(tmp_path, fake_llm):
    r = run(BAD / "wrong_fields.jsonl", tmp_path / "r.db", fake_llm, "--field", "prompt")
    assert r.returncode == 0, r.stderr


def test_template_with_unknown_placeholder(good_store, fake_llm):
    before = good_store.read_bytes()
    r = run(ROOT / "seeds" / "tiny.txt", good_store, fake_llm, "--templates",
            str(BAD / "bad_template"))
    assert r.returncode == 2 and "deepening.toml" in r.stderr and "instrucion" in r.stderr
    assert good_store.read_bytes() == before


def test_store_from_a_future_version(tmp_path, good_store, fake_llm):
    future = tmp_path / "future.db"
    shutil.copy(good_store, future)
    conn = sqlite3.connect(future)
    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 3}")
    conn.close()
    before = future.read_bytes()
    for args in (["show", str(future)], ["check", str(future)],
                 ["export", str(future), "--format", "jsonl", "-o", str(tmp_path / "o.jsonl")]):
        r = run_cli(*args)
        assert r.returncode == 2 and "newer evolviz" in r.stderr, args
    r = run(ROOT / "seeds" / "tiny.txt", future, fake_llm)
    assert r.returncode == 2 and "newer evolviz" in r.stderr
    assert future.read_bytes() == before


def test_export_never_leaves_a_half_file(tmp_path, good_store):
    out = tmp_path / "out.json"
    out.write_text("previous export")
    r = run_cli("export", str(good_store), "--format", "nope", "-o", str(out))
    assert r.returncode == 2 and out.read_text() == "previous export"


@pytest.mark.parametrize("damage", ["schema_page", "truncated"])
def test_a_corrupt_store_is_refused_by_every_command_and_left_byte_identical(
        damage, tmp_path, good_store, fake_llm):
    """What docs/reliability.md promises: refused with a clear message, never written."""
    data = bytearray(good_store.read_bytes())
    if damage == "schema_page":
        data[100:4096] = b"\xff" * (4096 - 100)  # wreck the schema page, keep the magic
    else:
        data = data[: len(data) // 3]
    good_store.write_bytes(bytes(data))
    before = good_store.read_bytes()
    for args in (["show", str(good_store)], ["check", str(good_store)],
                 ["export", str(good_store), "--format", "jsonl", "-o",
                  str(tmp_path / "x.jsonl")]):
        r = run_cli(*args)
        assert r.returncode != 0, (args, r.stdout)
        assert str(good_store) in r.stderr + r.stdout, (args, r.stderr)
    r = run(ROOT / "seeds" / "tiny.txt", good_store, fake_llm)
    assert r.returncode in (1, 2) and str(good_store) in r.stderr, r.stderr
    assert good_store.read_bytes() == before
    assert not (tmp_path / "x.jsonl").exists()
