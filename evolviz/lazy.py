"""A package's public names, imported on first use (PEP 562).

Why: a package `__init__` that imports all its modules makes every caller pay for all of
them. `evolviz show` needs one tuple of rule ids from `rules` and one from `gates`, and
paid for the judge reader's compiled patterns and numpy (0.3 s before, see
docs/benchmarks.md). A lazy package costs what its caller uses; `__all__` and `dir()`
still list every name, and `from package import *` still works.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from importlib import import_module

__all__ = ["lazy_names"]


def lazy_names(package: str, names: Mapping[str, str]
               ) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """`__getattr__` and `__dir__` for `package`, whose public name N lives in the module
    `names[N]` (relative to the package: ".verdict")."""

    def __getattr__(name: str) -> object:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(module, package), name)
        setattr(sys.modules[package], name, value)  # later lookups skip this function
        return value

    def __dir__() -> list[str]:
        return sorted({*vars(sys.modules[package]), *names})

    return __getattr__, __dir__
