"""Shared fixtures: a real scripted OpenAI-compatible server on 127.0.0.1 and seed files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from evolviz.testing import FakeOpenAIServer
from evolviz.testing.evol_responder import EvolResponder
from evolviz.testing.synthetic import synthetic_instructions

ROOT = Path(__file__).resolve().parents[1]
# The variable the product reads and .ci/test.sh sets; the default is where CI puts it.
REFDATA = Path(os.environ.get("EVOLVIZ_REFERENCE_DIR") or ROOT.parent / "shared" / "refdata")

make_seeds = synthetic_instructions


@pytest.fixture
def seeds_file(tmp_path: Path):
    def write(n: int = 20) -> Path:
        path = tmp_path / f"seeds{n}.txt"
        path.write_text("\n".join(make_seeds(n)) + "\n", encoding="utf-8")
        return path

    return write


@pytest.fixture
def fake_llm():
    with FakeOpenAIServer(EvolResponder(), hang_seconds=5.0) as server:
        yield server


def broken_mutation(folder: Path) -> Path:
    """A mutation template that lost its "#New Task#" line: the model cannot tell where the
    example ends, echoes the prompt, and rule 4 (copied wording) rejects the rewrite."""
    folder.mkdir()
    text = (ROOT / "evolviz" / "templates" / "chat" / "mutation.toml").read_text()
    text = "\n".join(line for line in text.splitlines() if line.strip() != "#New Task#")
    text = text.replace('"#New Task#", ', "")
    (folder / "mutation.toml").write_text(text + "\n")
    return folder


def write_jsonl(path: Path, rows: list[object]) -> Path:
    """One JSON value per line (the seed loader's tests write their inputs with it)."""
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def reasons(load) -> dict[int, str]:
    """A seed load's problems by line."""
    return {p.line: p.reason for p in load.problems}


def run_cli(*args: str, timeout: float = 300, env: dict | None = None):
    """Run the real `evolviz` entry point in a subprocess, as a user would."""
    return subprocess.run([sys.executable, "-m", "evolviz", *args], capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, **(env or {})},
                          cwd=ROOT)


def pytest_sessionstart(session):
    """Under CI the reference data must be there: a test that needs it skipping quietly
    would let a broken path pass as green."""
    if os.environ.get("CI") and not REFDATA.exists():
        raise pytest.UsageError(f"CI: reference data not found at {REFDATA} "
                                f"(set EVOLVIZ_REFERENCE_DIR)")


def pytest_collection_modifyitems(config, items):
    """Run the browser tests last.

    Playwright's sync API keeps an event loop running in the main thread for as long as
    its (session-wide) browser lives, and no asyncio test can start its own loop after
    that; every other test must come first. The sort is stable, so the order is otherwise
    pytest's own.
    """
    browser = ROOT / "tests" / "browser"
    items.sort(key=lambda item: browser in Path(str(item.path)).parents)
