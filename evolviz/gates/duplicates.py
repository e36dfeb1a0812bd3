"""Exact and near duplicates of the dataset so far; the first to arrive (earliest slot) wins.

"First" is (generation, slot) order, never completion order: the dataset stage runs when a
generation closes, over its candidates in slot order, so concurrency and resumes cannot
change which of two equal instructions is kept.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np

from .normalise import normal_form

__all__ = ["ExactIndex", "NearIndex", "NearMatch"]


class ExactIndex:
    """Normal form -> the id of the first instruction that had it."""

    def __init__(self) -> None:
        self._first: dict[str, str] = {}

    def __len__(self) -> int:
        return len(self._first)

    def add(self, item_id: str, text: str) -> None:
        self._first.setdefault(normal_form(text), item_id)

    def find(self, text: str) -> str | None:
        return self._first.get(normal_form(text))


@dataclass(frozen=True)
class NearMatch:
    of: str
    score: float


class NearIndex:
    """Unit embeddings of the dataset so far, growing as candidates are accepted.

    A candidate is never compared with its own ancestors (its parent, their parents, its
    seed): an evolved instruction is similar to what it evolved from by construction, and
    whether it adds anything is rule 1's question, not this one's.
    """

    _CHUNK = 4096  # rows added at once; keeps appends amortised without a huge copy

    def __init__(self, dim: int = 384) -> None:
        self.ids: list[str] = []
        self._pos: dict[str, int] = {}
        self._vecs = np.zeros((0, dim), dtype=np.float32)
        self._n = 0

    def __len__(self) -> int:
        return self._n

    def add_many(self, ids: Sequence[str], vecs: np.ndarray) -> None:
        if not len(ids):
            return
        need = self._n + len(ids)
        if need > len(self._vecs):
            grown = np.zeros((max(need, 2 * len(self._vecs), self._CHUNK),
                              self._vecs.shape[1]), dtype=np.float32)
            grown[: self._n] = self._vecs[: self._n]
            self._vecs = grown
        self._vecs[self._n: need] = vecs
        for i, item_id in enumerate(ids):
            self._pos[item_id] = self._n + i
            self.ids.append(item_id)
        self._n = need

    def nearest(self, vec: np.ndarray, exclude: Collection[str] = ()) -> NearMatch | None:
        """The most similar instruction in the index (earliest on a tie), or None."""
        if not self._n:
            return None
        sims = self._vecs[: self._n] @ vec
        for item_id in exclude:
            p = self._pos.get(item_id)
            if p is not None:
                sims[p] = -np.inf
        best = int(np.argmax(sims))  # argmax returns the first maximum: earliest wins
        if not np.isfinite(sims[best]):
            return None
        return NearMatch(self.ids[best], float(sims[best]))

    def nearest_many(self, vecs: np.ndarray, excludes: Sequence[Collection[str]],
                     block: int = 256) -> list[NearMatch | None]:
        """`nearest` for many rows at once: one matrix product per block of rows, which
        is what makes a generation against a large dataset affordable."""
        out: list[NearMatch | None] = [None] * len(vecs)
        if not self._n:
            return out
        base = self._vecs[: self._n]
        for a in range(0, len(vecs), block):
            sims = vecs[a: a + block] @ base.T
            for r, exclude in enumerate(excludes[a: a + block]):
                for item_id in exclude:
                    p = self._pos.get(item_id)
                    if p is not None:
                        sims[r, p] = -np.inf
            best = np.argmax(sims, axis=1)
            for r, b in enumerate(best):
                score = sims[r, b]
                if np.isfinite(score):
                    out[a + r] = NearMatch(self.ids[int(b)], float(score))
        return out
