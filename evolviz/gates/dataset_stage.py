"""The dataset stage: the last judgement, made once a generation's candidates are all in.

Rules 1-4 judge a candidate alone; these judge it against everything else: the benchmark
items it must not reproduce, the seeds and the candidates already in the dataset, and the
earlier slots of its own generation. That is why they run when a generation closes, over
its candidates in slot order (never in the order they finished), in the same transaction
that decides the next pool: the earlier slot wins under any concurrency, a resume after
kill -9 judges exactly as an uninterrupted run, and a candidate rejected as a duplicate
does not replace its parent.

Order: `contaminated` first (the most serious), then `duplicate` (exact, then near).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import cache
from typing import Any

import numpy as np

from ..records import Candidate
from ..rules import Verdict
from .config import CONTAMINATED, DUPLICATE, GATE_RULES, GateConfig
from .decontam import NgramIndex, load_index
from .duplicates import ExactIndex, NearIndex, NearMatch

__all__ = ["DatasetStage", "gate_generation", "passed_gates", "pre_gate"]


def passed_gates(config: GateConfig) -> list[str]:
    """The gates an accepted candidate passed under `config`, in judging order."""
    out = []
    if config.decontaminate:
        out.append(CONTAMINATED)
    if config.dedup or config.near_dup is not None:
        out.append(DUPLICATE)
    return out


def pre_gate(c: Candidate) -> Candidate:
    """The candidate as rules 1-4 left it: gate verdicts dropped, and accepted again if a
    gate was what rejected it (so the stage can be applied afresh, e.g. in a what-if)."""
    verdicts = [v for v in c.verdicts if v.rule not in GATE_RULES]
    status, by = c.status, c.rejected_by
    if status == "rejected" and by in GATE_RULES:
        status, by = "accepted", None
    return Candidate(**{**c.__dict__, "verdicts": verdicts, "status": status,
                        "rejected_by": by})


class DatasetStage:
    """The dataset so far (seeds, accepted candidates) and the gates that guard it."""

    def __init__(self, config: GateConfig, seeds: Iterable[tuple[str, str]], *,
                 index: NgramIndex | None = None, encoder: Any = None):
        self.config = config
        self.index = index
        if index is None and config.decontaminate:
            self.index = load_index(config.decontaminate, config.decontaminate_field,
                                    config.decontaminate_ngram)
        self._encoder = encoder
        self.exact = ExactIndex()
        self.near = NearIndex() if config.near_dup is not None else None
        self._parent: dict[str, str] = {}
        seeds = list(seeds)
        self._seed_ids = {sid for sid, _ in seeds}
        for sid, text in seeds:
            self.exact.add(sid, text)
        if self.near is not None and seeds:
            self.near.add_many([s for s, _ in seeds], self._embed([t for _, t in seeds]))

    @property
    def encoder(self) -> Any:
        if self._encoder is None:
            self._encoder = _shared_encoder()
        return self._encoder

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        return self.encoder.encode(list(texts))

    def add_accepted(self, rows: Sequence[tuple[str, str, str]]) -> None:
        """Candidates already in the dataset: (id, parent id, instruction), in order."""
        for cid, parent, text in rows:
            self.exact.add(cid, text)
            self._parent[cid] = parent
        if self.near is not None and rows:
            self.near.add_many([r[0] for r in rows], self._embed([r[2] for r in rows]))

    def ancestors(self, c: Candidate) -> set[str]:
        out, at = {c.seed_id}, c.parent_id
        while at and at not in out:
            out.add(at)
            if at in self._seed_ids:
                break
            at = self._parent.get(at, "")
        return out

    def judge(self, cands: Sequence[Candidate]) -> list[Candidate]:
        """Judge one generation's candidates (any order in, slot order applied); returns
        the ones it rejects, re-recorded with the failing verdict, and adds the kept ones
        to the dataset. A kept candidate's record is left as it was (no passing verdict
        is written: that would rewrite every accepted row at every close); which gates
        it passed follows from the run's GateConfig (`passed_gates`)."""
        todo = [pre_gate(c) for c in sorted(cands, key=lambda c: c.slot)]
        todo = [c for c in todo if c.status == "accepted"]
        if not todo or not self.config.active:
            return []
        texts = [c.instruction or "" for c in todo]
        found = self.index.find_many(texts) if self.index is not None else [None] * len(todo)
        excludes = [self.ancestors(c) for c in todo]
        vecs = prior = None
        current = None
        if self.near is not None:
            vecs = self._embed(texts)
            prior = self.near.nearest_many(vecs, excludes)
            current = NearIndex(vecs.shape[1])
        kept_rows = []
        out = []
        for i, c in enumerate(todo):
            verdicts = list(c.verdicts)
            bad = None
            if self.index is not None:
                v = self._contaminated(found[i])
                verdicts.append(v)
                bad = None if v.passed else v
            if bad is None and (self.config.dedup or self.near is not None):
                near = None
                if vecs is not None:
                    here = current.nearest(vecs[i], excludes[i])
                    near = prior[i]
                    if here is not None and (near is None or here.score > near.score):
                        near = here
                verdicts.append(v := self._duplicate(texts[i], near))
                bad = None if v.passed else v
            if bad is not None:
                new = Candidate(**{**c.__dict__, "verdicts": verdicts})
                new.status, new.rejected_by = "rejected", bad.rule
                out.append(new)
            else:
                self.exact.add(c.id, texts[i])
                self._parent[c.id] = c.parent_id
                kept_rows.append(i)
                if current is not None:
                    current.add_many([c.id], vecs[i: i + 1])
        if self.near is not None and kept_rows:
            self.near.add_many([todo[i].id for i in kept_rows], vecs[kept_rows])
        return out

    def _contaminated(self, m: Any) -> Verdict:
        n = self.config.decontaminate_ngram
        if m is None:
            items = len(self.index.items) if self.index is not None else 0
            return Verdict(CONTAMINATED, True,
                           f"no run of {n} words shared with {items} benchmark items")
        d = m.to_detail()
        return Verdict(CONTAMINATED, False,
                       f"shares {d['shared_words']} words with {d['file']} item {d['item']} "
                       f"(line {d['line']}): \"{d['shared']}\"", d)

    def _duplicate(self, text: str, near: NearMatch | None) -> Verdict:
        if self.config.dedup:
            of = self.exact.find(text)
            if of is not None:
                return Verdict(DUPLICATE, False,
                               f"duplicates {of} (the same text up to case, spacing and "
                               f"punctuation)", {"of": of, "kind": "exact"})
        thr = self.config.near_dup
        if thr is not None and near is not None and near.score >= thr:
            return Verdict(DUPLICATE, False,
                           f"near duplicate of {near.of} (cosine {near.score:.3f} >= {thr})",
                           {"of": near.of, "kind": "near", "score": round(near.score, 4),
                            "threshold": thr})
        detail: dict[str, Any] = {}
        if near is not None:
            detail = {"nearest": near.of, "score": round(near.score, 4)}
        return Verdict(DUPLICATE, True, "no duplicate in the dataset or the seeds", detail)


@cache
def _shared_encoder() -> Any:
    """One encoder per process: each close would otherwise load the model again."""
    from ..embeddings.encoder import Encoder

    return Encoder()


def _seed_texts(store: Any) -> list[tuple[str, str]]:
    return [(r["id"], f"{r['instruction']}\n\n{r['input']}" if r["input"] else r["instruction"])
            for r in store.seed_rows()]


def gate_generation(store: Any, generation: int, config: GateConfig, *,
                    encoder: Any = None) -> list[Candidate]:
    """The dataset stage for one finished generation of a stored run, against the seeds
    and the accepted candidates of earlier generations (all read from the store, so a
    resumed process decides exactly as the one that was killed would have)."""
    if not config.active:
        return []
    stage = DatasetStage(config, _seed_texts(store), encoder=encoder)
    stage.add_accepted(store.accepted_instructions(before_generation=generation))
    # The stage reads texts, statuses and verdicts, not the call records (every prompt and
    # response, ~14 KB a candidate): held whole, a 52K-candidate generation took 700 MB at
    # its close. The few it rejects are read again whole, to be re-recorded intact.
    light = [Candidate(**{**c.__dict__, "calls": {}})
             for c in store.candidates(generation=generation)]
    out = []
    for judged in stage.judge(light):
        full = store.candidate(judged.id)
        assert full is not None, judged.id
        out.append(Candidate(**{**full.__dict__, "verdicts": judged.verdicts,
                                "status": judged.status, "rejected_by": judged.rejected_by}))
    return out
