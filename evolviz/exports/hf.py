"""`evolviz export --format hf`: a folder the Hugging Face `datasets` library loads as is.

Why a folder and not one file: the Hub (and `datasets.load_dataset(DIR)`) read Parquet
shards under ``data/`` and a ``README.md`` whose YAML header names them, and that card is
where an Evol-Instruct set has to say how it was made: the seeds, the models per role, the
templates (with a hash, since the wording decides the dataset), sampling, the rules and
gates with their settings, and what each generation kept and threw away.

Lineage travels in columns (id, parent_id, seed_id, generation, operator, difficulty,
rules_passed), so how each instruction evolved round by round can be rebuilt from the
data alone. Only accepted rows are written: a row any rule rejected never is. Re-judging
(`rejudge=`) is explicit, and the card then says so and with which settings.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import InputError
from ..gates import GateConfig
from ..gates.dataset_stage import passed_gates
from ..gates.what_if import rejudged_candidates
from ..records import Candidate
from ..store import RunStore

__all__ = ["SCHEMA", "RulesRejudge", "export_hf", "rules_rejudger"]

SHARD_ROWS = 100_000

SCHEMA = pa.schema([
    ("id", pa.string()), ("parent_id", pa.string()), ("seed_id", pa.string()),
    ("generation", pa.int32()), ("slot", pa.int32()), ("operator", pa.string()),
    ("instruction", pa.string()), ("input", pa.string()), ("output", pa.string()),
    ("parent_instruction", pa.string()), ("difficulty", pa.float64()),
    ("rules_passed", pa.list_(pa.string())), ("models", pa.string()),
])

def _candidate_row(c: Candidate, gates: list[str]) -> dict[str, Any]:
    return {"id": c.id, "parent_id": c.parent_id, "seed_id": c.seed_id,
            "generation": c.generation, "slot": c.slot, "operator": c.operator,
            "instruction": c.instruction or "", "input": "", "output": c.answer or "",
            "parent_instruction": c.parent_instruction, "difficulty": c.difficulty,
            "rules_passed": [v.rule for v in c.verdicts if v.passed] + gates,
            "models": json.dumps(c.models, sort_keys=True)}


class _Shards:
    """Parquet shards of at most SHARD_ROWS rows, renamed to -NNNNN-of-MMMMM at the end."""

    def __init__(self, folder: Path):
        self.folder, self.rows, self.paths, self.n = folder, [], [], 0

    def add(self, row: dict[str, Any]) -> None:
        self.rows.append(row)
        self.n += 1
        if len(self.rows) >= SHARD_ROWS:
            self.flush()

    def flush(self) -> None:
        if not self.rows and self.paths:
            return
        path = self.folder / f"part-{len(self.paths):05d}.parquet"
        pq.write_table(pa.Table.from_pylist(self.rows, schema=SCHEMA), path)
        self.paths.append(path)
        self.rows = []

    def finish(self) -> list[str]:
        self.flush()
        names = []
        for i, p in enumerate(self.paths):
            name = f"train-{i:05d}-of-{len(self.paths):05d}.parquet"
            p.rename(self.folder / name)
            names.append(name)
        return names


def export_hf(store: RunStore, out: str | Path, *, include_seeds: bool = False,
              rejudge: GateConfig | None = None, thumbnail: str | Path | None = None,
              rules_rejudge: Callable[[Candidate], Candidate] | None = None) -> int:
    """Write the folder; returns the number of rows. `rejudge` re-applies the dataset
    stage with those settings first (and `rules_rejudge` rules 1-4), never implicitly."""
    out = Path(out)
    if thumbnail is not None and not Path(thumbnail).is_file():
        raise InputError(f"{thumbnail}: no such file", field="thumbnail")
    if out.exists() and any(out.iterdir()):
        raise InputError(f"{out}: the folder exists and is not empty; give a new one",
                         field="output")
    tmp = out.with_name(out.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    (tmp / "data").mkdir(parents=True)
    shards = _Shards(tmp / "data")
    stats = _Stats()
    if include_seeds:
        for r in store.seed_rows():
            shards.add({"id": r["id"], "parent_id": None, "seed_id": r["id"],
                        "generation": 0, "slot": r["idx"], "operator": None,
                        "instruction": r["instruction"], "input": r["input"] or "",
                        "output": None, "parent_instruction": None,
                        "difficulty": r["difficulty"], "rules_passed": [], "models": "{}"})
    gates = passed_gates(rejudge if rejudge is not None else _stored_gates(store))
    texts: dict[int, list[str]] = {}
    for c in _final(store, rejudge, rules_rejudge):
        stats.count(c)
        if c.status == "accepted":
            shards.add(_candidate_row(c, gates))
            texts.setdefault(c.generation, []).append(c.instruction or "")
    names = shards.finish()
    if thumbnail is not None:
        shutil.copyfile(thumbnail, tmp / "map.png")
    from .card import dataset_card, diversity

    summary = {**stats.summary(), "diversity": diversity(texts)}
    card = dataset_card(store, summary, rows=shards.n, shards=names,
                        include_seeds=include_seeds, rejudge=rejudge,
                        rules_rejudged=_rules_of(rules_rejudge),
                        thumbnail="map.png" if thumbnail is not None else None)
    (tmp / "README.md").write_text(card, encoding="utf-8")
    if out.exists():
        out.rmdir()
    tmp.replace(out)  # never leave a half-written export under the real name
    return shards.n


class RulesRejudge:
    """Rules 2-4 re-applied under other settings (`reapply_rules`), as a callable that
    also says which settings, for the card."""

    def __init__(self, config: Any, templates: Any):
        self.config, self.templates = config, templates

    def __call__(self, c: Candidate) -> Candidate:
        from ..run.engine import reapply_rules

        return reapply_rules(c, self.config, self.templates)


def rules_rejudger(store: RunStore, no_rule: list[str], sorry_max_words: int | None,
                   templates_dir: str | None) -> RulesRejudge:
    """The run's stored rules with these changes, for `export_hf(rules_rejudge=...)`."""
    from dataclasses import replace

    from ..config import RunConfig
    from ..templates import TemplateSet

    config = RunConfig.from_dict(store.get_meta("config") or {})
    rules = config.rules
    if sorry_max_words is not None:
        rules = replace(rules, sorry_max_words=sorry_max_words)
    return RulesRejudge(config.with_(rules=rules.without(no_rule)),
                        TemplateSet.load(templates_dir))


def _final(store: RunStore, rejudge: GateConfig | None,
           rules_rejudge: Callable[[Candidate], Candidate] | None) -> Iterator[Candidate]:
    if rejudge is None and rules_rejudge is None:
        yield from store.candidates()
        return
    config = rejudge if rejudge is not None else _stored_gates(store)
    for _, new in rejudged_candidates(store, config, rejudge=rules_rejudge):
        yield new


def _rules_of(rejudge: Callable[[Candidate], Candidate] | None) -> dict[str, Any] | None:
    if rejudge is None:
        return None
    config = getattr(rejudge, "config", None)
    return config.rules.to_dict() if config is not None else {"custom": True}


def _stored_gates(store: RunStore) -> GateConfig:
    return GateConfig.from_dict((store.get_meta("config") or {}).get("gates"))


class _Stats:
    """Counts over every candidate (not just the exported ones), for the card."""

    def __init__(self) -> None:
        self.gens: dict[int, Counter] = {}
        self.by_operator: dict[str, Counter] = {}
        self.rejected_by: Counter = Counter()
        self.models: dict[str, Counter] = {}

    def count(self, c: Candidate) -> None:
        g = self.gens.setdefault(c.generation, Counter())
        g["candidates"] += 1
        g[c.status] += 1
        op = self.by_operator.setdefault(c.operator, Counter())
        op["candidates"] += 1
        op[c.status] += 1
        if c.status == "rejected":
            self.rejected_by[c.rejected_by or "unknown"] += 1
        for call in c.calls.values():  # each call records its role; re-asks included
            self.models.setdefault(call.role, Counter())[call.model] += 1

    def summary(self) -> dict[str, Any]:
        return {
            "per_generation": [{"generation": g, "candidates": n["candidates"],
                                "accepted": n["accepted"], "rejected": n["rejected"],
                                "failed": n["failed"]} for g, n in sorted(self.gens.items())],
            "acceptance_by_operator": {
                op: {"candidates": n["candidates"], "accepted": n["accepted"],
                     "rate": round(n["accepted"] / n["candidates"], 4)}
                for op, n in sorted(self.by_operator.items())},
            "rejections_by_rule": dict(sorted(self.rejected_by.items())),
            "models": {role: dict(c.most_common()) for role, c in sorted(self.models.items())},
        }
