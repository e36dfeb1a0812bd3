"""Reference sets (Alpaca, ShareGPT) that a population is drawn against, and where to find them.

Why loaders of their own rather than the seed loader: a reference set is a sample to compare
with, not work to do, so a bad row is counted and skipped, never an error; and ShareGPT
needs the first *human* turn, skipping conversations that are later segments of a split
chat (they open with a ``gpt`` turn) or carry only a system banner.

Where references come from, in order: an explicit path, ``$EVOLVIZ_REFERENCE_DIR``, and only
then the public dataset hub, if it answers within a couple of seconds (its rows are then
cached under the evolviz cache root in the same layout as ``../shared/refdata``). With none
of these, `find_references` returns an empty list and says why, so callers can go on
without a reference instead of failing.
"""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..embeddings.encoder import default_cache_root

__all__ = [
    "DEFAULT_FILES",
    "HUB_SOURCES",
    "ReferenceSet",
    "find_references",
    "load_alpaca",
    "load_reference_file",
    "load_sharegpt",
]

log = logging.getLogger("evolviz.maps.references")

# The files chosen in a reference folder laid out like ../shared/refdata, when present:
# the original Alpaca's first records and ShareGPT's first turns (what the paper compares).
DEFAULT_FILES = {
    "alpaca": "alpaca_data_first1727.json",
    "sharegpt": "sharegpt_first_turns_2978.json",
}
# Public hub datasets fetched through the dataset viewer's /rows API when a network is
# there. Not exercised on machines without one; kept small (first rows only).
HUB_SOURCES = {
    "alpaca": "tatsu-lab/alpaca",
    "sharegpt": "anon8231489123/ShareGPT_Vicuna_unfiltered",
}
_HUB_HOST = "datasets-server.huggingface.co"
_HUB_ROWS = "https://datasets-server.huggingface.co/rows"

_HUMAN = ("human", "user")
_SYSTEM = ("system",)
# Invisible characters: a turn made only of these (a zero-width space, say) is empty.
_INVISIBLE = re.compile(r"[\s\u200b-\u200f\u2060\ufeff]+")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


@dataclass
class ReferenceSet:
    """A named sample of reference texts and the file it came from.

    `skipped` counts rows left out, by reason; `total` is how many records the file had, so
    a person can see what share of it the sample stands for.
    """

    name: str
    texts: list[str]
    source_path: str
    skipped: dict[str, int] = field(default_factory=dict)
    total: int = 0

    def __len__(self) -> int:
        return len(self.texts)

    def summary(self) -> str:
        """One line for a log or a panel: what was loaded, and what was skipped and why."""
        line = f"{self.name}: {len(self.texts)} texts from {self.source_path}"
        if self.total:
            line += f" ({self.total} records)"
        if self.skipped:
            parts = ", ".join(f"{n} {why}" for why, n in sorted(self.skipped.items()))
            line += f"; skipped {parts}"
        return line


# -- loaders ---------------------------------------------------------------------------


def load_alpaca(path: str | Path, sample: int | None = 1000, seed: int = 0,
                name: str = "alpaca") -> ReferenceSet:
    """Alpaca-format records (``instruction``, ``input``) as texts, instruction then input.

    Instruction and input are joined the way seeds are (blank line between), so an evolved
    seed and its reference twin embed alike. Accepts a JSON list or JSON lines.
    """
    records, total = _read_records(path)
    skipped: Counter[str] = Counter()
    texts = []
    for rec in records:
        if not isinstance(rec, dict):
            skipped["not an object"] += 1
            continue
        instruction = _clean(rec.get("instruction"))
        if instruction is None:
            skipped["no instruction"] += 1
            continue
        extra = _clean(rec.get("input")) or ""
        texts.append(f"{instruction}\n\n{extra}" if extra else instruction)
    return _finish(name, texts, path, skipped, total, sample, seed)


def load_sharegpt(path: str | Path, sample: int | None = 1000, seed: int = 0,
                  name: str = "sharegpt") -> ReferenceSet:
    """The opening human request of each ShareGPT conversation.

    Leading system turns are passed over (a banner is not a request). A conversation whose
    first real turn is the model's is a later segment of a split chat: its human turns
    answer context we do not have, so it is skipped, as are empty or invisible requests.
    """
    records, total = _read_records(path)
    skipped: Counter[str] = Counter()
    texts = []
    for rec in records:
        why, text = _first_request(rec)
        if text is None:
            skipped[why] += 1
        else:
            texts.append(text)
    return _finish(name, texts, path, skipped, total, sample, seed)


def load_reference_file(path: str | Path, sample: int | None = 1000, seed: int = 0,
                        name: str | None = None) -> ReferenceSet:
    """Load a file of either format, told apart by its records, not by its name."""
    path = Path(path)
    records, _ = _read_records(path)
    head = [r for r in records[:50] if isinstance(r, dict)]
    is_chat = sum("conversations" in r for r in head) > sum("instruction" in r for r in head)
    if is_chat:
        return load_sharegpt(path, sample, seed, name=name or "sharegpt")
    return load_alpaca(path, sample, seed, name=name or "alpaca")


def _first_request(rec: object) -> tuple[str, str | None]:
    if not isinstance(rec, dict):
        return "not an object", None
    turns = rec.get("conversations")
    if not isinstance(turns, list) or not turns:
        return "no conversation", None
    for turn in turns:
        if not isinstance(turn, dict):
            return "malformed turn", None
        role = str(turn.get("from", "")).strip().lower()
        if role in _SYSTEM:
            continue
        if role not in _HUMAN:
            return f"starts with a {role or 'nameless'} turn", None
        text = _clean(turn.get("value"))
        return ("empty request", None) if text is None else ("", text)
    return "system turns only", None


def _clean(value: Any) -> str | None:
    """Text fit to embed, or None when there is nothing there (missing, not text, blank)."""
    if not isinstance(value, str):
        return None
    value = _SURROGATE.sub("\ufffd", _CONTROL.sub("", value)).strip()
    if not _INVISIBLE.sub("", value):
        return None
    return value


def _read_records(path: str | Path) -> tuple[list[Any], int]:
    path = Path(path)
    raw = path.read_text(encoding="utf-8", errors="replace")
    stripped = raw.lstrip()
    if stripped.startswith("["):
        data = json.loads(stripped)
        return data, len(data)
    records: list[Any] = []
    for line in raw.splitlines():
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            records.append(None)  # a broken line is counted as "not an object"
    return records, len(records)


def _finish(name: str, texts: list[str], path: str | Path, skipped: Counter[str],
            total: int, sample: int | None, seed: int) -> ReferenceSet:
    unique = list(dict.fromkeys(texts))
    if len(unique) < len(texts):
        skipped["duplicate"] += len(texts) - len(unique)
    if sample is not None and 0 <= sample < len(unique):
        rng = np.random.default_rng(seed)
        keep = np.sort(rng.choice(len(unique), size=sample, replace=False))
        unique = [unique[i] for i in keep]
    return ReferenceSet(name, unique, str(path), dict(skipped), total)


# -- discovery -------------------------------------------------------------------------


def find_references(
    reference: str | Path | None = None,
    *,
    sample: int | None = 1000,
    seed: int = 0,
    hub: bool = True,
    timeout: float = 2.0,
    notes: list[str] | None = None,
) -> list[ReferenceSet]:
    """Reference sets from `reference` (a folder or a file), else `$EVOLVIZ_REFERENCE_DIR`,
    else the public hub when it answers within `timeout` seconds, else none.

    Messages for a person (what was loaded, what was skipped, why nothing was) go to the
    ``evolviz.maps.references`` logger and, if given, are appended to `notes`.
    """

    def say(msg: str) -> None:
        log.info(msg)
        if notes is not None:
            notes.append(msg)

    where = reference or os.environ.get("EVOLVIZ_REFERENCE_DIR") or None
    if where:
        path = Path(where).expanduser()
        if not path.exists():
            say(f"no reference loaded: {path} does not exist")
            return []
        try:
            refs = _load_path(path, sample, seed)
        except (OSError, ValueError) as exc:
            say(f"no reference loaded: cannot read {path} ({exc})")
            return []
        if not refs:
            say(f"no reference loaded: no Alpaca or ShareGPT JSON files found in {path}")
        for r in refs:
            say(r.summary())
        return refs
    if not hub:
        say("no reference loaded: pass a reference folder or set EVOLVIZ_REFERENCE_DIR")
        return []
    cached = default_cache_root() / "references"
    try:
        refs = _load_path(cached, sample, seed) if cached.is_dir() else []
    except (OSError, ValueError) as exc:
        log.warning("ignoring the hub cache %s: %s", cached, exc)
        refs = []
    if refs:
        for r in refs:
            say(r.summary())
        return refs
    if not _reachable(_HUB_HOST, 443, timeout):
        say(f"no reference loaded: no folder given, EVOLVIZ_REFERENCE_DIR is unset and the "
            f"dataset hub ({_HUB_HOST}) is not reachable; the map shows the run alone")
        return []
    try:
        _download_hub(cached, rows=max(sample or 1000, 100), timeout=10 * timeout)
    except Exception as exc:  # the hub is a convenience: any failure means "no reference"
        say(f"no reference loaded: downloading from the dataset hub failed ({exc})")
        return []
    refs = _load_path(cached, sample, seed)
    for r in refs:
        say(r.summary())
    return refs


def _load_path(path: Path, sample: int | None, seed: int) -> list[ReferenceSet]:
    if path.is_file():
        return [load_reference_file(path, sample, seed)]
    refs = []
    for name, loader in (("alpaca", load_alpaca), ("sharegpt", load_sharegpt)):
        folder = path / name
        chosen = _choose_file(folder, DEFAULT_FILES[name]) if folder.is_dir() else None
        if chosen is not None:
            refs.append(loader(chosen, sample, seed, name=name))
    if not refs:  # a flat folder of files: take each JSON file for what it holds
        for f in sorted(path.glob("*.json")):
            try:
                refs.append(load_reference_file(f, sample, seed, name=f.stem))
            except (OSError, ValueError) as exc:
                log.warning("skipping %s: %s", f, exc)
    return refs


def _choose_file(folder: Path, preferred: str) -> Path | None:
    if (folder / preferred).is_file():
        return folder / preferred
    files = sorted(folder.glob("*.json"))
    return files[0] if files else None


def _reachable(host: str, port: int, timeout: float) -> bool:
    """A TCP connect with a hard deadline; DNS lookups have none of their own, so the
    attempt runs in a daemon thread that is abandoned when the deadline passes."""
    result: list[bool] = []

    def attempt() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                result.append(True)
        except OSError:
            result.append(False)

    t = threading.Thread(target=attempt, daemon=True)
    t.start()
    t.join(timeout)
    return bool(result and result[0])


def _download_hub(dest: Path, rows: int, timeout: float,
                  fetch: Callable[[str, dict[str, Any], float], Any] | None = None) -> None:
    """Save the first `rows` rows of each hub dataset in the refdata layout."""
    fetch = fetch or _fetch_json
    for name, dataset in HUB_SOURCES.items():
        records: list[Any] = []
        for offset in range(0, rows, 100):
            page = fetch(_HUB_ROWS, {"dataset": dataset, "config": "default",
                                     "split": "train", "offset": offset,
                                     "length": min(100, rows - offset)}, timeout)
            got = [r.get("row") for r in page.get("rows", [])]
            records.extend(got)
            if len(got) < 100:
                break
        if records:
            folder = dest / name
            folder.mkdir(parents=True, exist_ok=True)
            tmp = folder / f"hub_first{len(records)}.json.part"
            tmp.write_text(json.dumps(list(_hub_records(name, records)), ensure_ascii=False),
                           encoding="utf-8")
            tmp.rename(folder / f"hub_first{len(records)}.json")


def _hub_records(name: str, records: Iterable[Any]) -> Iterable[Any]:
    for r in records:
        if name == "alpaca" and isinstance(r, dict):
            yield {"instruction": r.get("instruction"), "input": r.get("input")}
        else:
            yield r


def _fetch_json(url: str, params: dict[str, Any], timeout: float) -> Any:
    import httpx

    resp = httpx.get(url, params=params, timeout=timeout)
    resp.raise_for_status()
    return resp.json()
