"""Run headless, then explore the run: a store made by `evolviz run` opens in JupyterLab
through the notebook `evolviz explore` writes, and Step there continues it exactly as the
CLI would have."""

from __future__ import annotations

import shutil
import subprocess
import sys

import nbformat
from playwright.sync_api import expect

from evolviz.store import RunStore
from evolviz.testing import FakeOpenAIServer
from evolviz.testing.evol_responder import EvolResponder

from .browser import screenshot
from .notebook import open_and_run_notebook
from .server import ARTIFACTS, REPO_ROOT

SEEDS = REPO_ROOT / "seeds" / "tiny.txt"


def cli(*args: str) -> subprocess.CompletedProcess:
    r = subprocess.run([sys.executable, "-m", "evolviz", *args], capture_output=True,
                       text=True, timeout=300, cwd=REPO_ROOT)
    assert r.returncode == 0, r.stderr
    return r


def outcomes(path):
    with RunStore(path, create=False) as s:
        return [(c.id, c.operator, c.status, c.rejected_by, c.instruction)
                for c in s.candidates()]


def test_a_cli_run_reopens_in_the_browser_and_step_continues_it(page, jupyter_server):
    work = ARTIFACTS / "reopen"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    with FakeOpenAIServer(EvolResponder(p_copy_marker=0.3)) as server:
        common = ["--base-url", server.base_url, "--model", "fake-model", "--no-progress",
                  "--seed", "11"]
        cli("run", str(SEEDS), "--store", str(work / "cli.db"), "--generations", "1", *common)
        cli("run", str(SEEDS), "--store", str(work / "ref.db"), "--generations", "2", *common)
        cli("explore", str(work / "cli.db"), "--no-launch", "--base-url", server.base_url,
            "--model", "fake-model")
        path = work / "cli.explore.ipynb"
        book = nbformat.read(path, as_version=4)
        book.cells[1].source = book.cells[1].source.replace(")\nex", ", maps=False)\nex")
        nbformat.write(book, path)

        run = open_and_run_notebook(page, jupyter_server, path, timeout=180)
        run.assert_clean()
        # The CLI's generation is there, and the panel knows the next one is 2.
        expect(page.locator(".evz-pill")).to_have_text("next: generation 2", timeout=30_000)
        expect(page.locator(".evz-root .evz-row")).to_have_count(8, timeout=30_000)
        page.locator(".evz-step").click()
        expect(page.locator(".evz-pill")).to_have_text("next: generation 3", timeout=120_000)
        expect(page.locator(".evz-root .evz-row")).to_have_count(16, timeout=30_000)
        screenshot(page, "panel-reopened")
    assert outcomes(work / "cli.db") == outcomes(work / "ref.db")
