"""Plain text seed files: one instruction per line; blank lines and # comments skipped."""

from __future__ import annotations

from collections.abc import Iterator

from ..errors import SeedFileError
from .report import Collector, Record

__all__ = ["load_text", "split_lines"]


def split_lines(text: str) -> Iterator[tuple[int, str]]:
    """Number lines as editors do: only \\n (with an optional \\r before it) ends a line."""
    for number, line in enumerate(text.split("\n"), start=1):
        yield number, line.removesuffix("\r")


def load_text(text: str, collector: Collector) -> None:
    found = False
    for number, line in split_lines(text):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        found = True
        collector.add(Record(number, None), stripped, None, "the instruction")
    if not found:
        raise SeedFileError("no seeds: only blank lines and comments", path=collector.path)
