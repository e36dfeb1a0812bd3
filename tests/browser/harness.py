"""A real-browser test harness: JupyterLab on 127.0.0.1 driven by Debian's chromium.

Reusable pieces, each usable on its own:

- `start_jupyter(notebook_dir, log_path)` starts an isolated JupyterLab server (its own
  config, settings, workspaces, runtime and data dirs under a temporary folder; news
  pop-up, update check and autosave off; the venv's python as the kernel).
- `launch_chromium(playwright)` launches /usr/bin/chromium headless with software WebGL.
- `attach_log(page)` collects console messages, page errors and dialogs.
- `open_and_run_notebook(page, server, nb_path)` opens a notebook, runs
  "Restart Kernel and Run All Cells" from the Kernel menu, waits until every cell is done
  and returns what the browser and the cells reported.
- `screenshot(page, name)` saves a PNG under `test-artifacts/` in the repo root.
- `painted_pixels(page, locator, ...)` counts coloured pixels of an element as actually
  shown on screen (so it works for any WebGL canvas, whatever its preserveDrawingBuffer).
- `assert_text_not_injected(page, locator, text)` is the pattern for untrusted text:
  the literal text is visible and none of its markup ran.

No dependency beyond Playwright and the standard library.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
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
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO_ROOT / "test-artifacts"
# Debian's chromium; EVOLVIZ_CHROMIUM points elsewhere (e.g. another distribution's build).
CHROMIUM = Path(os.environ.get("EVOLVIZ_CHROMIUM", "/usr/bin/chromium"))

# Headless chromium flags. There is no GPU here: with --disable-gpu this chromium still
# gives WebGL through ANGLE on SwiftShader (Vulkan), so plotly's Scattergl draws.
# --enable-unsafe-swiftshader keeps that software WebGL path on in newer chromium
# releases, which are removing the automatic fallback to it.
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
    "--enable-unsafe-swiftshader",
)

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


# --------------------------------------------------------------------------- server


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


# --------------------------------------------------------------------------- browser


def launch_chromium(playwright: Any, *, extra_args: tuple[str, ...] = (), **kwargs: Any) -> Any:
    """Launch Debian's /usr/bin/chromium headless (never Playwright's own download)."""
    if not CHROMIUM.exists():
        raise HarnessError(f"{CHROMIUM} not found: run .ci/install-browser.sh")
    return playwright.chromium.launch(
        executable_path=str(CHROMIUM), args=[*CHROMIUM_ARGS, *extra_args], **kwargs
    )


@dataclass
class BrowserLog:
    """What a page said: console messages, uncaught errors, dialogs."""

    console: list[tuple[str, str]] = field(default_factory=list)  # (type, text)
    page_errors: list[str] = field(default_factory=list)
    dialogs: list[tuple[str, str]] = field(default_factory=list)  # (type, message)

    @property
    def console_errors(self) -> list[str]:
        return [text for kind, text in self.console if kind == "error"]

    def clear(self) -> None:
        self.console.clear()
        self.page_errors.clear()
        self.dialogs.clear()


def attach_log(page: Any, *, accept_dialogs: bool = True) -> BrowserLog:
    """Record console/pageerror/dialog events of `page` (once per page)."""
    existing = getattr(page, "_evolviz_log", None)
    if existing is not None:
        return existing
    log = BrowserLog()

    def on_console(msg: Any) -> None:
        text = msg.text
        loc = msg.location or {}
        if msg.type == "error" and loc.get("url"):
            text = f"{text} ({loc.get('url')}:{loc.get('lineNumber')})"
        log.console.append((msg.type, text))

    def on_pageerror(err: Any) -> None:
        log.page_errors.append(f"{err.name}: {err.message}\n{err.stack or ''}".strip())

    def on_dialog(dialog: Any) -> None:
        log.dialogs.append((dialog.type, dialog.message))
        with contextlib.suppress(Exception):
            dialog.accept() if accept_dialogs else dialog.dismiss()

    page.on("console", on_console)
    page.on("pageerror", on_pageerror)
    page.on("dialog", on_dialog)
    page._evolviz_log = log
    return log


def screenshot(page: Any, name: str, *, full_page: bool = False, locator: Any = None) -> Path:
    """Save a PNG under `test-artifacts/` (gitignored) and return its path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "shot"
    path = ARTIFACTS / (safe if safe.endswith(".png") else safe + ".png")
    if locator is not None:
        locator.screenshot(path=str(path))
    else:
        page.screenshot(path=str(path), full_page=full_page)
    return path


# --------------------------------------------------------------------------- notebooks

# Selectors of JupyterLab 4.6's DOM.
NOTEBOOK = ".jp-NotebookPanel:not(.lm-mod-hidden)"
CODE_PROMPTS = f"{NOTEBOOK} .jp-CodeCell .jp-InputArea-prompt"
KERNEL_INDICATOR = f"{NOTEBOOK} .jp-Notebook-ExecutionIndicator"

_JS_NOTEBOOK_STATE = """(nb) => {
  const panel = document.querySelector(nb);
  if (!panel) return null;
  const prompts = [...panel.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')]
    .map(e => e.textContent.trim());
  const ind = panel.querySelector('.jp-Notebook-ExecutionIndicator');
  return {prompts, status: ind ? ind.getAttribute('data-status') : null};
}"""

_JS_CELL_ERRORS = r"""(nb) => {
  // Error outputs render exactly like stderr text; tell them apart by IPython's
  // traceback shapes (runtime errors, and SyntaxError, which has no "Traceback").
  const traceback = new RegExp([
    String.raw`Traceback \(most recent call last\)`,
    String.raw`^\s*Cell In\[\d+\], line \d+`,
    String.raw`^\w*(Error|Exception)\b`,
  ].join('|'), 'm');
  const panel = document.querySelector(nb);
  if (!panel) return [];
  const out = [];
  panel.querySelectorAll('.jp-CodeCell').forEach((cell, i) => {
    cell.querySelectorAll(
      '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'
    ).forEach(e => {
      const text = e.textContent;
      if (traceback.test(text)) out.push({cell: i, text: text.slice(0, 4000)});
    });
  });
  return out;
}"""


@dataclass
class NotebookRun:
    """Outcome of `open_and_run_notebook`."""

    console_errors: list[str]
    page_errors: list[str]
    cell_errors: list[dict[str, Any]]  # {"cell": index among code cells, "text": ...}
    server_errors: list[str]  # `[E ...]` records of the server log during the final attempt
    prompts: list[str]
    seconds: float
    phases: dict[str, float]  # seconds from page.goto to: cells shown, kernel idle, run done
    retries: list[str]  # why earlier attempts were abandoned (empty when the first one ran)
    log: BrowserLog

    def assert_clean(
        self, ignore_console: tuple[str, ...] = (), ignore_server: tuple[str, ...] = ()
    ) -> None:
        """Fail on page errors, cell tracebacks, console errors and server errors.

        `ignore_console` / `ignore_server` are regexes for messages known to be harmless.
        """

        def keep(messages: list[str], ignore: tuple[str, ...]) -> list[str]:
            return [m for m in messages if not any(re.search(p, m) for p in ignore)]

        problems = []
        if self.page_errors:
            problems.append("page errors:\n" + "\n".join(self.page_errors))
        if self.cell_errors:
            cells = "\n".join(f"[cell {e['cell']}] {e['text']}" for e in self.cell_errors)
            problems.append("cell errors:\n" + cells)
        if console := keep(self.console_errors, ignore_console):
            problems.append("console errors:\n" + "\n".join(console))
        if server := keep(self.server_errors, ignore_server):
            problems.append("server errors:\n" + "\n".join(server))
        if problems:
            raise AssertionError("\n\n".join(problems))


class NotebookStalled(HarnessError):
    """Run-all never got going: the kernel restart left the cells queued and no kernel."""


def _wait_for(predicate: Any, timeout: float, what: str, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise HarnessError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def _state(page: Any) -> dict[str, Any] | None:
    return page.evaluate(_JS_NOTEBOOK_STATE, NOTEBOOK)


def wait_kernel_idle(page: Any, timeout: float = 60, settle: float = 1.0) -> None:
    """Wait until the open notebook's kernel indicator has said idle for `settle` s.

    The settling matters: restarting a kernel within a fraction of a second of the
    browser connecting to it races in jupyter_server (seen here: "struct.error: unpack
    requires a buffer" on the kernel websocket, or "'NoneType' object has no attribute
    'kernel_ws_protocol'", jupyter_server issue #1265), leaving every cell queued.
    """
    page.wait_for_selector(f'{KERNEL_INDICATOR}[data-status="idle"]', timeout=timeout * 1000)
    deadline = time.monotonic() + timeout
    idle_since = time.monotonic()
    while time.monotonic() - idle_since < settle:
        state = _state(page)
        if not state or state["status"] != "idle":
            idle_since = time.monotonic()
        if time.monotonic() > deadline:
            raise HarnessError(f"kernel not steadily idle within {timeout:.0f}s: {state}")
        time.sleep(0.1)


def dismiss_dialogs(page: Any, accept: bool = True) -> int:
    """Click accept (or reject) on any JupyterLab modal dialog that is open."""
    n = 0
    button = page.locator(".jp-Dialog .jp-mod-accept" if accept else ".jp-Dialog .jp-mod-reject")
    while button.count():
        button.first.click(timeout=5000)
        n += 1
        page.wait_for_timeout(100)
    return n


def restart_and_run_all(page: Any) -> None:
    """Click Kernel menu -> "Restart Kernel and Run All Cells…" for the open notebook.

    Returns once clicked; `run_all_and_wait` also accepts the confirmation dialog (shown
    only when skipKernelRestartDialog is off) and waits for the run to end.
    """
    # Make the notebook the current widget, which the Kernel menu acts on.
    page.locator(f"{NOTEBOOK} .jp-Notebook").first.click(position={"x": 5, "y": 5})
    page.locator("#jp-MainMenu .lm-MenuBar-itemLabel", has_text=re.compile(r"^Kernel$")).click()
    # JupyterLab 4.6 wires the menu item to the `runmenu:restart-and-run-all` command.
    item = page.locator(
        '.lm-MenuBar-menu .lm-Menu-item[data-command="runmenu:restart-and-run-all"]'
    ).or_(page.locator(".lm-MenuBar-menu .lm-Menu-item", has_text="Restart Kernel and Run All"))
    item.first.click(timeout=10_000)


def wait_notebook_done(
    page: Any, timeout: float = 120, settle: float = 0.5, stall: float = 20
) -> list[str]:
    """Wait until no code cell shows `[*]` and the kernel is idle, stably for `settle` s.

    Raises `NotebookStalled` if every code cell stays `[*]` while the kernel is not busy
    for `stall` s (the restart went wrong; nothing ran).
    """
    deadline = time.monotonic() + timeout
    stable_since = stalled_since = None
    while True:
        state = _state(page)
        now = time.monotonic()
        prompts = state["prompts"] if state else []
        if state and state["status"] == "idle" and not any("*" in p for p in prompts):
            stable_since = stable_since or now
            if now - stable_since >= settle:
                return prompts
        else:
            stable_since = None
        if state and prompts and all("*" in p for p in prompts) and state["status"] != "busy":
            stalled_since = stalled_since or now
            if now - stalled_since >= stall:
                raise NotebookStalled(f"all cells queued, kernel {state['status']!r}: {state}")
        else:
            stalled_since = None
        if now > deadline:
            raise HarnessError(f"notebook still running after {timeout:.0f}s: {state}")
        time.sleep(0.1)


def run_all_and_wait(page: Any, timeout: float = 120) -> list[str]:
    """Restart the open notebook's kernel, run all cells, wait until done; return prompts.

    "Started" means the kernel left idle, a cell shows `[*]` or the prompts changed; then
    it waits until every prompt is settled and the kernel is idle again.
    """
    t0 = time.monotonic()
    before = _state(page)
    restart_and_run_all(page)
    accept = page.locator(".jp-Dialog .jp-mod-accept")

    def started() -> bool:
        if accept.count():
            with contextlib.suppress(Exception):
                accept.first.click(timeout=2000)
            return False
        state = _state(page)
        if state is None:
            return False
        return (
            state["status"] != "idle"
            or any("*" in p for p in state["prompts"])
            or state["prompts"] != (before or {}).get("prompts")
        )

    _wait_for(started, timeout=30, what="restart-and-run-all to start", interval=0.05)
    return wait_notebook_done(page, timeout=max(1.0, timeout - (time.monotonic() - t0)))


def _count_cells(server: JupyterServer, nb_path: str | Path) -> int:
    path = server.root_dir / server.relpath(nb_path)
    return len(json.loads(path.read_text(encoding="utf-8"))["cells"])


def open_notebook(
    page: Any,
    server: JupyterServer,
    nb_path: str | Path,
    timeout: float = 60,
    *,
    workspace: str | None = None,
) -> None:
    """Open `nb_path` in a fresh workspace; wait until all cells show and the kernel idles.

    A fresh workspace (unless one is named) restores no tabs, and so starts no kernels,
    from earlier tests.
    """
    workspace = workspace or f"t{uuid.uuid4().hex[:10]}"
    page.goto(server.lab_url(nb_path, workspace=workspace), wait_until="domcontentloaded")
    # Cells attach a few at a time: wait for all of them, counted from the file itself.
    page.wait_for_function(
        "([sel, n]) => document.querySelectorAll(sel).length >= n",
        arg=[f"{NOTEBOOK} .jp-Cell", _count_cells(server, nb_path)],
        timeout=timeout * 1000,
    )
    wait_kernel_idle(page, timeout=timeout)
    dismiss_dialogs(page)  # e.g. a kernel selection dialog, should one appear


def open_and_run_notebook(
    page: Any,
    server: JupyterServer,
    nb_path: str | Path,
    timeout: float = 120,
    *,
    attempts: int = 2,
) -> NotebookRun:
    """Open `nb_path` in JupyterLab, restart its kernel and run all cells, wait for the end.

    If the restart stalls before any cell ran (`NotebookStalled`, the jupyter_server race
    described in `wait_kernel_idle`), the page is reloaded into a fresh workspace and the
    whole thing tried again, up to `attempts` times; `NotebookRun.retries` says why.
    Returns the browser console errors, page errors, cell tracebacks and server-log errors
    (of the final attempt); see `NotebookRun.assert_clean`.
    """
    log = attach_log(page)
    start = time.monotonic()
    retries: list[str] = []
    while True:
        attempt_start = time.monotonic()
        log_offset = server.log_offset()
        log.clear()
        phases: dict[str, float] = {}
        open_notebook(page, server, nb_path, timeout=timeout)
        phases["kernel idle"] = time.monotonic() - attempt_start
        try:
            prompts = run_all_and_wait(page, timeout=max(1.0, timeout - (time.monotonic() - start)))
        except NotebookStalled as exc:
            errors = server.log_errors(log_offset)
            retries.append(f"{exc}; server errors: {errors}")
            server.shutdown_kernels()
            if len(retries) >= attempts:
                raise NotebookStalled("; ".join(retries)) from exc
            continue
        phases["run done"] = time.monotonic() - attempt_start
        break
    cell_errors = page.evaluate(_JS_CELL_ERRORS, NOTEBOOK)
    return NotebookRun(
        console_errors=list(log.console_errors),
        page_errors=list(log.page_errors),
        cell_errors=cell_errors,
        server_errors=server.log_errors(log_offset),
        prompts=prompts,
        seconds=time.monotonic() - start,
        phases=phases,
        retries=retries,
        log=log,
    )


# --------------------------------------------------------------------------- pixels

_JS_COUNT_PIXELS = """async ([b64, minSat, target, tol]) => {
  const img = new Image();
  img.src = 'data:image/png;base64,' + b64;
  await img.decode();
  const c = document.createElement('canvas');
  c.width = img.naturalWidth; c.height = img.naturalHeight;
  const ctx = c.getContext('2d');
  ctx.drawImage(img, 0, 0);
  const d = ctx.getImageData(0, 0, c.width, c.height).data;
  let coloured = 0, nonWhite = 0, matching = 0;
  for (let i = 0; i < d.length; i += 4) {
    const r = d[i], g = d[i + 1], b = d[i + 2];
    const max = Math.max(r, g, b), min = Math.min(r, g, b);
    if (max - min >= minSat) coloured++;
    if (min < 245) nonWhite++;
    if (target && Math.abs(r - target[0]) <= tol && Math.abs(g - target[1]) <= tol
        && Math.abs(b - target[2]) <= tol) matching++;
  }
  return {width: c.width, height: c.height, coloured, nonWhite, matching};
}"""

# plotly's first default trace colour, #636efa.
PLOTLY_BLUE = (0x63, 0x6E, 0xFA)


def open_in_notebook7_and_run_all(page: Any, server: JupyterServer, nb_path: str | Path) -> None:
    """Open `nb_path` in the Notebook 7 interface and run all cells from its Run menu.

    Unlike `open_and_run_notebook` it neither restarts the kernel nor waits for the cells
    to finish: callers wait for what the notebook itself shows.
    """
    from urllib.parse import quote

    url = f"{server.url}notebooks/{quote(server.relpath(nb_path))}?token={server.token}"
    page.goto(url, wait_until="domcontentloaded")
    page.wait_for_function("() => document.querySelectorAll('.jp-Notebook .jp-Cell').length >= 3",
                           timeout=60_000)
    page.wait_for_timeout(3000)  # let the kernel connect before running anything
    page.locator(".lm-MenuBar-item", has_text="Run").first.click()
    page.locator(".lm-Menu-item[data-command='runmenu:run-all']").click()


def painted_pixels(
    page: Any,
    locator: Any,
    *,
    color: tuple[int, int, int] | None = None,
    tolerance: int = 24,
    min_saturation: int = 60,
) -> dict[str, int]:
    """Count pixels of `locator`'s on-screen box, as composited on screen.

    Returns `{"width", "height", "coloured", "nonWhite", "matching"}`: "coloured" pixels
    have max(r,g,b) - min(r,g,b) >= min_saturation (grey axes, grid and text do not
    count); "matching" ones are within `tolerance` per channel of `color` (e.g.
    `PLOTLY_BLUE` for a default-coloured trace). Works from a real screenshot, so it
    sees what a WebGL canvas drew whatever its preserveDrawingBuffer; decoding happens
    in the page, so no image library is needed.
    """
    png = locator.screenshot()
    return page.evaluate(
        _JS_COUNT_PIXELS,
        [base64.b64encode(png).decode(), min_saturation, list(color) if color else None, tolerance],
    )


def assert_text_not_injected(page: Any, locator: Any, text: str, flag: str = "__pwned") -> None:
    """Untrusted `text` shows literally inside `locator` and none of its markup ran.

    Render a string like `<img src=x onerror="window.__pwned=1">` in the widget, then
    call this. It checks, most telling failure first: `window[flag]` is unset (no handler
    ran), no <img>/<script>/<iframe>/<svg>/<object> element was created inside the
    element, its textContent contains the string verbatim, and it is visible.
    """
    locator.wait_for(state="attached")
    page.wait_for_timeout(200)  # give an onerror handler its chance to fire
    pwned = page.evaluate("(flag) => typeof window[flag]", flag)
    assert pwned == "undefined", f"untrusted markup executed: window.{flag} is set"
    injected = locator.evaluate(
        "e => [...e.querySelectorAll('img, script, iframe, svg, object')].map(x => x.outerHTML)"
    )
    assert not injected, f"element(s) created from untrusted text: {injected}"
    shown = locator.text_content() or ""
    assert text in shown, f"untrusted text not shown literally: {shown!r}"
    assert locator.is_visible(), "the element holding the untrusted text is not visible"
