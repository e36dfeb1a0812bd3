"""The judge stage: reading the equality judge (rule 1) and the difficulty judge.

We ask for JSON (`response_format` with a schema, which OpenAI and llama.cpp's server both
honour), but a judge may still answer in prose, so a reply is read by its verdict, not by
its first keyword: "They are not identical" is not "identical", "Not exactly the same" is
not "same", and in "Task B adds a word limit, so they are not equal" the verdict is the
last clause. A reply with no readable verdict is re-asked once (the engine does that), then
recorded as unclear; what an unclear reply does is the `judge_unclear` rule's switch.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ..calls import CallResult
from .ids import RuleId
from .judge_text import read_equality_text
from .verdict import RuleConfig, Verdict

__all__ = ["DIFFICULTY_FORMAT", "EQUALITY_FORMAT", "REASK", "equality_verdict",
           "parse_difficulty", "parse_equality", "read_equality", "read_task"]

EQUALITY_FORMAT: dict[str, Any] = {
    "type": "json_schema",
    "json_schema": {"name": "equality_verdict", "strict": True, "schema": {
        "type": "object", "additionalProperties": False,
        # Whether the rewrite is a task at all comes first: a judge that has said it is
        # not one is not then asked about its information gain. Plain words for the
        # verdict; other words are read too.
        "required": ["task", "verdict"],
        "properties": {"task": {"type": "boolean"},
                       "verdict": {"type": "string", "enum": ["different", "same"]}}}},
}
DIFFICULTY_FORMAT: dict[str, Any] = {
    "type": "json_schema",
    "json_schema": {"name": "difficulty_rating", "strict": True, "schema": {
        "type": "object", "additionalProperties": False, "required": ["rating"],
        "properties": {"rating": {"type": "integer", "enum": list(range(1, 11))}}}},
}
#: The follow-up sent once when a reply could not be read.
REASK = {
    "equality": 'I could not read a verdict in that. Reply with only JSON: '
                '{"task": true, "verdict": "different"} or {"task": true, "verdict": "same"}, '
                'with "task": false if task B is not a task an assistant could answer.',
    "difficulty": 'I could not read a rating in that. Reply with only {"rating": N}, N a '
                  "whole number from 1 to 10.",
}

def _json(raw: str) -> Any:
    """The JSON object in a reply, bare or fenced, or None."""
    text = raw.strip()
    fence = re.search(r"```(?:json)?\s*(.*?)```", text, re.S | re.I)
    if fence:
        text = fence.group(1).strip()
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        return None
    try:
        return json.loads(text[start:end + 1])
    except ValueError:
        return None


def read_equality(raw: str | None) -> tuple[str, str, str]:
    """(verdict 'equal' | 'not_equal' | 'unclear', how it was read, the words read)."""
    text = (raw or "").strip()
    if not text:
        return "unclear", "empty", ""
    data = _json(text)
    if isinstance(data, dict):
        value = str(data.get("verdict", data.get("answer", ""))).strip().lower()
        if value in ("equal", "same", "true", "yes"):
            return "equal", "json", value
        if value in ("not_equal", "not equal", "different", "false", "no"):
            return "not_equal", "json", value
    if isinstance(data, dict):
        for key in ("equal", "same", "is_equal", "identical"):
            value = data.get(key)
            if isinstance(value, str) and value.strip().lower() in ("true", "yes", "false",
                                                                      "no"):
                value = value.strip().lower() in ("true", "yes")
            if isinstance(value, bool):
                return ("equal" if value else "not_equal"), "json", f"{key}: {value}"
        for key in ("result", "decision", "judgement", "judgment", "label"):
            value = str(data.get(key, "")).strip().lower()
            if value in ("equal", "same"):
                return "equal", "json", value
            if value in ("not_equal", "not equal", "different"):
                return "not_equal", "json", value
    return read_equality_text(re.sub(r"[*_`#>\"“”]+", " ", text))


def read_task(raw: str | None) -> tuple[bool | None, str]:
    """Whether the judge's structured reply says the rewrite is a task (None: it does
    not say, in JSON), and the reason it gives. Prose is not read for this: the check in
    `task_shape` decides then."""
    data = _json((raw or "").strip())
    if not isinstance(data, dict):
        return None, ""
    value = data.get("task", data.get("is_task"))
    reason = str(data.get("reason", ""))[:300]
    if isinstance(value, bool):
        return value, reason
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "yes", "no"):
        return value.strip().lower() in ("true", "yes"), reason
    return None, reason


def parse_equality(raw: str | None) -> Verdict:
    """Rule 1 from one judge reply; an unclear reply does not eliminate here."""
    verdict, how, read = read_equality(raw)
    detail = {"judge": verdict, "read_as": how, "matched": read,
              "judge_text": (raw or "")[:300], "decided_by": "judge"}
    rule = RuleId.NO_INFORMATION_GAIN
    if verdict == "equal":
        return Verdict(rule, False, "judge: equal to its parent (no information gain)",
                       detail)
    if verdict == "not_equal":
        return Verdict(rule, True, "judge: not equal (the rewrite adds information)", detail)
    reason = "judge reply empty; not eliminated" if how == "empty" else \
        "judge reply unclear; not eliminated"
    return Verdict(rule, True, reason, detail)


def equality_verdict(first: CallResult | None, reask: CallResult | None,
                     rules: RuleConfig) -> Verdict:
    """Rule 1 from the stored judge replies (the first, and the re-ask if one was made)."""
    v = parse_equality(first.content if first is not None else None)
    if v.detail["judge"] == "unclear" and reask is not None:
        again = parse_equality(reask.content)
        again.detail["reasked"] = True
        again.detail["first_text"] = v.detail["judge_text"]
        v = again
    if v.detail["judge"] != "unclear":
        return v
    again = ", even when asked again" if reask is not None else ""
    if rules.is_on(RuleId.JUDGE_UNCLEAR):
        why = "its statements disagree" if v.detail["read_as"] == "conflict" else \
            "it states none"
        return Verdict(RuleId.JUDGE_UNCLEAR, False,
                       f"no verdict could be read from the judge ({why}){again}", v.detail)
    return Verdict(v.rule, True, f"judge unclear{again}; kept as the paper does (switch "
                   "judge_unclear on to reject)", v.detail)


_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
          "eight": 8, "nine": 9, "ten": 10}
_NUM = r"(10|[1-9](?:\.\d+)?|one|two|three|four|five|six|seven|eight|nine|ten)"
_LABELLED = re.compile(r"(?:rating|difficulty|score|rate)\D{0,20}?" + _NUM + r"\b", re.I)
_OUT_OF = re.compile(_NUM + r"\s*(?:/|out of)\s*10\b", re.I)
_BARE = re.compile(r"(?<![\d.])" + _NUM + r"(?![\d.]*\d)\b", re.I)


def _value(token: str) -> float:
    token = token.lower()
    return float(_WORDS[token]) if token in _WORDS else float(token)


def parse_difficulty(raw: str | None) -> float | None:
    """A whole-number rating in [1, 10], or None when the text holds none.

    JSON first ({"rating": 7}); then "Rating: 7", "7/10", "seven", preferring a number that
    follows "rating"/"difficulty"/"score". A half rating ("6.5") rounds up, as a person
    reading "between 6 and 7" would not call it easy.
    """
    if not raw:
        return None
    data = _json(raw)
    if isinstance(data, dict):
        for key in ("rating", "difficulty", "score"):
            value = data.get(key)
            if isinstance(value, int | float) and not isinstance(value, bool) \
                    and 1 <= value <= 10:
                return float(int(value + 0.5))
    for pattern in (_LABELLED, _OUT_OF, _BARE):
        for match in pattern.finditer(raw):
            value = _value(match.group(1))
            if 1.0 <= value <= 10.0:
                return float(int(value + 0.5))
    return None
