"""evolviz: Evol-Instruct you can see into.

The engine (templates, operators, rules, LLM client, run store) is importable without
Jupyter; the panel (`Explorer`) and the maps load their heavy dependencies only when used.
"""

from __future__ import annotations

from typing import Any

from .config import RunConfig
from .errors import (
    ConfigError,
    EvolvizError,
    InputError,
    LLMCallError,
    LocalModelError,
    NotAStoreError,
    SeedFileError,
    StoreError,
    StoreMismatchError,
    StoreVersionError,
    TemplateError,
)
from .exports.flat import export, to_dataframe
from .records import Candidate, GenerationStats, PoolMember
from .rules import RULE_IDS, RuleConfig, Verdict
from .run.engine import Evolution, evolve_candidate, reapply_rules
from .run.llm import LLMClient, ResponseCache, Sampling
from .seeds import Seed, load_seeds
from .store import RunStore
from .templates import Template, TemplateSet

__version__ = "0.1.0"

__all__ = [
    "RULE_IDS",
    "Candidate",
    "ConfigError",
    "Evolution",
    "EvolvizError",
    "Explorer",
    "GenerationStats",
    "InputError",
    "LLMCallError",
    "LLMClient",
    "LocalModelError",
    "NotAStoreError",
    "PoolMember",
    "ResponseCache",
    "RuleConfig",
    "RunConfig",
    "RunStore",
    "Sampling",
    "Seed",
    "SeedFileError",
    "StoreError",
    "StoreMismatchError",
    "StoreVersionError",
    "Template",
    "TemplateError",
    "TemplateSet",
    "Verdict",
    "evolve_candidate",
    "export",
    "load_seeds",
    "reapply_rules",
    "to_dataframe",
]


def __getattr__(name: str) -> Any:
    # The panel pulls in ipywidgets, plotly and the embedding model: load it on first use.
    if name == "Explorer":
        from .panel import Explorer

        return Explorer
    raise AttributeError(f"module 'evolviz' has no attribute {name!r}")
