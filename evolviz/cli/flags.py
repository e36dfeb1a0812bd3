"""The command line's names for the library's settings.

The library names a setting by its field (``max_tokens``, ``near_dup``), which is what a
notebook user or the panel knows it by; only the command line knows its flags, so only
it turns one into the other, here, for the messages it prints.
"""

from __future__ import annotations

import re

from ..errors import BudgetReached, InputError

__all__ = ["FLAGS", "flag_message", "flagged"]

#: Library field -> command-line flag, for every field a library error can name.
FLAGS: dict[str, str] = {
    "max_tokens": "--max-tokens",
    "max_cost": "--max-cost",
    "near_dup": "--near-dup",
    "decontaminate": "--decontaminate",
    "decontaminate_field": "--decontaminate-field",
    "decontaminate_ngram": "--decontaminate-ngram",
    "field": "--field",
    "prompt_style": "--prompt-style",
    "judge": "--judge",
    "format": "--format",
    "thumbnail": "--thumbnail",
    "output": "-o",
    "concurrency": "--concurrency",
    "generations": "--generations",
    "pilot": "--pilot",
    "steps": "--steps",
    "dev": "--dev",
    "store": "--store",
    "operator": "--operator",
    "seed": "--seed",
    "api_key_env": "--api-key-env",
    "base_url": "--base-url",
    "timeout": "--timeout",
    "retries": "--retries",
    "batch": "--batch",
    "batch_max_requests": "--batch-max-requests",
    "batch_max_mb": "--batch-max-mb",
    "batch_discount": "--batch-discount",
    "poll_interval": "--poll-interval",
    "max_outage": "--max-outage",
}
# "pass field=NAME", "name it with decontaminate_field=NAME": a hint naming a setting.
_HINT = re.compile(r"\b([a-z_]+)=NAME\b")
# "the budget (max_tokens 1000) is reached", "started with seed 3": a setting and its value.
_SETTING = re.compile(r"\b(max_tokens|max_cost|api_key_env|base_url|batch_max_mb|"
                      r"batch_max_requests|batch_discount|poll_interval|max_outage)\b")


def flagged(text: str) -> str:
    """`text` with the settings it names written as the flags that set them."""
    text = _HINT.sub(lambda m: f"{FLAGS[m[1]]} NAME" if m[1] in FLAGS else m[0], text)
    return _SETTING.sub(lambda m: FLAGS[m[1]], text)


def flag_message(error: InputError | BudgetReached) -> str:
    """An error as the command line says it: the flag first when a field is at fault."""
    field = getattr(error, "field", None)
    if field and field in FLAGS:
        return flagged(f"{FLAGS[field]}: {error.detail}")  # type: ignore[union-attr]
    return flagged(str(error))
