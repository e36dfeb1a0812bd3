"""Which server program serves the model, and the command line that starts it.

Two programs can serve the same GGUF behind the same OpenAI API:

- **llama-server**, llama.cpp's own server, built by `.ci/build-llama-server.sh` from the
  llama.cpp source that ships inside llama-cpp-python's sdist (so it is the same llama.cpp
  as the Python package, not a second dependency). It decodes the requests of several
  slots in one batch and keeps evaluated prompts in a host-memory cache, so the 8 calls
  of a Step run side by side and the templates' shared prefixes are evaluated once.
- **llama_cpp.server**, llama-cpp-python's server. It decodes one request at a time
  behind a lock, so a Step's calls queue: measured two to three times slower per Step
  (docs/local_model.md). It stays as the fallback wherever llama-server is not built.

`pick_program()` takes llama-server when it is found, unless `EVOLVIZ_LOCAL_SERVER=python`
(or `LocalModel(program="python")`) asks for the Python server.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from ..errors import LocalModelError
from .ports import HOST

__all__ = [
    "LLAMA_SERVER_ENV",
    "LOCAL_CACHE_RAM_MIB",
    "LOCAL_SLOTS",
    "PROGRAM_ENV",
    "ServerProgram",
    "find_llama_server",
    "local_slots",
    "pick_program",
]

LLAMA_SERVER_ENV = "EVOLVIZ_LLAMA_SERVER"
"""Path of a llama-server executable to use instead of the one in this Python's bin/."""

PROGRAM_ENV = "EVOLVIZ_LOCAL_SERVER"
"""`python` forces llama-cpp-python's server; `llama-server` requires llama.cpp's."""

LOCAL_SLOTS = 8
"""Parallel slots of llama-server: one per candidate of the demo's 8-seed Step.

Measured on 2 cores: 8 slots with 8 calls in flight ran a Step in about half the time
of 16 slots with 16 in flight, whose batches were too large to finish any sequence soon.
"""

LOCAL_CACHE_RAM_MIB = 1024
"""Host-memory prompt cache of llama-server. Without it (0) a Step took 20-22 s against
12-17 s with it; llama.cpp's default is 8 GiB, too much beside JupyterLab and the embedder
on a small machine, and a 135M model's prompt state is about 23 KB per token."""


REPEAT_PENALTY = 1.1
"""llama-cpp-python's server default (over the last 64 tokens), given to llama-server too so
that both servers sample alike."""


@dataclass(frozen=True)
class ServerProgram:
    """One way of serving the model: its name (shown in logs), how it is started and
    how many calls it decodes at once."""

    name: str
    executable: Path | None  # None: llama-cpp-python's server, run by this Python
    slots: int

    def arguments(self, model: Path, alias: str, port: int, n_ctx: int,
                  n_threads: int) -> list[str]:
        """The server's own command-line arguments (after the launcher)."""
        if self.executable is None:
            return [
                "--model", str(model), "--model_alias", alias, "--host", HOST,
                "--port", str(port), "--n_ctx", str(n_ctx),
                "--n_threads", str(n_threads), "--n_threads_batch", str(n_threads),
            ]
        return [
            str(self.executable), "--model", str(model), "--alias", alias,
            "--host", HOST, "--port", str(port),
            # The context is shared out among the slots: each gets n_ctx.
            "--ctx-size", str(n_ctx * self.slots), "--parallel", str(self.slots),
            "--threads", str(n_threads), "--threads-batch", str(n_threads),
            "--cache-ram", str(LOCAL_CACHE_RAM_MIB),
            # llama-cpp-python's server penalises repeats by default and llama-server does
            # not; without it SmolLM2 loops more often, and a Step made more truncated
            # rewrites and 30% more tokens than on the Python server.
            "--repeat-penalty", str(REPEAT_PENALTY),
            "--no-webui", "--offline",
        ]


PYTHON_SERVER = ServerProgram("llama_cpp.server", None, 1)
"""llama-cpp-python's server: run by this Python, one call at a time."""


def find_llama_server() -> Path | None:
    """llama-server from `EVOLVIZ_LLAMA_SERVER`, else this Python's bin/, else None.

    Not from PATH: a llama-server installed for something else may be of another
    llama.cpp version, with other flags.
    """
    named = os.environ.get(LLAMA_SERVER_ENV)
    if named:
        path = Path(named).expanduser()
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise LocalModelError(f"{LLAMA_SERVER_ENV}={named!r} is not an executable file")
        return path
    path = Path(sys.prefix) / "bin" / "llama-server"
    return path if path.is_file() and os.access(path, os.X_OK) else None


def pick_program(choice: str | None = None) -> ServerProgram:
    """The program to start: `choice` ("llama-server", "python" or None for the best
    found), else `EVOLVIZ_LOCAL_SERVER`, else llama-server when built."""
    choice = choice or os.environ.get(PROGRAM_ENV) or None
    if choice not in (None, "llama-server", "python"):
        raise LocalModelError(
            f"unknown local server {choice!r} (from {PROGRAM_ENV} or program=); "
            f"use 'llama-server' or 'python'")
    if choice == "python":
        return PYTHON_SERVER
    exe = find_llama_server()
    if exe is not None:
        return ServerProgram("llama-server", exe, LOCAL_SLOTS)
    if choice == "llama-server":
        raise LocalModelError(
            f"llama-server was asked for but is not built: run `bash "
            f".ci/build-llama-server.sh` (it builds into {Path(sys.prefix) / 'bin'}) or set "
            f"{LLAMA_SERVER_ENV} to an executable")
    return PYTHON_SERVER


def local_slots() -> int:
    """Calls the local model would decode at once if started now (the default number of
    calls in flight for it); a server that is already running may differ."""
    try:
        return pick_program().slots
    except LocalModelError:
        return 1
