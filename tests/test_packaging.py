"""Every third-party module that evolviz/ imports is declared in pyproject.toml.

Why: a package that arrives only as another's dependency (httpx came with openai) can
drop out with that package's next release, and a fresh install then fails at import time.
The installed distributions say which one provides each imported name.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from collections.abc import Iterator
from importlib.metadata import packages_distributions
from pathlib import Path

from packaging.requirements import Requirement

from conftest import ROOT


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _top_level_imports() -> Iterator[tuple[str, Path, int]]:
    for path in sorted((ROOT / "evolviz").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                yield name.split(".")[0], path, node.lineno


def test_every_third_party_import_is_declared() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = {_canonical(Requirement(r).name) for r in project["dependencies"]}
    providers = packages_distributions()
    seen: set[str] = set()
    undeclared = []
    for top, path, line in _top_level_imports():
        if top in sys.stdlib_module_names or top == "evolviz":
            continue
        seen.add(top)
        owners = {_canonical(d) for d in providers.get(top, [])}
        if not owners & declared:
            found = sorted(owners) or "nothing installed"
            undeclared.append(f"{path.relative_to(ROOT)}:{line}: {top} (from {found})")
    # The scan must have found the imports it exists to check.
    assert {"httpx", "numpy", "openai", "ipywidgets"} <= seen, sorted(seen)
    assert not undeclared, "imported but not in [project].dependencies:\n" + "\n".join(undeclared)
