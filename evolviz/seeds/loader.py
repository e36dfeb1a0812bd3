"""`load_seeds`: pick the format from the extension and content, read the file as UTF-8,
and hand it to the loader of its format family."""

from __future__ import annotations

from pathlib import Path

from ..errors import ConfigError, SeedFileError
from .jsonfiles import json_records, load_json_records
from .report import Collector, SeedLoad
from .tabular import load_csv, load_parquet, looks_like_parquet
from .text import load_text

__all__ = ["FORMATS", "load_seeds"]

#: Format names `load_seeds(format=...)` accepts.
FORMATS = ("alpaca", "sharegpt", "self-instruct", "text", "csv", "parquet", "jsonl")

_FORMAT_ALIASES = {
    "self_instruct": "self-instruct",
    "selfinstruct": "self-instruct",
    "txt": "text",
    "tsv": "csv",
    "pq": "parquet",
}


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
    collector = Collector(where, strict=strict, max_chars=max_chars)

    if fmt == "parquet" or (fmt is None and looks_like_parquet(path)):
        load_parquet(path, collector, field)
        return collector.load

    text = read_text(path, where)
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
        load_text(text, collector)
    elif fmt == "csv":
        load_csv(text, collector, field, delimiter="\t" if suffix == ".tsv" else ",")
    else:
        records = json_records(text, where, jsonl_only=suffix in (".jsonl", ".ndjson"))
        schema = None if fmt == "json" else fmt
        load_json_records(records, collector, schema, field)
    return collector.load


def _normalise_format(format: str | None) -> str | None:
    if format is None:
        return None
    name = format.strip().lower()
    name = _FORMAT_ALIASES.get(name, name)
    if name not in FORMATS:
        raise ConfigError(f"unknown seed format {format!r}; choose one of {', '.join(FORMATS)}")
    return name


def read_text(path: Path, where: str) -> str:
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
