"""Shared by the local model's tests: a developer's exported variables never steer them, and
helpers for the processes they start."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from evolviz.local_model import (
    BASE_URL_ENV,
    MODEL_ENV,
)
from evolviz.local_model.programs import (
    LLAMA_SERVER_ENV,
    PROGRAM_ENV,
)


@pytest.fixture(autouse=True)
def _no_user_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's exported variables must not steer these tests."""
    for var in (BASE_URL_ENV, MODEL_ENV, PROGRAM_ENV, LLAMA_SERVER_ENV):
        monkeypatch.delenv(var, raising=False)


def _gone(pid: int, within: float = 10.0) -> bool:
    """True once `pid` has exited (a zombie not yet reaped by its parent counts as gone)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.1)
    return False


def _child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in (BASE_URL_ENV, MODEL_ENV, PROGRAM_ENV, LLAMA_SERVER_ENV)}
    env["PYTHONUNBUFFERED"] = "1"
    return env
