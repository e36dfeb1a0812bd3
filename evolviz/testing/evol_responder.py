"""A scripted "LLM" that plays every Evol-Instruct role, for tests and benchmarks.

It recognises which of evolviz's built-in prompts it was sent (rewrite, equality judge,
answer, difficulty) and answers in a way that exercises each elimination rule at a known
rate, deterministically from the prompt text. That gives tests a run whose outcome is
predictable without a model, and benchmarks an endpoint whose cost is only the HTTP round
trip.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from .wire import Reply

__all__ = ["EvolResponder", "prompt_kind"]


def prompt_kind(request: dict[str, Any]) -> str:
    """Which role a request plays, judged from evolviz's built-in template wording.

    A judge's re-ask (its first prompt, its reply, then one follow-up) is
    "equality_reask" or "difficulty_reask", after the call names the engine files them as.
    """
    messages = request.get("messages") or []
    users = [m for m in messages if isinstance(m, dict) and m.get("role") in ("user",
                                                                             "completion")]
    user = str(users[0].get("content", "")) if users else ""
    again = "_reask" if len(users) > 1 else ""
    if users and users[0].get("role") == "completion":  # a few-shot prompt: its last label
        last = user.rstrip().rsplit("\n", 1)[-1]
        if last.startswith("Verdict:"):
            return "equality"
        if last.startswith("Rating:"):
            return "difficulty"
        return "answer" if last.startswith("Answer:") else "rewrite"
    if "#Template to revise#" in user:
        return "revise"
    if "#Original Task#" in user or "#Example Task#" in user:
        return "rewrite"
    if "Task A:" in user and "Task B:" in user:
        return "equality" + again
    if "Rate the difficulty" in user:
        return "difficulty" + again
    return "answer"


def _unit(text: str, salt: str) -> float:
    h = hashlib.blake2b(f"{salt}\x00{text}".encode(), digest_size=8).digest()
    return int.from_bytes(h, "big") / 2**64


def _parent(user: str, start: str, end: str) -> str:
    a = user.find(start)
    b = user.find(end, a + len(start))
    if a < 0 or b < 0:
        return user
    return user[a + len(start) : b].strip()


_ADDITIONS = (
    "Answer in exactly three numbered steps.",
    "Keep the answer under 120 words and give one concrete example.",
    "Explain the trade-offs involved, not just the result.",
    "Assume the reader is a first-year university student.",
    "Also say how you would check that the result is correct.",
)


def _revise(user: str) -> str:
    """A reviser that knows one fix: a template that shows the task but lost the line
    marking where the rewrite goes gets that line back (otherwise it is returned as is)."""
    template = _parent(user, "<template>", "</template>")
    for start, end in (("#Example Task#", "#New Task#"), ("#Original Task#", "#Harder Task#")):
        if start in template and end not in template:
            template = template.rstrip() + f"\n\n{end}\n"
    return f"<template>\n{template}\n</template>"


@dataclass
class EvolResponder:
    """Outcome rates (each checked in turn, from independent hashes of the prompt).

    The defaults give a run where most candidates pass and every rule fires sometimes.
    """

    p_copy_marker: float = 0.05
    p_identical: float = 0.05
    p_empty: float = 0.02
    p_equal: float = 0.08
    p_sorry: float = 0.06
    p_stopwords: float = 0.03
    salt: str = ""

    def __call__(self, request: dict[str, Any]) -> Reply | str:
        kind = prompt_kind(request).removesuffix("_reask")
        messages = request.get("messages") or []
        user = str(messages[-1].get("content", "")) if messages else ""
        key = user + self.salt + str(request.get("seed", ""))
        if kind == "revise":
            return _revise(user)
        few_shot = bool(messages) and messages[-1].get("role") == "completion"
        if kind == "rewrite":
            if few_shot:  # the text after the last "Task:", up to the open label
                parent = user[user.rfind("\nTask:") + 6:].rsplit("\n", 1)[0].strip()
            elif "#Original Task#" in user:
                parent = _parent(user, "#Original Task#", "#Harder Task#")
            else:
                parent = _parent(user, "#Example Task#", "#New Task#")
            if _unit(key, "empty") < self.p_empty:
                return ""
            if _unit(key, "identical") < self.p_identical:
                return parent
            if _unit(key, "marker") < self.p_copy_marker:
                return f"#Harder Task# {parent}"
            extra = _ADDITIONS[int(_unit(key, "add") * len(_ADDITIONS))]
            return f"{parent} {extra}"
        if kind == "equality":
            same = _unit(key, "equal") < self.p_equal
            if few_shot:
                return " same" if same else " different"
            if request.get("response_format"):  # a capable judge answers in the schema
                return json.dumps({"task": True, "verdict": "same" if same else "different"})
            return "equal" if same else "not equal"
        if kind == "difficulty":
            rating = 1 + int(_unit(key, 'difficulty') * 10)
            return f" {rating}" if few_shot else f"Rating: {rating}"
        if _unit(key, "sorry") < self.p_sorry:
            return "Sorry, I cannot help with that."
        if _unit(key, "stop") < self.p_stopwords:
            return "It is what it is, and so on."
        words = user.split()[:12]
        return ("Here is a careful answer. " + " ".join(words) +
                " First, consider the main idea; then work through the details step by step.")
