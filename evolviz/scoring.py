"""Reading the difficulty judge's rating out of free text.

Judges, small local ones especially, answer "Rating: 7", "7/10", "I'd say seven." or
"Difficulty - 8 out of 10 (the task needs ...)". We take the first rating-like number in
range, prefer one that follows the word "rating"/"difficulty"/"score", and keep the raw text
beside the number so a doubtful parse can be checked by eye.
"""

from __future__ import annotations

import re

__all__ = ["parse_difficulty"]

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
    """A rating in [1, 10], or None when the text holds none."""
    if not raw:
        return None
    for pattern in (_LABELLED, _OUT_OF, _BARE):
        for match in pattern.finditer(raw):
            value = _value(match.group(1))
            if 1.0 <= value <= 10.0:
                return value
    return None
