"""evolviz: Evol-Instruct you can see into.

The engine (templates, operators, rules, LLM client, run store) is importable without
Jupyter; the panel (`Explorer`) and the maps load their heavy dependencies only when used.

Every public name is loaded on first use (PEP 562): `import evolviz` costs the error
classes alone, so `evolviz --help` does not pay for openai, pandas or torch.
"""

import typing as _typing

from .errors import (
    BatchError,
    BudgetReached,
    ConfigError,
    EndpointError,
    EndpointOutage,
    EndpointUnreachable,
    EvolvizError,
    InputError,
    LLMCallError,
    LocalModelError,
    NotAStoreError,
    SeedFileError,
    StoreError,
    StoreLockedError,
    StoreMismatchError,
    StoreVersionError,
    TemplateError,
)
from .lazy import lazy_names as _lazy_names

if _typing.TYPE_CHECKING:
    from .calls import Sampling
    from .config import RunConfig
    from .exports.flat import export, to_dataframe
    from .panel import Explorer
    from .records import Candidate, GenerationStats, PoolMember
    from .rules import RULE_IDS, RuleConfig, Verdict
    from .run.engine import Evolution, evolve_candidate, reapply_rules
    from .run.llm import LLMClient
    from .run.session import Endpoint, RunRecipe, RunSession
    from .seeds import Seed, load_seeds
    from .store import ResponseCache, RunStore
    from .templates import Template, TemplateSet

__version__ = "0.1.0"

#: Public name -> the module that defines it, imported when the name is first used.
_LAZY: dict[str, str] = {
    "Candidate": ".records",
    "Endpoint": ".run.session",
    "Evolution": ".run.engine",
    "Explorer": ".panel",
    "GenerationStats": ".records",
    "LLMClient": ".run.llm",
    "PoolMember": ".records",
    "RULE_IDS": ".rules",
    "ResponseCache": ".store",
    "RuleConfig": ".rules",
    "RunConfig": ".config",
    "RunRecipe": ".run.session",
    "RunSession": ".run.session",
    "RunStore": ".store",
    "Sampling": ".calls",
    "Seed": ".seeds",
    "Template": ".templates",
    "TemplateSet": ".templates",
    "Verdict": ".rules",
    "evolve_candidate": ".run.engine",
    "export": ".exports.flat",
    "load_seeds": ".seeds",
    "reapply_rules": ".run.engine",
    "to_dataframe": ".exports.flat",
}

__all__ = [
    "RULE_IDS",
    "BatchError",
    "BudgetReached",
    "Candidate",
    "ConfigError",
    "Endpoint",
    "EndpointError",
    "EndpointOutage",
    "EndpointUnreachable",
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
    "RunRecipe",
    "RunSession",
    "RunStore",
    "Sampling",
    "Seed",
    "SeedFileError",
    "StoreError",
    "StoreLockedError",
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


__getattr__, __dir__ = _lazy_names(__name__, _LAZY)
