"""The child process that runs the model server: launch, wait until ready, stop, log.

Why a child process at all: a crash in native code (the default llama-cpp-python build
segfaults in decode on some AVX-512 CPUs) must cost a restart, not the Jupyter kernel.

The child is launched with ``python -c <launcher> OWNER_PID <server args>``, the launcher
being a few lines that start a watchdog and then either run ``llama_cpp.server`` as
``__main__`` (the same code as ``python -m llama_cpp.server``) or start the llama-server
executable as its own child (see `programs`). Children we started are stopped at
interpreter exit (atexit), on SIGTERM of the owning process, and, because a SIGKILLed
Jupyter kernel runs neither, by that watchdog, which exits when its parent goes away.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import IO

import httpx

from ..errors import LocalModelError
from .ports import HOST, model_ids
from .programs import ServerProgram

__all__ = ["ServerProcess", "ServerSpec", "cpu_count", "default_log_dir", "describe_exit"]

_BUILD_HINT = (
    "If it died of SIGSEGV or SIGILL, llama.cpp was probably built natively for a CPU path "
    "that crashes here. For llama-server, delete .venv/bin/llama-server.built and run bash "
    ".ci/build-llama-server.sh (portable flags), or set EVOLVIZ_LOCAL_SERVER=python. For "
    "llama-cpp-python, rebuild it with CMAKE_ARGS=\"-DGGML_NATIVE=OFF -DGGML_AVX512=OFF "
    "-DGGML_AMX_INT8=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_BF16=OFF\" pip install --force-reinstall "
    "--no-cache-dir llama-cpp-python[server] (see docs/local_model.md)."
)

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

# The same for an executable (llama-server): it cannot host a watchdog thread, so the
# launcher stays as its parent. The executable gets PDEATHSIG, so a SIGKILLed launcher
# takes it along; SIGTERM is passed on; a crash is re-raised so the owner sees SIGSEGV.
_PROGRAM_LAUNCHER = """\
import ctypes, os, signal, subprocess, sys, threading, time
owner = int(sys.argv[1])
def _die_with_launcher():
    try:
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (AttributeError, OSError):
        pass
child = subprocess.Popen(sys.argv[2:], preexec_fn=_die_with_launcher)
signal.signal(signal.SIGTERM, lambda *_: child.terminate())
def _watch():
    while os.getppid() == owner and child.poll() is None:
        time.sleep(1.0)
    child.kill()
threading.Thread(target=_watch, name="evolviz-owner-watchdog", daemon=True).start()
rc = child.wait()
if rc < 0:
    signal.signal(-rc, signal.SIG_DFL)
    os.kill(os.getpid(), -rc)
sys.exit(rc)
"""


def default_log_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "evolviz"


def cpu_count() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def describe_exit(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"was killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"was killed by signal {-returncode}"
    return f"exited with code {returncode}"


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


def _prune_logs(folder: Path, keep: int = 20) -> None:
    """Keep the newest default logs only: each free port makes a new file name."""
    try:
        logs = sorted(folder.glob("local-model-*.log"), key=lambda p: p.stat().st_mtime)
    except OSError:
        return
    for old in logs[:-keep]:
        with contextlib.suppress(OSError):
            old.unlink()


# --------------------------------------------------------------------------- clean-up

_LIVE: set[ServerProcess] = set()
_LIVE_LOCK = threading.RLock()  # re-entrant: the SIGTERM handler may interrupt a holder
_SIGTERM_INSTALLED = False


def _stop_all() -> None:
    with _LIVE_LOCK:
        live = list(_LIVE)
    for server in live:
        with contextlib.suppress(Exception):
            server.release(grace=3.0)


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


# --------------------------------------------------------------------------- the child


@dataclass(frozen=True)
class ServerSpec:
    """What one launch serves and how; read from the `LocalModel` at each (re)start."""

    model_path: Path
    model_name: str
    n_ctx: int
    n_threads: int
    startup_timeout: float
    program: ServerProgram


class ServerProcess:
    """One server child at a time, and the log file it writes.

    It lives as long as its `LocalModel`, so a restart appends to the same log and the
    crash before it stays readable. `log_path=None` writes a per-port file under
    `default_log_dir()`.
    """

    def __init__(self, log_path: Path | None = None) -> None:
        self._log_path_arg = log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path: Path | None = None
        self._log_file: IO[bytes] | None = None
        self._log_offset = 0
        self._logs_written: set[Path] = set()
        self._owner_pid = os.getpid()

    def tail(self, lines: int = 30) -> str:
        """The end of the current child's log (what a bug report should quote)."""
        return _tail(self.log_path, self._log_offset, lines)

    def spawn(self, spec: ServerSpec, port: int) -> None:
        """Launch on `port` and return once it lists the model and has decoded a token."""
        cmd = _command(spec, port)
        log = self._open_log(port)
        assert self._log_file is not None
        shown = [a if a not in (_LAUNCHER, _PROGRAM_LAUNCHER) else "<evolviz launcher>"
                 for a in cmd]
        self._log_file.write(
            f"=== evolviz {time.strftime('%Y-%m-%d %H:%M:%S')}: starting {spec.program.name} "
            f"for pid {os.getpid()}\n=== {shlex.join(shown)}\n".encode()
        )
        self._log_file.flush()
        try:
            self.proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=self._log_file,
                stderr=subprocess.STDOUT, env=_child_env(),
                start_new_session=True,  # Ctrl-C in a terminal reaches us, not the server
                close_fds=True,
            )
        except OSError as e:
            self._close_log()
            raise LocalModelError(f"cannot start {sys.executable}: {e}") from e
        self._owner_pid = os.getpid()
        with _LIVE_LOCK:
            _LIVE.add(self)
        _install_sigterm_handler()
        try:
            self._wait_ready(spec, port, log)
        except BaseException:  # KeyboardInterrupt while waiting included
            self.terminate()
            raise

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

    def _wait_ready(self, spec: ServerSpec, port: int, log: Path) -> None:
        proc = self.proc
        assert proc is not None
        base_url = f"http://{HOST}:{port}/v1"
        deadline = time.monotonic() + spec.startup_timeout
        while True:
            rc = proc.poll()
            if rc is not None:
                self._died_starting(spec, port, rc, log)
            ids = model_ids(base_url, timeout=2.0)
            if ids is not None and spec.model_name in ids:
                break
            if time.monotonic() > deadline:
                tail = _tail(log, self._log_offset)
                raise LocalModelError(
                    f"the local model server did not answer GET {base_url}/models within "
                    f"{spec.startup_timeout:.0f} s; stopped it. Last lines of its log "
                    f"{log}:\n{tail}"
                )
            time.sleep(0.2)
        # One token through the decoder: a build that crashes in decode fails here.
        try:
            httpx.post(
                f"{base_url}/chat/completions", timeout=max(30.0, spec.startup_timeout),
                json={"model": spec.model_name, "max_tokens": 1, "temperature": 0.0,
                      "messages": [{"role": "user", "content": "Hi"}]},
            ).raise_for_status()
        except httpx.HTTPError as e:
            time.sleep(0.5)
            rc = proc.poll()
            if rc is not None:
                self._died_starting(spec, port, rc, log)
            raise LocalModelError(
                f"the local model server started but its first completion failed ({e}). "
                f"Last lines of its log {log}:\n{_tail(log, self._log_offset)}"
            ) from e

    def _died_starting(self, spec: ServerSpec, port: int, rc: int, log: Path) -> None:
        tail = _tail(log, self._log_offset)
        hint = f"\n{_BUILD_HINT}" if rc < 0 else ""
        if "address already in use" in tail.lower():
            hint = f"\nport {port} was taken by another process (address already in use)"
        raise LocalModelError(
            f"the local model server {describe_exit(rc)} while starting (model "
            f"{spec.model_path}). Last lines of its log {log}:\n{tail}{hint}"
        )

    def release(self, grace: float = 5.0) -> None:
        """Stop the child if this process started it; a forked child only lets go of it,
        since it must not stop its parent's server."""
        if self.proc is not None and os.getpid() == self._owner_pid:
            self.terminate(grace)
        else:
            self.proc = None
            self._close_log()

    def terminate(self, grace: float = 5.0) -> None:
        """SIGTERM, then SIGKILL after `grace` s."""
        proc, self.proc = self.proc, None
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


def _command(spec: ServerSpec, port: int) -> list[str]:
    program = spec.program
    launcher = _PROGRAM_LAUNCHER if program.executable is not None else _LAUNCHER
    return [sys.executable, "-c", launcher, str(os.getpid()),
            *program.arguments(spec.model_path, spec.model_name, port, spec.n_ctx,
                               spec.n_threads)]


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    # The model is a local file; nothing may reach for a hub or a proxy.
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", HF_HUB_DISABLE_TELEMETRY="1",
               DO_NOT_TRACK="1", PYTHONUNBUFFERED="1")
    for var in ("HOST", "PORT"):  # llama_cpp.server lets these override --host/--port
        env.pop(var, None)
    for var in [v for v in env if v.startswith("LLAMA_ARG_")]:  # llama-server's overrides
        env.pop(var)
    return env
