"""The browser harness's server half: an isolated JupyterLab on 127.0.0.1 (its own config,
settings, workspaces, runtime and data dirs under a temporary folder; news pop-up, update
check and autosave off; the venv's python as the kernel), and where artifacts go."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]


ARTIFACTS = REPO_ROOT / "test-artifacts"


# JupyterLab user settings written into the server's private settings dir.
# The news pop-up ("Would you like to get notified about official Jupyter news?") is
# `@jupyterlab/apputils-extension:notification` -> fetchNews "false" (a string: the
# schema's choices are "true", "false" and "none", default "none" = ask).
LAB_SETTINGS: dict[str, dict[str, Any]] = {
    "@jupyterlab/apputils-extension:notification": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
    # No restart confirmation: "Restart Kernel and Run All Cells" runs at once.
    "@jupyterlab/apputils-extension:sessionDialogs": {"skipKernelRestartDialog": True},
    # Never write the notebook under test back to disk (outputs would dirty the repo).
    "@jupyterlab/docmanager-extension:plugin": {"autosave": False},
    # Attach every cell to the DOM: no virtualised or content-visibility-skipped cells,
    # so widgets below the fold render and can be measured.
    "@jupyterlab/notebook-extension:tracker": {"windowingMode": "none"},
}


# Lab extensions switched off in the test server (labconfig/page_config.json). The
# debugger restores its state with a debug_request as soon as a kernel starts; a restart
# right then cancels it and logs "Could not restore the debugger state" as a console error.
DISABLED_LAB_EXTENSIONS: tuple[str, ...] = ("@jupyterlab/debugger-extension",)


class HarnessError(RuntimeError):
    """The harness could not do what it was asked (server start, notebook run...)."""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_lab_settings(settings_dir: Path, settings: dict[str, dict[str, Any]]) -> None:
    """Write `{"@scope/pkg:plugin": {...}}` as JupyterLab user-settings files."""
    for plugin_id, values in settings.items():
        package, plugin = plugin_id.split(":")
        path = settings_dir / package / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values, indent=2), encoding="utf-8")


@dataclass
class JupyterServer:
    """A running JupyterLab server. Use as a context manager or call `.stop()`."""

    proc: subprocess.Popen
    port: int
    token: str
    root_dir: Path
    log_path: Path
    base_dir: Path
    _log_file: Any = field(repr=False, default=None)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def lab_url(self, path: str | Path = "", workspace: str | None = None) -> str:
        """URL of the Lab UI, optionally opening `path` (relative to the root dir).

        `workspace` names a JupyterLab workspace; a fresh name gives a clean layout that
        does not restore tabs (and start kernels) from earlier tests.
        """
        url = self.url + "lab"
        if workspace:
            url += f"/workspaces/{urllib.parse.quote(workspace)}"
        if str(path):
            url += "/tree/" + urllib.parse.quote(self.relpath(path))
        return url + "?token=" + self.token

    def relpath(self, path: str | Path) -> str:
        p = Path(path)
        if p.is_absolute():
            p = p.resolve().relative_to(self.root_dir.resolve())
        return p.as_posix()

    def api(self, method: str, endpoint: str, body: Any = None, timeout: float = 10) -> Any:
        """Call the server's REST API (`endpoint` like "api/sessions")."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.url + endpoint.lstrip("/"),
            data=data,
            method=method,
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            raw = resp.read()
        return json.loads(raw) if raw else None

    def shutdown_kernels(self) -> None:
        """Shut down every running kernel (frees a core between tests)."""
        with contextlib.suppress(Exception):
            for session in self.api("GET", "api/sessions"):
                with contextlib.suppress(Exception):
                    self.api("DELETE", f"api/sessions/{session['id']}")
        with contextlib.suppress(Exception):
            for kernel in self.api("GET", "api/kernels"):
                with contextlib.suppress(Exception):
                    self.api("DELETE", f"api/kernels/{kernel['id']}")

    def log_text(self, offset: int = 0) -> str:
        """The server log from byte `offset` on."""
        try:
            with open(self.log_path, "rb") as f:
                f.seek(offset)
                return f.read().decode("utf-8", errors="replace")
        except OSError:
            return ""

    def log_offset(self) -> int:
        """Current size of the server log; pass to `log_errors` to see only newer lines."""
        try:
            return self.log_path.stat().st_size
        except OSError:
            return 0

    def log_errors(self, offset: int = 0) -> list[str]:
        """Error records (`[E ...]` lines plus their indented traceback) after `offset`."""
        errors: list[str] = []
        current: list[str] | None = None
        for line in self.log_text(offset).splitlines():
            if line.startswith("[E "):
                current = [line]
                errors.append("")
            elif current is not None and line.startswith((" ", "\t")):
                current.append(line)
            else:
                current = None
                continue
            errors[-1] = "\n".join(current)
        return errors

    def stop(self, timeout: float = 10) -> None:
        if self.proc.poll() is None:
            self.shutdown_kernels()
            self.proc.terminate()
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=timeout)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        shutil.rmtree(self.base_dir, ignore_errors=True)

    def __enter__(self) -> JupyterServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_jupyter(
    notebook_dir: Path,
    log_path: Path,
    *,
    timeout: float = 60,
    settings: dict[str, dict[str, Any]] | None = None,
    disabled_extensions: tuple[str, ...] = DISABLED_LAB_EXTENSIONS,
    extra_args: tuple[str, ...] = (),
) -> JupyterServer:
    """Start JupyterLab on 127.0.0.1 with a random port and token; wait until it answers.

    Everything per-user lives under a fresh temporary dir, so the user's own Jupyter
    config, settings, kernels and IPython profile cannot leak in. `settings` ({plugin id:
    values}) replaces `LAB_SETTINGS` entries plugin by plugin; `disabled_extensions` are
    lab plugins/extensions to switch off. The server's output goes to `log_path`.
    """
    notebook_dir = Path(notebook_dir).resolve()
    log_path = Path(log_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    base = Path(tempfile.mkdtemp(prefix="evolviz-jupyter-"))
    dirs = {
        "JUPYTER_CONFIG_DIR": base / "config",
        "JUPYTER_DATA_DIR": base / "data",
        "JUPYTER_RUNTIME_DIR": base / "runtime",
        "JUPYTERLAB_SETTINGS_DIR": base / "lab-settings",
        "JUPYTERLAB_WORKSPACES_DIR": base / "lab-workspaces",
        "IPYTHONDIR": base / "ipython",
    }
    for d in dirs.values():
        d.mkdir(parents=True)
    write_lab_settings(dirs["JUPYTERLAB_SETTINGS_DIR"], {**LAB_SETTINGS, **(settings or {})})
    labconfig = dirs["JUPYTER_CONFIG_DIR"] / "labconfig"
    labconfig.mkdir()
    (labconfig / "page_config.json").write_text(
        json.dumps({"disabledExtensions": {name: True for name in disabled_extensions}}),
        encoding="utf-8",
    )

    venv_bin = str(Path(sys.executable).parent)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "IPYTHON"))}
    env.update({k: str(v) for k, v in dirs.items()})
    env["PATH"] = venv_bin + os.pathsep + env.get("PATH", "")
    env["JUPYTER_PLATFORM_DIRS"] = "1"
    env["PYTHONUNBUFFERED"] = "1"
    if sys.prefix != sys.base_prefix:
        env["VIRTUAL_ENV"] = sys.prefix

    token = secrets.token_hex(24)
    port = _free_port()
    cmd = [
        sys.executable, "-m", "jupyter", "lab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={notebook_dir}",
        "--KernelSpecManager.ensure_native_kernel=True",
        # Checkpoints (made when a notebook is opened) go to the temp dir, not the repo.
        f"--FileCheckpoints.checkpoint_dir={base / 'checkpoints'}",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        # The PyPI extension manager shells out to yarn at start-up (slow, and it
        # fails noisily here); tests never install extensions.
        "--LabApp.extension_manager=readonly",
        *(["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []),
        *extra_args,
    ]  # fmt: skip
    log_file = open(log_path, "w", encoding="utf-8")  # noqa: SIM115 - owned by the server
    log_file.write(f"$ {' '.join(cmd)}\n")
    log_file.flush()
    proc = subprocess.Popen(
        cmd, stdout=log_file, stderr=subprocess.STDOUT, env=env, cwd=notebook_dir,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    server = JupyterServer(proc, port, token, notebook_dir, log_path, base, log_file)

    deadline = time.monotonic() + timeout
    status_url = f"{server.url}api/status?token={token}"
    while True:
        if proc.poll() is not None:
            server.stop()
            raise HarnessError(
                f"jupyter lab exited with code {proc.returncode}; log {log_path}:\n"
                + server.log_text()[-3000:]
            )
        try:
            with urllib.request.urlopen(status_url, timeout=2) as resp:
                if resp.status == 200:
                    return server
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if time.monotonic() > deadline:
            server.stop()
            raise HarnessError(f"jupyter lab did not answer within {timeout}s; see {log_path}")
        time.sleep(0.2)
