"""What a seed load returns (`Seed`, `SeedProblem`, `SeedLoad`) and the collector every
format hands its rows to, so validation, numbering and de-duplication are the same for all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any

from ..errors import SeedFileError
from ..records import seed_text

__all__ = [
    "BadRow", "Collector", "Record", "Seed", "SeedLoad", "SeedProblem", "clean", "json_type",
    "missing_field",
]

# Control characters other than tab and newline (C0, DEL and C1): they are invisible in
# most views, break prompts and usually mean the text was mangled on its way here.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# Lone surrogates survive json.loads ("\ud800") but cannot be encoded, so the run store
# and the LLM client would fail on them much later and far from the cause.
_SURROGATE = re.compile(r"[\ud800-\udfff]")


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
        return seed_text(self.instruction, self.input)


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


class BadRow(Exception):
    """Raised inside row extractors so each format only has to say what is wrong."""


@dataclass
class Record:
    line: int  # what Seed.line / SeedProblem.line hold
    value: Any
    unit: str = "line"  # what `line` counts: "line", "record" or "row"
    where: str = ""  # prefix for reasons when `line` alone does not locate the row


class Collector:
    """Validates extracted rows the same way for every format, numbers and de-duplicates."""

    def __init__(self, path: str, *, strict: bool, max_chars: int):
        self.path = path
        self.strict = strict
        self.max_chars = max_chars
        self.load = SeedLoad()
        self._seen: dict[str, tuple[str, str]] = {}

    def problem(self, record: Record, reason: str) -> None:
        if record.where:
            reason = f"{record.where}: {reason}"
        if self.strict:
            raise SeedFileError(reason, path=self.path, line=record.line)
        self.load.problems.append(SeedProblem(self.path, record.line, reason))

    def add(self, record: Record, instruction: object, input_: object, name: str) -> None:
        try:
            seed_instruction = clean(instruction, name, required=True)
            seed_input = clean(input_, "'input'", required=False)
        except BadRow as exc:
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


def clean(value: object, name: str, *, required: bool) -> str:
    """Normalise one text field, or say why it cannot be a seed."""
    if value is None:
        if required:
            raise BadRow(f"{name} is missing")
        return ""
    if not isinstance(value, str):
        raise BadRow(f"{name} is not a string (got {json_type(value)})")
    text = value.replace("\r\n", "\n")
    bad = _CONTROL.search(text)
    if bad:
        raise BadRow(
            f"{name} contains control character U+{ord(bad.group()):04X} at position {bad.start()}"
        )
    bad = _SURROGATE.search(text)
    if bad:
        raise BadRow(
            f"{name} contains a lone surrogate U+{ord(bad.group()):04X} (invalid Unicode)"
        )
    text = text.strip()
    if required and not text:
        raise BadRow(f"{name} is empty")
    return text


def missing_field(where: str, field: str | None, available: list[str], kind: str) -> SeedFileError:
    shown = ", ".join(repr(name) for name in available[:30]) or "none"
    if len(available) > 30:
        shown += f", ... ({len(available)} in all)"
    if field is None:
        message = f"no 'instruction' {kind[:-1]}; pass field=NAME to choose one"
    else:
        message = f"no {field!r} {kind[:-1]}"
    return SeedFileError(f"{message}; available {kind}: {shown}", path=where)


def json_type(value: object) -> str:
    names = {
        list: "list",
        dict: "object",
        str: "string",
        bool: "boolean",
        int: "number",
        float: "number",
    }
    return "null" if value is None else names.get(type(value), type(value).__name__)
