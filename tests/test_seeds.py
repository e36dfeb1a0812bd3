"""Tests for evolviz.seeds: every format and how it is detected.

Bad input is tests/test_seed_problems.py; the project's and the reference data's files are
tests/test_seed_files.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evolviz.errors import ConfigError, SeedFileError
from evolviz.seeds import Seed, SeedLoad, load_seeds

from conftest import reasons, write_jsonl


def test_seed_text_joins_input_only_when_present() -> None:
    assert Seed("seed-000000", "Do it.").text == "Do it."
    assert Seed("seed-000000", "Sum these.", "1, 2").text == "Sum these.\n\n1, 2"


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
