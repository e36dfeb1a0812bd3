"""The instruction stage: rule 4, an evolved instruction that copies the evolving prompt.

Markers are matched as phrases at word boundaries, never as substrings. The generic
markers ("rewritten prompt", "#Given Prompt#", ...) and the ones a run adds count anywhere;
an operator's plain-word markers ("new task", "harder task") count only where they are used
as a label ("New Task:", "#New Task#", "**harder task**"), because "add a new task to the
list" is ordinary content. Only the markers of the operator that made the candidate count.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from .ids import RuleId
from .text import normalise
from .verdict import Verdict

__all__ = ["DEFAULT_MARKERS", "copied_prompt_wording", "find_marker"]

#: Marker phrases of evolving prompts in general (the paper's examples and their kin).
DEFAULT_MARKERS = (
    "given prompt",
    "rewritten prompt",
    "#given prompt#",
    "#rewritten prompt#",
    "created prompt",
    "#created prompt#",
)


def _phrase(marker: str) -> str:
    body = r"\s+".join(re.escape(w) for w in marker.strip().split())
    left = r"(?<!\w)" if re.match(r"\w", marker.strip()) else ""
    right = r"(?:s|es)?(?!\w)" if re.search(r"\w$", marker.strip()) else ""
    return left + body + right


@lru_cache(maxsize=256)  # the markers are the templates': a few dozen, met on every call
def _anywhere(marker: str) -> re.Pattern[str]:
    return re.compile(_phrase(marker), re.IGNORECASE)


@lru_cache(maxsize=256)
def _as_label(marker: str) -> re.Pattern[str]:
    p = _phrase(marker)
    return re.compile(
        rf"(?:(?:^|\n|[.!?;]\s+)\s*(?:#+\s*|\*\*|__)?{p}\s*(?:\*\*|__|#)?\s*[:：]"
        rf"|[#]\s*{p}\s*#?|\*\*\s*{p}\s*\*\*|[\"'\u201c\u2018\u00ab]{p}[\"'\u201d\u2019\u00bb])",
        re.IGNORECASE)


def find_marker(instruction: str, parent: str, generic: Sequence[str],
                operator: Sequence[str]) -> str | None:
    """The first marker the instruction uses and its parent does not, or None."""
    for marker in generic:
        pattern = _anywhere(marker)
        if pattern.search(instruction) and not pattern.search(parent):
            return marker
    for marker in operator:
        decorated = not re.fullmatch(r"[\w\s'-]+", marker)
        pattern = _anywhere(marker) if decorated else _as_label(marker)
        if pattern.search(instruction) and not pattern.search(parent):
            return marker
    return None


def copied_prompt_wording(
    instruction: str,
    *,
    markers: Sequence[str] = (),
    prompt_prose: str = "",
    parent: str = "",
    ngram: int = 8,
    generic: Sequence[str] = DEFAULT_MARKERS,
) -> Verdict:
    """Rule 4: the evolved instruction copies the evolving prompt's markers or wording.

    A marker counts when it is in the instruction but not in the parent (a seed about
    "prompt engineering" may legitimately say "rewritten prompt"). Wording counts when a run
    of `ngram` words from the template prose appears in the instruction and not the parent.
    """
    rule = RuleId.COPIED_PROMPT_WORDING
    found = find_marker(instruction, parent, generic, markers)
    if found is not None:
        m = (_anywhere(found).search(instruction) or _as_label(found).search(instruction))
        return Verdict(rule, False, f"the instruction copies the prompt marker {found!r}",
                       {"marker": found, "matched": m.group(0).strip() if m else found})
    if prompt_prose:
        inst_grams = _ngrams(normalise(instruction).split(), ngram)
        if inst_grams:
            copied = inst_grams & _prose_ngrams(prompt_prose, ngram)
            copied -= _ngrams(normalise(parent).split(), ngram)
            if copied:
                sample = " ".join(sorted(copied)[0])
                return Verdict(rule, False,
                               f"the instruction copies {ngram}+ words of the prompt: "
                               f"'{sample}'", {"copied": sample})
    return Verdict(rule, True, "no prompt wording copied",
                   {"markers_checked": len(generic) + len(markers)})


@lru_cache(maxsize=64)
def _prose_ngrams(prose: str, n: int) -> frozenset[tuple[str, ...]]:
    """A template's n-grams: the same few templates for every candidate of a run, and
    normalising them was a fifth of the engine's CPU per candidate."""
    return frozenset(_ngrams(normalise(prose).split(), n))


def _ngrams(tokens: list[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)}
