"""Tabular seed files: CSV/TSV with a header row, and Parquet (through pyarrow).

Both name the instruction column by `field` (default "instruction") and use an "input"
column beside it when there is one.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from ..errors import SeedFileError
from .report import Collector, Record, missing_field

__all__ = ["load_csv", "load_parquet", "looks_like_parquet"]


def looks_like_parquet(path: Path) -> bool:
    if path.suffix.lower() in (".parquet", ".pq"):
        return True
    try:
        with path.open("rb") as fh:
            return fh.read(4) == b"PAR1"
    except (OSError, ValueError):
        return False  # read_text reports it with the proper message


def load_csv(text: str, collector: Collector, field: str | None, delimiter: str) -> None:
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
                    raise missing_field(collector.path, field, header, "columns")
                index = header.index(name)
                extra = header.index("input") if "input" in header and name != "input" else -1
                continue
            rows += 1
            record = Record(start, None)
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


def load_parquet(path: Path, collector: Collector, field: str | None) -> None:
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
            raise missing_field(where, field, columns, "columns")
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
        record = Record(number, None, "row", f"row {number}")
        collector.add(record, instruction, input_, repr(name))
