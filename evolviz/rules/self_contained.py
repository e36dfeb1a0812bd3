"""Does a rewrite hold what it refers to, and only that? Part of the `not_a_task` check.

A small evolver that continues a few-shot pattern loses track of the data a task works on:
it keeps "Translate the sentence into Spanish" and drops the sentence, appends a table or
a code block the request never mentions, or runs past the example's end into the next
one ("##" and another task). Each reads as a task to a check that only looks for a
request, and each is useless in a dataset: no answer can do what it asks. Strong models
rarely do any of this; what they write (a request that points at its data with "below",
"the following", "this", or a label line "Table:") passes.

The causes, in the order `problem` tries them:
- ``runs_on``: a bare "##" line (the few-shot separator, half-written), then more text.
- ``missing_input``: "these words", "the list below" and no data; or the parent carried
  data (its input block), the rewrite dropped it and still says "the sentence".
- ``unreferenced_data``: a new block of material (a fence, a table, JSON, a line of
  numbers, or statements after the request) that no words outside it point at. Only for a
  few-shot evolver that continues a pattern: people write tasks this way too. Of 2,000
  real Alpaca tasks (instruction, then input), 132 (6.6%) have such a block ("Replace the
  word 'large' with a more descriptive word." / "He had a large smile on his face."), so
  for a chat-style evolver the shape proves nothing; from the 135M few-shot evolver, on 80
  labelled candidates of seeds it was not tuned on, it was 5 false accepts and no keeper.
"""

from __future__ import annotations

import re
from collections.abc import Callable

__all__ = ["has_data", "problem"]

_I = re.IGNORECASE

# "Sort these words", "the list below": data the task says it gives.
_DEICTIC = re.compile(
    r"\b(?:(?:this|these|the following|the above|the below|the given)\s+(?:\w+\s+){0,2}?"
    r"(?:paragraph|text|sentence|sentences|list|table|code|snippet|program|function|data|"
    r"passage|numbers|words|notes|reviews?|csv|json|loop|query|article|email|poem|story|"
    r"argument|phone numbers|dates|items)|(?:paragraph|text|sentence|list|table|code|data|"
    r"passage|numbers|words|notes|snippet|loop)\s+(?:below|above))\b", _I)

# "the sentence" as the object of the request ("Translate the sentence into Spanish"), not
# a compound ("the sentence structure of German") or a known text ("the text of the law").
_DEFINITE = re.compile(
    r"\bthe\s+(?:(?:given|original|same|above|following)\s+)?(?:paragraph|text|sentence|"
    r"sentences|list|table|code|snippet|passage|numbers|words|story|article|email|poem|"
    r"data|review|excerpt|string|function|program|query|dialogue|conversation)"
    r"(?=\s*(?:[,.;:?!]|$)|\s+(?:into|to|in|from|by|so|and|using|with|as|for|that|which|"
    r"while|without|again|more|is|are)\b)", _I)

# A block of data: a fence, a markdown table, JSON, or a line of numbers/CSV.
_DATA_BLOCK = re.compile(
    r"^\s*(?:```|~~~|\||[{\[]|(?:-?\d[\d.,]*\s*[,;\t ]\s*){2,}-?\d)", re.M)

# Words that point at data beside the request, in the languages `task_shape` reads; a
# line ending in a colon introduces it.
_POINTER = re.compile(
    r"\b(?:below|above|following|follows|given|provided|attached|included|these|this|"
    r"here|those|the (?:\w+ ){0,2}?(?:table|data|dataset|list|code|snippet|json|csv|file|"
    r"numbers|values|records|rows|entries|log|schema|matrix|array|program|function|query|"
    r"paragraph|sentence|text|passage|excerpt|email|message|letter|story|article|review|"
    r"poem|essay|document|transcript|conversation|dialogue|statement|quote|description)|"
    r"siguientes?|a continuación|abajo|arriba|dad[oa]s?|est[aeo]s?|"  # es
    r"folgenden?|unten|oben|gegebenen?|diese[rsn]?|"  # de
    r"suivante?s?|ci-dessous|ci-dessus|donnée?s?|cette|ces|"  # fr
    r"seguinte|abaixo|acima|seguente|sotto|sopra|quest[aoie]|"  # pt, it
    r"следующ\w*|ниже|выше|данн\w*|эт\w+|"  # ru
    r"التالية?|أدناه|أعلاه|هذه?|"  # ar
    r"निम्नलिखित|नीचे|ऊपर|दिए गए)\b"  # hi
    r"|以下|下面|上面|如下|给定|这个|这些|次の|下記|上記|この"  # zh, ja
    r"|[:：]\s*$", _I | re.M)

# Words that make a block an instruction rather than material ("The story should...").
_INSTRUCTS = re.compile(
    r"\b(?:should|must|need to|needs to|have to|has to|make sure|ensure|include|avoid|"
    r"do not|don't|without|no more than|at least|at most|exactly|"
    r"(?:\d+|one|two|three|four|five|six|seven|eight|nine|ten|twenty|fifty|hundred)\s+"
    r"(?:words?|lines?|sentences?|paragraphs?|items?|bullet points?|characters?|"
    r"syllables?|steps?|examples?)|"
    r"debe|deben|tiene que|muss|müssen|soll|sollte|doit|doivent|il faut|deve|devono|"
    r"долж\w+|يجب|चाहिए)\b|必须|应该|要求|べき|ください", _I)

# A label line that introduces material ("Text:", "Input:", "Table:"), or a heading.
_LABEL = re.compile(
    r"^\W*(?:input|text|article|passage|context|data|example|examples|story|email|review|"
    r"paragraph|sentence|document|excerpt|transcript|conversation|dialogue|scenario|"
    r"background|notes?|hint|constraints?|requirements?|rules?|format|table|code|schema|"
    r"title|question|options?|choices|sample|dataset|log|output|expected output)\W{0,3}[:：]"
    r"|^\s*#{1,6}\s+\S",  # a markdown heading opens a section the writer meant
    _I)

# The first line of a block that introduces the data under it.
_INTRODUCES = re.compile(r"[:：]\s*$|^\W*here (?:is|are)\b", _I)

# A bare "##" line: the few-shot examples' "###" separator, half-written.
_SEPARATOR = re.compile(r"^\s*#{2,}\s*$", re.M)


def has_data(text: str) -> bool:
    """Whether the task carries data beside its request: a second block, a fence, a quote,
    or a colon followed by material."""
    body = text.strip()
    if "```" in body or "\n" in body:
        return True
    # Inline material: after a colon, in quotes, a bracketed list, or numbers to work on
    # ("the following two numbers: 24 and 36", "the following list [3, 4, 5]").
    return bool(re.search(r"[:：]\s*\S.{10,}$|[\"“«'][^\"”»']{6,}[\"”»']|\[[^\]]+\]|"
                          r"\d+(?:\.\d+)?\s*(?:,|and)\s*\d", body))


def _blocks(text: str) -> list[str]:
    """Paragraphs, with a fenced block kept whole."""
    out: list[str] = []
    current: list[str] = []
    fenced = False
    for line in text.split("\n"):
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
        if not line.strip() and not fenced:
            if current:
                out.append("\n".join(current))
            current = []
        else:
            current.append(line)
    if current:
        out.append("\n".join(current))
    return out


def _unreferenced_data(body: str, parent: str, is_request: Callable[[str], bool]) -> str:
    """The first new block of material that nothing outside it points at ("" if none).

    Material is a data-shaped block (a fence, a table, JSON, numbers) anywhere after the
    request, or a block of statements after the last request that neither asks nor
    instructs ("The main organ of the digestive system is the stomach."): what a small
    model appends is most often an answer posing as data. Context before the request and a
    block under a label ("Text: ...") are left alone."""
    blocks = _blocks(body)
    material = set()
    for i, b in enumerate(blocks[1:], start=1):
        if b.strip() in parent:
            continue
        statements = not (is_request(b) or _INSTRUCTS.search(b) or _LABEL.match(b)
                          or any(is_request(x) for x in blocks[i + 1:]))
        if _DATA_BLOCK.match(b) or statements:
            material.add(i)
    # Data under its own introduction ("Here is my code:" above the fence) is referenced.
    material = {i for i in material if not (_DATA_BLOCK.match(blocks[i].split("\n", 1)[-1])
                                           and _INTRODUCES.search(blocks[i].split("\n")[0]))}
    if not material:
        return ""
    prose = "\n".join(b for i, b in enumerate(blocks) if i not in material)
    return "" if _POINTER.search(prose) else blocks[min(material)].strip()[:80]


def problem(text: str, parent: str, is_request: Callable[[str], bool], *,
            pattern: bool = False) -> tuple[str, str] | None:
    """(cause, the words that show it) when `text` does not hold what it refers to;
    `is_request` says whether a block asks for something (`task_shape` passes its own).
    `unreferenced_data` is looked for only in a `pattern` evolver's rewrites: people write
    tasks that way too (see the module's docstring)."""
    body = text.strip()
    sep = _SEPARATOR.search(body)
    if sep and body[sep.end():].strip():
        return "runs_on", body[sep.end():].strip()[:80]
    deictic = _DEICTIC.search(body)
    if deictic and not has_data(body):
        return "missing_input", deictic.group(0)
    definite = _DEFINITE.search(body)
    if definite and "\n" in parent.strip() and not has_data(body):
        return "missing_input", definite.group(0)
    if pattern and (unreferenced := _unreferenced_data(body, parent, is_request)):
        return "unreferenced_data", unreferenced
    return None
