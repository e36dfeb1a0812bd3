"""The elimination rules: each a named object whose verdict says which rule and why.

The paper's four rules, plus one for rewrites that cannot be used at all:

- ``rewrite_invalid``: the rewrite is empty, was cut off (finish_reason "length"), was
  filtered, or is only a copy of a label.
- ``no_information_gain`` (rule 1): an LLM judge says the evolved instruction equals its
  parent. Needs an LLM call, so the engine runs it, not a pure function here; this module
  only holds its parser and the cheap "identical text" short cut.
- ``sorry_short_answer`` (rule 2): the answer says "sorry" and is short.
- ``stopwords_only_answer`` (rule 3): the answer is only punctuation and stop words.
- ``copied_prompt_wording`` (rule 4): the evolved instruction copies the evolving prompt's
  markers ("#Harder Task#", "rewritten prompt", ...) or a run of its wording.

Rules 2-4 and ``rewrite_invalid`` are pure functions of stored text, so a finished run can
be re-judged with other thresholds without a single LLM call (`reapply_rules`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from .errors import ConfigError

__all__ = [
    "DEFAULT_MARKERS",
    "RULE_IDS",
    "RuleConfig",
    "Verdict",
    "check_rewrite",
    "copied_prompt_wording",
    "extract_instruction",
    "identical_instructions",
    "parse_equality",
    "sorry_short_answer",
    "stopwords_only_answer",
]

RULE_IDS = (
    "rewrite_invalid",
    "no_information_gain",
    "sorry_short_answer",
    "stopwords_only_answer",
    "copied_prompt_wording",
)

#: Marker phrases of evolving prompts in general (the paper's examples and their kin); the
#: templates add their own.
DEFAULT_MARKERS = (
    "given prompt",
    "rewritten prompt",
    "#given prompt#",
    "#rewritten prompt#",
    "created prompt",
    "#created prompt#",
)

# A compact English stop-word list: function words that carry no content on their own.
STOP_WORDS = frozenset(
    """
    a about above after again against all am an and any are aren't as at be because been
    before being below between both but by can can't cannot could couldn't did didn't do
    does doesn't doing don't down during each few for from further had hadn't has hasn't
    have haven't having he he'd he'll he's her here here's hers herself him himself his
    how how's i i'd i'll i'm i've if in into is isn't it it's its itself let's me more
    most mustn't my myself no nor not of off on once only or other ought our ours
    ourselves out over own same shan't she she'd she'll she's should shouldn't so some
    such than that that's the their theirs them themselves then there there's these they
    they'd they'll they're they've this those through to too under until up very was
    wasn't we we'd we'll we're we've were weren't what what's when when's where where's
    which while who who's whom why why's with won't would wouldn't you you'd you'll you're
    you've your yours yourself yourselves yes ok okay oh well just also even still yet
    ever never
    """.split()  # noqa: SIM905 - a word list reads better as prose
)

_WORD_RE = re.compile(r"[A-Za-z0-9\u00C0-\uFFFF]+(?:'[A-Za-z]+)?")
_SORRY_RE = re.compile(r"\bsorry\b", re.IGNORECASE)


@dataclass(frozen=True)
class Verdict:
    """One rule's judgement of one candidate. `passed=False` means the rule rejects it."""

    rule: str
    passed: bool
    reason: str
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "passed": self.passed, "reason": self.reason,
                "detail": self.detail}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Verdict:
        return cls(rule=d["rule"], passed=bool(d["passed"]), reason=d["reason"],
                   detail=dict(d.get("detail") or {}))


@dataclass(frozen=True)
class RuleConfig:
    """Which rules run and with what thresholds. Stored with the run so a replay matches."""

    enabled: tuple[str, ...] = RULE_IDS
    sorry_max_words: int = 80
    copied_ngram: int = 8
    extra_markers: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        unknown = [r for r in self.enabled if r not in RULE_IDS]
        if unknown:
            raise ConfigError(f"unknown rule(s) {unknown}; known rules: {list(RULE_IDS)}")
        if self.sorry_max_words < 0:
            raise ConfigError("sorry_max_words must be >= 0")
        if self.copied_ngram < 3:
            raise ConfigError("copied_ngram must be >= 3 (shorter runs match by chance)")

    def is_on(self, rule: str) -> bool:
        return rule in self.enabled

    def without(self, rules: Iterable[str]) -> RuleConfig:
        rules = list(rules)
        unknown = [r for r in rules if r not in RULE_IDS]
        if unknown:
            raise ConfigError(f"unknown rule(s) {unknown}; known rules: {list(RULE_IDS)}")
        return replace(self, enabled=tuple(r for r in self.enabled if r not in rules))

    def to_dict(self) -> dict[str, Any]:
        return {
            "enabled": list(self.enabled),
            "sorry_max_words": self.sorry_max_words,
            "copied_ngram": self.copied_ngram,
            "extra_markers": list(self.extra_markers),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RuleConfig:
        return cls(
            enabled=tuple(d.get("enabled", RULE_IDS)),
            sorry_max_words=int(d.get("sorry_max_words", 80)),
            copied_ngram=int(d.get("copied_ngram", 8)),
            extra_markers=tuple(d.get("extra_markers", ())),
        )


def words(text: str) -> list[str]:
    return _WORD_RE.findall(text)


def _normalise(text: str) -> str:
    return " ".join(w.lower() for w in words(text))


_LABEL_PREFIX_RE = re.compile(
    r"^\s*(?:\*\*|#+\s*)?(?:here is )?(?:the )?(?:harder|new|rewritten|revised|created)"
    r" (?:task|prompt|instruction)\s*(?:#|\*\*)?\s*[:：]\s*",
    re.IGNORECASE,
)


def extract_instruction(raw: str) -> str:
    """The instruction inside a rewrite response.

    Deliberately conservative: trims space and one pair of wrapping quotes or code fences,
    and drops a leading label such as "New task:" only when text follows it. Anything
    cleverer would hide the marker copying that rule 4 exists to catch, so a label left
    elsewhere in the text stays for rule 4 to see.
    """
    text = raw.strip()
    if text.startswith("```") and text.endswith("```") and len(text) > 6:
        text = text[3:-3].strip()
        first, _, rest = text.partition("\n")
        if rest and re.fullmatch(r"[A-Za-z0-9_+-]{1,20}", first.strip()):
            text = rest.strip()
    stripped = _LABEL_PREFIX_RE.sub("", text, count=1)
    if stripped.strip():
        text = stripped.strip()
    for a, b in (('"', '"'), ("\u201c", "\u201d"), ("'", "'")):
        if len(text) >= 2 and text.startswith(a) and text.endswith(b) and text.count(a) == 1 + (
            a == b
        ):
            text = text[1:-1].strip()
            break
    return text


def check_rewrite(raw: str | None, finish_reason: str | None, parent: str) -> Verdict:
    """Reject rewrites that cannot be used at all, each with its own reason."""
    rule = "rewrite_invalid"
    if finish_reason == "length":
        return Verdict(rule, False, "the rewrite was cut off (finish_reason=length)",
                       {"cause": "truncated"})
    if finish_reason == "content_filter":
        return Verdict(rule, False, "the endpoint filtered the rewrite (content_filter)",
                       {"cause": "filtered"})
    if raw is None or not raw.strip():
        return Verdict(rule, False, "the rewrite is empty", {"cause": "empty"})
    instruction = extract_instruction(raw)
    if not words(instruction):
        return Verdict(rule, False, "the rewrite holds no words", {"cause": "unparseable"})
    if _normalise(instruction) == _normalise(parent):
        # Not rule 1's LLM call: identical text has no information gain beyond doubt.
        return Verdict("no_information_gain", False,
                       "the rewrite repeats its parent word for word", {"cause": "identical"})
    return Verdict(rule, True, "a usable instruction was extracted")


def identical_instructions(a: str, b: str) -> bool:
    return _normalise(a) == _normalise(b)


def parse_equality(raw: str | None) -> Verdict:
    """Read the judge's "equal" / "not equal" reply (rule 1).

    An unclear reply does not eliminate: the judge is the least reliable part of the
    pipeline (especially a small local model), and dropping a good candidate on noise costs
    more than keeping a doubtful one. The reason says it was unclear, so it can be counted.
    """
    rule = "no_information_gain"
    text = (raw or "").strip().lower()
    text = re.sub(r"[^a-z ]+", " ", text)
    tokens = text.split()
    if not tokens:
        return Verdict(rule, True, "judge reply empty; not eliminated", {"judge": "unclear"})
    joined = " ".join(tokens)
    neg = re.search(r"\b(not equal|unequal|different|not the same)\b", joined)
    pos = re.search(r"\b(equal|same|identical)\b", joined)
    if neg and (not pos or neg.start() <= pos.start()):
        return Verdict(rule, True, "judge: not equal (the rewrite adds information)",
                       {"judge": "not_equal"})
    if pos:
        return Verdict(rule, False, "judge: equal to its parent (no information gain)",
                       {"judge": "equal"})
    return Verdict(rule, True, "judge reply unclear; not eliminated", {"judge": "unclear"})


def sorry_short_answer(answer: str, max_words: int = 80) -> Verdict:
    """Rule 2: a short answer that says sorry is a refusal or a failure to answer."""
    rule = "sorry_short_answer"
    n = len(words(answer))
    if _SORRY_RE.search(answer) and n < max_words:
        return Verdict(rule, False, f'the answer says "sorry" and has {n} words (< {max_words})',
                       {"words": n})
    return Verdict(rule, True, "no short apology", {"words": n})


def stopwords_only_answer(answer: str) -> Verdict:
    """Rule 3: an answer of only punctuation and stop words carries no content."""
    rule = "stopwords_only_answer"
    content = [w for w in words(answer) if w.lower() not in STOP_WORDS]
    if not content:
        return Verdict(rule, False, "the answer holds only punctuation and stop words",
                       {"content_words": 0})
    return Verdict(rule, True, "the answer has content words", {"content_words": len(content)})


def copied_prompt_wording(
    instruction: str,
    *,
    markers: Sequence[str] = DEFAULT_MARKERS,
    prompt_prose: str = "",
    parent: str = "",
    ngram: int = 8,
) -> Verdict:
    """Rule 4: the evolved instruction copies the evolving prompt's markers or wording.

    A marker counts when it is in the instruction but not in the parent (a seed about
    "prompt engineering" may legitimately say "rewritten prompt"). Wording counts when a run
    of `ngram` words from the template prose appears in the instruction and not the parent.
    """
    rule = "copied_prompt_wording"
    low, parent_low = instruction.lower(), parent.lower()
    for marker in (*DEFAULT_MARKERS, *markers):
        m = marker.lower()
        if m in low and m not in parent_low:
            return Verdict(rule, False, f"the instruction copies the prompt marker {marker!r}",
                           {"marker": marker})
    if prompt_prose:
        inst_grams = _ngrams(_normalise(instruction).split(), ngram)
        if inst_grams:
            copied = inst_grams & _ngrams(_normalise(prompt_prose).split(), ngram)
            copied -= _ngrams(_normalise(parent).split(), ngram)
            if copied:
                sample = " ".join(sorted(copied)[0])
                return Verdict(rule, False,
                               f"the instruction copies {ngram}+ words of the prompt: "
                               f"'{sample}'", {"copied": sample})
    return Verdict(rule, True, "no prompt wording copied")


def _ngrams(tokens: list[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)}
