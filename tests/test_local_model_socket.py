"""The local model's server listens on 127.0.0.1 only: checked on the kernel's socket
table, not on the URL we print (a server bound to 0.0.0.0 still answers on 127.0.0.1)."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pytest

from evolviz.local_model import BASE_URL_ENV, MODEL_ENV, shared_local_model

LISTEN = "0A"  # TCP state LISTEN in /proc/net/tcp


def listening_sockets(pid: int) -> list[tuple[str, int]]:
    """(local address, port) of every TCP socket `pid` holds in LISTEN state, IPv4 and 6."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    out = []
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        for line in Path(table).read_text().splitlines()[1:]:
            cols = line.split()
            local, state, inode = cols[1], cols[3], cols[9]
            if state != LISTEN or inode not in inodes:
                continue
            hex_ip, hex_port = local.split(":")
            if width == 8:
                ip = ".".join(str(int(hex_ip[i:i + 2], 16)) for i in (6, 4, 2, 0))
            else:
                ip = "::1" if hex_ip == "0" * 24 + "01000000" else hex_ip
            out.append((ip, int(hex_port, 16)))
    return out


def process_tree(pid: int) -> list[int]:
    """`pid` and all its descendants, from /proc's children lists."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        for task in Path(f"/proc/{p}/task").iterdir():
            with contextlib.suppress(OSError):
                todo += [int(c) for c in (task / "children").read_text().split()]
    return out


@pytest.mark.slow
def test_the_local_server_listens_on_loopback_only(monkeypatch):
    monkeypatch.delenv(BASE_URL_ENV, raising=False)
    monkeypatch.delenv(MODEL_ENV, raising=False)
    lm = shared_local_model()
    try:
        assert lm.owned, "this test needs a server of its own, not one found running"
        pid = lm.pid
        assert pid is not None
        # llama-server runs as the launcher's child: look at the whole process tree.
        sockets = [s for p in process_tree(pid) for s in listening_sockets(p)]
        assert sockets, f"the server (pid {pid}) holds no listening socket"
        assert all(ip == "127.0.0.1" for ip, _port in sockets), sockets
        assert lm.port in {port for _ip, port in sockets}
    finally:
        lm.stop()


@pytest.mark.slow
async def test_the_local_judge_answers_json_under_its_grammar(monkeypatch, tmp_path):
    """With the chat templates (`--prompt-style chat`) the judge is asked for JSON.
    llama-cpp-python refuses OpenAI's json_schema form (a 500 naming response_format);
    the session asks it in llama.cpp's own form, which both servers (llama-cpp-python's
    and llama-server) turn into a grammar."""
    import json

    from evolviz.rules.judge import EQUALITY_FORMAT
    from evolviz.run.session import RunSession
    from evolviz.seeds import Seed
    from evolviz.templates import TemplateSet

    monkeypatch.delenv(BASE_URL_ENV, raising=False)
    session = RunSession(tmp_path / "r.db", seeds=[Seed(id="s0", instruction="Say hi.")],
                         templates=TemplateSet.load(style="chat"))
    client = session.build_client()
    try:
        assert not session.templates.equality.completion
        messages = session.templates.equality.render(
            first="Explain tides.", second="Explain tides and name the two kinds of tide.")
        result = await client.chat("judge", messages, session.config.sampling["judge"],
                                   response_format=EQUALITY_FORMAT)
        assert client.structured_output, result.retries  # not refused, not fallen back
        assert json.loads(result.content)["verdict"] in ("different", "same")
        assert result.finish_reason == "stop", result.content  # the JSON closed, not cut
    finally:
        await client.aclose()
        session.close()
        if session.local is not None:
            session.local.stop()


@pytest.mark.slow
async def test_the_local_few_shot_judge_answers_one_word_the_strict_reader_reads(
        monkeypatch, tmp_path):
    """The embedded model's default templates are few-shot: the judge continues the
    pattern ("Verdict: different") through the completions API, with no grammar (the
    pipeline sends none for a completion-style judge), and the template's stops cut it
    after the word. The strict reader must read that word as a verdict."""
    from dataclasses import replace

    from evolviz.rules.judge import read_equality
    from evolviz.run.session import RunSession
    from evolviz.seeds import Seed

    monkeypatch.delenv(BASE_URL_ENV, raising=False)
    session = RunSession(tmp_path / "r.db", seeds=[Seed(id="s0", instruction="Say hi.")])
    client = session.build_client()
    try:
        judge = session.templates.equality
        assert judge.completion and judge.stop
        messages = judge.render(first="Explain tides.",
                                second="Explain tides and name the two kinds of tide.")
        sampling = replace(session.config.sampling["judge"], stop=tuple(judge.stop))
        result = await client.chat("judge", messages, sampling)
        assert result.response_format is None
        assert "###" not in result.content and "\n" not in result.content.strip()
        verdict, how, _words = read_equality(result.content)
        assert verdict in ("equal", "not_equal"), (result.content, how)
    finally:
        await client.aclose()
        session.close()
        if session.local is not None:
            session.local.stop()
