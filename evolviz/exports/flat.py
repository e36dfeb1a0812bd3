"""Getting a dataset out of a run store, in the formats training code reads.

The dataset is the accepted candidates (the paper's evolved instructions with their
answers). `include_rejected` adds the rejected and failed ones, for studying what the rules
threw away; the full-record formats (JSONL, Parquet) then keep why.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import ConfigError
from ..records import Candidate
from ..store import RunStore

__all__ = ["FORMATS", "export", "iter_dataset", "to_dataframe"]

FORMATS = ("alpaca", "sharegpt", "jsonl", "parquet")


def iter_dataset(store: RunStore, *, include_rejected: bool = False) -> Iterator[Candidate]:
    for c in store.candidates():
        if c.status == "accepted" or include_rejected:
            yield c


def _flat(c: Candidate) -> dict[str, Any]:
    rewrite = c.calls.get("rewrite")
    return {
        "id": c.id,
        "generation": c.generation,
        "slot": c.slot,
        "parent_id": c.parent_id,
        "seed_id": c.seed_id,
        "operator": c.operator,
        "status": c.status,
        "rejected_by": c.rejected_by,
        "error_class": c.error_class,
        "parent_instruction": c.parent_instruction,
        "instruction": c.instruction,
        "answer": c.answer,
        "difficulty": c.difficulty,
        "tokens": c.tokens,
        "latency_s": c.latency_s,
        "model": rewrite.model if rewrite else None,
        "reasons": " | ".join(f"{v.rule}: {v.reason}" for v in c.verdicts if not v.passed),
    }


def to_dataframe(store: RunStore, *, include_rejected: bool = True,
                 records: bool = False) -> pd.DataFrame:
    """One row per candidate; `records=True` adds the full JSON record as a column."""
    rows = []
    for c in iter_dataset(store, include_rejected=include_rejected):
        row = _flat(c)
        if records:
            row["record"] = json.dumps(c.to_dict(), ensure_ascii=False)
        rows.append(row)
    columns = list(_flat(Candidate("", 0, 0, "", "", "", "")).keys())
    if records:
        columns.append("record")
    return pd.DataFrame(rows, columns=columns)


def export(store: RunStore, fmt: str, out: str | Path, *,
           include_rejected: bool = False) -> int:
    """Write the dataset; returns how many records were written."""
    if fmt not in FORMATS:
        raise ConfigError(f"{fmt!r} is not one of {list(FORMATS)}", field="format")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".partial")
    n = 0
    if fmt == "parquet":
        df = to_dataframe(store, include_rejected=include_rejected, records=True)
        df.to_parquet(tmp, index=False)
        n = len(df)
    else:
        with open(tmp, "w", encoding="utf-8") as f:
            if fmt == "alpaca":
                f.write("[\n")
            for c in iter_dataset(store, include_rejected=include_rejected):
                if fmt == "alpaca":
                    item: dict[str, Any] = {"instruction": c.instruction or "", "input": "",
                                            "output": c.answer or ""}
                    if include_rejected:
                        item["status"] = c.status
                    f.write(("" if n == 0 else ",\n") + json.dumps(item, ensure_ascii=False))
                elif fmt == "sharegpt":
                    item = {"id": c.id, "conversations": [
                        {"from": "human", "value": c.instruction or ""},
                        {"from": "gpt", "value": c.answer or ""}]}
                    if include_rejected:
                        item["status"] = c.status
                    f.write(json.dumps(item, ensure_ascii=False) + "\n")
                else:
                    f.write(json.dumps(c.to_dict(), ensure_ascii=False) + "\n")
                n += 1
            if fmt == "alpaca":
                f.write("\n]\n")
    tmp.replace(out)  # never leave a half-written export under the real name
    return n
