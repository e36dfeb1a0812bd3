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
from .verdict import RuleConfig, Verdict

__all__ = ["DIFFICULTY_FORMAT", "EQUALITY_FORMAT", "REASK", "equality_verdict",
           "parse_difficulty", "parse_equality", "read_equality"]

EQUALITY_FORMAT: dict[str, Any] = {
    "type": "json_schema",
    "json_schema": {"name": "equality_verdict", "strict": True, "schema": {
        "type": "object", "additionalProperties": False, "required": ["verdict"],
        # Plain words, the keeping one first. A small model under this grammar (SmolLM2
        # 135M through llama.cpp) mostly copies the first option its prompt names: with
        # "equal" first it eliminated all 8 demo candidates, with "same" first 7 of 8.
        # Naming "different" first makes its doubt keep a candidate, as an unclear reply
        # does (dropping a good candidate on noise costs more than keeping a doubtful
        # one); a capable judge is not swayed by the order. Other words are read too.
        "properties": {"verdict": {"type": "string", "enum": ["different", "same"]}}}},
}
DIFFICULTY_FORMAT: dict[str, Any] = {
    "type": "json_schema",
    "json_schema": {"name": "difficulty_rating", "strict": True, "schema": {
        "type": "object", "additionalProperties": False, "required": ["rating"],
        "properties": {"rating": {"type": "integer", "enum": list(range(1, 11))}}}},
}
#: The follow-up sent once when a reply could not be read.
REASK = {
    "equality": 'I could not read a verdict in that. Reply with only '
                '{"verdict": "different"} or {"verdict": "same"}.',
    "difficulty": 'I could not read a rating in that. Reply with only {"rating": N}, N a '
                  "whole number from 1 to 10.",
}

_SAME = (r"equal|equals|same|identical|equivalent|alike|duplicates?|interchangeable|"
         r"no (?:new |additional |extra )?information(?: gain(?:ed)?| (?:is )?added)?|"
         r"adds nothing|nothing (?:new|is added)|"
         r"differs? only in (?:wording|phrasing|words|style)|(?:just |only |merely )?(?:a )?"
         r"(?:paraphrase|rephrasing|rewording)|"
         r"igual|iguales|idénticas?|idénticos?|mismas?|mismos?|gleich|identisch|"
         r"pareil|pareilles|identiques?|одинаковы[ея]?|одинаковые|равны|идентичны|"
         r"одно и то же|相同|一样|一樣|等同|同じ|متساويتان|متطابقتان|نفس|समान|एक जैसे")
_DIFF = (r"different|differ|differs|difference|differences|distinct|unequal|not_equal|"
         r"adds? (?:\w+ ){0,3}?(?:constraint|requirement|information|detail|depth|condition|"
         r"step|limit|example|question|comparison)s?|"
         r"more (?:specific|complex|detailed|demanding|difficult|challenging)|"
         r"harder|broader|deeper|stricter|narrower|"
         r"diferentes?|distint[ao]s?|verschieden|unterschiedlich|ungleich|"
         r"différent(?:e|es|s)?|разные|различны|различаются|отличаются|не одно и то же|"
         r"不同|不一样|不一樣|不相同|異なる|違う|مختلفتان|مختلف|अलग|भिन्न")
_NEG = (r"not|n't|never|neither|hardly|nicht|kein|keine|no|pas|ne|не|нет|ليست|ليس|لا|नहीं")
# Word edges that also work for Han and kana, which have no spaces to mark them.
_L, _R = r"(?<![^\W\u3040-\u30ff\u3400-\u9fff])", r"(?![^\W\u3040-\u30ff\u3400-\u9fff])"
_TERM = re.compile(rf"{_L}(?:(?P<same>{_SAME})|(?P<diff>{_DIFF})){_R}", re.I)
_NEG_RE = re.compile(rf"{_L}(?:{_NEG}){_R}|n't|不|没有", re.I)
_NEG_AFTER = re.compile(r"^\s*(?:では|じゃ)?(?:ない|ありません)|^\s*(?:नहीं)")
_LABEL = re.compile(r"(?:verdict|answer|final answer|conclusion|result|decision|judgement|"
                    r"judgment|veredicto|urteil|вердикт|结论|判断)\s*[:：=-]\s*(.+)", re.I)
# Talk about the wording is not a verdict: "the wording differs but they are equal".
_ABOUT_TOPIC = re.compile(r"\b(?:the )?same (?:topic|subject|theme|domain|area|format|style|"
                          r"context|base task|core question)\b", re.I)
_ABOUT_WORDING = re.compile(r"\b(?:wording|phrasing|words|word choice|style|tone|order)\b"
                            r"[^.;,]{0,30}?\b(?:differs?|different|vary|varies)\b|"
                            r"\b(?:different|differing|other)\s+(?:words|wording|phrasing)\b|"
                            r"\b(?:worded|phrased) differently\b", re.I)
_CLAUSES = re.compile(r"(?:[.;!?\n。！？]+|\s[—–-]\s|"
                      r",\s*(?:so|but|thus|therefore|hence|although|though|"
                      r"however|and so)\b|\b(?:so|therefore|thus|hence|but|however|because)\b)",
                      re.I)
_YES = re.compile(r"^\W*(?:yes|yeah|yep|sí|si|ja|oui|да|是的?|はい|نعم|हाँ|हां)\W*$", re.I)
_YES_NO_START = re.compile(r"^\W*(?:(?P<yes>yes|sí|ja|oui|да)|no|nope|nein|non|нет)\s*[,;:!—-]",
                           re.I)
_NO = re.compile(r"^\W*(?:no|nope|nein|non|нет|不是|いいえ|لا|नहीं)\W*$", re.I)


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


def _polarity(clause: str) -> tuple[str, str] | None:
    """('equal' | 'not_equal', the words read) for one clause, or None.

    The last verdict word of the clause decides, flipped by a negation just before it in
    the same phrase (or just after it, in Japanese). Yes and no count only alone, as the
    answer to "are these two tasks the same?".
    """
    if _YES.match(clause):
        return "equal", clause.strip()
    if _NO.match(clause):
        return "not_equal", clause.strip()
    clause = _ABOUT_TOPIC.sub(" ", _ABOUT_WORDING.sub(" ", clause))
    found, prev_end = None, 0
    for m in _TERM.finditer(clause):
        if found is not None:
            prev_end = found.end()
        found = m
    if found is None:
        opening = _YES_NO_START.match(clause)
        if opening:  # "No, Task B asks for more."
            return ("equal" if opening["yes"] else "not_equal"), opening.group(0).strip()
        return None
    same = found["same"] is not None
    phrase_start = max(clause.rfind(",", 0, found.start()), clause.rfind(":", 0, found.start()))
    # A negation counts only in the same phrase, after any earlier verdict word.
    before = clause[max(phrase_start + 1, prev_end, found.start() - 24):found.start()]
    after = clause[found.end():found.end() + 12]
    neg = _NEG_RE.search(before) or _NEG_AFTER.search(after)
    read = (before[neg.start():] if neg and neg.re is _NEG_RE else "") + found.group(0)
    if neg and neg.re is _NEG_AFTER:
        read = found.group(0) + neg.group(0)
    return ("equal" if same != bool(neg) else "not_equal"), read.strip()


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
    if isinstance(data, dict) and isinstance(data.get("equal"), bool):
        return ("equal" if data["equal"] else "not_equal"), "json", str(data["equal"])
    plain = re.sub(r"[*_`#>\"“”]+", " ", text)
    labelled = [m.group(1) for m in _LABEL.finditer(plain)]
    for part in reversed(labelled):
        got = _polarity(part.split("\n")[0])
        if got:
            return got[0], "label", got[1]
    clauses = [c for c in _CLAUSES.split(plain) if c and c.strip()]
    for clause in reversed(clauses):
        got = _polarity(clause)
        if got:
            return got[0], "text", got[1]
    return "unclear", "text", ""


def parse_equality(raw: str | None) -> Verdict:
    """Rule 1 from one judge reply; an unclear reply does not eliminate here."""
    verdict, how, read = read_equality(raw)
    detail = {"judge": verdict, "read_as": how, "matched": read,
              "judge_text": (raw or "")[:300]}
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
    if rules.is_on(RuleId.JUDGE_UNCLEAR):
        return Verdict(RuleId.JUDGE_UNCLEAR, False,
                       "the judge gave no readable verdict, even when asked again",
                       v.detail)
    return Verdict(v.rule, True, "judge unclear, even when asked again; kept "
                   "(switch judge_unclear on to reject)", v.detail)


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
