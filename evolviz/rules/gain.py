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

import re
from dataclasses import dataclass

from .ids import RuleId
from .text import content_words
from .verdict import Verdict

__all__ = ["ADDED", "KEEP", "Overlap", "adds_data", "gain_verdicts", "overlap", "stems",
           "topic_stems"]

#: Share of the parent's topic stems an in-depth rewrite must keep.
KEEP = 0.3
#: New topic stems an in-depth rewrite must bring.
ADDED = 3
#: A mutation (a new task) that keeps this share of its parent's topic stems is no new task.
MUTATION_KEEP = 0.6

_SUFFIXES = ("ations", "ation", "ments", "ment", "ings", "ing", "ness", "ies", "ied",
             "ers", "er", "est", "ed", "es", "ly", "s", "e")
_NUMBERS = {"two": "2", "three": "3", "four": "4", "five": "5", "six": "6",
            "seven": "7", "eight": "8", "nine": "9", "ten": "10", "twenty": "20",
            "hundred": "100", "first": "1", "second": "2", "third": "3"}
#: The request itself ("write", "explain", "give"): the same task asked with another verb
#: is not another topic, and another verb is no information gained.
_REQUEST_VERBS = frozenset({
    "write", "explain", "describe", "list", "give", "create", "make", "compose", "draft",
    "provide", "generate", "suggest", "recommend", "name", "find", "identify", "determine",
    "show", "tell", "offer", "share", "produce", "prepare", "design", "develop", "build",
    "plan", "outline", "summarise", "summarize", "rewrite", "answer", "help", "discuss",
    "calculate", "compute", "solve", "one",
})


def _stem(word: str) -> str:
    w = word.casefold()
    if w in _NUMBERS:
        return _NUMBERS[w]
    if not w.isascii() or len(w) <= 3 or not w.isalpha():
        return w
    for suffix in _SUFFIXES:
        if w.endswith(suffix) and len(w) - len(suffix) >= 3:
            return w[: -len(suffix)]
    return w


def stems(text: str) -> set[str]:
    """The content words of `text`, stemmed ("arranged" and "arrange" meet as "arrang")."""
    return {_stem(w) for w in content_words(text)}


def topic_stems(text: str) -> set[str]:
    """`stems` without the request verbs (in any form: "explaining", "provided"): what
    the task is about."""
    out = set()
    for w in content_words(text):
        low = w.casefold()
        if low in _REQUEST_VERBS or any(low.startswith(v) and len(low) - len(v) <= 3
                                        for v in _REQUEST_VERBS if len(v) > 3):
            continue
        out.add(_stem(w))
    return out


@dataclass(frozen=True)
class Overlap:
    """How a rewrite's content words relate to its parent's."""

    kept: float  # share of the parent's stems found in the rewrite
    added: tuple[str, ...]  # the rewrite's stems its parent lacks
    shared: tuple[str, ...]


def overlap(parent: str, child: str) -> Overlap:
    p, c = topic_stems(parent), topic_stems(child)
    kept = len(p & c) / len(p) if p else 1.0
    return Overlap(kept, tuple(sorted(c - p)), tuple(sorted(p & c)))


_DATA_LINE = re.compile(r"^\s*(?:```|\||[{\[<]|[-*•]\s|\d+[.)]\s|[\w\s]+,[\w\s]+,)")


def adds_data(parent: str, child: str) -> bool:
    """Whether the rewrite carries input data its parent did not: a block after the
    request (a table, code, a list, JSON, CSV) that is not the parent's own."""
    blocks = [b for b in re.split(r"\n\s*\n", child.strip())[1:] if b.strip()]
    lines = [x for x in child.split("\n")[1:] if _DATA_LINE.match(x)]
    new = [b for b in blocks if b.strip() not in parent]
    return bool(new) or (bool(lines) and not all(x.strip() in parent for x in lines))


def gain_verdicts(parent: str, child: str, kind: str, *, off_topic: bool = True,
                  gain: bool = True, needs_data: bool = False) -> list[Verdict]:
    """`off_topic` (in-depth only) and rule 1, decided from the words; each is reported
    only when its switch is on. `kind` is the operator's: "depth" or "breadth".
    `needs_data`: the operator's rewrite must bring input data (complicate_input)."""
    o = overlap(parent, child)
    evidence = {"decided_by": "check", "kept": round(o.kept, 2), "added": list(o.added[:12]),
                "shared": list(o.shared[:12])}
    out: list[Verdict] = []
    if gain and needs_data and not adds_data(parent, child):
        return [Verdict(RuleId.NO_INFORMATION_GAIN, False,
                        "the rewrite brings no input data of its own (a table, code, a "
                        "list): the operator's information is missing",
                        {**evidence, "cause": "no_data"})]
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
        if o.kept >= MUTATION_KEEP:
            out.append(Verdict(RuleId.NO_INFORMATION_GAIN, False,
                               f"the new task keeps {o.kept:.0%} of its parent's words: not "
                               f"a new task", evidence))
        else:
            out.append(Verdict(RuleId.NO_INFORMATION_GAIN, True, "a different task",
                               evidence))
    return out
