"""The verdict corpus: realistic LLM outputs, each with the verdict a careful person gives,
run end to end through the real engine against the scripted HTTP server.

A case file is TOML with a list of `[[case]]` tables. A case names its class and language,
the parent instruction, and the replies of the calls it is about (`rewrite`, `equality`,
`equality_reask`, `answer`, `difficulty`, ...; `<call>_finish` sets a finish reason,
`<call>_null = true` sends a null message content, `<call>_times = N` repeats the text);
every call it does not script gets a plain, clean reply. `expect_status` and `expect_rule`
are the verdict; `expect_cause`, `expect_instruction` and `expect_difficulty` pin its
evidence where that is the point.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..calls import CallName
from ..errors import InputError
from .wire import Reply

__all__ = ["DEFAULT_REPLIES", "Case", "Outcome", "load_cases", "run_cases"]

DEFAULT_REPLIES: dict[str, str] = {
    CallName.EQUALITY: '{"task": true, "verdict": "not_equal"}',
    CallName.EQUALITY_REASK: '{"task": true, "verdict": "not_equal"}',
    CallName.ANSWER: ("A refrigerator pumps a refrigerant through a closed loop: the liquid "
                      "evaporates inside the cabinet and absorbs heat, then a compressor "
                      "squeezes the vapour so it releases that heat through the coils at "
                      "the back. A door seal and insulation keep the cold in."),
    CallName.DIFFICULTY: '{"rating": 5}',
    CallName.DIFFICULTY_REASK: '{"rating": 5}',
}
SEED_RATING = '{"rating": 3}'
_CALLS = tuple(c.value for c in CallName)
_STATUSES = ("accepted", "rejected", "failed")
_FIELDS = {"id", "class", "lang", "parent", "operator", "note", "judge", "expect_status",
           "expect_rule", "expect_cause", "expect_instruction", "expect_difficulty",
           *_CALLS, *(f"{c}_{suffix}" for c in _CALLS for suffix in ("finish", "null", "times"))}


@dataclass(frozen=True)
class Case:
    id: str
    cls: str
    lang: str
    parent: str
    operator: str
    replies: dict[str, Reply | str]
    expect: dict[str, Any]
    source: str = ""
    judge: str = "model"  # "check": rule 1 and not_a_task decided with no judge call

    def check(self, cand: Any) -> list[str]:
        """What differs between the expected verdict and the candidate's (empty: agrees)."""
        got = {"status": cand.status, "rule": cand.rejected_by}
        bad = cand.rejection
        wrong = []
        if got["status"] != self.expect["status"]:
            wrong.append(f"status {got['status']} (expected {self.expect['status']})")
        if self.expect.get("rule", None) != got["rule"] and (
                self.expect["status"] == "rejected" or got["rule"] is not None):
            wrong.append(f"rule {got['rule']} (expected {self.expect.get('rule')})")
        if "cause" in self.expect and (bad is None or
                                       bad.detail.get("cause") != self.expect["cause"]):
            cause = bad.detail.get("cause") if bad else None
            wrong.append(f"cause {cause} (expected {self.expect['cause']})")
        if "instruction" in self.expect and cand.instruction != self.expect["instruction"]:
            wrong.append(f"instruction {cand.instruction!r} "
                         f"(expected {self.expect['instruction']!r})")
        if "difficulty" in self.expect and cand.difficulty != self.expect["difficulty"]:
            wrong.append(f"difficulty {cand.difficulty} "
                         f"(expected {self.expect['difficulty']})")
        return wrong


@dataclass
class Outcome:
    case: Case
    candidate: Any
    wrong: list[str] = field(default_factory=list)


def _case(raw: dict[str, Any], where: str, operators: Sequence[str]) -> Case:
    def fail(msg: str) -> InputError:
        return InputError(f"{where}: {msg}")

    unknown = sorted(set(raw) - _FIELDS)
    if unknown:
        raise fail(f"unknown field(s) {unknown}")
    for key in ("id", "class", "expect_status"):
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise fail(f"field {key!r} is required and must be a non-empty string")
    if raw["expect_status"] not in _STATUSES:
        raise fail(f"field 'expect_status' must be one of {list(_STATUSES)}")
    if raw["expect_status"] == "rejected" and not raw.get("expect_rule"):
        raise fail("a rejected case needs 'expect_rule'")
    operator = raw.get("operator", "deepening")
    if operator not in operators:
        raise fail(f"field 'operator' {operator!r} is not one of {list(operators)}")
    judge = raw.get("judge", "model")
    if judge not in ("model", "check"):
        raise fail(f"field 'judge' {judge!r} is not 'model' or 'check'")
    parent = raw.get("parent", "Explain how a refrigerator keeps food cold.")
    replies: dict[str, Reply | str] = {}
    for call in _CALLS:
        finish = raw.get(f"{call}_finish", "stop")
        if raw.get(f"{call}_null"):
            replies[call] = Reply(None, finish)
        elif call in raw:
            if not isinstance(raw[call], str):
                raise fail(f"field {call!r} must be a string")
            times = raw.get(f"{call}_times", 1)
            if not isinstance(times, int) or times < 1:
                raise fail(f"field '{call}_times' must be a whole number >= 1")
            replies[call] = Reply(raw[call] * times, finish)
        elif call == CallName.REWRITE:
            replies[call] = parent + " Give one everyday example and keep it under 150 words."
        elif call in DEFAULT_REPLIES:
            replies[call] = Reply(DEFAULT_REPLIES[call], finish)
    expect: dict[str, Any] = {"status": raw["expect_status"], "rule": raw.get("expect_rule")}
    for key in ("cause", "instruction", "difficulty"):
        if f"expect_{key}" in raw:
            expect[key] = raw[f"expect_{key}"]
    return Case(raw["id"], raw["class"], raw.get("lang", "en"), parent, operator, replies,
                expect, where, judge)


def load_cases(folder: str | Path, operators: Sequence[str]) -> list[Case]:
    """Every case in the folder's *.toml files, checked; ids must be unique."""
    cases: list[Case] = []
    seen: dict[str, str] = {}
    for path in sorted(Path(folder).glob("*.toml")):
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as e:
            raise InputError(f"{path}: not valid TOML: {e}") from e
        for i, raw in enumerate(data.get("case", []), 1):
            case = _case(raw, f"{path.name}: case {i} ({raw.get('id', '?')})", operators)
            if case.id in seen:
                raise InputError(f"{case.source}: id {case.id!r} already used in "
                                 f"{seen[case.id]}")
            seen[case.id] = case.source
            cases.append(case)
    if not cases:
        raise InputError(f"{folder}: no [[case]] found")
    return cases


async def run_cases(cases: Iterable[Case], workdir: str | Path, *, config: Any = None,
                    templates: Any = None) -> list[Outcome]:
    """Each case as one candidate of a one-generation run, one run per operator and judge
    setting (so the operator is the one the case names), against a real scripted HTTP
    server."""
    from ..config import RunConfig
    from ..run.engine import Evolution, candidate_id
    from ..run.llm import LLMClient
    from ..seeds import Seed
    from ..store import RunStore
    from ..templates import TemplateSet
    from .fake_server import FakeOpenAIServer
    from .scripted import ScriptedResponder

    templates = templates or TemplateSet.load()
    base = config or RunConfig(judge_difficulty=True)
    by_op: dict[tuple[str, str], list[Case]] = {}
    for case in cases:
        by_op.setdefault((case.operator, case.judge), []).append(case)
    out: list[Outcome] = []
    for (op, judge), group in sorted(by_op.items()):
        weights = {o: (1.0 if o == op else 0.0) for o in templates.operators}
        # Each case is judged on its own: cases of a class may share a rewrite, and the
        # dataset gates (tested in test_gates.py) would then reject the later one.
        cfg = base.with_(operator_weights=weights, judge=judge,
                         gates=replace(base.gates, dedup=False, near_dup=None,
                                       decontaminate=()))
        script: dict[str, dict[str, Reply | str]] = {
            candidate_id(1, i): c.replies for i, c in enumerate(group)}
        for c in group:  # the seeds are rated at generation 0 when the judge is on
            script[c.id] = {CallName.DIFFICULTY: SEED_RATING}
        responder = ScriptedResponder(script, run_seed=cfg.seed)
        with FakeOpenAIServer(responder, keep_requests=False) as server:
            client = LLMClient(server.base_url, models="corpus-model", concurrency=8,
                               max_retries=1, backoff_base=0.01, timeout=10.0)
            name = f"corpus-{op}.db" if judge == "model" else f"corpus-{op}-{judge}.db"
            store = RunStore(Path(workdir) / name)
            try:
                evo = Evolution(store, client, templates, cfg,
                                seeds=[Seed(id=c.id, instruction=c.parent) for c in group])
                await evo.run(1)
                for i, case in enumerate(group):
                    cand = store.candidate(candidate_id(1, i))
                    out.append(Outcome(case, cand, case.check(cand)))
            finally:
                await client.aclose()
                store.close()
    return out
