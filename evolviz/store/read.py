"""The read model: everything the panel, exports, maps and `evolviz show` read from a run.

Each question a view asks is one bounded, indexed query here, returning typed rows, so the
panel never loads more than a page of a 250K-candidate run and no other module writes SQL.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from ..records import STATUSES, Candidate, seed_text
from .run_store import RunStore

__all__ = ["ROW_TEXT", "CandidateRow", "LineageStep", "MapPoint", "Page", "Query", "RunView"]

#: Characters of an instruction sent with a list row (the card loads the whole record).
ROW_TEXT = 300


@dataclass(frozen=True)
class Query:
    """A filtered page of the candidate list; `None` means "any"."""

    generation: int | None = None
    operator: str | None = None
    status: str | None = None
    rule: str | None = None
    text: str | None = None
    #: Only these candidates (a lasso on the map); an empty tuple matches none.
    ids: tuple[str, ...] | None = None
    offset: int = 0
    limit: int = 200

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Query:
        def opt(key: str) -> Any:
            v = d.get(key)
            return None if v in (None, "", "any") else v

        gen = opt("generation")
        ids = d.get("ids")
        if ids is not None and not isinstance(ids, list | tuple):
            raise ValueError(f"query field 'ids' must be a list of candidate ids, not {ids!r}")
        return cls(generation=int(gen) if gen is not None else None,
                   operator=opt("operator"), status=opt("status"), rule=opt("rule"),
                   text=opt("text"), ids=None if ids is None else tuple(map(str, ids)),
                   offset=max(0, int(d.get("offset") or 0)),
                   limit=min(1000, max(1, int(d.get("limit") or 200))))


@dataclass(frozen=True)
class CandidateRow:
    """One line of the candidate list."""

    id: str
    generation: int
    slot: int
    operator: str
    status: str
    rejected_by: str | None
    error_class: str | None
    instruction: str | None
    difficulty: float | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Page:
    total: int
    offset: int
    rows: list[CandidateRow]


@dataclass(frozen=True)
class LineageStep:
    """The seed, or one attempt made on its slot."""

    id: str
    generation: int
    operator: str | None
    status: str
    text: str | None
    rejected_by: str | None = None
    parent_id: str | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class MapPoint:
    """What the map needs of a candidate with an instruction (accepted or rejected)."""

    id: str
    generation: int
    slot: int
    parent_id: str
    seed_id: str
    operator: str
    instruction: str
    status: str = "accepted"
    rejected_by: str | None = None

    def as_candidate(self) -> Candidate:
        return Candidate(id=self.id, generation=self.generation, slot=self.slot,
                         parent_id=self.parent_id, seed_id=self.seed_id,
                         operator=self.operator, parent_instruction="",
                         status=self.status, rejected_by=self.rejected_by,
                         instruction=self.instruction)


def _like(text: str) -> str:
    """A LIKE pattern matching `text` literally: % and _ are searched for, not wildcards."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _where(q: Query) -> tuple[str, list[Any]]:
    clauses, args = [], []
    for column, value in (("generation", q.generation), ("operator", q.operator),
                          ("status", q.status), ("rejected_by", q.rule)):
        if value is not None:
            clauses.append(f"{column} = ?")
            args.append(value)
    if q.text:
        like = _like(q.text)
        clauses.append("(" + " OR ".join(f"{col} LIKE ? ESCAPE '\\'" for col in
                                         ("instruction", "answer", "parent_id", "id")) + ")")
        args += [like, like, like, like]
    if q.ids is not None:
        # One bound JSON array, not one placeholder per id: a lasso may hold 250K ids,
        # far past SQLite's limit on host parameters.
        clauses.append("id IN (SELECT value FROM json_each(?))")
        args.append(json.dumps(list(q.ids)))
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", args


def _series(rows: Any) -> dict[str, dict[str, list]]:
    """(generation, key, value) rows as one x/y series per key."""
    out: dict[str, dict[str, list]] = {}
    for g, key, value in rows:
        s = out.setdefault(str(key), {"x": [], "y": []})
        s["x"].append(g)
        s["y"].append(value)
    return out


class RunView:
    """Read-only questions about one run, answered from its store."""

    def __init__(self, store: RunStore):
        self.store = store
        self.conn = store.conn

    # -- the candidate list ------------------------------------------------------------

    def page(self, q: Query) -> Page:
        """One page of matching candidates, newest generation first."""
        where, args = _where(q)
        total = self.conn.execute(f"SELECT count(*) FROM candidates{where}",
                                  args).fetchone()[0]
        rows = self.conn.execute(
            f"SELECT id, generation, slot, operator, status, rejected_by, error_class, "
            f"substr(instruction, 1, {ROW_TEXT}) AS instruction, difficulty FROM candidates"
            f"{where} ORDER BY generation DESC, slot LIMIT ? OFFSET ?",
            [*args, q.limit, q.offset],
        ).fetchall()
        return Page(total=total, offset=q.offset, rows=[CandidateRow(**dict(r)) for r in rows])

    def filter_options(self) -> dict[str, list[Any]]:
        def distinct(col: str) -> list[Any]:
            return [r[0] for r in self.conn.execute(
                f"SELECT DISTINCT {col} FROM candidates WHERE {col} IS NOT NULL "
                f"ORDER BY {col}")]

        return {"generation": distinct("generation"), "operator": distinct("operator"),
                "status": list(STATUSES), "rule": distinct("rejected_by")}

    def detail(self, candidate_id: str) -> dict[str, Any]:
        """A candidate's whole record, as the card shows it ({} when there is none)."""
        c = self.store.candidate(candidate_id)
        return {} if c is None else c.to_dict()

    def lineage(self, seed_id: str) -> list[LineageStep]:
        """The seed, then every attempt made on its slot, generation by generation."""
        seed = self.conn.execute("SELECT instruction, input FROM seeds WHERE id=?",
                                 (seed_id,)).fetchone()
        if seed is None:
            return []
        steps = [LineageStep(id=seed_id, generation=0, operator=None, status="seed",
                             text=seed_text(seed["instruction"], seed["input"]))]
        for r in self.conn.execute(
            "SELECT id, generation, operator, status, rejected_by, error_class, instruction, "
            "parent_id FROM candidates WHERE seed_id=? ORDER BY generation", (seed_id,)
        ):
            steps.append(LineageStep(id=r["id"], generation=r["generation"],
                                     operator=r["operator"], status=r["status"],
                                     rejected_by=r["rejected_by"], parent_id=r["parent_id"],
                                     text=r["instruction"], error=r["error_class"]))
        return steps

    # -- charts and maps ---------------------------------------------------------------

    def chart_series(self) -> dict[str, Any]:
        """Per-generation series: acceptance by operator, rejections by rule, difficulty
        (generation 0 is the seeds, when they were rated)."""
        acceptance = _series(self.conn.execute(
            "SELECT generation, operator, avg(status = 'accepted') FROM candidates "
            "GROUP BY generation, operator ORDER BY generation"))
        rejections = _series(self.conn.execute(
            "SELECT generation, rejected_by, count(*) FROM candidates WHERE status='rejected' "
            "GROUP BY generation, rejected_by ORDER BY generation"))
        difficulty: dict[str, list] = {"x": [], "y": []}
        seeds = self.conn.execute(
            "SELECT avg(difficulty) FROM seeds WHERE difficulty IS NOT NULL").fetchone()[0]
        if seeds is not None:
            difficulty["x"].append(0)
            difficulty["y"].append(seeds)
        for g, mean in self.conn.execute(
            "SELECT generation, avg(difficulty) FROM candidates WHERE difficulty IS NOT NULL "
            "GROUP BY generation ORDER BY generation"
        ):
            difficulty["x"].append(g)
            difficulty["y"].append(mean)
        return {"acceptance": acceptance, "rejections": rejections, "difficulty": difficulty}

    def map_points(self, *, per_generation: int | None = None,
                   rejected: bool = False) -> list[MapPoint]:
        """Accepted candidates for the map (with `rejected`, also the rejected ones that
        have an instruction to place), in (generation, slot) order; with
        `per_generation`, an even sample of at most that many from each generation."""
        which = ("(status='accepted' OR (status='rejected' AND coalesce(instruction, '') "
                 "!= ''))" if rejected else "status='accepted'")
        out: list[MapPoint] = []
        gens = [r[0] for r in self.conn.execute(
            f"SELECT DISTINCT generation FROM candidates WHERE {which} ORDER BY generation")]
        for g in gens:
            n = self.conn.execute(
                f"SELECT count(*) FROM candidates WHERE generation=? AND {which}",
                (g,)).fetchone()[0]
            step = 1 if not per_generation else max(1, -(-n // per_generation))
            rows = self.conn.execute(
                "SELECT id, generation, slot, parent_id, seed_id, operator, instruction, "
                f"status, rejected_by FROM candidates WHERE generation=? AND {which} "
                "ORDER BY slot", (g,))
            out += [MapPoint(**dict(r)) for i, r in enumerate(rows) if i % step == 0]
        return out

    def seed_texts(self) -> list[tuple[str, str]]:
        """(id, text) of every seed, in order."""
        return [(r["id"], seed_text(r["instruction"], r["input"]))
                for r in self.store.seed_rows()]
