"""A spending limit for a run, checked before every paid call.

Why before, and with a reservation: calls run concurrently, so "stop when the budget is
spent" would let every call in flight cross it. Each call instead reserves what it may
cost (the largest call of its role seen so far, or its prompt plus `max_tokens` before
any has been seen) and is refused when spent + reserved + that would pass the limit. Once
a call is refused the budget stays reached: calls already in flight finish (their
responses are paid for, so they are kept in the response cache) and nothing new starts.
The engine turns the refusal into a clean stop of the generation; the unfinished
candidates are not recorded, so the same command with a larger budget resumes them, for
free up to where they stopped.

Spending counts the whole run (what the store already holds), not just this session, so
a token limit means the same thing on every resume. Cached responses cost nothing.

Batch calls cost `batch_discount` of the live price (0.5 at OpenAI and the providers that
copy its Batch API): the tokens paid at that price are counted apart (`batch_prompt`,
`batch_completion`, part of the totals), and a budget in batch mode (`batch`) reserves and
settles at it, so a cost limit means dollars in both modes and in a run that mixes them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ..calls import Sampling
from ..errors import BudgetReached, ConfigError

__all__ = ["Budget", "BudgetReached"]


@dataclass
class Budget:
    max_tokens: int | None = None
    max_cost: float | None = None
    prices: tuple[float, float] | None = None  # USD per million input, output tokens
    spent_prompt: int = 0  # every paid token, live or batch
    spent_completion: int = 0
    reached: str | None = None
    batch_discount: float = 0.5  # a batch call's price, as a fraction of a live call's
    batch: bool = False  # the calls this budget reserves now go out as batches
    batch_prompt: int = 0  # of the spent tokens, those paid at the batch price
    batch_completion: int = 0
    _reserved: list[int] = field(default_factory=lambda: [0, 0])
    _largest: dict[str, tuple[int, int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.max_tokens is not None and self.max_tokens < 1:
            raise ConfigError("must be >= 1", field="max_tokens")
        if self.max_cost is not None:
            if self.max_cost <= 0:
                raise ConfigError("must be > 0", field="max_cost")
            if self.prices is None:
                raise ConfigError("needs prices (USD per million input and output "
                                  "tokens)", field="max_cost")
        if not 0 < self.batch_discount <= 1:
            raise ConfigError("must be in (0, 1]: the batch price as a fraction of the "
                              "live price", field="batch_discount")

    def renewed(self, spent_prompt: int = 0, spent_completion: int = 0,
                batch_prompt: int = 0, batch_completion: int = 0) -> Budget:
        """The same limits, not reached, nothing reserved, with this much already spent
        (of it, `batch_*` at the batch price): what each new run (or resume) starts from."""
        return Budget(max_tokens=self.max_tokens, max_cost=self.max_cost, prices=self.prices,
                      spent_prompt=spent_prompt, spent_completion=spent_completion,
                      batch_discount=self.batch_discount, batch=self.batch,
                      batch_prompt=batch_prompt, batch_completion=batch_completion)

    def cost(self, prompt: int, completion: int) -> float:
        """What these tokens cost at the live price (USD; 0 without prices)."""
        if self.prices is None:
            return 0.0
        return (prompt * self.prices[0] + completion * self.prices[1]) / 1e6

    def spent_cost(self) -> float:
        """What the spent tokens cost, those paid at the batch price at that price."""
        return (self.cost(self.spent_prompt, self.spent_completion)
                - (1 - self.batch_discount) * self.cost(self.batch_prompt,
                                                        self.batch_completion))

    def _crosses(self, prompt: int, completion: int) -> str | None:
        p, c = self._reserved[0] + prompt, self._reserved[1] + completion
        if self.max_tokens is not None and (self.spent_prompt + self.spent_completion
                                            + p + c) > self.max_tokens:
            return f"max_tokens {self.max_tokens}"
        factor = self.batch_discount if self.batch else 1.0
        if self.max_cost is not None and (self.spent_cost() + factor * self.cost(p, c)
                                          > self.max_cost):
            return f"max_cost {self.max_cost:g}"
        return None

    def reserve(self, role: str, messages: Sequence[dict[str, str]],
                sampling: Sampling) -> tuple[str, int, int]:
        """Hold room for one call, or raise `BudgetReached` (and stay reached)."""
        guess = self._largest.get(role)
        if guess is None:  # about 4 characters a token; the reply may use all max_tokens
            guess = (sum(len(m.get("content", "")) for m in messages) // 4 + 1,
                     sampling.max_tokens)
        if self.reached is None:
            self.reached = self._crosses(*guess)
        if self.reached is not None:
            raise BudgetReached(self.reached)
        self._reserved[0] += guess[0]
        self._reserved[1] += guess[1]
        return role, guess[0], guess[1]

    def settle(self, hold: tuple[str, int, int], prompt: int, completion: int) -> None:
        """Replace a reservation with what the call really cost (0 for a failed call)."""
        role, rp, rc = hold
        self._reserved[0] -= rp
        self._reserved[1] -= rc
        self.spent_prompt += prompt
        self.spent_completion += completion
        if self.batch:
            self.batch_prompt += prompt
            self.batch_completion += completion
        if prompt or completion:
            old = self._largest.get(role, (0, 0))
            self._largest[role] = (max(old[0], prompt), max(old[1], completion))

    def spent(self) -> str:
        tokens = self.spent_prompt + self.spent_completion
        text = f"{tokens:,} tokens spent"
        if self.max_tokens is not None:
            text += f" of {self.max_tokens:,}"
        if self.prices is not None:
            text += f", {self.spent_cost():.4f} USD"
            if self.max_cost is not None:
                text += f" of {self.max_cost:g}"
        return text
