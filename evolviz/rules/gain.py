"""Rule 1 without a model: does the rewrite keep its parent's topic and add to it?

The paper asks an LLM whether a rewrite equals its parent. A 135M model answering that
question mostly repeats the first option it was shown (docs/local_model.md measures it
against this check on labelled pairs), so on the small local model rule 1 is decided here,
from the words alone, and the verdict says so (`decided_by: check`):

- an in-depth rewrite must keep most of its parent's content words (else it left the
  topic: rule `off_topic`) and add content words of its own (else it says the same thing:
  rule 1);
- an in-breadth rewrite (mutation) is a new task: it only must not be a near copy.

Content words are compared by a crude stem (case, plural and common suffixes folded), so
"numbers" meets "number" and "baking" meets "bake"; a synonym is not recognised, which
is why a paraphrase that swaps two words for synonyms still counts as adding them. The
thresholds are measured, not guessed: see `KEEP` and `ADDED`.
"""

from __future__ import annotations

from dataclasses import dataclass

from .ids import RuleId
from .text import content_words
from .verdict import Verdict

__all__ = ["ADDED", "KEEP", "Overlap", "gain_verdicts", "overlap", "stems"]

#: Share of the parent's content stems an in-depth rewrite must keep.
KEEP = 0.5
#: New content stems a rewrite must bring (in-depth), or a mutation must differ by.
ADDED = 2

_SUFFIXES = ("ations", "ation", "ments", "ment", "ings", "ing", "ness", "ies", "ied",
             "ers", "er", "est", "ed", "es", "ly", "s")


def _stem(word: str) -> str:
    w = word.casefold()
    if not w.isascii() or len(w) <= 4 or not w.isalpha():
        return w
    for suffix in _SUFFIXES:
        if w.endswith(suffix) and len(w) - len(suffix) >= 3:
            return w[: -len(suffix)]
    return w


def stems(text: str) -> set[str]:
    """The content words of `text`, stemmed."""
    return {_stem(w) for w in content_words(text)}


@dataclass(frozen=True)
class Overlap:
    """How a rewrite's content words relate to its parent's."""

    kept: float  # share of the parent's stems found in the rewrite
    added: tuple[str, ...]  # the rewrite's stems its parent lacks
    shared: tuple[str, ...]


def overlap(parent: str, child: str) -> Overlap:
    p, c = stems(parent), stems(child)
    kept = len(p & c) / len(p) if p else 1.0
    return Overlap(kept, tuple(sorted(c - p)), tuple(sorted(p & c)))


def gain_verdicts(parent: str, child: str, kind: str, *, off_topic: bool = True,
                  gain: bool = True) -> list[Verdict]:
    """`off_topic` (in-depth only) and rule 1, decided from the words; each is reported
    only when its switch is on. `kind` is the operator's: "depth" or "breadth"."""
    o = overlap(parent, child)
    evidence = {"decided_by": "check", "kept": round(o.kept, 2), "added": list(o.added[:12]),
                "shared": list(o.shared[:12])}
    out: list[Verdict] = []
    if kind != "breadth":
        if off_topic:
            if o.kept < KEEP:
                return [Verdict(RuleId.OFF_TOPIC, False,
                                f"the rewrite keeps {o.kept:.0%} of its parent's content "
                                f"words (< {KEEP:.0%}): it left the topic", evidence)]
            out.append(Verdict(RuleId.OFF_TOPIC, True, "keeps its parent's topic", evidence))
        if gain:
            if len(o.added) < ADDED:
                out.append(Verdict(RuleId.NO_INFORMATION_GAIN, False,
                                   f"the rewrite adds {len(o.added)} content word(s) to its "
                                   f"parent (< {ADDED}): no information gain", evidence))
            else:
                out.append(Verdict(RuleId.NO_INFORMATION_GAIN, True,
                                   f"adds {len(o.added)} content words", evidence))
    elif gain:
        if o.kept >= 0.8 and len(o.added) < ADDED:
            out.append(Verdict(RuleId.NO_INFORMATION_GAIN, False,
                               "the new task is a near copy of its parent", evidence))
        else:
            out.append(Verdict(RuleId.NO_INFORMATION_GAIN, True, "a different task",
                               evidence))
    return out
