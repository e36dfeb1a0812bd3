"""Fixtures for the real-browser tests: one JupyterLab server and one chromium per session.

Every test in tests/browser is marked `browser` and `slow`. Without /usr/bin/chromium the
tests are skipped with the reason, except when the CI environment variable is set: then
they fail, so CI never skips them silently (run .ci/install-browser.sh first).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
from pathlib import Path

import pytest

from .browser import CHROMIUM, attach_log, launch_chromium, screenshot
from .server import ARTIFACTS, REPO_ROOT, start_jupyter

MISSING_CHROMIUM = f"{CHROMIUM} not found; install it with .ci/install-browser.sh"
VIEWPORT = {"width": 1500, "height": 1100}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.slow)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    # Remember each phase's report on the item so `page` can screenshot failures.
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


def _require_chromium() -> None:
    problem = None
    if not CHROMIUM.exists():
        problem = MISSING_CHROMIUM
    elif importlib.util.find_spec("playwright") is None:
        problem = "the playwright package is not installed (pip install -e '.[dev]')"
    if problem is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"CI is set but {problem}", pytrace=False)
    pytest.skip(problem)


@pytest.fixture(scope="session")
def jupyter_server():
    """JupyterLab rooted at the repo (so `notebooks/` and `tests/browser/` are reachable)."""
    _require_chromium()
    server = start_jupyter(REPO_ROOT, ARTIFACTS / "jupyter-server.log")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def playwright_instance():
    _require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="session")
def browser(playwright_instance):
    browser = launch_chromium(playwright_instance)
    try:
        yield browser
    finally:
        browser.close()


@pytest.fixture
def page(request, browser, jupyter_server):
    """A fresh browser context and page (1500x1100) per test; logs attached.

    `attach_log(page)` returns the page's `BrowserLog` (console, page errors, dialogs).
    On failure a screenshot goes to test-artifacts/FAILED-<test>.png. Kernels the test
    started are shut down afterwards.
    """
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(30_000)
    page = context.new_page()
    attach_log(page)
    try:
        yield page
    finally:
        rep = getattr(request.node, "rep_call", None)
        if rep is not None and rep.failed:
            with contextlib.suppress(Exception):
                screenshot(page, f"FAILED-{request.node.name}")
        context.close()
        jupyter_server.shutdown_kernels()
