"""The answer stage: rules 2 and 3 of the paper, and the answer rules beyond it.

Rules 2 and 3 are kept exactly as the paper states them (rule 2 needs the English word
"sorry"); what the paper's wording misses (a refusal without "sorry", an answer that asks
for the input the instruction lacks, an answer cut off or filtered by the endpoint) is caught
by rules of our own, each switchable. Those report only when they reject, so a run with them
on reads like a paper run until they catch something.
"""

from __future__ import annotations

import re

from ..calls import CallResult
from .extract import binaryish
from .gain import stems
from .ids import RuleId
from .patterns import find_asks_for_input, find_no_answer, find_refusal, is_error_page
from .text import content_words, word_count
from .verdict import RuleConfig, Verdict

__all__ = ["answer_echo", "answer_refusal", "answer_verdicts", "sorry_short_answer",
           "stopwords_only_answer"]

_SORRY_RE = re.compile(r"\bsorry\b", re.IGNORECASE)


def sorry_short_answer(answer: str, max_words: int = 80) -> Verdict:
    """Rule 2: a short answer that says sorry is a refusal or a failure to answer."""
    rule = RuleId.SORRY_SHORT_ANSWER
    n = word_count(answer)
    m = _SORRY_RE.search(answer)
    if m and n < max_words:
        return Verdict(rule, False, f'the answer says "sorry" and has {n} words (< {max_words})',
                       {"words": n, "matched": m.group(0)})
    return Verdict(rule, True, "no short apology", {"words": n})


def stopwords_only_answer(answer: str) -> Verdict:
    """Rule 3: an answer of only punctuation and stop words carries no content."""
    rule = RuleId.STOPWORDS_ONLY_ANSWER
    content = content_words(answer)
    if not content:
        return Verdict(rule, False, "the answer holds only punctuation and stop words",
                       {"content_words": 0, "read": answer.strip()[:80]})
    return Verdict(rule, True, "the answer has content words",
                   {"content_words": len(content)})


def answer_refusal(answer: str, max_words: int = 80) -> Verdict:
    """Beyond the paper: a short answer that refuses, or asks for input it was not given."""
    rule = RuleId.ANSWER_REFUSAL
    n = word_count(answer)
    if n < max_words:
        refusal = find_refusal(answer)
        if refusal:
            return Verdict(rule, False, f"the answer refuses: {refusal!r} ({n} words)",
                           {"cause": "refusal", "matched": refusal, "words": n})
        asks = find_asks_for_input(answer)
        if asks:
            return Verdict(rule, False, f"the answer asks for input instead: {asks!r}",
                           {"cause": "asks_for_input", "matched": asks, "words": n})
        none = find_no_answer(answer)
        if none:
            return Verdict(rule, False, f"the answer gives no answer: {none!r}",
                           {"cause": "no_answer", "matched": none, "words": n})
    return Verdict(rule, True, "no refusal and no request for input", {"words": n})


#: An answer is an echo when this share of its content stems comes from the instruction...
ECHO_SHARE = 0.7
#: ... and it brings fewer new content stems than this.
ECHO_NEW = 4


def answer_echo(answer: str, instruction: str) -> Verdict | None:
    """Beyond the paper: an answer that repeats the instruction (or part of it) instead of
    answering; small models do this often, and the pair then teaches nothing. None: no
    echo (this rule reports only when it rejects)."""
    a, i = stems(answer), stems(instruction)
    if not a or not i:
        return None
    new = a - i
    share = len(a & i) / len(a)
    if share >= ECHO_SHARE and len(new) < ECHO_NEW:
        return Verdict(RuleId.ANSWER_ECHO, False,
                       f"the answer repeats the instruction ({share:.0%} of its content "
                       f"words come from it; {len(new)} new)",
                       {"share": round(share, 2), "new_words": sorted(new)[:12],
                        "read": answer.strip()[:120]})
    return None


def answer_verdicts(call: CallResult | None, answer: str, rules: RuleConfig,
                    instruction: str = "") -> list[Verdict]:
    """Every answer rule that is on, in the order a person would ask: did an answer come
    back whole, then the paper's rules, then ours."""
    finish = call.finish_reason if call is not None else None
    out: list[Verdict] = []
    if finish == "content_filter" and rules.is_on(RuleId.ANSWER_FILTERED):
        out.append(Verdict(RuleId.ANSWER_FILTERED, False,
                           "the endpoint filtered the answer (content_filter)",
                           {"finish_reason": finish}))
        return out
    if rules.is_on(RuleId.ANSWER_FILTERED) and (is_error_page(answer) or binaryish(answer)):
        page = is_error_page(answer)
        out.append(Verdict(RuleId.ANSWER_FILTERED, False,
                           "the endpoint sent an error page instead of an answer" if page
                           else "the answer is mostly control or undecodable characters",
                           {"cause": "error_page" if page else "binary",
                            "finish_reason": finish, "read": answer.strip()[:120]}))
        return out
    if finish == "length" and rules.is_on(RuleId.ANSWER_TRUNCATED):
        out.append(Verdict(RuleId.ANSWER_TRUNCATED, False,
                           "the answer was cut off at max tokens (finish_reason=length)",
                           {"finish_reason": finish, "words": word_count(answer),
                            "max_tokens": (call.sampling or {}).get("max_tokens")
                            if call is not None else None}))
    if rules.is_on(RuleId.SORRY_SHORT_ANSWER):
        out.append(sorry_short_answer(answer, rules.sorry_max_words))
    if rules.is_on(RuleId.STOPWORDS_ONLY_ANSWER):
        out.append(stopwords_only_answer(answer))
    if rules.is_on(RuleId.ANSWER_REFUSAL):
        v = answer_refusal(answer, rules.sorry_max_words)
        if not v.passed:
            out.append(v)
    if rules.is_on(RuleId.ANSWER_ECHO) and instruction:
        echo = answer_echo(answer, instruction)
        if echo is not None:
            out.append(echo)
    return out
