"""The rewrite stage: the instruction inside an evolver's reply, and whether it is usable.

Chat models wrap a rewrite in a preamble ("Sure! Here is a harder version:"), label it
("**Rewritten Prompt:**", "#New Task#", "## Harder Task"), fence it, and explain it
afterwards ("This version adds ..."). Extraction removes those and says what it removed,
so the stored instruction is the task alone and the record shows what was cut. A label
in the middle of the text is left in place: that is a leak for rule 4 to see.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field

from .ids import RuleId
from .patterns import find_refusal
from .text import content_words, normalise, word_count, words
from .verdict import Verdict

__all__ = ["Extraction", "check_rewrite", "extract", "extract_instruction",
           "identical_instructions"]

_I = re.IGNORECASE
_OUT_WORDS = (r"rewritten|revised|new|harder|created|evolved|improved|final|modified|updated|"
              r"reformulated|rephrased|more complex|more difficult|more challenging|"
              r"complicated|deeper|concrete|complex|output")
_IN_WORDS = r"given|original|example|input|old|initial"
_NOUN = r"(?:prompt|task|instruction|question|version|request)s?"
_MARKUP = r"(?:\*\*|__|\*|`)?"
_LABEL_RE = re.compile(
    rf"^\s*(?P<pre>(?:#{{1,6}}\s*|>\s*)?{_MARKUP}\s*#?)\s*(?:here(?:'s| is) )?(?:the |a |my )?"
    rf"(?P<label>(?:(?P<out>{_OUT_WORDS})|(?P<in>{_IN_WORDS}))\s+{_NOUN}"
    rf"(?:\s*[(\[][^)\]\n]{{1,60}}[)\]])?)"
    rf"\s*(?P<post>#?\s*{_MARKUP}\s*[:：]?\s*{_MARKUP}\s*#?\s*[:：]?)\s*(?P<rest>.*)$", _I)
_PREAMBLE_RE = re.compile(
    r"^\W*(?:sure|certainly|of course|absolutely|okay|ok|alright|all right|great|got it|"
    r"no problem|happy to help|here(?:'s| is| are| it is| you go)|below is|the following is|"
    r"i(?:'ve| have) (?:rewritten|revised|made|created)|"
    r"i(?:'ll| will) (?:make|rewrite|add|turn|give)|let me (?:make|rewrite|add)|"
    r"to make (?:this|it) (?:harder|more)|"
    r"claro|por supuesto|aquí tienes|aquí está|natürlich|gerne|hier ist|bien sûr|voici|"
    r"конечно|вот)\b|"
    r"^\W*(?:当然|好的|以下是|这是|もちろん|はい|以下は|물론|네[,!]|다음은|여기)", _I)
_INTERJECTION_RE = re.compile(r"^\s*(?:sure|certainly|of course|absolutely|okay|ok|alright|"
                              r"all right|great|no problem)\s*[!.,]\s+(?=\S)", _I)
_PREAMBLE_TOPIC = re.compile(r"\b(?:version|prompt|task|instruction|rewrite|rewritten|"
                             r"harder|revised|challenging|complex|one|versión|tarea|aufgabe|"
                             r"tâche|задача|версия)\b|任务|版本|タスク|버전|작업|과제", _I)
_TRAILER_RE = re.compile(
    r"^\W*(?:explanation|note|notes|changes(?: made)?|rationale|reasoning|what changed|"
    r"why (?:this|it) is (?:harder|more)|in this (?:version|rewrite|rewritten)|"
    r"this (?:rewritten|new|revised|harder|updated|modified|evolved) (?:prompt|version|task|"
    r"instruction)|the (?:rewritten|new|revised|harder|updated) (?:prompt|version|task|"
    r"instruction) (?:adds|asks|requires|now|introduces|increases|keeps|makes)|"
    r"i (?:have |'ve )?(?:added|made|changed|introduced|kept|replaced|increased|included)|"
    r"by adding|this (?:adds|makes|increases|introduces|requires|version)|"
    r"(?:the )?(?:added|new) (?:constraint|requirement)s? (?:is|are|makes|make))\b", _I)
_FENCE_RE = re.compile(r"^\s*(```|~~~)")
_THINK_RE = re.compile(r"<think>.*?</think>", re.S | re.I)
_QUOTES = (('"', '"'), ("\u201c", "\u201d"), ("'", "'"), ("\u00ab", "\u00bb"),
           ("\u300c", "\u300d"), ("**", "**"))


@dataclass
class Extraction:
    """The instruction and the pieces of the reply that were not part of it."""

    text: str
    removed: list[str] = field(default_factory=list)


def _fences(lines: list[str]) -> list[bool]:
    """For each line, whether it is inside (or is) a code fence."""
    inside, out = False, []
    for line in lines:
        if _FENCE_RE.match(line):
            out.append(True)
            inside = not inside
        else:
            out.append(inside)
    return out


def _label(line: str) -> re.Match[str] | None:
    m = _LABEL_RE.match(line)
    if m is None:
        return None
    marked = "#" in m["pre"] + m["post"] or "*" in m["pre"] + m["post"] or "_" in m["post"]
    colon = ":" in m["post"] or "：" in m["post"]
    if marked or colon or not m["rest"].strip():
        return m
    return None


def _unwrap_fence(text: str) -> str:
    lines = text.split("\n")
    if (len(lines) >= 3 and _FENCE_RE.match(lines[0]) and lines[-1].strip() in ("```", "~~~")
            and sum(bool(_FENCE_RE.match(x)) for x in lines) == 2):
        first = lines[0].strip()[3:].strip()
        if not first or re.fullmatch(r"[A-Za-z0-9_+-]{1,20}", first):
            return "\n".join(lines[1:-1]).strip()
    return text


def _balance(text: str, removed: list[str]) -> str:
    lines = text.split("\n")
    idx = [i for i, x in enumerate(lines) if _FENCE_RE.match(x)]
    if len(idx) % 2 == 0:
        return text
    if len(idx) == 1 and idx[0] in (0, len(lines) - 1):
        removed.append(lines[idx[0]])
        del lines[idx[0]]
        return "\n".join(lines).strip()
    return text + "\n```"


def _unquote(text: str) -> str:
    for a, b in _QUOTES:
        inner = text[len(a):-len(b)] if len(text) > len(a) + len(b) else ""
        if text.startswith(a) and text.endswith(b) and inner.strip() and a not in inner \
                and (a == b or b not in inner):
            return inner.strip()
    return text


_JSON_KEYS = ("rewritten_prompt", "rewritten_instruction", "rewritten_task", "new_prompt",
              "new_instruction", "new_task", "harder_task", "harder_prompt", "evolved_prompt",
              "evolved_instruction", "prompt", "instruction", "task", "rewrite", "rewritten",
              "output", "result", "text")
_EMPTY_FENCE = re.compile(r"^\s*(?:```|~~~)[\w+-]*\s*(?:```|~~~)\s*$")
_NOTE_WORDS = (r"note|notes|added|adds|adding|changed|change|changes|constraint|requirement|"
               r"rewritten|rewrite|harder|this version|explanation|increased|introduced|"
               r"made it|now (?:asks|requires)|word count|\d+ words")
_TRAILING_NOTE = re.compile(
    r"(?:\n+|(?<=[.!?])\s+)(?P<note>\((?:[^()]|\([^()]*\))*\)|\[[^\[\]]*\]|【[^【】]*】|"
    r"\{[^{}]*\}|（[^（）]*）|<[^<>]*>)\s*$")


def _unjson(text: str) -> tuple[str, str | None]:
    """The rewrite inside a JSON object a model wrapped it in, and the key it was under."""
    body = text.strip()
    fence = re.fullmatch(r"(?:```|~~~)(?:json)?\s*(.*?)\s*(?:```|~~~)", body, re.S | re.I)
    if fence:
        body = fence.group(1).strip()
    if not (body.startswith("{") and body.endswith("}")):
        return text, None
    try:
        data = json.loads(body)
    except ValueError:
        return text, None
    if not isinstance(data, dict):
        return text, None
    lowered = {str(k).strip().lower().replace(" ", "_").replace("-", "_"): v
               for k, v in data.items()}
    for key in _JSON_KEYS:
        value = lowered.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip(), key
    strings = [v for v in data.values() if isinstance(v, str) and v.strip()]
    if len(strings) == 1:
        return strings[0].strip(), "the only text value"
    return text, None


_CLOSING_CHATTER = re.compile(
    r"(?:^|(?<=[.!?])\s+)(?:let me know|i hope (?:this|that)|hope this helps|feel free to|"
    r"happy to (?:adjust|help|make)|(?:do )?you want me to|would you like (?:me to|it)|"
    r"tell me if)\b[^\n]*$", re.I)


def _trailing_notes(text: str, removed: list[str]) -> str:
    """Bracketed notes after the task about what was changed: "(Note: adds a limit)",
    "[Added: one constraint]", "【...】". A bracket that is part of the task stays."""
    chatter = _CLOSING_CHATTER.search(text)
    if chatter and text[:chatter.start()].strip():
        removed.append(chatter.group(0).strip())
        text = text[:chatter.start()].rstrip()
    while True:
        m = _TRAILING_NOTE.search(text)
        if m is None or not re.search(_NOTE_WORDS, m["note"], re.I):
            return text
        if not text[:m.start()].strip():
            return text
        removed.append(m["note"])
        text = text[:m.start()].rstrip()


def _first_block(text: str, parent: str, removed: list[str]) -> str:
    """The task's own paragraph, and after it only the parent's input copied back; what
    follows (a few-shot model that kept writing past its example's format) is cut."""
    blocks = re.split(r"\n\s*\n", text.strip())
    keep = [blocks[0]]
    for block in blocks[1:]:
        if block.strip() and block.strip() in parent:
            keep.append(block)
        else:
            break
    rest = blocks[len(keep):]
    if rest:
        removed.append("\n\n".join(rest))
    return "\n\n".join(keep)


def extract(raw: str | None, markers: Sequence[str] = (), *, single_block: bool = False,
            parent: str = "") -> Extraction:
    """Take the instruction out of an evolver reply (see the module docstring).

    `single_block`: the reply answers a few-shot prompt whose examples are one paragraph
    (plus the input they were given): anything after that paragraph is not the task."""
    removed: list[str] = []
    text = (raw or "").replace("\r\n", "\n").replace("\r", "\n")
    if _EMPTY_FENCE.match(text):
        return Extraction("", [text.strip()])
    unwrapped, key = _unjson(text)
    if key is not None:
        removed.append(f"JSON around the rewrite (key {key!r})")
        text = unwrapped
    thought = _THINK_RE.sub("", text)
    if thought != text:
        removed.append("<think>...</think>")
        text = thought
    text = _unwrap_fence(text.strip())
    lines = text.split("\n")
    fenced = _fences(lines)

    # Labelled sections: keep what follows the last output label ("Rewritten Prompt:"),
    # drop what follows an input label ("#Given Prompt#": the parent echoed back).
    labels = [(i, m) for i, line in enumerate(lines) if not fenced[i] and (m := _label(line))]
    if labels:
        outs = [(i, m) for i, m in labels if m["out"]]
        start, m = outs[-1] if outs else labels[-1]
        end = next((i for i, mm in labels if i > start), len(lines))
        if outs or not m["rest"].strip() or len(labels) > 1:
            head = [x for x in lines[:start] if x.strip()]
            tail = [x for x in lines[end:] if x.strip()]
            body = ([m["rest"]] if m["rest"].strip() else []) + lines[start + 1:end]
            if "\n".join(body).strip():
                removed += [*head, lines[start].replace(m["rest"], "").strip(), *tail]
                lines = body
            else:  # a label with nothing after it
                removed.append(lines[start].strip())
                lines = lines[:start] + lines[start + 1:]
        fenced = _fences(lines)

    # A chat preamble on the first line.
    first = next((i for i, x in enumerate(lines) if x.strip()), None)
    if first is not None and not fenced[first]:
        line = lines[first].strip()
        head, colon, after = line.replace("：", ":", 1).partition(":")
        if _PREAMBLE_RE.match(line) and (colon or _PREAMBLE_TOPIC.search(line)) and (
                len(words(head)) <= 16):
            rest = "\n".join(lines[first + 1:]).strip()
            if colon and after.strip():
                removed.append(head + ":")
                lines = [after.strip(), *lines[first + 1:]]
            elif rest:
                removed.append(line)
                lines = lines[first + 1:]
        fenced = _fences(lines)

    # A trailing explanation: from the first paragraph that reads as one.
    seen_text = False
    for i, line in enumerate(lines):
        if fenced[i] or not line.strip():
            continue
        if seen_text and (_TRAILER_RE.match(line) or (
                re.fullmatch(r"\s*(?:-{3,}|\*{3,}|_{3,})\s*", line)
                and any(_TRAILER_RE.match(x) for x in lines[i + 1:] if x.strip()))):
            removed.append("\n".join(lines[i:]).strip())
            lines = lines[:i]
            break
        seen_text = True

    body_lines = [x for x in lines if x.strip()]
    if body_lines and all(x.lstrip().startswith(">") for x in body_lines):
        lines = [re.sub(r"^\s*>\s?", "", x) for x in lines]  # a quoted block
    text = _unwrap_fence("\n".join(lines).strip())
    m = _INTERJECTION_RE.match(text)
    if m:
        removed.append(m.group(0).strip())
        text = text[m.end():]
    # The template's own markers, when the reply opens with one ("#Harder Task# ...").
    for marker in sorted(markers, key=len, reverse=True):
        if not re.search(r"\w", marker) or not re.search(r"[#*:]", marker):
            continue
        if text.lower().startswith(marker.lower()) and text[len(marker):].strip():
            removed.append(marker)
            text = text[len(marker):].lstrip(" :：\n")
    text = _unquote(_balance(text, removed).strip())
    text = _trailing_notes(text, removed)
    if single_block:
        text = _first_block(text, parent, removed)
    return Extraction(text.strip(), [r for r in removed if r])


def extract_instruction(raw: str | None, markers: Sequence[str] = ()) -> str:
    return extract(raw, markers).text


def identical_instructions(a: str, b: str) -> bool:
    return normalise(a) == normalise(b)


_JUDGE_WORDS = {"equal", "not equal", "not_equal", "unequal", "same", "not the same",
                "different", "identical", "not identical", "yes", "no", "verdict equal",
                "verdict not_equal", "verdict not equal", "verdict not", "rating"}


def binaryish(text: str) -> bool:
    bad = sum(1 for ch in text if ch == "\ufffd" or (
        unicodedata.category(ch) in ("Cc", "Co", "Cs", "Cn") and ch not in "\n\t\r"))
    return bad > max(2, len(text) // 10)


def _bad(cause: str, reason: str, **detail: object) -> Verdict:
    return Verdict(RuleId.REWRITE_INVALID, False, reason, {"cause": cause, **detail})


def check_rewrite(raw: str | None, finish_reason: str | None, parent: str,
                  markers: Sequence[str] = (), *, single_block: bool = False) -> Verdict:
    """Reject a rewrite that cannot be used at all, each kind with its own cause."""
    fr = {"finish_reason": finish_reason}
    if finish_reason == "length":
        return _bad("truncated", "the rewrite was cut off (finish_reason=length)", **fr,
                    words=word_count(raw))
    if finish_reason == "content_filter":
        return _bad("filtered", "the endpoint filtered the rewrite (content_filter)", **fr)
    if raw is None or not raw.strip():
        return _bad("empty", "the rewrite is empty", **fr)
    if _EMPTY_FENCE.match(raw):
        return _bad("empty", "the rewrite is an empty code block", **fr, read=raw.strip()[:40])
    head = raw.lstrip()[:200].lower()
    if head.startswith(("<!doctype html", "<html")) or "<body" in head:
        return _bad("html", "the endpoint sent an HTML page, not a rewrite", **fr,
                    read=raw.strip()[:120])
    if binaryish(raw):
        return _bad("binary", "the rewrite is mostly control or undecodable characters", **fr)
    if normalise(raw.replace("_", " ")) in _JUDGE_WORDS or (
            re.fullmatch(r"\W*\{.*\}\W*", raw.strip(), re.S)
            and re.search(r'"(?:verdict|rating)"\s*:', raw)):
        return _bad("judge_verdict", "the rewrite is a judge's verdict, not a task", **fr,
                    read=raw.strip()[:80])
    ex = extract(raw, markers, single_block=single_block, parent=parent)
    evidence = {**fr, "removed": ex.removed} if ex.removed else fr
    if not ex.text and words(raw):
        return _bad("marker_only", "the rewrite is only a label or marker", **evidence,
                    read=raw.strip()[:80])
    if not words(ex.text):
        return _bad("unparseable", "the rewrite holds no words", **evidence)
    if len(ex.text) > max(8000, 20 * len(parent)):
        return _bad("too_long", f"the rewrite is {len(ex.text)} characters, far beyond any "
                    "evolved task", **evidence)
    refusal = find_refusal(ex.text)
    if refusal and word_count(ex.text) < 80:
        return _bad("refusal", f"the evolver refused: {refusal!r}", **evidence,
                    matched=refusal)
    if not content_words(ex.text):
        return _bad("stopwords_only", "the rewrite holds only stop words and punctuation",
                    **evidence)
    if normalise(ex.text) == normalise(parent):
        # Not rule 1's LLM call: identical text has no information gain beyond doubt.
        return Verdict(RuleId.NO_INFORMATION_GAIN, False,
                       "the rewrite repeats its parent word for word",
                       {"cause": "identical", **evidence})
    return Verdict(RuleId.REWRITE_INVALID, True, "a usable instruction was extracted",
                   evidence)
