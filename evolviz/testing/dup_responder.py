"""A scripted "LLM" whose rewrites collide, for testing the dataset stage end to end.

Every seed's rewrite is one of a few "topic" instructions chosen by a hash of the seed's
text, so many slots of a generation evolve the same instruction (which slot is first is
then a property of the seed list, known to a test in advance), and a slot whose
candidate was rejected evolves it again next generation (a duplicate across generations).
Rewrites of an already evolved instruction add a sentence, so they stay unique. Every
other role answers so that rules 1-4 pass.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from .evol_responder import EvolResponder, _parent, prompt_kind

__all__ = ["DuplicatingResponder", "topic_of"]


def topic_of(seed_text: str, topics: int = 8) -> int:
    h = hashlib.blake2b(seed_text.strip().encode(), digest_size=4).digest()
    return int.from_bytes(h, "big") % topics


@dataclass
class DuplicatingResponder:
    topics: int = 8

    def __post_init__(self) -> None:
        self._rest = EvolResponder(p_copy_marker=0, p_identical=0, p_empty=0, p_equal=0,
                                   p_sorry=0, p_stopwords=0)

    @staticmethod
    def evolved(seed_text: str, topics: int = 8) -> str:
        return f"In depth: describe topic number {topic_of(seed_text, topics)}."

    def __call__(self, request: dict[str, Any]) -> str:
        if prompt_kind(request) != "rewrite":
            return self._rest(request)  # type: ignore[return-value]
        user = str((request.get("messages") or [{}])[-1].get("content", ""))
        if "#Original Task#" in user:
            parent = _parent(user, "#Original Task#", "#Harder Task#")
        else:
            parent = _parent(user, "#Example Task#", "#New Task#")
        if parent.lower().startswith("in depth"):
            return f"{parent} Give one example."
        return self.evolved(parent, self.topics)
