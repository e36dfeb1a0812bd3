"""The difficulty judge: one rating per instruction, seeds included.

The paper's difficulty curve starts at C0, the seeds; rating only evolved candidates
would start it at generation 1 and hide how much the first generation added. Both the
engine (per accepted candidate) and `rate_seeds` use `rate`, so a seed and a candidate are
rated with the same prompt, the same structured-output request and the same one re-ask.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from ..calls import CallName, CallResult, Role, call_seed
from ..errors import LLMCallError
from ..rules import DIFFICULTY_FORMAT, DIFFICULTY_REASK, parse_difficulty
from ..rules.judge import REASK

__all__ = ["rate", "rate_seeds", "reask_messages"]

Chat = Callable[[str, list[dict[str, str]], "dict[str, Any] | None"], Awaitable[CallResult]]


def reask_messages(messages: list[dict[str, str]], reply: str | None,
                   kind: str) -> list[dict[str, str]]:
    """The conversation so far plus the one follow-up that asks for the format again."""
    return [*messages, {"role": "assistant", "content": reply or ""},
            {"role": "user", "content": REASK[kind]}]


async def rate(chat: Chat, messages: list[dict[str, str]], structured: bool, *,
               reask: bool = True) -> tuple[str | None, float | None]:
    """(the judge text read, the rating or None); `chat(name, messages, format)` calls.
    `reask=False` for a completion-style rater, which would only repeat itself."""
    fmt = DIFFICULTY_FORMAT if structured else None
    first = await chat(CallName.DIFFICULTY, messages, fmt)
    value = parse_difficulty(first.content)
    if value is not None or not reask:
        return first.content, value
    again = await chat(DIFFICULTY_REASK, reask_messages(messages, first.content,
                                                        "difficulty"), fmt)
    value = parse_difficulty(again.content)
    raw = again.content if value is not None else first.content
    return raw, value


async def rate_seeds(store: Any, client: Any, templates: Any, config: Any) -> int:
    """Rate every seed that has no rating yet (so a resumed run does not pay twice);
    returns how many were rated. A seed whose judge call fails keeps no rating: the curve
    at C0 is then the mean over the seeds that were rated."""
    todo = [r for r in store.seed_rows() if r["difficulty"] is None]
    rater = templates.difficulty
    sampling = config.sampling[Role.JUDGE]
    if rater.stop:
        sampling = replace(sampling, stop=tuple(dict.fromkeys((*sampling.stop, *rater.stop))))
    limit = asyncio.Semaphore(max(1, getattr(client, "concurrency", 4)))

    async def one(row: Any) -> None:
        text = row["instruction"] + (f"\n\n{row['input']}" if row["input"] else "")

        async def chat(name: str, messages: list[dict[str, str]],
                       fmt: dict[str, Any] | None) -> CallResult:
            return await client.chat(Role.JUDGE, messages, sampling,
                                     sample=f"{row['id']}/{name}",
                                     seed=call_seed(config.seed, row["id"], name),
                                     response_format=fmt)

        async with limit:
            try:
                raw, value = await rate(chat, rater.render(instruction=text),
                                        config.structured_judge and not rater.completion,
                                        reask=not rater.completion)
            except LLMCallError as e:
                raw, value = f"(not rated: {e.error_class})", None
        store.set_seed_difficulty(row["id"], value, raw or "")

    await asyncio.gather(*(one(r) for r in todo))
    return len(todo)
