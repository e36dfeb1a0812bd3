"""Candidates of real local-model runs, labelled by a person, and what the verdicts make of
them now.

A labelled file (JSON Lines, `tests/local_labels/`) holds one candidate per line as the run
stored it (parent, operator, every call's reply and finish reason, the status it got) plus
`keep`: would a person keep it (a self-contained instruction that is a genuine evolution of
its parent, with an answer that attempts it; factual accuracy of a 135M model's answers is
not judged). `score` re-judges every candidate through the live pipeline over its stored
replies (no model needed) and counts precision (the share of accepted candidates a person
would keep) and recall (the share of keepable candidates accepted). A candidate the run
stopped before its answer can never be accepted by a re-judging: its answer was never
asked for.

`rule1_pairs` does the same for the question of who should decide rule 1 on the small
model: its judge's recorded reply, or the check that needs no model.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..calls import CallResult, Role
from ..config import RunConfig
from ..records import Candidate
from ..rules import OperatorView, RuleConfig, check_stage, read_equality
from ..run.engine import reapply_rules
from ..templates import TemplateSet

__all__ = ["Labelled", "Score", "load_labels", "rule1_pairs", "score", "to_label"]

#: The role each stored call was made for.
_ROLE = {"rewrite": Role.EVOLVER, "answer": Role.ANSWERER}


@dataclass(frozen=True)
class Labelled:
    candidate: Candidate
    keep: bool
    why: str
    style: str  # the prompt style the run used: "chat" or "few_shot"
    judge: str  # who decided rule 1 in the run: "model" or "check"


@dataclass(frozen=True)
class Score:
    candidates: int
    accepted: int
    kept_accepted: int
    keepable: int

    @property
    def precision(self) -> float | None:
        return self.kept_accepted / self.accepted if self.accepted else None

    @property
    def recall(self) -> float | None:
        return self.kept_accepted / self.keepable if self.keepable else None

    def to_dict(self) -> dict[str, Any]:
        return {"candidates": self.candidates, "accepted": self.accepted,
                "kept_accepted": self.kept_accepted, "keepable": self.keepable,
                "precision": self.precision, "recall": self.recall}


def _candidate(d: dict[str, Any], n: int) -> Candidate:
    calls = {name: CallResult(role=_ROLE.get(name, Role.JUDGE), model="labelled", messages=[],
                              sampling={}, content=c.get("content"),
                              finish_reason=c.get("finish_reason"))
             for name, c in d["calls"].items()}
    return Candidate(id=f"g1-{n:06d}", generation=1, slot=n, parent_id=d["id"],
                     seed_id=d["id"], operator=d["operator"], parent_instruction=d["parent"],
                     status=d["status"], rejected_by=d.get("rejected_by"),
                     instruction=d.get("instruction"), answer=d.get("answer"), calls=calls)


def to_label(store_path: str | Path, run: str, *,
             generation: int = 1) -> list[dict[str, Any]]:
    """A stored run's candidates of one generation as lines of a labelled file, with
    `keep` left None and `why` empty for the person who reads them to fill in."""
    from ..store import RunStore

    store = RunStore(store_path, create=False, readonly=True)
    try:
        return [{"id": f"{run}-{c.id}", "run": run, "operator": c.operator,
                 "parent": c.parent_instruction,
                 "calls": {name: {"content": r.content, "finish_reason": r.finish_reason}
                           for name, r in c.calls.items()},
                 "status": c.status, "rejected_by": c.rejected_by,
                 "instruction": c.instruction, "answer": c.answer, "keep": None, "why": ""}
                for c in store.candidates(generation=generation)]
    finally:
        store.close()


def load_labels(path: str | Path, *, style: str, judge: str) -> list[Labelled]:
    """One file's labelled candidates, made with prompt `style` and judged by `judge`."""
    out = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f):
            if line.strip():
                d = json.loads(line)
                out.append(Labelled(_candidate(d, n), bool(d["keep"]), d.get("why", ""),
                                    style, judge))
    return out


def score(labelled: Iterable[Labelled], *, rules: RuleConfig | None = None) -> Score:
    """Precision and recall of today's verdicts on labelled candidates."""
    items = list(labelled)
    accepted = kept = keepable = 0
    sets: dict[str, TemplateSet] = {}
    for item in items:
        templates = sets.setdefault(item.style, TemplateSet.load(style=item.style))
        config = RunConfig(judge=item.judge, rules=rules or RuleConfig())
        again = reapply_rules(item.candidate, config, templates)
        keepable += item.keep
        if again.status == "accepted" and again.answer:
            accepted += 1
            kept += item.keep
    return Score(len(items), accepted, kept, keepable)


def rule1_pairs(path: str | Path) -> dict[str, Score]:
    """Who decides rule 1 better on the small model, over labelled parent/child pairs
    (label "G": a genuine evolution, kept; "S", "O", "N": the same, off the topic, not a
    task): the judge's recorded reply, or the checks that need no model."""
    templates = TemplateSet.load(style="few_shot")
    rules = RuleConfig()
    tally: dict[str, list[int]] = {"check": [0, 0, 0], "judge": [0, 0, 0]}
    rows = [json.loads(x) for x in Path(path).read_text(encoding="utf-8").splitlines()
            if x.strip()]
    for d in rows:
        good = d["label"] == "G"
        view = OperatorView.of(templates.operators[d["operator"]])
        by_check = all(v.passed for v in check_stage(d["child"], d["parent"], rules, view))
        by_judge = read_equality(d["judge_reply"])[0] == "not_equal"
        for name, keep in (("check", by_check), ("judge", by_judge)):
            t = tally[name]
            t[0] += keep
            t[1] += keep and good
            t[2] += good
    return {name: Score(len(rows), t[0], t[1], t[2]) for name, t in tally.items()}
