"""Seed loaders: turn the instruction files people already have into a list of seeds.

Seed files come from many places (Alpaca, ShareGPT dumps, Self-Instruct, spreadsheets,
hand-written text files) and real ones are messy. One bad row must not cost a person the
other fifty thousand, so bad rows become `SeedProblem`s that name the file and line, and
only a file that cannot be read at all raises `SeedFileError`. `strict=True` turns the
first problem into an error, for builds that must not silently drop anything.

Line numbers are 1-based file lines for JSONL, text and CSV (a CSV record that spans
several lines is numbered by its first line), and 1-based record indexes for JSON lists
and Parquet files, which have no useful line of their own; for JSON lists the problem's
reason also gives the file line where the record starts, so an editor can jump to it.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field as dc_field
from pathlib import Path
from typing import Any

from evolviz.errors import ConfigError, SeedFileError

__all__ = ["FORMATS", "Seed", "SeedLoad", "SeedProblem", "load_seeds"]

#: Format names `load_seeds(format=...)` accepts.
FORMATS = ("alpaca", "sharegpt", "self-instruct", "text", "csv", "parquet", "jsonl")

_FORMAT_ALIASES = {
    "self_instruct": "self-instruct",
    "selfinstruct": "self-instruct",
    "txt": "text",
    "tsv": "csv",
    "pq": "parquet",
}
_JSON_SCHEMAS = ("alpaca", "sharegpt", "self-instruct", "jsonl")
_HUMAN_ROLES = ("human", "user")
# Control characters other than tab and newline (C0, DEL and C1): they are invisible in
# most views, break prompts and usually mean the text was mangled on its way here.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# Lone surrogates survive json.loads ("\ud800") but cannot be encoded, so the run store
# and the LLM client would fail on them much later and far from the cause.
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_JSON_WS = re.compile(r"[ \t\n\r]*")
_DETECT_LIMIT = 200  # records inspected to guess a JSON schema or list the keys seen


@dataclass(frozen=True)
class Seed:
    """One instruction to evolve, with enough provenance to find it again in its file."""

    id: str
    instruction: str
    input: str = ""
    source: str = ""
    line: int = 0

    @property
    def text(self) -> str:
        """The instruction and its input as one prompt, because evolving rewrites both."""
        if self.input:
            return f"{self.instruction}\n\n{self.input}"
        return self.instruction


@dataclass
class SeedProblem:
    """A row that was skipped, kept so a person can see what was dropped and why."""

    path: str
    line: int
    reason: str


@dataclass
class SeedLoad:
    """Accepted seeds and skipped rows: together they account for every record read."""

    seeds: list[Seed] = dc_field(default_factory=list)
    problems: list[SeedProblem] = dc_field(default_factory=list)


class _BadRow(Exception):
    """Raised inside row extractors so each format only has to say what is wrong."""


@dataclass
class _Record:
    line: int  # what Seed.line / SeedProblem.line hold
    value: Any
    unit: str = "line"  # what `line` counts: "line", "record" or "row"
    where: str = ""  # prefix for reasons when `line` alone does not locate the row


class _Collector:
    """Validates extracted rows the same way for every format, numbers and de-duplicates."""

    def __init__(self, path: str, *, strict: bool, max_chars: int):
        self.path = path
        self.strict = strict
        self.max_chars = max_chars
        self.load = SeedLoad()
        self._seen: dict[str, tuple[str, str]] = {}

    def problem(self, record: _Record, reason: str) -> None:
        if record.where:
            reason = f"{record.where}: {reason}"
        if self.strict:
            raise SeedFileError(reason, path=self.path, line=record.line)
        self.load.problems.append(SeedProblem(self.path, record.line, reason))

    def add(self, record: _Record, instruction: object, input_: object, name: str) -> None:
        try:
            seed_instruction = _clean(instruction, name, required=True)
            seed_input = _clean(input_, "'input'", required=False)
        except _BadRow as exc:
            self.problem(record, str(exc))
            return
        text = f"{seed_instruction}\n\n{seed_input}" if seed_input else seed_instruction
        if len(text) > self.max_chars:
            self.problem(
                record,
                f"seed text is {len(text)} characters, over max_chars={self.max_chars}",
            )
            return
        if text in self._seen:
            first_id, first_where = self._seen[text]
            self.problem(record, f"duplicate of {first_id} ({first_where})")
            return
        seed_id = f"seed-{len(self.load.seeds):06d}"
        self._seen[text] = (seed_id, f"{record.unit} {record.line}")
        self.load.seeds.append(Seed(seed_id, seed_instruction, seed_input, self.path, record.line))


def _clean(value: object, name: str, *, required: bool) -> str:
    """Normalise one text field, or say why it cannot be a seed."""
    if value is None:
        if required:
            raise _BadRow(f"{name} is missing")
        return ""
    if not isinstance(value, str):
        raise _BadRow(f"{name} is not a string (got {_json_type(value)})")
    text = value.replace("\r\n", "\n")
    bad = _CONTROL.search(text)
    if bad:
        raise _BadRow(
            f"{name} contains control character U+{ord(bad.group()):04X} at position {bad.start()}"
        )
    bad = _SURROGATE.search(text)
    if bad:
        raise _BadRow(
            f"{name} contains a lone surrogate U+{ord(bad.group()):04X} (invalid Unicode)"
        )
    text = text.strip()
    if required and not text:
        raise _BadRow(f"{name} is empty")
    return text


def load_seeds(
    path: str | Path,
    *,
    field: str | None = None,
    format: str | None = None,
    strict: bool = False,
    max_chars: int = 20000,
) -> SeedLoad:
    """Read seeds from `path`, detecting the format from extension and content.

    `field` names the instruction column/key for CSV, Parquet and JSON records of any
    shape; an "input" column/key is used beside it when present. `max_chars` bounds the
    seed text (instruction plus input), since a huge seed blows every prompt built on it.
    """
    fmt = _normalise_format(format)
    if max_chars < 1:
        raise ConfigError(f"max_chars must be at least 1, got {max_chars}")
    if field is not None and fmt in ("sharegpt", "self-instruct", "text"):
        raise ConfigError(f"field= does not apply to the {fmt!r} format")
    where = str(path)
    path = Path(path)
    collector = _Collector(where, strict=strict, max_chars=max_chars)

    if fmt == "parquet" or (fmt is None and _looks_like_parquet(path)):
        _load_parquet(path, collector, field)
        return collector.load

    text = _read_text(path, where)
    suffix = path.suffix.lower()
    if fmt is None:
        if suffix in (".csv", ".tsv"):
            fmt = "csv"
        elif suffix in (".txt", ".text"):
            fmt = "text"
        elif suffix in (".json", ".jsonl", ".ndjson") or text.lstrip()[:1] in ("[", "{"):
            fmt = "json"
        else:
            fmt = "text"

    if fmt == "text":
        _load_text(text, collector)
    elif fmt == "csv":
        _load_csv(text, collector, field, delimiter="\t" if suffix == ".tsv" else ",")
    else:
        records = _json_records(text, where, jsonl_only=suffix in (".jsonl", ".ndjson"))
        schema = None if fmt == "json" else fmt
        _load_json_records(records, collector, schema, field)
    return collector.load


def _normalise_format(format: str | None) -> str | None:
    if format is None:
        return None
    name = format.strip().lower()
    name = _FORMAT_ALIASES.get(name, name)
    if name not in FORMATS:
        raise ConfigError(f"unknown seed format {format!r}; choose one of {', '.join(FORMATS)}")
    return name


def _looks_like_parquet(path: Path) -> bool:
    if path.suffix.lower() in (".parquet", ".pq"):
        return True
    try:
        with path.open("rb") as fh:
            return fh.read(4) == b"PAR1"
    except (OSError, ValueError):
        return False  # _read_text reports it with the proper message


def _read_text(path: Path, where: str) -> str:
    """Read the whole file as UTF-8, because a wrong guess at the encoding corrupts seeds."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise SeedFileError("file not found", path=where) from None
    except IsADirectoryError:
        raise SeedFileError("is a directory, not a seed file", path=where) from None
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
        message = getattr(exc, "strerror", None) or str(exc)
        raise SeedFileError(f"cannot read the file: {message}", path=where) from None
    bom = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    try:
        text = data[bom:].decode("utf-8")
    except UnicodeDecodeError as exc:
        offset = bom + exc.start
        line = data.count(b"\n", 0, offset) + 1
        raise SeedFileError(
            f"not valid UTF-8: byte 0x{data[offset]:02x} at byte offset {offset} "
            f"(line {line}); re-save the file as UTF-8",
            path=where,
            line=line,
        ) from None
    if not text.strip():
        raise SeedFileError("the file is empty: no seeds", path=where)
    return text


def _split_lines(text: str) -> Iterator[tuple[int, str]]:
    """Number lines as editors do: only \\n (with an optional \\r before it) ends a line."""
    for number, line in enumerate(text.split("\n"), start=1):
        yield number, line.removesuffix("\r")


def _load_text(text: str, collector: _Collector) -> None:
    found = False
    for number, line in _split_lines(text):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        found = True
        collector.add(_Record(number, None), stripped, None, "the instruction")
    if not found:
        raise SeedFileError("no seeds: only blank lines and comments", path=collector.path)


def _load_csv(text: str, collector: _Collector, field: str | None, delimiter: str) -> None:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header: list[str] | None = None
    index = extra = -1
    rows = 0
    try:
        while True:
            start = reader.line_num + 1
            try:
                row = next(reader)
            except StopIteration:
                break
            if not row or all(not cell.strip() for cell in row):
                continue
            if header is None:
                header = row
                name = field if field is not None else "instruction"
                if name not in header:
                    raise _missing_field(collector.path, field, header, "columns")
                index = header.index(name)
                extra = header.index("input") if "input" in header and name != "input" else -1
                continue
            rows += 1
            record = _Record(start, None)
            if len(row) != len(header):
                collector.problem(
                    record, f"row has {len(row)} fields but the header has {len(header)}"
                )
                continue
            collector.add(
                record, row[index], row[extra] if extra >= 0 else None, repr(header[index])
            )
    except csv.Error as exc:
        raise SeedFileError(
            f"malformed CSV: {exc}", path=collector.path, line=reader.line_num
        ) from None
    if header is None:
        raise SeedFileError("the file is empty: no seeds", path=collector.path)
    if rows == 0:
        raise SeedFileError("no seeds: the CSV has a header but no rows", path=collector.path)


def _load_parquet(path: Path, collector: _Collector, field: str | None) -> None:
    where = collector.path
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise SeedFileError(
            "reading Parquet needs pyarrow (pip install pyarrow)", path=where
        ) from None
    try:
        columns = list(pq.read_schema(path).names)
        name = field if field is not None else "instruction"
        if name not in columns:
            raise _missing_field(where, field, columns, "columns")
        wanted = [name] + (["input"] if "input" in columns and name != "input" else [])
        table = pq.read_table(path, columns=wanted)
        instructions = table.column(name).to_pylist()
        inputs = table.column("input").to_pylist() if len(wanted) == 2 else None
    except SeedFileError:
        raise
    except FileNotFoundError:
        raise SeedFileError("file not found", path=where) from None
    except Exception as exc:  # pyarrow raises many unrelated types for a bad file
        raise SeedFileError(f"cannot read as Parquet: {exc}", path=where) from None
    if not instructions:
        raise SeedFileError("no seeds: the Parquet file has no rows", path=where)
    for number, instruction in enumerate(instructions, start=1):
        input_ = inputs[number - 1] if inputs is not None else None
        record = _Record(number, None, "row", f"row {number}")
        collector.add(record, instruction, input_, repr(name))


def _missing_field(where: str, field: str | None, available: list[str], kind: str) -> SeedFileError:
    shown = ", ".join(repr(name) for name in available[:30]) or "none"
    if len(available) > 30:
        shown += f", ... ({len(available)} in all)"
    if field is None:
        message = f"no 'instruction' {kind[:-1]}; pass field=NAME (--field) to choose one"
    else:
        message = f"no {field!r} {kind[:-1]}"
    return SeedFileError(f"{message}; available {kind}: {shown}", path=where)


def _json_records(text: str, where: str, *, jsonl_only: bool) -> list[_Record]:
    """Parse a JSON list or JSON Lines, whichever the content is."""
    first = text.lstrip()[:1]
    if first == "[":
        return _json_list(text, where)
    if jsonl_only or first != "{":
        return _json_lines(text)
    # A .json file starting with "{": JSON Lines if its first line is a whole object.
    first_line = text.lstrip().split("\n", 1)[0]
    try:
        if isinstance(json.loads(first_line), dict):
            return _json_lines(text)
    except (ValueError, RecursionError):
        pass
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SeedFileError(
            f"malformed JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})",
            path=where,
            line=exc.lineno,
        ) from None
    except (ValueError, RecursionError) as exc:
        raise SeedFileError(f"malformed JSON: {exc}", path=where) from None
    keys = ", ".join(repr(k) for k in list(value)[:20]) if isinstance(value, dict) else ""
    raise SeedFileError(
        f"the top-level JSON value is an object (keys: {keys}); expected a list of "
        "records or JSON Lines",
        path=where,
    )


def _json_list(text: str, where: str) -> list[_Record]:
    """Decode list items one by one so each record knows the file line it starts on."""
    decoder = json.JSONDecoder()
    records: list[_Record] = []
    line, counted = 1, 0
    multiline = "\n" in text.strip()

    def fail(message: str, at: int) -> SeedFileError:
        at_line = text.count("\n", 0, at) + 1
        column = at - (text.rfind("\n", 0, at) + 1) + 1
        return SeedFileError(
            f"malformed JSON: {message} (line {at_line}, column {column})",
            path=where,
            line=at_line,
        )

    pos = _JSON_WS.match(text, 0).end()
    if not text.startswith("[", pos):
        raise fail("expected '[' to open a list of records", pos)
    pos = _JSON_WS.match(text, pos + 1).end()
    if text.startswith("]", pos):
        pos += 1
    else:
        while True:
            try:
                value, end = decoder.raw_decode(text, pos)
            except json.JSONDecodeError as exc:
                raise fail(exc.msg, exc.pos) from None
            except (ValueError, RecursionError) as exc:
                raise fail(str(exc) or type(exc).__name__, pos) from None
            line += text.count("\n", counted, pos)
            counted = pos
            index = len(records) + 1
            label = f"record {index} (file line {line})" if multiline else f"record {index}"
            records.append(_Record(index, value, "record", label))
            pos = _JSON_WS.match(text, end).end()
            if text.startswith(",", pos):
                pos = _JSON_WS.match(text, pos + 1).end()
            elif text.startswith("]", pos):
                pos += 1
                break
            else:
                raise fail("expected ',' or ']' after a list item", pos)
    if text[pos:].strip():
        raise fail("extra data after the end of the list", _JSON_WS.match(text, pos).end())
    if not records:
        raise SeedFileError("no seeds: the JSON list is empty", path=where)
    return records


def _json_lines(text: str) -> list[_Record]:
    records = []
    for number, line in _split_lines(text):
        if not line.strip():
            continue
        try:
            value: Any = json.loads(line)
        except json.JSONDecodeError as exc:
            value = _BadRow(f"invalid JSON: {exc.msg} (column {exc.colno})")
        except (ValueError, RecursionError) as exc:
            value = _BadRow(f"invalid JSON: {exc or type(exc).__name__}")
        records.append(_Record(number, value))
    return records


def _detect_schema(records: list[_Record]) -> str | None:
    inspected = 0
    for record in records:
        if not isinstance(record.value, dict):
            continue
        if "instances" in record.value:
            return "self-instruct"
        if "conversations" in record.value:
            return "sharegpt"
        if "instruction" in record.value:
            return "alpaca"
        inspected += 1
        if inspected >= _DETECT_LIMIT:
            break
    return None


def _keys_seen(records: list[_Record]) -> list[str]:
    keys: dict[str, None] = {}
    for record in records[:_DETECT_LIMIT]:
        if isinstance(record.value, dict):
            keys.update(dict.fromkeys(str(k) for k in record.value))
    return list(keys)


def _load_json_records(
    records: list[_Record], collector: _Collector, schema: str | None, field: str | None
) -> None:
    where = collector.path
    if not any(isinstance(r.value, dict) for r in records):
        first = records[0]
        reason = str(first.value) if isinstance(first.value, _BadRow) else "not a JSON object"
        raise SeedFileError(
            f"no record is a JSON object (first record: {reason})", path=where, line=first.line
        )
    if field is not None or schema == "jsonl":
        name = field if field is not None else "instruction"
        if not any(isinstance(r.value, dict) and name in r.value for r in records):
            raise _missing_field(where, field, _keys_seen(records), "keys")
        schema = "records"
    elif schema is None:
        schema = _detect_schema(records)
        if schema is None:
            raise SeedFileError(
                "cannot tell the seed format: no 'instruction', 'conversations' or "
                "'instances' key; pass field=NAME (--field) naming the instruction key; "
                f"keys found: {', '.join(repr(k) for k in _keys_seen(records)[:30])}",
                path=where,
            )
        name = "instruction"
    else:
        name = "instruction"

    for record in records:
        value = record.value
        try:
            if isinstance(value, _BadRow):
                raise value
            if not isinstance(value, dict):
                raise _BadRow(f"not a JSON object (got {_json_type(value)})")
            if schema == "sharegpt":
                instruction, input_ = _first_human_turn(value), None
                label = "the first human turn's 'value'"
            elif schema == "self-instruct":
                instruction, input_ = value.get("instruction"), _first_instance_input(value)
                label = "'instruction'"
            else:
                if name not in value:
                    raise _BadRow(f"no {name!r} key")
                instruction = value[name]
                input_ = value.get("input") if name != "input" else None
                label = repr(name)
        except _BadRow as exc:
            collector.problem(record, str(exc))
            continue
        collector.add(record, instruction, input_, label)


def _first_human_turn(record: dict[str, Any]) -> object:
    """ShareGPT dumps often open with a system or gpt turn; the person's request is later."""
    turns = record.get("conversations")
    if not isinstance(turns, list):
        raise _BadRow("'conversations' is missing or not a list")
    for number, turn in enumerate(turns, start=1):
        if not isinstance(turn, dict):
            raise _BadRow(f"turn {number} is not an object")
        role = turn.get("from")
        if isinstance(role, str) and role.strip().lower() in _HUMAN_ROLES:
            value = turn.get("value")
            if value is None:
                raise _BadRow(f"turn {number} (first human turn) has no 'value'")
            return value
    if not turns:
        raise _BadRow("'conversations' is empty")
    roles = sorted({str(t.get("from")) for t in turns})
    raise _BadRow(f"no human turn (turns are from: {', '.join(roles)})")


def _first_instance_input(record: dict[str, Any]) -> object:
    instances = record.get("instances")
    if instances is None:
        return None
    if not isinstance(instances, list):
        raise _BadRow("'instances' is not a list")
    if not instances:
        return None
    first = instances[0]
    if not isinstance(first, dict):
        raise _BadRow("the first instance is not an object")
    return first.get("input")


def _json_type(value: object) -> str:
    names = {
        list: "list",
        dict: "object",
        str: "string",
        bool: "boolean",
        int: "number",
        float: "number",
    }
    return "null" if value is None else names.get(type(value), type(value).__name__)
