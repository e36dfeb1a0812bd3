"""The panel's settings form, to and from the run's settings: pure functions.

The form is widget state (a JSON dict a notebook saves). Decoding starts from the settings
in force and changes only what the form shows, so whatever was set from code and the form
does not show (markers, sampling of other roles, max tokens, stop sequences) survives a
change made in the form. Nothing here may carry an API key: only the *name* of its variable.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from ..config import JUDGES, RunConfig
from ..errors import ConfigError
from ..gates import GateConfig
from ..rules import RULE_IDS
from ..run.budget import Budget
from ..run.session import Endpoint
from ..templates import PROMPT_STYLES
from .state import BudgetForm, SettingsForm

__all__ = ["decode_budget", "decode_settings", "decode_style", "encode_budget",
           "encode_settings"]

#: Roles whose temperature the form's single "temperature" field sets.
TEMPERATURE_ROLES = ("evolver", "answerer")


def encode_settings(config: RunConfig, endpoint: Endpoint, operators: Sequence[str],
                    prompt_style: str = "chat") -> SettingsForm:
    """The form's state for these settings."""
    return {
        "judge": config.judge,
        "prompt_style": prompt_style,
        "seed": config.seed,
        "temperature": config.sampling["evolver"].temperature,
        "concurrency": endpoint.calls_in_flight,
        "base_url": endpoint.base_url or "",
        "model": endpoint.model or "",
        "rules": {r: config.rules.is_on(r) for r in RULE_IDS},
        "sorry_max_words": config.rules.sorry_max_words,
        "copied_ngram": config.rules.copied_ngram,
        "judge_difficulty": config.judge_difficulty,
        "weights": {op: float(config.operator_weights.get(op, 1.0)) for op in operators},
        "max_tokens": {role: s.max_tokens for role, s in config.sampling.items()},
        "gates": {"dedup": config.gates.dedup, "near_dup": config.gates.near_dup,
                  "decontaminate": list(config.gates.decontaminate)},
    }


def _as_number(value: Any, field: str, kind: type) -> Any:
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise ConfigError(f"settings field {field!r}: {value!r} is not a number") from None


def _number(form: Mapping[str, Any], key: str, kind: type, default: Any) -> Any:
    return _as_number(form.get(key, default), key, kind)


def decode_settings(form: Mapping[str, Any], config: RunConfig, endpoint: Endpoint,
                    operators: Sequence[str]) -> tuple[RunConfig, Endpoint]:
    """The settings the form asks for, starting from those in force (validated)."""
    rules_on = form.get("rules")
    rules = config.rules
    if isinstance(rules_on, Mapping):
        unknown = [r for r in rules_on if r not in RULE_IDS]
        if unknown:
            raise ConfigError(f"settings field 'rules': unknown rule(s) {unknown}")
        enabled = tuple(r for r in RULE_IDS
                        if rules_on.get(r, rules.is_on(r)) or r == "rewrite_invalid")
        rules = replace(rules, enabled=enabled)
    rules = replace(rules,
                    sorry_max_words=_number(form, "sorry_max_words", int,
                                            rules.sorry_max_words),
                    copied_ngram=_number(form, "copied_ngram", int, rules.copied_ngram))

    sampling = dict(config.sampling)
    temperature = _number(form, "temperature", float, sampling["evolver"].temperature)
    for role in TEMPERATURE_ROLES:
        sampling[role] = replace(sampling[role], temperature=temperature)
    for role, n in (form.get("max_tokens") or {}).items():
        if role not in sampling:
            raise ConfigError(f"settings field 'max_tokens': unknown role {role!r}")
        n = _as_number(n, f"max_tokens.{role}", int)
        if n < 1:
            raise ConfigError(f"settings field 'max_tokens.{role}': must be >= 1")
        sampling[role] = replace(sampling[role], max_tokens=n)

    weights = {op: _as_number(w, f"weights.{op}", float)
               for op, w in (form.get("weights") or {}).items()}
    replace(config, operator_weights=weights).weights_for(list(operators))  # names, values
    if all(w == 1.0 for w in weights.values()):
        weights = {}  # uniform: the paper's choice, and what a fresh run stores
    judge = str(form.get("judge", config.judge))
    if judge not in JUDGES:
        raise ConfigError(f"settings field 'judge': {judge!r} is not one of {list(JUDGES)}")
    new_config = replace(config, seed=_number(form, "seed", int, config.seed), rules=rules,
                         sampling=sampling, operator_weights=weights, judge=judge,
                         gates=_gates(form.get("gates"), config.gates),
                         judge_difficulty=bool(form.get("judge_difficulty",
                                                        config.judge_difficulty)))
    new_config.weights_for(list(operators))

    concurrency = _number(form, "concurrency", int, endpoint.calls_in_flight)
    new_endpoint = replace(endpoint, base_url=(form.get("base_url") or None),
                           model=(form.get("model") or None),
                           concurrency=max(1, concurrency))
    if new_endpoint.concurrency == endpoint.calls_in_flight and endpoint.concurrency is None:
        new_endpoint = replace(new_endpoint, concurrency=None)  # keep "the default"
    return new_config, new_endpoint


def _gates(form: Any, gates: GateConfig) -> GateConfig:
    """The dataset gates the form asks for; files are checked (exist, hold text) now, so a
    wrong path is an error in the panel, not a failure when the generation closes."""
    if not isinstance(form, Mapping):
        return gates
    near = form.get("near_dup", gates.near_dup)
    near = None if near in ("", None) else _as_number(near, "gates.near_dup", float)
    files = form.get("decontaminate", list(gates.decontaminate))
    if isinstance(files, str):
        files = [f for f in files.splitlines() if f.strip()]
    new = replace(gates, dedup=bool(form.get("dedup", gates.dedup)), near_dup=near,
                  decontaminate=tuple(str(f).strip() for f in files))
    if new.decontaminate and new.decontaminate != gates.decontaminate:
        from ..gates import load_index

        load_index(new.decontaminate, new.decontaminate_field, new.decontaminate_ngram)
    return new


BUDGET_FIELDS = ("max_tokens", "max_cost", "price_in", "price_out")


def encode_budget(budget: Budget | None) -> BudgetForm:
    """The form's budget fields (None: no limit) for a budget, or for none."""
    if budget is None:
        return {"max_tokens": None, "max_cost": None, "price_in": None, "price_out": None}
    prices = budget.prices or (None, None)
    return {"max_tokens": budget.max_tokens, "max_cost": budget.max_cost,
            "price_in": prices[0], "price_out": prices[1]}


def decode_budget(form: Any) -> Budget | None:
    """The run budget the form asks for (checked as `evolviz run --max-tokens/--max-cost`
    checks it), or None when no limit is set. Prices alone price the status line."""
    if not isinstance(form, Mapping):
        return None
    values: dict[str, Any] = {}
    for key in BUDGET_FIELDS:
        v = form.get(key)
        if v in (None, ""):
            values[key] = None
            continue
        kind = int if key == "max_tokens" else float
        values[key] = _as_number(v, f"budget.{key}", kind)
        if values[key] < 0:
            raise ConfigError(f"settings field 'budget.{key}': must be >= 0")
    priced = [values["price_in"], values["price_out"]]
    if (priced[0] is None) != (priced[1] is None):
        raise ConfigError("settings field 'budget': give both prices (USD per million "
                          "input and output tokens) or neither")
    prices = (priced[0], priced[1]) if priced[0] is not None else None
    if values["max_tokens"] is None and values["max_cost"] is None and prices is None:
        return None
    # Checked here in the form's words, so Budget's own (CLI-worded) checks never fire.
    if values["max_tokens"] == 0 or values["max_cost"] == 0:
        raise ConfigError("settings field 'budget': a limit of 0 allows no call; leave it "
                          "empty for no limit")
    if values["max_cost"] is not None and prices is None:
        raise ConfigError("settings field 'budget': max cost needs both prices (USD per "
                          "million input and output tokens)")
    return Budget(max_tokens=values["max_tokens"], max_cost=values["max_cost"], prices=prices)


def decode_style(form: Mapping[str, Any], current: str) -> str | None:
    """The built-in prompt style the form asks to switch to, or None to keep the templates
    as they are (edited ones included)."""
    style = str(form.get("prompt_style", current))
    if style == current or style == "mixed":
        return None
    if style not in PROMPT_STYLES:
        raise ConfigError(f"settings field 'prompt_style': {style!r} is not one of "
                          f"{list(PROMPT_STYLES)}")
    return style
