"""The browser harness's browser half: Debian's chromium, headless with software WebGL, what a
page said (console, page errors, dialogs), and screenshots under test-artifacts/."""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .server import ARTIFACTS, HarnessError

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
