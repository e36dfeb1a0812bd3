"""Tests for evolviz.seeds on bad input: every problem is named with its file and line, and a
property test that no input makes the loader crash with anything but SeedFileError."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evolviz.errors import ConfigError, SeedFileError
from evolviz.seeds import SeedLoad, load_seeds

from conftest import reasons

BAD_JSONL_LINES = [
    '{"instruction": "Good one", "input": ""}',  # 1
    "{not json",  # 2
    '["a", "list"]',  # 3
    '{"input": "no instruction"}',  # 4
    '{"instruction": "   "}',  # 5
    '{"instruction": 42}',  # 6
    '{"instruction": "' + "x" * 60 + '"}',  # 7: over max_chars=50
    '{"instruction": "bell \\u0007 here"}',  # 8
    '{"instruction": "Good one", "input": ""}',  # 9: duplicate of line 1
    '{"instruction": "Tabs\\tand\\nnewlines are fine"}',  # 10
    '{"instruction": "ok", "input": ["not", "text"]}',  # 11
    '{"instruction": "half an emoji \\ud83d"}',  # 12
    '{"instruction": "Good one", "input": "different input, not a duplicate"}',  # 13
]


def test_bad_rows_reported_with_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(BAD_JSONL_LINES) + "\n", encoding="utf-8")
    load = load_seeds(path, max_chars=50)
    assert [s.line for s in load.seeds] == [1, 10, 13]
    assert [s.id for s in load.seeds] == ["seed-000000", "seed-000001", "seed-000002"]
    found = reasons(load)
    assert sorted(found) == [2, 3, 4, 5, 6, 7, 8, 9, 11, 12]
    assert found[2].startswith("invalid JSON")
    assert found[3] == "not a JSON object (got list)"
    assert found[4] == "no 'instruction' key"
    assert found[5] == "'instruction' is empty"
    assert found[6] == "'instruction' is not a string (got number)"
    assert "over max_chars=50" in found[7]
    assert "U+0007" in found[8]
    assert found[9] == "duplicate of seed-000000 (line 1)"
    assert found[11] == "'input' is not a string (got list)"
    assert "surrogate" in found[12]
    assert all(p.path == str(path) for p in load.problems)


def test_strict_raises_on_first_bad_row_with_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(BAD_JSONL_LINES) + "\n", encoding="utf-8")
    with pytest.raises(SeedFileError) as info:
        load_seeds(path, strict=True)
    assert info.value.line == 2
    assert info.value.path == str(path)
    assert str(info.value).startswith(f"{path}:2: invalid JSON")


def test_strict_raises_on_duplicate(tmp_path: Path) -> None:
    path = tmp_path / "dup.txt"
    path.write_text("Same\nOther\nSame\n", encoding="utf-8")
    with pytest.raises(SeedFileError, match=r"dup\.txt:3: duplicate of seed-000000 \(line 1\)"):
        load_seeds(path, strict=True)


def test_strict_json_list_uses_record_index(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    path.write_text(json.dumps([{"instruction": "a"}, {"instruction": None}]), encoding="utf-8")
    with pytest.raises(SeedFileError, match=r"a\.json:2: record 2: 'instruction' is missing"):
        load_seeds(path, strict=True)


def test_text_line_with_control_character(tmp_path: Path) -> None:
    path = tmp_path / "t.txt"
    path.write_text("fine\nbad \x1b[31m colour\n", encoding="utf-8")
    load = load_seeds(path)
    assert [s.line for s in load.seeds] == [1]
    assert "U+001B" in reasons(load)[2]


def test_non_utf8_file_reports_offset_and_line(tmp_path: Path) -> None:
    path = tmp_path / "latin1.txt"
    path.write_bytes("first line\nsecond line\ncaf\xe9 au lait\n".encode("latin-1"))
    with pytest.raises(SeedFileError) as info:
        load_seeds(path)
    assert info.value.line == 3
    message = str(info.value)
    assert message.startswith(f"{path}:3:")
    assert "UTF-8" in message and "offset 26" in message and "0xe9" in message


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(SeedFileError, match="not found") as info:
        load_seeds(tmp_path / "nope.jsonl")
    assert str(tmp_path / "nope.jsonl") in str(info.value)
    with pytest.raises(SeedFileError, match="not found"):
        load_seeds(tmp_path / "nope.parquet")
    with pytest.raises(SeedFileError, match="directory"):
        load_seeds(tmp_path)


@pytest.mark.parametrize("name", ["e.json", "e.jsonl", "e.txt", "e.csv"])
def test_empty_files(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text("  \n\n", encoding="utf-8")
    with pytest.raises(SeedFileError, match="empty") as info:
        load_seeds(path)
    assert info.value.path == str(path)


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("[]", "empty"),
        (
            '[\n  {"instruction": "a"},\n  {"instruction": "b"\n]',
            r"s\.json:4: malformed JSON.*line 4",
        ),
        ('[{"instruction": "a"},]', "malformed JSON"),
        ('[{"instruction": "a"}] trailing', "extra data"),
        ('{\n  "data": [{"instruction": "a"}]\n}', "top-level JSON value is an object"),
        ("{\n  broken", "malformed JSON"),
        ("[" * 100_000, "malformed JSON"),
        ('"just a string"', "no record is a JSON object"),
        ("instruction,input\n", "header but no rows"),
    ],
)
def test_unreadable_top_level(tmp_path: Path, content: str, match: str) -> None:
    path = tmp_path / ("s.csv" if content.startswith("instruction,") else "s.json")
    path.write_text(content, encoding="utf-8")
    with pytest.raises(SeedFileError, match=match):
        load_seeds(path)


def test_jsonl_with_no_object_at_all(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    path.write_text("nope\n[1]\n", encoding="utf-8")
    with pytest.raises(SeedFileError, match=r":1: no record is a JSON object"):
        load_seeds(path)


def test_bad_options() -> None:
    with pytest.raises(ConfigError, match="max_chars"):
        load_seeds("x.txt", max_chars=0)


KEYS = st.sampled_from(["instruction", "input", "output", "conversations", "instances", "id"])


ANY_TEXT = st.text(
    st.characters(codec=None, categories=("L", "N", "P", "Zs", "Cc", "Cs", "So")), max_size=30
)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | ANY_TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS | ANY_TEXT, inner, max_size=3),
    max_leaves=8,
)


SEED_TEXT = st.sampled_from(["Same task", " Same task ", ""]) | st.text(max_size=30) | ANY_TEXT


ALPACA_LIKE = st.fixed_dictionaries(
    {"instruction": SEED_TEXT | JSON_VALUES},
    optional={"input": SEED_TEXT | JSON_VALUES, "output": ANY_TEXT},
)


RECORDS = st.lists(
    st.dictionaries(KEYS | ANY_TEXT, JSON_VALUES | ANY_TEXT, max_size=5) | ALPACA_LIKE,
    min_size=1,
    max_size=8,
)


def write_records(path: Path, records: list[dict[str, object]], ascii_only: bool) -> None:
    lines = []
    for record in records:
        line = json.dumps(record, ensure_ascii=ascii_only)
        try:
            line.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates can only travel escaped
            line = json.dumps(record)
        lines.append(line)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def assert_accounts_for_every_line(load: SeedLoad, count: int) -> None:
    lines = sorted([s.line for s in load.seeds] + [p.line for p in load.problems])
    assert lines == list(range(1, count + 1))


PROPERTY_SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@PROPERTY_SETTINGS
@given(records=RECORDS, ascii_only=st.booleans())
def test_property_random_jsonl_forced_alpaca(
    tmp_path: Path, records: list[dict[str, object]], ascii_only: bool
) -> None:
    path = tmp_path / "random.jsonl"
    write_records(path, records, ascii_only)
    load = load_seeds(path, format="alpaca")  # never raises in non-strict mode
    assert_accounts_for_every_line(load, len(records))
    assert [s.id for s in load.seeds] == [f"seed-{i:06d}" for i in range(len(load.seeds))]
    try:
        strict = load_seeds(path, format="alpaca", strict=True)
    except SeedFileError as exc:
        assert exc.line in {p.line for p in load.problems}
    else:
        assert strict.seeds == load.seeds and load.problems == []


@PROPERTY_SETTINGS
@given(records=RECORDS, ascii_only=st.booleans(), strict=st.booleans())
def test_property_random_jsonl_detected(
    tmp_path: Path, records: list[dict[str, object]], ascii_only: bool, strict: bool
) -> None:
    path = tmp_path / "random.jsonl"
    write_records(path, records, ascii_only)
    try:
        load = load_seeds(path, strict=strict)
    except SeedFileError:
        return  # e.g. no key tells the format: allowed, and it must be this error
    assert_accounts_for_every_line(load, len(records))


@settings(max_examples=200, deadline=None)
@given(
    data=st.binary(max_size=200)
    | st.text(st.sampled_from('[]{}",:\n\r\\ aéinstruction#\x00\t'), max_size=80).map(
        lambda s: s.encode("utf-8")
    ),
    suffix=st.sampled_from([".json", ".jsonl", ".txt", ".csv", ".tsv", ".parquet", ".dat"]),
    field=st.sampled_from([None, "instruction", "q"]),
    strict=st.booleans(),
)
def test_property_arbitrary_bytes_only_raise_seed_file_error(
    tmp_path_factory: pytest.TempPathFactory,
    data: bytes,
    suffix: str,
    field: str | None,
    strict: bool,
) -> None:
    path = tmp_path_factory.getbasetemp() / f"fuzz{suffix}"
    path.write_bytes(data)
    try:
        load = load_seeds(path, field=field, strict=strict)
    except SeedFileError:
        return
    assert isinstance(load, SeedLoad)
    if strict:
        assert load.problems == []
