"""The browser harness's notebook half: open a notebook in JupyterLab (or Notebook 7), run
"Restart Kernel and Run All Cells" from the Kernel menu, wait until every cell is done, and
report what the browser, the cells and the server said."""

from __future__ import annotations

import contextlib
import json
import re
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .browser import BrowserLog, attach_log
from .server import HarnessError, JupyterServer

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
