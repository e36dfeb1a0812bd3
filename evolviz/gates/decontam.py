"""Benchmark decontamination: does an instruction share a run of n words with a test item?

The index is built once per run (per process) over every benchmark file, and answers for a
whole generation in one batch, because a 250K-candidate run against tens of thousands of
benchmark items must not cost a Python loop over items per candidate. How:

- every normalised word gets an integer id (words no benchmark item has get 0, so an
  instruction's rare words cost nothing);
- every window of n word ids gets a 64-bit polynomial hash, computed for all windows of
  all items at once with numpy, and the hashes are kept sorted beside the item they came
  from (earliest item first for a hash several items share, so answers are deterministic);
- a batch of instructions is hashed the same way and looked up with `searchsorted`.

A hash hit is then checked word by word against the item, so a collision can never reject
a candidate, and the verdict quotes the real shared words (extended as far as they go).
Items shorter than n words cannot share an n-gram and are counted as `too_short`.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from .normalise import normal_words

__all__ = ["BenchmarkItem", "Contamination", "NgramIndex", "load_benchmark", "load_index"]

_P = np.uint64(0x100000001B3)  # FNV prime: odd, so no two ids fold to one by the multiply


@dataclass(frozen=True)
class BenchmarkItem:
    file: str
    line: int  # as the seed loaders number it (file line, or record index for JSON lists)
    index: int  # 0-based position among the file's usable items
    text: str


@dataclass(frozen=True)
class Contamination:
    item: BenchmarkItem
    shared: str  # the shared normalised words, as long as the shared run goes

    def to_detail(self) -> dict[str, Any]:
        return {"file": self.item.file, "line": self.item.line, "item": self.item.index,
                "shared": self.shared, "shared_words": len(self.shared.split()),
                "item_text": self.item.text[:300]}


def load_benchmark(path: str | Path, field: str | None = None) -> tuple[list[BenchmarkItem],
                                                                        dict[str, Any]]:
    """A benchmark file's items, or an InputError naming the file and what is wrong."""
    from ..seeds import load_seeds

    where = str(path)
    if not Path(path).is_file():
        raise InputError(f"{where}: no such file", field="decontaminate")
    if Path(path).stat().st_size == 0:
        raise InputError(f"{where}: the file is empty", field="decontaminate")
    try:
        loaded = load_seeds(path, field=field, max_chars=1_000_000)
    except InputError as e:  # the seed loaders' words, pointed at this setting
        msg = str(e).replace("field=NAME", "decontaminate_field=NAME")
        raise InputError(msg, field="decontaminate") from None
    if not loaded.seeds:
        why = (f"; first problem: line {loaded.problems[0].line}: {loaded.problems[0].reason}"
               if loaded.problems else "")
        hint = "" if field else " (name it with decontaminate_field=NAME)"
        raise InputError(f"{where}: no item with a usable text field{hint}{why}",
                         field="decontaminate")
    items = [BenchmarkItem(where, s.line, i, s.text) for i, s in enumerate(loaded.seeds)]
    with open(path, "rb") as f:
        digest = hashlib.file_digest(f, "sha256").hexdigest()
    return items, {"file": where, "items": len(items), "skipped": len(loaded.problems),
                   "sha256": digest}


def _hash_windows(ids: np.ndarray, n: int) -> np.ndarray:
    """Hash of every window of n ids (Horner's rule, wrapping in uint64)."""
    m = len(ids) - n + 1
    if m <= 0:
        return np.zeros(0, dtype=np.uint64)
    h = np.zeros(m, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for k in range(n):
            h = h * _P + ids[k:k + m]
    return h


def _window_starts(lengths: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Start offsets (into the concatenation) of windows that lie inside one text, and
    which text each belongs to."""
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    counts = np.maximum(lengths - n + 1, 0)
    owner = np.repeat(np.arange(len(lengths)), counts)
    within = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
    return offsets[owner] + within, owner


class NgramIndex:
    """Every n-gram of a set of benchmark items, for batch lookups."""

    def __init__(self, items: Sequence[BenchmarkItem], n: int = 13,
                 sources: Sequence[dict[str, Any]] = ()):
        self.n = n
        self.items = list(items)
        self.sources = [dict(s) for s in sources]
        self._vocab: dict[str, int] = {}
        self._words: list[list[str]] = []
        chunks, lengths = [], []
        for item in self.items:
            ws = normal_words(item.text)
            self._words.append(ws)
            vocab = self._vocab
            chunks.append([vocab.setdefault(w, len(vocab) + 1) for w in ws])
            lengths.append(len(ws))
        self.too_short = sum(n_ > 0 and n_ < n for n_ in lengths)
        ids = np.fromiter((i for c in chunks for i in c), dtype=np.uint64,
                          count=sum(lengths))
        lens = np.asarray(lengths, dtype=np.int64)
        starts, owner = _window_starts(lens, n) if len(lens) else (np.zeros(0, np.int64),) * 2
        all_h = _hash_windows(ids, n)
        hashes = all_h[starts] if len(starts) else np.zeros(0, dtype=np.uint64)
        order = np.argsort(hashes, kind="stable")  # stable: earliest item first per hash
        self._hashes = hashes[order]
        self._owner = owner[order].astype(np.int32)
        self.ngrams = len(self._hashes)

    def describe(self) -> dict[str, Any]:
        return {"ngram": self.n, "items": len(self.items), "ngrams": self.ngrams,
                "too_short": self.too_short, "files": self.sources}

    def find(self, text: str) -> Contamination | None:
        return self.find_many([text])[0]

    def find_many(self, texts: Sequence[str]) -> list[Contamination | None]:
        """For each text, its first n-gram shared with an item (earliest item wins)."""
        out: list[Contamination | None] = [None] * len(texts)
        if not self.ngrams or not texts:
            return out
        words = [normal_words(t) for t in texts]
        get = self._vocab.get
        lens = np.fromiter((len(w) for w in words), dtype=np.int64, count=len(words))
        ids = np.fromiter((get(w, 0) for ws in words for w in ws), dtype=np.uint64,
                          count=int(lens.sum()))
        starts, owner = _window_starts(lens, self.n)
        if not len(starts):
            return out
        h = _hash_windows(ids, self.n)[starts]
        pos = np.searchsorted(self._hashes, h)
        pos_c = np.minimum(pos, len(self._hashes) - 1)
        hit = self._hashes[pos_c] == h
        offsets = np.concatenate([[0], np.cumsum(lens)[:-1]])
        for w in np.flatnonzero(hit):
            t = int(owner[w])
            if out[t] is not None:
                continue
            at = int(starts[w] - offsets[t])
            out[t] = self._verify(words[t], at, int(pos_c[w]), h[w])
        return out

    def _verify(self, words: list[str], at: int, pos: int, h: np.uint64
                ) -> Contamination | None:
        gram = words[at:at + self.n]
        while pos < len(self._hashes) and self._hashes[pos] == h:
            item_words = self._words[int(self._owner[pos])]
            for j in range(len(item_words) - self.n + 1):
                if item_words[j:j + self.n] == gram:
                    k = self.n
                    while (at + k < len(words) and j + k < len(item_words)
                           and words[at + k] == item_words[j + k]):
                        k += 1
                    return Contamination(self.items[int(self._owner[pos])],
                                         " ".join(words[at:at + k]))
            pos += 1
        return None


_CACHE: dict[tuple, NgramIndex] = {}


def load_index(files: Sequence[str], field: str | None, n: int) -> NgramIndex:
    """The index over `files`, built once per process for the same files (by path, size
    and modification time): the CLI checks the files before a run starts, and the engine
    asks again when a generation closes."""
    key_parts = []
    for f in files:
        try:
            st = os.stat(f)
            key_parts.append((str(f), st.st_size, st.st_mtime_ns))
        except OSError:
            key_parts.append((str(f), -1, -1))
    key = (tuple(key_parts), field, n)
    if key not in _CACHE:
        items: list[BenchmarkItem] = []
        sources = []
        for f in files:
            file_items, source = load_benchmark(f, field)
            items.extend(file_items)
            sources.append(source)
        while len(_CACHE) >= 2:  # the run's own set and one what-if's; not every one
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = NgramIndex(items, n, sources)
    return _CACHE[key]
