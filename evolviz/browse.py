"""Reading a run for a person: filtered pages of candidates, a seed's lineage, what-ifs.

Kept apart from the panel so it is plain Python over the store, testable without Jupyter,
and so the panel never loads more than one page of a 250K-candidate run at a time.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .config import RunConfig
from .engine import reapply_rules
from .store import RunStore
from .templates import TemplateSet

__all__ = ["Query", "filter_options", "lineage", "query_candidates", "what_if"]

ROW_TEXT = 300


@dataclass
class Query:
    generation: int | None = None
    operator: str | None = None
    status: str | None = None
    rule: str | None = None
    text: str | None = None
    offset: int = 0
    limit: int = 200

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Query:
        def opt(key: str) -> Any:
            v = d.get(key)
            return None if v in (None, "", "any") else v

        gen = opt("generation")
        return cls(generation=int(gen) if gen is not None else None,
                   operator=opt("operator"), status=opt("status"), rule=opt("rule"),
                   text=opt("text"), offset=max(0, int(d.get("offset") or 0)),
                   limit=min(1000, max(1, int(d.get("limit") or 200))))


def _where(q: Query) -> tuple[str, list[Any]]:
    clauses, args = [], []
    for column, value in (("generation", q.generation), ("operator", q.operator),
                          ("status", q.status), ("rejected_by", q.rule)):
        if value is not None:
            clauses.append(f"{column} = ?")
            args.append(value)
    if q.text:
        like = f"%{q.text.replace('%', '').replace('_', '')}%"
        clauses.append("(instruction LIKE ? OR answer LIKE ? OR parent_id LIKE ? OR id LIKE ?)")
        args += [like, like, like, like]
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", args


def query_candidates(store: RunStore, q: Query) -> tuple[int, list[dict[str, Any]]]:
    """(total matching, one page of row summaries), newest generation first."""
    where, args = _where(q)
    total = store.conn.execute(f"SELECT count(*) FROM candidates{where}", args).fetchone()[0]
    rows = store.conn.execute(
        f"SELECT id, generation, slot, operator, status, rejected_by, error_class, "
        f"substr(instruction, 1, {ROW_TEXT}) AS instruction, difficulty FROM candidates"
        f"{where} ORDER BY generation DESC, slot LIMIT ? OFFSET ?",
        [*args, q.limit, q.offset],
    ).fetchall()
    return total, [dict(r) for r in rows]


def filter_options(store: RunStore) -> dict[str, list[Any]]:
    conn = store.conn

    def distinct(col: str) -> list[Any]:
        return [r[0] for r in conn.execute(
            f"SELECT DISTINCT {col} FROM candidates WHERE {col} IS NOT NULL ORDER BY {col}")]

    return {"generation": distinct("generation"), "operator": distinct("operator"),
            "status": ["accepted", "rejected", "failed"], "rule": distinct("rejected_by")}


def lineage(store: RunStore, seed_id: str) -> list[dict[str, Any]]:
    """The seed, then every attempt made on its slot, generation by generation."""
    seed = store.conn.execute("SELECT instruction, input FROM seeds WHERE id=?",
                              (seed_id,)).fetchone()
    if seed is None:
        return []
    text = seed["instruction"] + (f"\n\n{seed['input']}" if seed["input"] else "")
    steps: list[dict[str, Any]] = [{"id": seed_id, "generation": 0, "operator": None,
                                    "status": "seed", "text": text}]
    for r in store.conn.execute(
        "SELECT id, generation, operator, status, rejected_by, error_class, instruction, "
        "parent_id FROM candidates WHERE seed_id=? ORDER BY generation", (seed_id,)
    ):
        steps.append({"id": r["id"], "generation": r["generation"], "operator": r["operator"],
                      "status": r["status"], "rejected_by": r["rejected_by"],
                      "parent_id": r["parent_id"], "text": r["instruction"],
                      "error": r["error_class"]})
    return steps


@dataclass
class WhatIf:
    """How a run would have been judged under other rule settings (nothing is rewritten:
    the pool of later generations was decided by the rules in force at the time)."""

    per_generation: list[dict[str, Any]] = field(default_factory=list)
    changed: list[dict[str, Any]] = field(default_factory=list)
    total_changed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"per_generation": self.per_generation, "changed": self.changed[:200],
                "total_changed": self.total_changed}


def what_if(store: RunStore, config: RunConfig, templates: TemplateSet) -> WhatIf:
    """Rules 2-4 re-applied under `config`, then the dataset gates (`config.gates`) over
    the result: a candidate another rule now rejects leaves the dataset, so whether a later
    one is its duplicate changes too."""
    from .gates import gates_what_if

    d = gates_what_if(store, config.gates,
                      rejudge=lambda c: reapply_rules(c, config, templates))
    return WhatIf(per_generation=d["per_generation"], changed=d["changed"],
                  total_changed=d["total_changed"])


def candidate_detail(store: RunStore, candidate_id: str) -> dict[str, Any]:
    row = store.conn.execute("SELECT record FROM candidates WHERE id=?",
                             (candidate_id,)).fetchone()
    return {} if row is None else json.loads(row[0])
