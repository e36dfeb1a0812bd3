"""The package's imports run one way, and its public API is what it says.

Why a test: a library module that reaches up into the command line, or an engine module
that imports a widget library, works on the day it is written and breaks the next person's
refactor (or a headless install). The layers are read from the code itself (every import
statement, module level and inside functions), so the test cannot drift from it.
"""

from __future__ import annotations

import ast
import importlib
import inspect
from collections import defaultdict
from pathlib import Path

import pytest

import evolviz
from evolviz import errors

from conftest import ROOT

PACKAGE = ROOT / "evolviz"

#: Top to bottom; a module may import its own layer's and lower layers' modules only.
LAYERS: list[set[str]] = [
    {"cli", "panel", "__main__", "__init__"},
    {"workbench", "exports", "testing"},
    {"run"},
    {"config"},
    {"gates", "maps"},
    {"embeddings"},
    {"seeds", "store"},
    {"records"},
    {"rules", "templates", "local_model"},
    {"errors", "calls", "textsafe", "lazy"},
]
#: Third-party UI libraries, and the only places that may import them. `maps` draws the
#: static page of `evolviz map` with plotly (no widget).
UI = {"ipywidgets": {"panel"}, "anywidget": {"panel"}, "jscatter": {"panel"},
      "traitlets": {"panel"}, "plotly": {"panel", "maps"}, "IPython": {"panel"}}


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _imports(name: str, path: Path) -> list[tuple[str, int]]:
    """(absolute module imported, line) for every import in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.append((module, node.lineno))
            # `from . import x` / `from .pkg import submodule`: the submodule is imported too
            for alias in node.names:
                sub = f"{module}.{alias.name}"
                if sub in MODULES:
                    found.append((sub, node.lineno))
    return found


MODULES = _modules()


def _area(module: str) -> str:
    """The first-level name under evolviz: `run`, `cli`, `errors`..."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _layer(area: str) -> int:
    return next(i for i, names in enumerate(LAYERS) if area in names)


def test_every_area_has_a_layer() -> None:
    areas = {_area(m) for m in MODULES}
    placed = set().union(*LAYERS)
    assert areas <= placed, f"areas without a layer: {sorted(areas - placed)}"


def test_imports_run_downward() -> None:
    upward = []
    for name, path in MODULES.items():
        mine = _layer(_area(name))
        for module, line in _imports(name, path):
            if not module.startswith("evolviz.") or module not in MODULES:
                continue
            theirs = _layer(_area(module))
            if theirs < mine:
                upward.append(f"{path.relative_to(ROOT)}:{line} imports {module} "
                              f"(layer {theirs} above {mine})")
    assert not upward, "imports that run upward:\n" + "\n".join(upward)


def test_nothing_outside_the_cli_imports_it() -> None:
    bad = [f"{path.relative_to(ROOT)}:{line}" for name, path in MODULES.items()
           if _area(name) not in ("cli", "__main__")
           for module, line in _imports(name, path) if module.startswith("evolviz.cli")]
    assert not bad, f"the library imports the CLI: {bad}"


def test_ui_libraries_only_where_allowed() -> None:
    bad = []
    for name, path in MODULES.items():
        for module, line in _imports(name, path):
            allowed = UI.get(module.split(".")[0])
            if allowed is not None and _area(name) not in allowed:
                bad.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    assert not bad, "UI libraries outside the panel:\n" + "\n".join(bad)


def test_no_import_cycles() -> None:
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in MODULES.items():
        for module, _ in _imports(name, path):
            # A package face (`__init__`) imports what it re-exports; a module importing
            # the face of its own package is not a cycle through the code.
            if module in MODULES and module != name and not name.startswith(module + "."):
                graph[name].add(module)
    seen: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        seen[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if seen.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt):], nxt])
            elif nxt not in seen:
                visit(nxt)
        stack.pop()
        seen[node] = 2

    for node in sorted(MODULES):
        if node not in seen:
            visit(node)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def _isort_key(name: str) -> tuple[int, str]:
    """ruff's order for __all__: CONSTANTS, then Classes, then functions."""
    kind = 0 if name.isupper() else 1 if name[:1].isupper() else 2
    return kind, name


def test_all_is_the_sorted_public_names() -> None:
    public = {n for n in dir(evolviz)
              if not n.startswith("_") and not inspect.ismodule(getattr(evolviz, n))}
    assert evolviz.__all__ == sorted(evolviz.__all__, key=_isort_key)
    assert set(evolviz.__all__) == public
    for name in evolviz.__all__:
        assert getattr(evolviz, name) is not None, name


def test_every_error_is_defined_in_errors_and_exported() -> None:
    found = {name for name, obj in vars(errors).items()
             if inspect.isclass(obj) and issubclass(obj, errors.EvolvizError)}
    assert found == set(errors.__all__)
    assert found <= set(evolviz.__all__)
    for name, path in MODULES.items():
        if name == "evolviz.errors":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                bases = {getattr(b, "id", getattr(b, "attr", "")) for b in node.bases}
                assert not bases & found, (f"{path.relative_to(ROOT)}:{node.lineno}: error "
                                           f"class {node.name} belongs in evolviz/errors.py")


@pytest.mark.parametrize("heavy", ["openai", "pandas", "plotly", "torch",
                                   "sentence_transformers", "numpy", "ipywidgets"])
def test_import_evolviz_loads_nothing_heavy(heavy: str) -> None:
    import subprocess
    import sys

    code = (f"import evolviz, sys; import evolviz.cli; "
            f"sys.exit(int({heavy!r} in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0, heavy


def test_public_modules_import() -> None:
    for name in MODULES:
        if name.endswith("__main__"):
            continue
        importlib.import_module(name)


MAX_LINES = 400


def test_no_module_over_400_lines() -> None:
    """A module past 400 lines holds two concepts by then (issue 22): split it by concept."""
    sources = [p for top in ("evolviz", "tests", "benchmarks")
               for p in (ROOT / top).rglob("*.py")]
    sources += list((ROOT / "js").glob("*.js"))
    assert len(sources) > 100, "the walk found too few modules to be looking in the repo"
    long = {str(p.relative_to(ROOT)): n for p in sources
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines: {long}"


@pytest.mark.parametrize("package", ["evolviz.rules", "evolviz.gates"])
def test_a_lazy_package_lists_each_name_once_and_right(package: str) -> None:
    """A lazy package names each public name three times (the table, `__all__`, and the
    imports type checkers read): the three must agree and every name must load."""
    pkg = importlib.import_module(package)
    table = pkg._NAMES
    assert sorted(pkg.__all__) == sorted(table)
    tree = ast.parse(Path(pkg.__file__).read_text(encoding="utf-8"))
    typed = {alias.name: "." + node.module for node in ast.walk(tree)
             if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module
             for alias in node.names}
    typed.pop("lazy_names", None)  # (the helper itself, from ..lazy)
    assert typed == table
    for name, module in table.items():
        assert getattr(pkg, name) is getattr(importlib.import_module(module, package), name)


def test_show_loads_neither_numpy_nor_the_judge_reader(tmp_path: Path) -> None:
    """`evolviz show` prints a table of stored counts: it must not pay for the dataset
    stage (numpy) or the rules' compiled patterns (docs/benchmarks.md, start-up)."""
    import subprocess
    import sys

    from evolviz.store import RunStore

    RunStore(tmp_path / "r.db").close()
    heavy = ("numpy", "evolviz.rules.judge_text", "evolviz.rules.patterns",
             "evolviz.gates.dataset_stage")
    code = ("import sys; from evolviz.cli import main; main(['show', sys.argv[1]]); "
            f"print(sorted(m for m in sys.modules if m in {heavy!r}))")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "r.db")],
                         capture_output=True, text=True, check=True).stdout
    assert out.strip().endswith("[]"), out
