"""The server lifecycle: reuse a running server or start one, check it, restart it, stop it.

`LocalModel.start()` reuses before it starts: `EVOLVIZ_LOCAL_BASE_URL` names a server that
is already running (used as is, never stopped by us); a requested port where our server
already answers is reused too. Otherwise the supervisor launches one on 127.0.0.1 (a free
port unless one is given) and waits until it serves. `healthy()` / `ensure_running()` are
for callers between generations: a dead server is restarted (on the same port when it is
free, so clients keep their base URL). `stop()` stops only what we started.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from pathlib import Path
from types import TracebackType
from typing import Any

from ..errors import LocalModelError
from .ports import (
    HOST,
    answers_http,
    free_port,
    llama_server_at,
    model_ids,
    normalise_base_url,
    port_free,
    server_slots,
)
from .presets import LOCAL_N_CTX
from .programs import ServerProgram, pick_program
from .supervisor import ServerProcess, ServerSpec, cpu_count, describe_exit
from .weights import DEFAULT_MODEL_ALIAS, check_gguf, find_gguf, model_alias_for

__all__ = ["BASE_URL_ENV", "LocalModel", "shared_local_model"]

BASE_URL_ENV = "EVOLVIZ_LOCAL_BASE_URL"


class LocalModel:
    """One server (llama-server, else llama-cpp-python's) serving one GGUF on 127.0.0.1.

    Use it as a context manager (`with LocalModel() as lm: ... lm.base_url`) or call
    `start()` / `stop()`. `port=None` takes a free port; a given port that is busy is an
    error unless our own server (same model id) already answers there, in which case it is
    reused and left running on `stop()`. When neither `port` nor `model_path` is given and
    `use_env` is true, `EVOLVIZ_LOCAL_BASE_URL` (if set) names a running server to use
    instead of starting one.

    `n_threads` defaults to every CPU this process may use, for both generation and prompt
    processing. llama-cpp-python's own defaults (half the cores for generation, all for
    prompts) are pathological on a 2-core machine: a 70-token prompt took 4.5 s instead of
    0.2 s, and generation ran at 75 instead of 125 tokens/s.

    `program` picks the server program ("llama-server", "python", or None for the best
    one built; see `programs`). `slots` says how many calls it decodes at once, which is
    how many a client should keep in flight.

    `base_url` may change after `ensure_running()` restarts a dead server on a new port
    (only if the old port was taken meanwhile); callers re-read it after that call.
    """

    def __init__(
        self,
        port: int | None = None,
        model_path: str | Path | None = None,
        n_ctx: int = LOCAL_N_CTX,
        log_path: str | Path | None = None,
        startup_timeout: float = 120.0,
        n_threads: int | None = None,
        *,
        program: str | None = None,
        use_env: bool = True,
    ) -> None:
        if port is not None and not 0 < int(port) < 65536:
            raise LocalModelError(f"port {port} is not a TCP port number (1-65535)")
        self._requested_port = int(port) if port is not None else None
        self._model_path = Path(model_path).expanduser() if model_path is not None else None
        self.n_ctx = int(n_ctx)
        self.startup_timeout = float(startup_timeout)
        self.n_threads = int(n_threads) if n_threads else cpu_count()
        self._use_env = use_env and port is None and model_path is None
        self._program_choice = program
        self.program: ServerProgram | None = None  # what we start, once started
        self._reused_slots = 1

        self.port: int | None = None
        self.model_path: Path | None = None
        self.model_name: str = (
            model_alias_for(self._model_path) if self._model_path else DEFAULT_MODEL_ALIAS
        )
        self.restarts = 0
        self.last_exit: str | None = None  # how the previous server process ended, if it died
        self._external_url: str | None = None  # a server we use but did not start
        self._external_reason = ""
        self._server = ServerProcess(
            Path(log_path).expanduser() if log_path is not None else None)
        self._lock = threading.RLock()

    # ---------------------------------------------------------------- properties

    @property
    def process(self) -> subprocess.Popen[bytes] | None:
        """The server process we started and still run, or None (not started, or reused)."""
        return self._server.proc

    @property
    def started(self) -> bool:
        return self._server.proc is not None or self._external_url is not None

    @property
    def owned(self) -> bool:
        """True if this object started the server process (and so will stop it)."""
        return self._server.proc is not None

    @property
    def pid(self) -> int | None:
        proc = self._server.proc
        return proc.pid if proc is not None else None

    @property
    def log_path(self) -> Path | None:
        """The log of the server we started last (None until we start one)."""
        return self._server.log_path

    @property
    def base_url(self) -> str:
        """The OpenAI base URL, e.g. ``http://127.0.0.1:8123/v1``."""
        if self._external_url is not None:
            return self._external_url
        if self.port is None:
            raise LocalModelError("the local model is not started; call start() first")
        return f"http://{HOST}:{self.port}/v1"

    @property
    def slots(self) -> int:
        """Calls the server decodes at once: what a client should keep in flight."""
        if self._external_url is not None:
            return self._reused_slots
        return self.program.slots if self.program is not None else 1

    def __repr__(self) -> str:
        where = self._external_url or (self.base_url if self.port else "not started")
        return f"<LocalModel {self.model_name} {where} owned={self.owned}>"

    # ---------------------------------------------------------------- start / stop

    def __enter__(self) -> LocalModel:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> LocalModel:
        """Make a server available (reused or started); returns self. Idempotent."""
        with self._lock:
            if self.started:
                return self
            if self._use_env and os.environ.get(BASE_URL_ENV):
                self._attach_env(os.environ[BASE_URL_ENV])
                return self
            self.program = pick_program(self._program_choice)
            path = self._model_path or find_gguf()
            if not path.is_file():
                raise LocalModelError(f"the model file {path} does not exist")
            check_gguf(path)
            self.model_path = path
            self.model_name = model_alias_for(path)
            if self._requested_port is not None:
                port = self._requested_port
                if not port_free(port):
                    if self._ours_at(port):
                        self._attach(port, f"our server was already running on port {port}")
                        return self
                    raise LocalModelError(
                        f"port {port} on {HOST} is busy: something other than an evolviz "
                        f"local model serving {self.model_name!r} listens there; choose "
                        f"another port, or give none to use a free one"
                    )
                self._spawn(port)
            else:
                self._spawn_on_free_port()
            return self

    def _attach_env(self, raw: str) -> None:
        url = normalise_base_url(raw)
        ids = model_ids(url, timeout=10.0)
        if ids is None:
            raise LocalModelError(
                f"{BASE_URL_ENV}={raw!r}, but nothing there answers GET {url}/models; start "
                f"the server (`evolviz serve-local`) or unset {BASE_URL_ENV} to let evolviz "
                f"start one itself"
            )
        if not ids:
            raise LocalModelError(f"the server at {url} ({BASE_URL_ENV}) serves no model")
        self.model_name = DEFAULT_MODEL_ALIAS if DEFAULT_MODEL_ALIAS in ids else ids[0]
        self._external_url = url
        self._external_reason = f"{BASE_URL_ENV}={raw}"
        self._reused_slots = server_slots(url)

    def _ours_at(self, port: int) -> bool:
        # First a quick, lock-free probe, so a silent or foreign listener fails fast; then
        # /v1/models with a generous timeout, as it waits behind generations in progress.
        if not llama_server_at(port):
            return False
        ids = model_ids(f"http://{HOST}:{port}/v1", timeout=30.0)
        return ids is not None and self.model_name in ids

    def _attach(self, port: int, reason: str) -> None:
        self.port = port
        self._external_url = f"http://{HOST}:{port}/v1"
        self._external_reason = reason
        self._reused_slots = server_slots(self._external_url)

    def _spawn_on_free_port(self, attempts: int = 3) -> None:
        """Start on a fresh free port; retry if another process grabbed it in between."""
        for i in range(attempts):
            port = free_port()
            try:
                self._spawn(port)
                return
            except LocalModelError as e:
                if "address already in use" not in str(e).lower() or i == attempts - 1:
                    raise

    def _spawn(self, port: int) -> None:
        assert self.model_path is not None and self.program is not None
        spec = ServerSpec(model_path=self.model_path, model_name=self.model_name,
                          n_ctx=self.n_ctx, n_threads=self.n_threads,
                          startup_timeout=self.startup_timeout, program=self.program)
        self.port = port
        self._server.spawn(spec, port)

    def stop(self, grace: float = 5.0) -> None:
        """Stop the server if we started it (SIGTERM, then SIGKILL after `grace` s).

        A reused server (another process's) is only let go of, never stopped.
        """
        with self._lock:
            self._external_url = None
            self._server.release(grace)
            self.port = None

    # ---------------------------------------------------------------- health

    def healthy(self, timeout: float = 3.0) -> bool:
        """True if the server process is alive (when ours) and its HTTP side answers.

        It probes ``/health`` rather than ``/v1/models``: llama-cpp-python serves one
        request at a time behind a lock and ``/v1/models`` queues behind it, so a busy
        server would look dead. Any HTTP answer proves the listener and its event loop
        (llama-cpp-python's server answers 404 there, llama-server 200 or 503 loading).
        """
        with self._lock:
            if not self.started:
                return False
            proc = self._server.proc
            if proc is not None and proc.poll() is not None:
                return False
            root = self.base_url.removesuffix("/v1")
        return answers_http(f"{root}/health", timeout)

    def ensure_running(self) -> LocalModel:
        """Start the server if needed, or restart it if it died; returns self.

        A restart takes the same port when it is free (so clients built on `base_url`
        keep working), else a new free one unless the port was asked for explicitly.
        A server named by `EVOLVIZ_LOCAL_BASE_URL` is not ours to restart: its death is
        a `LocalModelError`.
        """
        with self._lock:
            if not self.started:
                return self.start()
            if self.healthy():
                return self
            # Alive but silent: give a loaded machine a second, longer chance before
            # killing a server that may still be finishing the calls in flight.
            proc = self._server.proc
            alive = proc is None or proc.poll() is None
            if alive and self.healthy(timeout=15.0):
                return self
            proc = self._server.proc
            if proc is None:
                if self._external_reason.startswith(BASE_URL_ENV):
                    url = self._external_url
                    raise LocalModelError(
                        f"the model server at {url} ({self._external_reason}) stopped "
                        f"answering; evolviz did not start it, so it cannot restart it"
                    )
                port = self.port
                self._external_url = None
            else:
                rc = proc.poll()
                self.last_exit = (
                    f"server pid {proc.pid} {describe_exit(rc)}" if rc is not None
                    else f"server pid {proc.pid} stopped answering"
                )
                port = self.port
                self._server.terminate(grace=2.0)
            self.restarts += 1
            if port is not None and port_free(port):
                self._spawn(port)
            elif self._requested_port is not None:
                raise LocalModelError(
                    f"the local model server on port {port} died and the port is now taken "
                    f"by another process; cannot restart it there"
                )
            else:
                self._spawn_on_free_port()
            return self

    async def aensure_running(self) -> LocalModel:
        """`ensure_running` off the event loop (it blocks for seconds on a restart)."""
        return await asyncio.to_thread(self.ensure_running)

    async def recover(self) -> str:
        """For `LLMClient(recover=...)`: restart a dead server, return its (new) base URL."""
        print("evolviz: the local model stopped answering; restarting it", file=sys.stderr)
        return (await self.aensure_running()).base_url

    def log_tail(self, lines: int = 30) -> str:
        """The end of the current server's log (what a bug report should quote)."""
        return self._server.tail(lines)

    def client_kwargs(self) -> dict[str, Any]:
        """Arguments for `openai.OpenAI(**...)` / `AsyncOpenAI` pointing at this server."""
        return {"base_url": self.base_url, "api_key": "none"}


# --------------------------------------------------------------------------- shared

_SHARED: LocalModel | None = None
_SHARED_LOCK = threading.Lock()


def shared_local_model() -> LocalModel:
    """The process-wide local model, started (or restarted) on demand.

    The CLI and the Jupyter panel call this when no endpoint is configured, so one notebook
    session runs one server however many runs it makes.
    """
    global _SHARED
    with _SHARED_LOCK:
        if _SHARED is None:
            _SHARED = LocalModel()
        lm = _SHARED
    return lm.ensure_running()
