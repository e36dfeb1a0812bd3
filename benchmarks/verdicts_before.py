"""The verdict logic as it was before issue 11 (evolviz/rules.py at commit b5a5fcb,
functions verbatim, plus the old difficulty parser and the old engine's order of checks),
kept here only so `bench_verdicts.py` can score "before" beside "after" on the same corpus.
Not used by evolviz itself."""

# ruff: noqa

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

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


_NUMWORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
             "eight": 8, "nine": 9, "ten": 10}
_NUM = r"(10|[1-9](?:\.\d+)?|one|two|three|four|five|six|seven|eight|nine|ten)"
_LABELLED = re.compile(r"(?:rating|difficulty|score|rate)\D{0,20}?" + _NUM + r"\b", re.I)
_OUT_OF = re.compile(_NUM + r"\s*(?:/|out of)\s*10\b", re.I)
_BARE = re.compile(r"(?<![\d.])" + _NUM + r"(?![\d.]*\d)\b", re.I)


def parse_difficulty(raw: str | None) -> float | None:
    if not raw:
        return None
    for pattern in (_LABELLED, _OUT_OF, _BARE):
        for match in pattern.finditer(raw):
            token = match.group(1).lower()
            value = float(_NUMWORDS[token]) if token in _NUMWORDS else float(token)
            if 1.0 <= value <= 10.0:
                return value
    return None


@dataclass
class Old:
    """What the old pipeline made of one candidate."""

    status: str = "accepted"
    rejected_by: str | None = None
    rejection: Any = None
    instruction: str | None = None
    difficulty: float | None = None


def judge_before(replies: dict[str, Any], parent: str, operator: Any,
                 all_markers: Sequence[str]) -> Old:
    """The old engine's `_evolve`, over scripted replies instead of calls."""
    def content(name: str) -> tuple[str | None, str]:
        r = replies.get(name)
        if isinstance(r, str):
            return r, "stop"
        return r.content, r.finish_reason

    out = Old()

    def reject(v: Verdict) -> Old:
        out.status, out.rejected_by, out.rejection = "rejected", v.rule, v
        return out

    raw, finish = content("rewrite")
    if raw is None and finish == "stop":
        out.status = "failed"
        return out
    v = check_rewrite(raw, finish, parent)
    if not v.passed:
        return reject(v)
    out.instruction = extract_instruction(raw or "")
    markers = list(operator.markers) + [m for m in all_markers if m not in operator.markers]
    v = copied_prompt_wording(out.instruction, markers=markers, prompt_prose=operator.prose(),
                              parent=parent, ngram=8)
    if not v.passed:
        return reject(v)
    eq, finish = content("equality")
    if eq is None and finish == "stop":
        out.status = "failed"
        return out
    v = parse_equality(eq)
    if not v.passed:
        return reject(v)
    answer, finish = content("answer")
    if answer is None and finish == "stop":
        out.status = "failed"
        return out
    if finish == "content_filter":
        return reject(Verdict("rewrite_invalid", False, "filtered answer",
                              {"cause": "answer_filtered"}))
    for v in (sorry_short_answer(answer or ""), stopwords_only_answer(answer or "")):
        if not v.passed:
            return reject(v)
    rated, _ = content("difficulty")
    out.difficulty = parse_difficulty(rated)
    return out
