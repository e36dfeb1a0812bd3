"""Making untrusted text (LLM output, seed files) inert wherever evolviz prints it.

In a terminal or a notebook's stream output, ANSI escape sequences and other control
characters are instructions, not text: a response could recolour, clear or retitle the
screen, or hide lines. We show them as visible escapes instead. (HTML needs no such step
in a terminal; the panel never renders text as HTML at all.)
"""

from __future__ import annotations

import re

__all__ = ["inert"]

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def inert(text: str | None) -> str:
    """`text` with every control character except newline and tab shown as an escape.

    Bidirectional overrides are escaped too: they can make a line read differently from
    what it holds.
    """
    if text is None:
        return ""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100
                        else f"\\u{ord(m.group()):04x}", text)
