"""The embedded local model as a real server, against the real GGUF: one shared server for
most tests, servers of their own for the ones that kill or corrupt theirs, and the CLI end
to end.

Why real: what this module promises (the server starts, answers through `openai`, is
reused, restarts after a crash, goes away with its owner) lives in process and socket
behaviour that a mock would only restate."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from evolviz.errors import LocalModelError
from evolviz.local_model import (
    BASE_URL_ENV,
    DEFAULT_MODEL_ALIAS,
    LOCAL_SAMPLING,
    MODEL_ENV,
    LocalModel,
    shared_local_model,
)
from evolviz.local_model.ports import llama_server_at, server_slots
from evolviz.local_model.programs import (
    LOCAL_SLOTS,
)

from .conftest import _child_env, _gone
from conftest import ROOT


@pytest.fixture(scope="module")
def server() -> Iterator[LocalModel]:
    saved = {k: os.environ.pop(k) for k in (BASE_URL_ENV, MODEL_ENV) if k in os.environ}
    lm = shared_local_model()
    try:
        yield lm
    finally:
        lm.stop()
        os.environ.update(saved)


@pytest.mark.slow
def test_real_chat_completion_through_openai(server: LocalModel) -> None:
    assert server.owned and server.healthy()
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/v1", server.base_url)
    assert server.model_name == DEFAULT_MODEL_ALIAS
    ids = [m["id"] for m in httpx.get(f"{server.base_url}/models", timeout=30).json()["data"]]
    assert ids == [DEFAULT_MODEL_ALIAS]
    with openai.OpenAI(base_url=server.base_url, api_key="none", timeout=120) as client:
        r = client.chat.completions.create(
            model=server.model_name,
            messages=[{"role": "user", "content": "Name one colour of the rainbow."}],
            temperature=0.7, max_tokens=48, stop=list(LOCAL_SAMPLING["answerer"].stop),
        )
    text = r.choices[0].message.content or ""
    assert text.strip(), r
    assert "<|im_start|>" not in text and "<|im_end|>" not in text  # template applied
    assert r.usage is not None and r.usage.completion_tokens > 0
    assert server.log_path is not None and server.log_path.is_file()
    assert server.program is not None
    assert f"starting {server.program.name}" in server.log_path.read_text(errors="replace")


@pytest.mark.slow
def test_llama_server_decodes_several_calls_at_once(
        server: LocalModel, tmp_path: Path) -> None:
    """The point of llama-server: calls in flight share a batch instead of queueing."""
    assert server.program is not None
    if server.program.name != "llama-server":
        pytest.skip("llama-server is not built here (bash .ci/build-llama-server.sh)")
    assert server.slots == LOCAL_SLOTS == server_slots(server.base_url)
    assert llama_server_at(server.port)
    assert server.log_path is not None
    offset = server.log_path.stat().st_size
    client = openai.OpenAI(base_url=server.base_url, api_key="none", timeout=120)

    def generate(i: int) -> None:
        client.chat.completions.create(
            model=server.model_name, max_tokens=64, temperature=0.0,
            messages=[{"role": "user", "content": f"Tell story number {i} about a fox."}])

    threads = [threading.Thread(target=generate, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    client.close()
    with server.log_path.open("rb") as f:
        f.seek(offset)
        log = f.read().decode("utf-8", "replace").splitlines()
    first_release = next(i for i, line in enumerate(log) if "release:" in line)
    busy = {m.group(1) for line in log[:first_release]
            if (m := re.search(r"launch_slot_: id +(\d+)", line))}
    assert len(busy) == 4, log[:first_release + 1]  # four slots decoding together

    from evolviz.run.session import RunSession
    from evolviz.seeds import Seed

    with RunSession(tmp_path / "r.db", seeds=[Seed(id="s0", instruction="Hi.")]) as session:
        assert session.endpoint.calls_in_flight == LOCAL_SLOTS
        assert session.build_client().concurrency == LOCAL_SLOTS


@pytest.mark.slow
def test_llama_cpp_python_server_still_serves_when_asked_for(tmp_path: Path) -> None:
    log = tmp_path / "python-server.log"
    with LocalModel(program="python", log_path=log) as lm:
        assert lm.program is not None and lm.program.name == "llama_cpp.server"
        assert lm.slots == 1 == server_slots(lm.base_url)
        assert lm.healthy() and llama_server_at(lm.port)
        with openai.OpenAI(base_url=lm.base_url, api_key="none", timeout=120) as client:
            r = client.chat.completions.create(
                model=lm.model_name, max_tokens=8,
                messages=[{"role": "user", "content": "Say hello."}])
        assert (r.choices[0].message.content or "").strip()
    assert "starting llama_cpp.server" in log.read_text(errors="replace")


@pytest.mark.slow
def test_shared_local_model_is_one_instance(server: LocalModel) -> None:
    assert shared_local_model() is server


@pytest.mark.slow
def test_healthy_stays_true_while_the_server_is_busy(server: LocalModel) -> None:
    """/v1/models queues behind generations; healthy() must not mistake busy for dead."""
    client = openai.OpenAI(base_url=server.base_url, api_key="none", timeout=120)

    def generate() -> None:
        client.chat.completions.create(
            model=server.model_name, max_tokens=96, temperature=0.0,
            messages=[{"role": "user", "content": "Tell a long story about a lighthouse."}])

    threads = [threading.Thread(target=generate) for _ in range(3)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    t0 = time.monotonic()
    assert server.healthy(timeout=2.0)
    assert time.monotonic() - t0 < 2.0
    for t in threads:
        t.join()
    client.close()


@pytest.mark.slow
def test_busy_port_held_by_our_server_is_reused_and_left_running(
        server: LocalModel, tmp_path: Path) -> None:
    other = LocalModel(port=server.port, log_path=tmp_path / "x.log").start()
    assert not other.owned
    assert other.base_url == server.base_url
    assert other.healthy()
    other.stop()
    assert server.healthy()


@pytest.mark.slow
@pytest.mark.parametrize("suffix", ["", "/", "/v1"])
def test_env_base_url_is_used_without_starting_a_server(
        server: LocalModel, monkeypatch: pytest.MonkeyPatch, suffix: str) -> None:
    monkeypatch.setenv(BASE_URL_ENV, server.base_url.removesuffix("/v1") + suffix)
    lm = LocalModel().start()
    assert not lm.owned and lm.pid is None
    assert lm.base_url == server.base_url
    assert lm.model_name == DEFAULT_MODEL_ALIAS
    assert lm.ensure_running() is lm
    lm.stop()
    assert server.healthy()


@pytest.mark.slow
def test_corrupt_gguf_dies_at_start_with_the_log_tail(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF" + os.urandom(4096))  # right magic, garbage after it
    monkeypatch.setenv(MODEL_ENV, str(bad))
    log = tmp_path / "server.log"
    with pytest.raises(LocalModelError) as e:
        LocalModel(log_path=log).start()
    msg = str(e.value)
    assert "while starting" in msg and str(log) in msg
    assert "failed to load model" in msg.lower()  # from the server's own log


@pytest.mark.slow
def test_server_killed_mid_use_is_detected_and_restarted(tmp_path: Path) -> None:
    with LocalModel(log_path=tmp_path / "server.log") as lm:
        first_pid = lm.pid
        assert first_pid is not None
        os.kill(first_pid, signal.SIGKILL)
        assert _gone(first_pid)
        assert not lm.healthy()
        lm.ensure_running()
        assert lm.healthy() and lm.pid != first_pid
        assert lm.restarts == 1
        assert lm.last_exit is not None and "SIGKILL" in lm.last_exit
        with openai.OpenAI(base_url=lm.base_url, api_key="none", timeout=60) as client:
            r = client.chat.completions.create(
                model=lm.model_name, max_tokens=8,
                messages=[{"role": "user", "content": "Say hello."}])
        assert (r.choices[0].message.content or "").strip()
        log = (tmp_path / "server.log").read_text(errors="replace")
        assert lm.program is not None
        assert log.count(f"starting {lm.program.name}") == 2  # the crash stays readable
        second_pid = lm.pid
    assert second_pid is not None and _gone(second_pid)
    assert not lm.healthy()


_OWNER = textwrap.dedent("""
    import sys, time
    from evolviz.local_model import LocalModel
    lm = LocalModel(log_path=sys.argv[1]).start()
    print(lm.pid, flush=True)
    if sys.argv[2] == "exit":
        sys.exit(0)
    time.sleep(600)
""")


@pytest.mark.slow
@pytest.mark.parametrize("how", ["exit", "SIGTERM", "SIGKILL"])
def test_server_goes_away_with_its_owner(tmp_path: Path, how: str) -> None:
    """atexit, the SIGTERM hook and (for SIGKILL) the child's watchdog each stop it."""
    owner = subprocess.Popen([sys.executable, "-c", _OWNER, str(tmp_path / "s.log"), how],
                             stdout=subprocess.PIPE, text=True, env=_child_env())
    try:
        assert owner.stdout is not None
        line = owner.stdout.readline()
        assert line.strip().isdigit(), line
        pid = int(line)
        if how != "exit":
            os.kill(owner.pid, getattr(signal, how))
        rc = owner.wait(timeout=30)
        assert rc == {"exit": 0, "SIGTERM": -signal.SIGTERM, "SIGKILL": -signal.SIGKILL}[how]
        assert _gone(pid, within=10), f"server {pid} outlived its owner ({how})"
    finally:
        if owner.poll() is None:
            owner.kill()


@pytest.mark.slow
def test_serve_local_main_prints_the_url_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    code = "import sys; from evolviz.cli import main; sys.exit(main(['serve-local']))"
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=_child_env())
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        m = re.search(r"Serving (\S+) at (http://127\.0\.0\.1:\d+/v1)", first)
        assert m, first + (proc.stderr.read() if proc.poll() is not None else "")
        assert m.group(1) == DEFAULT_MODEL_ALIAS
        base_url = m.group(2)
        assert httpx.get(f"{base_url}/models", timeout=30).status_code == 200
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
        assert "Stopping" in out
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{base_url}/models", timeout=5)
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.mark.slow
def test_cli_one_generation_on_local_model(tmp_path: Path) -> None:
    from evolviz.store import RunStore

    seeds_file = ROOT / "seeds" / "tiny.txt"
    seeds = [ln.strip() for ln in seeds_file.read_text().splitlines()
             if ln.strip() and not ln.lstrip().startswith("#")]
    assert len(seeds) == 8
    store_path = tmp_path / "run.db"
    proc = subprocess.run(
        [sys.executable, "-m", "evolviz", "run", str(seeds_file), "--store", str(store_path),
         "--generations", "1", "--concurrency", "2"],
        capture_output=True, text=True, timeout=900, cwd=ROOT, env=_child_env(),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr

    with RunStore(store_path) as store:
        cands = list(store.candidates(generation=1))
    assert len(cands) == 8
    assert sorted(c.parent_instruction for c in cands) == sorted(seeds)
    for c in cands:
        assert (c.status == "failed") == (c.error_class is not None), c.id
        rewrite = c.calls["rewrite"]
        assert any(c.parent_instruction in m["content"] for m in rewrite.messages), c.id
        assert rewrite.model == DEFAULT_MODEL_ALIAS
        if c.status != "failed":
            assert (rewrite.content or "").strip(), c.id
            assert c.verdicts, c.id
        if c.status == "rejected":
            assert c.rejected_by in {v.rule for v in c.verdicts if not v.passed}
        if c.status == "accepted":
            assert (c.answer or "").strip() and all(v.passed for v in c.verdicts)
    assert any(c.status != "failed" for c in cands), [c.error for c in cands]
