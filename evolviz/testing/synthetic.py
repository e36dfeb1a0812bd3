"""Synthetic seed instructions in any number, for tests and benchmarks at scale.

Real seed sets are small (ours) or not ours to ship (Alpaca); a 52K-seed benchmark needs
many distinct, plausible instructions, so they are composed from parts.
"""

from __future__ import annotations

__all__ = ["synthetic_instructions"]

_SUBJECTS = ["a bakery", "a rainy city", "binary search", "the French Revolution",
             "photosynthesis", "a job interview", "compound interest", "a chess opening",
             "recycling plastics", "a Python decorator", "the moon landing", "sourdough bread",
             "a budget spreadsheet", "prime numbers", "a mountain hike", "SQL joins",
             "a birthday party", "climate models", "a short story villain", "vaccines"]
_TASKS = ["Write a short poem about {}.", "Explain {} to a ten-year-old.",
          "List three common mistakes people make with {}.",
          "Give a one-paragraph summary of {}.", "Suggest a title for an essay on {}.",
          "Describe how {} works in four sentences.", "Compare {} with something similar.",
          "Write a tweet announcing {}.", "Ask three interview questions about {}.",
          "Propose a weekend project involving {}."]
_SETTINGS = ["", " Set it in Norway.", " Aim it at retirees.", " Use a formal tone.",
             " Mention one number.", " Keep it under 50 words.", " Add a historical note.",
             " Use British spelling.", " Include a question at the end.", " Avoid jargon."]


def synthetic_instructions(n: int) -> list[str]:
    """`n` distinct instructions; the first 200 are the plain subject x task grid."""
    out = []
    grid = len(_SUBJECTS) * len(_TASKS)
    for i in range(n):
        subject = _SUBJECTS[i % len(_SUBJECTS)]
        task = _TASKS[(i // len(_SUBJECTS)) % len(_TASKS)]
        block = i // grid
        setting = _SETTINGS[block % len(_SETTINGS)]
        suffix = f" (variant {block // len(_SETTINGS)})" if block >= len(_SETTINGS) else ""
        out.append(task.format(subject) + setting + suffix)
    return out
