"""Tests for evolviz.seeds: every format, the real messy reference files, and a property
test that no input makes the loader crash with anything but SeedFileError."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evolviz.errors import ConfigError, SeedFileError
from evolviz.seeds import Seed, SeedLoad, load_seeds

from conftest import REFDATA

REPO = Path(__file__).resolve().parents[1]


def write_jsonl(path: Path, rows: list[object]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def reasons(load: SeedLoad) -> dict[int, str]:
    return {p.line: p.reason for p in load.problems}


def refdata_file(name: str) -> Path:
    """Find a reference file by name, in the folder or one level below it."""
    if not REFDATA.is_dir():
        pytest.skip(f"reference data not found at {REFDATA} (set EVOLVIZ_REFERENCE_DIR)")
    for candidate in (REFDATA / name, *REFDATA.glob(f"*/{name}")):
        if candidate.is_file():
            return candidate
    pytest.skip(f"{name} not found under {REFDATA}")


# --- Seed -------------------------------------------------------------------------------


def test_seed_text_joins_input_only_when_present() -> None:
    assert Seed("seed-000000", "Do it.").text == "Do it."
    assert Seed("seed-000000", "Sum these.", "1, 2").text == "Sum these.\n\n1, 2"


# --- Alpaca -----------------------------------------------------------------------------


def test_alpaca_json_list(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    rows = [
        {"instruction": "Name a colour.", "input": "", "output": "Red"},
        {"instruction": "  Add the numbers. ", "input": "2 and 3", "output": "5"},
        {"instruction": "No input key."},
    ]
    path.write_text(json.dumps(rows, indent=2), encoding="utf-8")
    load = load_seeds(path)
    assert load.problems == []
    assert [s.id for s in load.seeds] == ["seed-000000", "seed-000001", "seed-000002"]
    assert [s.line for s in load.seeds] == [1, 2, 3]  # record index, not file line
    second = load.seeds[1]
    assert (second.instruction, second.input) == ("Add the numbers.", "2 and 3")
    assert second.text == "Add the numbers.\n\n2 and 3"
    assert second.source == str(path)


def test_alpaca_jsonl_line_numbers_count_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text(
        '{"instruction": "One", "input": "", "output": ""}\n'
        "\n"
        '{"instruction": "Two", "input": "x", "output": ""}\r\n'
        '{"instruction": "Three"}',
        encoding="utf-8",
    )
    load = load_seeds(path)
    assert [(s.instruction, s.input, s.line) for s in load.seeds] == [
        ("One", "", 1),
        ("Two", "x", 3),
        ("Three", "", 4),
    ]


def test_json_list_problem_reason_gives_file_line(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    path.write_text(json.dumps([{"instruction": "ok"}, {"instruction": ""}], indent=2))
    load = load_seeds(path)
    (problem,) = load.problems
    assert problem.line == 2
    assert problem.reason.startswith("record 2 (file line 5):")
    assert "'instruction' is empty" in problem.reason


# --- ShareGPT ---------------------------------------------------------------------------


SHAREGPT = [
    {"id": "a", "conversations": [{"from": "human", "value": "Hi there"}, {"from": "gpt"}]},
    {
        "id": "b",
        "conversations": [
            {"from": "system", "value": "You are helpful."},
            {"from": "gpt", "value": "How can I help?"},
            {"from": "human", "value": "Plan a trip."},
            {"from": "human", "value": "Second human turn, ignored."},
        ],
    },
    {"id": "c", "conversations": [{"from": "gpt", "value": "Only the model speaks."}]},
    {"id": "d", "conversations": []},
    {"id": "e", "conversations": [{"from": "user", "value": "User role counts too."}]},
    {"id": "f", "conversations": [{"from": "human", "value": ""}]},
    {"id": "g"},
]


def check_sharegpt(load: SeedLoad) -> None:
    assert [(s.instruction, s.line) for s in load.seeds] == [
        ("Hi there", 1),
        ("Plan a trip.", 2),
        ("User role counts too.", 5),
    ]
    found = reasons(load)
    assert sorted(found) == [3, 4, 6, 7]
    assert "no human turn" in found[3] and "gpt" in found[3]
    assert "empty" in found[4]
    assert "is empty" in found[6]
    assert "'conversations' is missing" in found[7]


def test_sharegpt_json(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text(json.dumps(SHAREGPT, indent=1), encoding="utf-8")
    check_sharegpt(load_seeds(path))


def test_sharegpt_jsonl(tmp_path: Path) -> None:
    check_sharegpt(load_seeds(write_jsonl(tmp_path / "s.jsonl", SHAREGPT)))


# --- Self-Instruct ----------------------------------------------------------------------


def test_self_instruct_uses_first_instance_input(tmp_path: Path) -> None:
    rows = [
        {
            "id": "seed_task_0",
            "name": "sum",
            "instruction": "Add the numbers.",
            "instances": [{"input": "1 2", "output": "3"}, {"input": "4 5", "output": "9"}],
            "is_classification": False,
        },
        {"id": "seed_task_1", "name": "x", "instruction": "Tell a joke.", "instances": []},
        {"id": "seed_task_2", "name": "y", "instruction": "Bad.", "instances": "nope"},
    ]
    load = load_seeds(write_jsonl(tmp_path / "si.jsonl", rows))
    assert [(s.instruction, s.input) for s in load.seeds] == [
        ("Add the numbers.", "1 2"),
        ("Tell a joke.", ""),
    ]
    assert reasons(load) == {3: "'instances' is not a list"}


# --- plain text -------------------------------------------------------------------------


def test_text_skips_comments_and_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "t.txt"
    path.write_text("# header\n\nFirst task\n   \n  # indented comment\nSecond task  \n")
    load = load_seeds(path)
    assert [(s.instruction, s.line) for s in load.seeds] == [
        ("First task", 3),
        ("Second task", 6),
    ]


def test_text_only_comments_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "t.txt"
    path.write_text("# nothing here\n\n")
    with pytest.raises(SeedFileError, match="no seeds"):
        load_seeds(path)


# --- CSV --------------------------------------------------------------------------------


def test_csv_with_field_and_input_column(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text(
        "prompt,input,notes\n"
        "Say hello,,x\n"
        '"Summarise:\nthe two lines",some text,y\n'
        "\n"
        "Count to three,,z\n"
        "too,many,fields,here\n",
        encoding="utf-8",
    )
    load = load_seeds(path, field="prompt")
    assert [(s.instruction, s.input, s.line) for s in load.seeds] == [
        ("Say hello", "", 2),
        ("Summarise:\nthe two lines", "some text", 3),
        ("Count to three", "", 6),
    ]
    assert reasons(load) == {7: "row has 4 fields but the header has 3"}


def test_csv_defaults_to_instruction_column(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text("instruction,output\nWrite a poem,\n", encoding="utf-8")
    assert [s.instruction for s in load_seeds(path).seeds] == ["Write a poem"]


def test_tsv(tmp_path: Path) -> None:
    path = tmp_path / "s.tsv"
    path.write_text("q\tinput\nTranslate, please\tbonjour\n", encoding="utf-8")
    (seed,) = load_seeds(path, field="q").seeds
    assert (seed.instruction, seed.input) == ("Translate, please", "bonjour")


def test_csv_missing_field_names_file_and_columns(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text("question,answer\nWhy?,Because\n", encoding="utf-8")
    with pytest.raises(SeedFileError) as info:
        load_seeds(path)
    message = str(info.value)
    assert str(path) in message
    assert "'question'" in message and "'answer'" in message and "field=NAME" in message
    with pytest.raises(SeedFileError, match=r"no 'prompt' column.*'question'"):
        load_seeds(path, field="prompt")


# --- Parquet ----------------------------------------------------------------------------


def test_parquet(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    path = tmp_path / "s.parquet"
    table = pa.table(
        {
            "text": ["Write a riddle.", None, "Sort the list.", "  "],
            "input": [None, "x", "3, 1, 2", ""],
            "other": [1, 2, 3, 4],
        }
    )
    pq.write_table(table, path)
    load = load_seeds(path, field="text")
    assert [(s.instruction, s.input, s.line) for s in load.seeds] == [
        ("Write a riddle.", "", 1),
        ("Sort the list.", "3, 1, 2", 3),
    ]
    found = reasons(load)
    assert sorted(found) == [2, 4]
    assert "row 2" in found[2] and "missing" in found[2]
    with pytest.raises(SeedFileError, match="'text', 'input', 'other'"):
        load_seeds(path)


def test_parquet_detected_by_content(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    path = tmp_path / "seeds.bin"
    pq.write_table(pa.table({"instruction": ["Name a river."]}), path)
    assert [s.instruction for s in load_seeds(path).seeds] == ["Name a river."]


def test_garbage_parquet_is_a_seed_file_error(tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    path = tmp_path / "s.parquet"
    path.write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(SeedFileError, match="Parquet"):
        load_seeds(path)


# --- JSON records of any shape ----------------------------------------------------------


def test_jsonl_with_field(tmp_path: Path) -> None:
    rows = [
        {"prompt": "Describe a sunset.", "input": "", "meta": 1},
        {"meta": 2},
        {"prompt": "Fix the code.", "input": "print(1"},
    ]
    load = load_seeds(write_jsonl(tmp_path / "r.jsonl", rows), field="prompt")
    assert [(s.instruction, s.input, s.line) for s in load.seeds] == [
        ("Describe a sunset.", "", 1),
        ("Fix the code.", "print(1", 3),
    ]
    assert reasons(load) == {2: "no 'prompt' key"}


def test_jsonl_without_field_asks_for_it(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "r.jsonl", [{"prompt": "a", "meta": 1}])
    with pytest.raises(SeedFileError) as info:
        load_seeds(path)
    message = str(info.value)
    assert str(path) in message and "field" in message and "'prompt'" in message


def test_jsonl_field_absent_everywhere_lists_keys(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "r.jsonl", [{"prompt": "a"}, {"question": "b"}])
    with pytest.raises(SeedFileError, match=r"no 'query' key.*'prompt', 'question'"):
        load_seeds(path, field="query")


def test_format_jsonl_forced_with_field(tmp_path: Path) -> None:
    path = tmp_path / "r.data"
    path.write_text('{"q": "What is rain?"}\n', encoding="utf-8")
    assert [s.instruction for s in load_seeds(path, format="jsonl", field="q").seeds] == [
        "What is rain?"
    ]


# --- format detection and forcing -------------------------------------------------------


def test_json_extension_holding_json_lines(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "a.json", [{"instruction": "A"}, {"instruction": "B"}])
    assert [s.line for s in load_seeds(path).seeds] == [1, 2]


def test_forced_text_format_on_json_file(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "a.jsonl", [{"instruction": "A"}])
    (seed,) = load_seeds(path, format="text").seeds
    assert seed.instruction == '{"instruction": "A"}'


def test_format_aliases_and_unknown_format(tmp_path: Path) -> None:
    path = tmp_path / "t.dat"
    path.write_text("Do a thing\n", encoding="utf-8")
    assert len(load_seeds(path, format="TXT").seeds) == 1
    with pytest.raises(ConfigError, match="unknown seed format"):
        load_seeds(path, format="yaml")
    with pytest.raises(ConfigError, match="field"):
        load_seeds(path, format="sharegpt", field="x")


def test_unknown_extension_sniffs_content(tmp_path: Path) -> None:
    path = tmp_path / "seeds.data"
    path.write_text(json.dumps([{"instruction": "From a list"}]), encoding="utf-8")
    assert [s.instruction for s in load_seeds(path).seeds] == ["From a list"]
    path.write_text("Just a line of text\n", encoding="utf-8")
    assert [s.instruction for s in load_seeds(path).seeds] == ["Just a line of text"]


def test_utf8_bom_and_crlf_are_accepted(tmp_path: Path) -> None:
    path = tmp_path / "b.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"instruction": "Caf\xc3\xa9 line\\r\\nnext"}\r\n')
    (seed,) = load_seeds(path).seeds
    assert seed.instruction == "Café line\nnext"


# --- bad rows ---------------------------------------------------------------------------


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


# --- files that cannot be read ----------------------------------------------------------


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


# --- the project's own seed files -------------------------------------------------------


@pytest.mark.parametrize(("name", "minimum"), [("starter.jsonl", 60), ("tiny.txt", 8)])
def test_project_seed_files_load_cleanly(name: str, minimum: int) -> None:
    load = load_seeds(REPO / "seeds" / name, strict=True)
    assert load.problems == []
    assert len(load.seeds) >= minimum


def test_starter_has_inputs() -> None:
    seeds = load_seeds(REPO / "seeds" / "starter.jsonl").seeds
    assert len(seeds) >= 72
    assert sum(1 for s in seeds if s.input) >= 15


# --- real reference data ----------------------------------------------------------------


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


# --- properties -------------------------------------------------------------------------


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
