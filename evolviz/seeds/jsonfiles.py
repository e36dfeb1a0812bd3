"""JSON seed files: a JSON list or JSON Lines, in the Alpaca, ShareGPT or Self-Instruct
shape, or records of any shape with `field` naming the instruction key.

A JSON list is decoded item by item so each record knows the file line it starts on.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ..errors import SeedFileError
from .report import BadRow, Collector, Record, json_type, missing_field
from .text import split_lines

__all__ = ["json_records", "load_json_records"]

_HUMAN_ROLES = ("human", "user")
_JSON_WS = re.compile(r"[ \t\n\r]*")
_DETECT_LIMIT = 200  # records inspected to guess a JSON schema or list the keys seen


def json_records(text: str, where: str, *, jsonl_only: bool) -> list[Record]:
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


def _json_list(text: str, where: str) -> list[Record]:
    """Decode list items one by one so each record knows the file line it starts on."""
    decoder = json.JSONDecoder()
    records: list[Record] = []
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
            records.append(Record(index, value, "record", label))
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


def _json_lines(text: str) -> list[Record]:
    records = []
    for number, line in split_lines(text):
        if not line.strip():
            continue
        try:
            value: Any = json.loads(line)
        except json.JSONDecodeError as exc:
            value = BadRow(f"invalid JSON: {exc.msg} (column {exc.colno})")
        except (ValueError, RecursionError) as exc:
            value = BadRow(f"invalid JSON: {exc or type(exc).__name__}")
        records.append(Record(number, value))
    return records


def _detect_schema(records: list[Record]) -> str | None:
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


def _keys_seen(records: list[Record]) -> list[str]:
    keys: dict[str, None] = {}
    for record in records[:_DETECT_LIMIT]:
        if isinstance(record.value, dict):
            keys.update(dict.fromkeys(str(k) for k in record.value))
    return list(keys)


def load_json_records(
    records: list[Record], collector: Collector, schema: str | None, field: str | None
) -> None:
    where = collector.path
    if not any(isinstance(r.value, dict) for r in records):
        first = records[0]
        reason = str(first.value) if isinstance(first.value, BadRow) else "not a JSON object"
        raise SeedFileError(
            f"no record is a JSON object (first record: {reason})", path=where, line=first.line
        )
    if field is not None or schema == "jsonl":
        name = field if field is not None else "instruction"
        if not any(isinstance(r.value, dict) and name in r.value for r in records):
            raise missing_field(where, field, _keys_seen(records), "keys")
        schema = "records"
    elif schema is None:
        schema = _detect_schema(records)
        if schema is None:
            raise SeedFileError(
                "cannot tell the seed format: no 'instruction', 'conversations' or "
                "'instances' key; pass field=NAME naming the instruction key; "
                f"keys found: {', '.join(repr(k) for k in _keys_seen(records)[:30])}",
                path=where,
            )
        name = "instruction"
    else:
        name = "instruction"

    for record in records:
        value = record.value
        try:
            if isinstance(value, BadRow):
                raise value
            if not isinstance(value, dict):
                raise BadRow(f"not a JSON object (got {json_type(value)})")
            if schema == "sharegpt":
                instruction, input_ = _first_human_turn(value), None
                label = "the first human turn's 'value'"
            elif schema == "self-instruct":
                instruction, input_ = value.get("instruction"), _first_instance_input(value)
                label = "'instruction'"
            else:
                if name not in value:
                    raise BadRow(f"no {name!r} key")
                instruction = value[name]
                input_ = value.get("input") if name != "input" else None
                label = repr(name)
        except BadRow as exc:
            collector.problem(record, str(exc))
            continue
        collector.add(record, instruction, input_, label)


def _first_human_turn(record: dict[str, Any]) -> object:
    """ShareGPT dumps often open with a system or gpt turn; the person's request is later."""
    turns = record.get("conversations")
    if not isinstance(turns, list):
        raise BadRow("'conversations' is missing or not a list")
    for number, turn in enumerate(turns, start=1):
        if not isinstance(turn, dict):
            raise BadRow(f"turn {number} is not an object")
        role = turn.get("from")
        if isinstance(role, str) and role.strip().lower() in _HUMAN_ROLES:
            value = turn.get("value")
            if value is None:
                raise BadRow(f"turn {number} (first human turn) has no 'value'")
            return value
    if not turns:
        raise BadRow("'conversations' is empty")
    roles = sorted({str(t.get("from")) for t in turns})
    raise BadRow(f"no human turn (turns are from: {', '.join(roles)})")


def _first_instance_input(record: dict[str, Any]) -> object:
    instances = record.get("instances")
    if instances is None:
        return None
    if not isinstance(instances, list):
        raise BadRow("'instances' is not a list")
    if not instances:
        return None
    first = instances[0]
    if not isinstance(first, dict):
        raise BadRow("the first instance is not an object")
    return first.get("input")
