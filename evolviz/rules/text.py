"""Words, by Unicode category, in every script.

A word is a run of letters, marks and digits (Unicode categories L*, M*, N*); everything
else (punctuation P*, symbols S*, spaces, controls) separates words. A mark counts only
after a letter or digit: the variation selector that follows an emoji (U+FE0F, a mark)
would otherwise make "👍️" a word. That makes "…",
"。。。", "——", "؟" and "«»" punctuation as surely as "...", which a code-point range
does not. Han, kana and Thai are written without spaces, so each of their characters counts
as one word, which is close enough for a length threshold.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["STOP_WORDS", "content_words", "normalise", "word_count", "words"]

# Function words that carry no content on their own: English (the paper's language), and
# the commonest ones of the other languages evolviz meets.
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
    ever never hmm um uh ah
    el la los las un una unos unas y o pero de del al a en con por para es son está
    eso esto lo que se no sí si muy ya bueno pues
    der die das ein eine und oder aber ist sind war nicht ja nein so auch noch doch
    von zu mit im am es ich du er sie wir ihr also na gut
    le les des une et ou mais est sont pas oui non très bien alors donc
    и в не на что это так да нет но а ну вот же ли как он она они мы вы я то
    و في من على أن إلى هذا هذه لا نعم ما هو هي
    और या है हैं का की के में से यह वह हाँ नहीं तो भी
    """.split()  # noqa: SIM905 - a word list reads better as prose
)
# Characters of scripts without spaces that are function words alone (particles, "yes").
_CJK_STOP = frozenset("的了是我你他她它们这那嗯啊哦吧呢吗好也和就都在有个之而与或及"
                      "はいえうんのがをにでともねよかなそれこあ")
_APOSTROPHES = "'\u2019"


def _unspaced(ch: str) -> bool:
    """Scripts written without spaces between words: Han, kana, Thai, Lao, Khmer."""
    o = ord(ch)
    return (0x3040 <= o <= 0x30FF or 0x3400 <= o <= 0x4DBF or 0x4E00 <= o <= 0x9FFF
            or 0xF900 <= o <= 0xFAFF or 0x20000 <= o <= 0x2FA1F or 0x0E00 <= o <= 0x0EFF
            or 0x1780 <= o <= 0x17FF)


def _wordish(ch: str) -> bool:
    return unicodedata.category(ch)[0] in "LMN"


def _mark(ch: str) -> bool:
    return unicodedata.category(ch)[0] == "M"


# In ASCII text a word is a run of letters and digits, an apostrophe between two of them
# included: what the loop below finds, at a regular expression's speed (most replies).
_ASCII_WORDS = re.compile(r"[A-Za-z0-9]+(?:'[A-Za-z0-9]+)*")


def words(text: str | None) -> list[str]:
    """The words of `text`; an apostrophe between letters stays inside a word (can't)."""
    text = text or ""
    if text.isascii():
        return _ASCII_WORDS.findall(text)
    out: list[str] = []
    cur: list[str] = []
    n = len(text)
    for i, ch in enumerate(text):
        if _mark(ch) and not cur:
            continue  # a mark with no letter before it (U+FE0F after an emoji) is no word
        if _wordish(ch):
            if _unspaced(ch):
                if cur:
                    out.append("".join(cur))
                    cur = []
                out.append(ch)
            else:
                cur.append(ch)
        elif (ch in _APOSTROPHES and cur and i + 1 < n and _wordish(text[i + 1])
              and not _unspaced(text[i + 1])):
            cur.append("'")
        elif cur:
            out.append("".join(cur))
            cur = []
    if cur:
        out.append("".join(cur))
    return out


def word_count(text: str | None) -> int:
    return len(words(text))


def content_words(text: str | None) -> list[str]:
    """Words that are not stop words, in any of the languages above."""
    out = []
    for w in words(text):
        low = w.casefold()
        if low in STOP_WORDS or (len(w) == 1 and w in _CJK_STOP):
            continue
        out.append(w)
    return out


def normalise(text: str | None) -> str:
    """Lower-case words joined by single spaces: what "the same text" means here."""
    return " ".join(w.casefold() for w in words(text))
