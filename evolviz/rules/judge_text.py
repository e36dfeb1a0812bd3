"""Reading an equality judge's reply as text: a verdict only where the reply states one.

The judges are asked for JSON, and most answer in it; this is the fallback for a reply in
prose. It reads a verdict from an explicit statement and nowhere else:

- the reply is a verdict and nothing more ("Not equal.", "Same task, different words",
  "不相同", "Son iguales.");
- a labelled verdict ("Verdict: not equal", "Final answer: equal", "so the answer is:
  different"); a clause that is only a verdict ("... a word limit. Not equal.");
- a sentence whose subject is the two tasks (or task B) and whose predicate is a verdict
  ("They are essentially the same", "Task B is not equal to Task A", "They differ only in
  wording", "There is no real difference between them", "I would not call them equal");
- "Yes" / "No" opening a reply, the answer to the question the template asks.

Negation counts only inside the statement. A verdict word anywhere else is not read: "Task
B is harder", "the same topic", an echoed "#Harder Task#" or "the same explanation plus a
comparison" say nothing about the verdict. Statements that disagree make the reply unclear;
a labelled verdict outranks the sentences around it (a judge reasons, then concludes).
"""

from __future__ import annotations

import re

from .text import words

__all__ = ["read_equality_text"]

_I = re.IGNORECASE
_ADV = (r"(?:(?:essentially|basically|effectively|practically|really|exactly|"
        r"fundamentally|functionally|largely|mostly|quite|completely|entirely|totally|"
        r"very|truly|clearly|just|simply|still|actually|definitely|absolutely|"
        r"pretty much|more or less|virtually|nearly|almost)\s+)*")
# Verdict terms. "the same" must not be followed by an aspect ("the same topic").
_ASPECT = (r"(?:topic|subject|theme|domain|area|field|format|style|tone|context|length|"
           r"language|word|words|wording|phrasing|base task|core|starting point|idea|"
           r"question type|kind of task|genre|structure|setting)")
_SAME_EN = (rf"equal|equivalent|identical|alike|interchangeable|duplicates?|"
            rf"(?:the )?same(?! {_ASPECT}\b)(?: (?:task|thing|request|question|prompt|"
            rf"instruction)s?)?|(?:a |just a |merely a |only a |simply a )?"
            rf"(?:paraphrases?|rewordings?|rephrasings?)(?: of (?:each other|task a|"
            rf"the first(?: one| task)?|one another))?|no different")
_DIFF_EN = r"different|distinct|unequal|not_equal|dissimilar"
_SAME_OTHER = (r"iguales|igual|idénticas?|idénticos?|equivalentes|la misma(?: tarea)?|"
               r"lo mismo|gleich|identisch|dieselben?|dasselbe|identiques?|pareilles?|"
               r"les mêmes|la même(?: tâche)?|équivalentes?|одинаковы[ея]?|одинаковые|"
               r"идентичны|равны|одно и то же|相同|一样|一樣|等同|同じ|متساويتان|متطابقتان|"
               r"نفس المهمة|समान|एक जैसे|एक ही|같습니다|같다|동일합니다|동일하다|hetzelfde|gelijk|"
               r"aynı|aynıdır|takie same|identyczne|uguali|identici|lo stesso|iguais|o mesmo|"
               r"giống nhau|sama saja|identik")
_DIFF_OTHER = (r"diferentes?|distint[ao]s?|verschieden|unterschiedlich|ungleich|"
               r"différent(?:e|es|s)?|distinct(?:e|es|s)?|разные|различны|различаются|"
               r"отличаются|不同|不一样|不一樣|不相同|異なる|違う|異なります|違います|"
               r"مختلفتان|مختلفة|مختلف|अलग|भिन्न|다릅니다|다르다|서로 다르|verschillend|"
               r"anders|farklı|farklıdır|różne|różnią się|diversi|diverse|khác nhau|berbeda")
_NEG = r"(?:not|n't|never|no longer|nicht|kein|keine|no|pas|ne|не|нет|ليست|ليس|لا|नहीं|不是|并不)"
_TERM = rf"(?P<same>{_SAME_EN}|{_SAME_OTHER})|(?P<diff>{_DIFF_EN}|{_DIFF_OTHER})"
# Edges that also work for Han and kana, which have no spaces to mark a word.
_L, _R = r"(?<![^\W\u3040-\u30ff\u3400-\u9fff])", r"(?![^\W\u3040-\u30ff\u3400-\u9fff])"

_SUBJECT = (r"(?:they|these|those|(?:these|those|the) (?:two )?(?:tasks|prompts|instructions)|"
            r"both(?: (?:tasks|prompts|instructions|versions|ones))?|"
            r"the two(?: (?:tasks|prompts|instructions|versions|ones))?|"
            r"these two(?: (?:tasks|prompts|instructions))?|task a and task b|"
            r"a and b|task b|the second(?: (?:task|one|prompt|instruction))?|"
            r"the (?:new|rewritten|evolved|revised|second) (?:task|prompt|instruction|"
            r"version)|the (?:tasks|prompts|instructions)|it|this|b)")
_COPULA = (r"(?:\s+(?:is|are|was|were|seems?(?: to be)?|appears?(?: to be)?|looks? to be|"
           r"remains?|would be|will be)|'re|'s|\s+(?:is|are|was|were)(?=n't))")
# A verdict qualified away ("identical except that B adds a limit") states none.
_AFTER = (rf"(?!\s+(?:in|on|regarding|as to|when it comes to|with respect to|"
          rf"except for|apart from|aside from)\s+(?:its |their |the )?{_ASPECT}\b)"
          rf"(?!,?\s+(?:except|apart from|aside from|other than|but for|save for)\b)")
_STATEMENT = re.compile(
    rf"{_L}{_SUBJECT}{_COPULA}(?P<neg>n't\s+|\s+{_NEG}\s+|\s+)(?:\s*{_ADV})(?:{_TERM}){_R}"
    rf"{_AFTER}"
    rf"|{_L}{_SUBJECT}\s+(?P<dneg>(?:do|does|did)\s*(?:not|n't)\s+)?differs?{_R}"
    rf"(?P<only>\s+only\s+in\s+(?:the |its |their )?(?:wording|phrasing|words|style|"
    rf"tone|form))?"
    rf"|there\s+(?:is|are|'s)\s+(?P<nodiff>no|not any|little|hardly any)?\s*"
    rf"(?:real |meaningful |significant |substantive |actual |clear |some |a |an )*"
    rf"differences?{_R}"
    rf"|(?:would|do|can|could)\s*(?P<cneg>not|n't)?\s+(?:call|consider)\s+(?:them|these|"
    rf"the two(?: tasks)?|task b|it)\s+{_ADV}(?P<cterm>{_SAME_EN}|{_DIFF_EN}){_R}"
    rf"|{_L}makes?\s+(?:them|task b|b|the two(?: tasks)?|it)\s+{_ADV}"
    rf"(?P<mterm>{_SAME_EN}|{_DIFF_EN}){_R}"
    rf"|{_L}i(?:'d| would)?\s+(?:say|call it|conclude|judge)\s+(?:that\s+)?(?:they(?:'re| are)"
    rf"\s+|it(?:'s| is)\s+)?(?P<sneg>not\s+)?{_ADV}(?P<sterm>{_SAME_EN}|{_DIFF_EN}){_R}"
    rf"|{_L}{_SUBJECT}\s+(?:asks?|requests?|wants?)\s+(?:for\s+)?{_ADV}"
    rf"(?P<samething>the same thing){_R}", _I)
_TERM_OTHER = re.compile(rf"{_L}(?:(?P<same>{_SAME_OTHER})|(?P<diff>{_DIFF_OTHER})){_R}", _I)
_NEG_BEFORE = re.compile(rf"{_L}{_NEG}{_R}|不|没有|並不|并不", _I)
_LABEL = re.compile(r"(?:verdict|answer|final answer|the answer is|conclusion|result|"
                    r"decision|judgement|judgment|so|therefore|thus|hence|veredicto|"
                    r"respuesta|urteil|antwort|verdict final|réponse|вердикт|ответ|"
                    r"结论|答案|判断|結論|判定)\s*[:：=-]\s*(?P<rest>[^\n]+)", _I)
_YES_NO = re.compile(r"^\W*(?:(?P<yes>yes|yeah|yep|sí|si|ja|oui|да|是的|はい|نعم|हाँ|हां)|"
                     r"(?P<no>no|nope|nein|non|нет|不是|いいえ|لا|नहीं))(?:\s*[,.;:!—–-]|\W*$)",
                     _I)
_NEG_AFTER = re.compile(r"^\s*(?:では|じゃ)?(?:ない|ありません)|^\s*नहीं")
_WORDING_TALK = re.compile(
    r"\b(?:the )?(?:wording|phrasing|words|word choice|style|tone|order)\b[^.;,]{0,30}?"
    r"\b(?:differs?|different|vary|varies)\b|\b(?:different|differing|other)\s+"
    r"(?:words|wording|phrasing)\b|\b(?:worded|phrased) differently\b", _I)
_SENTENCE = re.compile(r"[^.;!?\n。！？؟]+[.;!?\n。！？؟]*")
_SPLIT = re.compile(r"[.;!?\n。！？]+|\s[—–]\s|\s-\s|:(?=\s)", _I)
_BARE = re.compile(rf"^\W*(?:(?P<neg>not|no|nicht|pas|не|ليست|不)\s*)?{_ADV}(?:{_TERM})"
                   rf"(?:\s+(?:task|tasks|prompts?|instructions?))?\W*$", _I)


def _bare(text: str) -> str | None:
    """The verdict of a text that is nothing but a verdict, or None."""
    text = _WORDING_TALK.sub(" ", text).strip(" \t,.;:!?*_`#>\"'“”«»()[]。！")
    m = _BARE.match(text)
    if m is not None:
        same = m["same"] is not None
        return "equal" if same != bool(m["neg"]) else "not_equal"
    # Other languages often drop the subject ("Son iguales", "Они разные", "同じです"):
    # a reply of a few words holding exactly one verdict term states it.
    if len(text) > 60 or (len(words(text)) > 8 and len(text) > 12):
        return None  # a few words, or a few characters in a script without spaces
    terms = list(_TERM_OTHER.finditer(text))
    if len(terms) != 1:
        return None
    t = terms[0]
    neg = (_NEG_BEFORE.search(text[max(0, t.start() - 12):t.start()])
           or _NEG_AFTER.search(text[t.end():t.end() + 12]))
    return "equal" if (t["same"] is not None) != bool(neg) else "not_equal"


def _statements(text: str) -> list[tuple[str, str]]:
    """Every explicit statement of a verdict in `text`, as (verdict, words read)."""
    found = []
    for m in _STATEMENT.finditer(text):
        words = m.group(0).strip()
        if m["samething"]:
            found.append(("equal", words))
        elif m["nodiff"] is not None or (words.lower().startswith("there") and "differ"
                                         in words.lower()):
            found.append(("equal" if m["nodiff"] else "not_equal", words))
        elif "differ" in words.lower() and m["same"] is None and m["diff"] is None:
            same = bool(m["dneg"]) or bool(m["only"])
            found.append(("equal" if same else "not_equal", words))
        elif m["mterm"]:
            same = re.fullmatch(_SAME_EN, m["mterm"], _I) is not None
            found.append(("equal" if same else "not_equal", words))
        elif m["sterm"]:
            same = re.fullmatch(_SAME_EN, m["sterm"], _I) is not None
            found.append(("equal" if same != bool(m["sneg"]) else "not_equal", words))
        elif m["cterm"]:
            same = re.fullmatch(_SAME_EN, m["cterm"], _I) is not None
            found.append(("equal" if same != bool(m["cneg"]) else "not_equal", words))
        else:
            same = m["same"] is not None
            neg = bool(m["neg"] and m["neg"].strip())
            found.append(("equal" if same != neg else "not_equal", words))
    return found


def read_equality_text(text: str) -> tuple[str, str, str]:
    """(verdict 'equal' | 'not_equal' | 'unclear', how it was read, the words read) for a
    prose reply (markup already stripped)."""
    whole = _bare(text)
    if whole is not None:
        return whole, "bare", text.strip()[:80]
    labelled = []
    for m in _LABEL.finditer(text):
        first = _SPLIT.split(m["rest"])[0]
        got = _bare(first) or next((v for v, _ in _statements(first)), None)
        if got is not None:
            labelled.append((got, m.group(0).strip()[:80]))
    if labelled:
        verdicts = {v for v, _ in labelled}
        if len(verdicts) == 1:
            return labelled[-1][0], "label", labelled[-1][1]
        return "unclear", "conflict", "; ".join(w for _, w in labelled)
    found: list[tuple[str, str]] = []
    opening = _YES_NO.match(text)
    if opening:
        found.append(("equal" if opening["yes"] else "not_equal", opening.group(0).strip()))
    for sentence in _SENTENCE.finditer(text):
        if sentence.group(0).rstrip().endswith(("?", "？", "؟")):
            continue  # "The same? No, ..." asks, then answers
        for clause in _SPLIT.split(sentence.group(0)):
            if clause.strip():
                got = _bare(clause)
                if got is not None:
                    found.append((got, clause.strip()[:80]))
        found += _statements(_WORDING_TALK.sub(" ", sentence.group(0)))
    verdicts = {v for v, _ in found}
    if len(verdicts) == 1:
        return found[-1][0], "statement", found[-1][1]
    if found:
        return "unclear", "conflict", "; ".join(w for _, w in found)[:200]
    return "unclear", "text", ""
