"""One path through the code: a run made by the CLI reopens in the panel and continues
exactly as the CLI would continue it; settings apply per generation; a refusing endpoint
stops the run instead of failing every candidate."""

from __future__ import annotations

import http.server
import json
import threading
from dataclasses import replace
from typing import ClassVar

import pytest

from evolviz.config import RunConfig
from evolviz.errors import EndpointError, LLMCallError
from evolviz.panel import Explorer
from evolviz.run.llm import LLMClient
from evolviz.run.session import Endpoint, RunSession
from evolviz.seeds import Seed
from evolviz.store import RunStore, RunView, check_store
from evolviz.testing import FakeOpenAIServer
from evolviz.testing.evol_responder import EvolResponder
from evolviz.testing.transport import ScriptedTransport

from conftest import run_cli


def outcomes(path):
    """Everything that decides a run's result, candidate by candidate."""
    with RunStore(path, create=False) as s:
        return [(c.id, c.parent_id, c.operator, c.status, c.rejected_by, c.instruction,
                 c.answer) for c in s.candidates()]


def cli_run(seeds, store, server, generations, *extra):
    r = run_cli("run", str(seeds), "--store", str(store), "--base-url", server.base_url,
                "--model", "fake-model", "--no-progress", "--seed", "7",
                "--generations", str(generations), *extra)
    assert r.returncode == 0, r.stderr
    return r


async def test_a_cli_run_reopens_in_the_panel_and_step_continues_it_as_the_cli_would(
        tmp_path, seeds_file):
    seeds = seeds_file(12)
    with FakeOpenAIServer(EvolResponder(p_copy_marker=0.3)) as server:
        cli_run(seeds, tmp_path / "cli.db", server, 1, "--weight", "mutation=3")
        cli_run(seeds, tmp_path / "ref.db", server, 2, "--weight", "mutation=3")

        # No seeds, no config: everything comes from the store (seed 7, the weights).
        ex = Explorer.open(tmp_path / "cli.db", base_url=server.base_url, model="fake-model",
                           maps=False)
        assert ex.config.seed == 7 and ex.config.operator_weights == {"mutation": 3.0}
        assert [s.id for s in ex.seeds] == [s.id for s in
                                            Explorer.open(tmp_path / "ref.db", maps=False,
                                                          base_url=server.base_url).seeds]
        assert ex.widget.page["total"] == 12  # the CLI's generation is listed
        await ex.step()
        ex.close()
    assert outcomes(tmp_path / "cli.db") == outcomes(tmp_path / "ref.db")
    with RunStore(tmp_path / "cli.db", create=False) as s:
        assert check_store(s) == []
        assert s.finished_generations() == [1, 2]


async def test_explorer_on_an_existing_store_opens_that_run_not_the_demo(tmp_path,
                                                                        seeds_file):
    seeds = seeds_file(5)
    with FakeOpenAIServer(EvolResponder()) as server:
        cli_run(seeds, tmp_path / "r.db", server, 1)
        ex = Explorer(store=tmp_path / "r.db", base_url=server.base_url, maps=False)
        assert len(ex.seeds) == 5 and ex.config.seed == 7
        assert ex.widget.status["finished_generations"] == 1
        ex.close()


async def test_the_plan_of_a_started_generation_survives_a_weight_change(tmp_path):
    seeds = [Seed(id=f"s{i}", instruction=f"Explain topic number {i} to a child.")
             for i in range(16)]
    with FakeOpenAIServer(EvolResponder()) as server:
        endpoint = Endpoint(base_url=server.base_url, model="fake-model", concurrency=1)
        session = RunSession(tmp_path / "r.db", seeds=seeds, endpoint=endpoint,
                             config=RunConfig(seed=3))
        planned = session.evolution.plan(1)
        session.build_client()
        n = 0
        async for _cand in session.evolution.step():
            n += 1
            if n == 4:
                break  # interrupted: 4 of 16 done
        # Only mutation from now on: the rest of generation 1 keeps its stored plan.
        only = {op: (1.0 if op == "mutation" else 0.0) for op in session.templates.operators}
        session.configure(config=session.config.with_(operator_weights=only))
        async for _cand in session.evolution.step():
            pass
        async for _cand in session.evolution.step():
            pass
        ops1 = [c.operator for c in session.store.candidates(generation=1)]
        ops2 = {c.operator for c in session.store.candidates(generation=2)}
        assert ops1 == planned
        assert len(set(planned)) > 1 and ops2 == {"mutation"}
        assert check_store(session.store) == []
        await session.aclose()


class _StatusHandler(http.server.BaseHTTPRequestHandler):
    status = 401
    hits: ClassVar[list[str]] = []

    def do_POST(self):
        length = int(self.headers.get("content-length") or 0)
        self.rfile.read(length)
        type(self).hits.append(self.path)
        body = json.dumps({"error": {"message": f"scripted {self.status}",
                                     "type": "invalid_request_error"}}).encode()
        self.send_response(self.status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def status_server():
    """A real HTTP server on 127.0.0.1 that answers every request with one status."""
    def start(status):
        handler = type("H", (_StatusHandler,), {"status": status, "hits": []})
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
        return f"http://127.0.0.1:{srv.server_address[1]}/v1", handler

    servers: list = []
    yield start
    for srv in servers:
        srv.shutdown()
        srv.server_close()


@pytest.mark.parametrize("status", [401, 403, 404])
def test_a_refusing_endpoint_stops_the_run_with_exit_1_naming_it(status, status_server,
                                                                  tmp_path, seeds_file):
    url, handler = status_server(status)
    store = tmp_path / "r.db"
    r = run_cli("run", str(seeds_file(6)), "--store", str(store), "--base-url", url,
                "--model", "m", "--no-progress", "--generations", "1")
    assert r.returncode == 1
    assert url in r.stderr and f"HTTP {status}" in r.stderr
    # A handful of calls at most (those already in flight), never one per candidate
    # retried: and no candidate is recorded as failed, so a fixed key resumes cleanly.
    assert 1 <= len(handler.hits) <= 8
    with RunStore(store, create=False) as s:
        assert s.candidate_count() == 0


async def test_a_4xx_is_not_retried(status_server):
    url, handler = status_server(400)
    client = LLMClient(url, models="m", max_retries=5, backoff_base=0.01)
    with pytest.raises(LLMCallError) as err:
        await client.chat("evolver", [{"role": "user", "content": "hi"}],
                          RunConfig().sampling["evolver"])
    await client.aclose()
    assert err.value.error_class == "BadRequest"
    assert err.value.result is not None and err.value.result.attempts == 1
    assert len(handler.hits) == 1


async def test_engine_unit_seam_needs_no_socket(tmp_path):
    """A whole generation through the scripted transport: same engine, no server."""
    scripted = ScriptedTransport(EvolResponder())
    seeds = [Seed(id=f"s{i}", instruction=f"Write a short poem about the number {i}.")
             for i in range(6)]
    session = RunSession(tmp_path / "r.db", seeds=seeds,
                         endpoint=Endpoint(base_url="http://scripted.invalid/v1", model="m"))
    client = LLMClient("http://scripted.invalid/v1", models="m",
                       transport=scripted.transport, cache=session.cache)
    session.evolution.configure(client=client)
    got = [c async for c in session.evolution.step()]
    assert len(got) == 6 and session.store.finished_generations() == [1]
    assert all(c.status in ("accepted", "rejected") for c in got)
    assert len(scripted.requests) >= 6 and scripted.requests[0]["model"] == "m"
    await client.aclose()
    session.close()


async def test_transport_seam_scripts_a_refusal(tmp_path):
    scripted = ScriptedTransport(status=401)
    client = LLMClient("http://scripted.invalid/v1", models="m", transport=scripted.transport)
    with pytest.raises(EndpointError, match="HTTP 401"):
        await client.chat("judge", [{"role": "user", "content": "x"}],
                          RunConfig().sampling["judge"])
    await client.aclose()


def test_search_matches_percent_and_underscore_literally(tmp_path):
    store = RunStore(tmp_path / "r.db")
    seeds = [Seed(id="s0", instruction="a"), Seed(id="s1", instruction="b")]
    store.add_seeds(seeds)
    from evolviz.records import Candidate

    for slot, text in enumerate(["Raise prices by 50% now", "Raise prices by 50 now"]):
        store.add_candidate(Candidate(id=f"g1-{slot:06d}", generation=1, slot=slot,
                                      parent_id=f"s{slot}", seed_id=f"s{slot}",
                                      operator="deepening", parent_instruction="x",
                                      status="accepted", instruction=text, answer="ok",
                                      finished_at=1.0))
    from evolviz.store import Query

    view = RunView(store)
    assert [r.instruction for r in view.page(Query(text="50%")).rows] == \
        ["Raise prices by 50% now"]
    assert view.page(Query(text="by_50")).total == 0  # "_" is not a wildcard
    assert view.page(Query(text="prices")).total == 2
    store.close()


def test_a_candidate_is_stored_once(tmp_path):
    """Columns hold what is queried; the record holds the rest; they cannot disagree."""
    from evolviz.records import Candidate

    store = RunStore(tmp_path / "r.db")
    store.add_seeds([Seed(id="s0", instruction="a")])
    c = Candidate(id="g1-000000", generation=1, slot=0, parent_id="s0", seed_id="s0",
                  operator="deepening", parent_instruction="a", status="accepted",
                  instruction="A harder a.", answer="An answer.", finished_at=2.0)
    store.add_candidate(c)
    record = json.loads(store.conn.execute("SELECT record FROM candidates").fetchone()[0])
    assert "status" not in record and "instruction" not in record and "answer" not in record
    store.replace_candidate(replace(c, status="rejected", rejected_by="sorry_short_answer"))
    again = store.candidate("g1-000000")
    assert again.status == "rejected" and again.rejected_by == "sorry_short_answer"
    assert again.instruction == "A harder a." and again.parent_instruction == "a"
    store.close()


def test_evolviz_explore_writes_a_notebook_that_reopens_the_run(tmp_path, seeds_file):
    import nbformat
    from nbclient import NotebookClient

    seeds = seeds_file(4)
    with FakeOpenAIServer(EvolResponder()) as server:
        cli_run(seeds, tmp_path / "r.db", server, 1)
        r = run_cli("explore", str(tmp_path / "r.db"), "--no-launch",
                    "--base-url", server.base_url, "--model", "fake-model",
                    "--api-key-env", "EVZ_NOT_A_KEY")
        assert r.returncode == 0, r.stderr
        path = tmp_path / "r.explore.ipynb"
        assert str(path) in r.stdout
        text = path.read_text()
        assert "Explorer.open('r.db'" in text and "EVZ_NOT_A_KEY" in text
        book = nbformat.read(path, as_version=4)
        book.cells[1].source = book.cells[1].source.replace(")\nex", ", maps=False)\nex")
        NotebookClient(book, timeout=120, kernel_name="python3",
                       resources={"metadata": {"path": str(tmp_path)}}).execute()
    out = "".join(o.get("text", "") for c in book.cells if c.cell_type == "code"
                  for o in c.get("outputs", []))
    assert "GenerationStats(generation=1, pool_size=4" in out
    # A second call keeps the notebook a person may have edited.
    path.write_text(text.replace("reopened", "EDITED"))
    assert run_cli("explore", str(tmp_path / "r.db"), "--no-launch").returncode == 0
    assert "EDITED" in path.read_text()
    r = run_cli("explore", str(tmp_path / "missing.db"), "--no-launch")
    assert r.returncode == 2 and "missing.db" in r.stderr


async def test_structured_output_in_llama_cpp_form_and_a_500_refusal_falls_back():
    """The local model's server takes a schema as {"type": "json_object", "schema": ...}
    and answers OpenAI's json_schema form with a 500 naming response_format."""
    from evolviz.rules.judge import EQUALITY_FORMAT
    from evolviz.run.wire import http_module

    http = http_module()
    bodies = []

    def handler(request):
        body = json.loads(request.content)
        bodies.append(body)
        fmt = body.get("response_format")
        if fmt is not None and fmt.get("type") != "json_object":
            return http.Response(500, json={"error": {
                "message": "1 validation error: ('body', 'response_format', 'type') Input "
                           "should be 'text' or 'json_object'", "type": "server_error"}})
        return http.Response(200, json={
            "id": "x", "object": "chat.completion", "created": 0, "model": "m",
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": '{"verdict": "same"}'}}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8}})

    sampling = RunConfig().sampling["judge"]
    msgs = [{"role": "user", "content": "A or B?"}]
    llama = LLMClient("http://x.invalid/v1", models="m", structured_style="llama_cpp",
                      transport=http.MockTransport(handler))
    r = await llama.chat("judge", msgs, sampling, response_format=EQUALITY_FORMAT)
    assert bodies[-1]["response_format"] == {
        "type": "json_object", "schema": EQUALITY_FORMAT["json_schema"]["schema"]}
    assert r.content == '{"verdict": "same"}' and llama.structured_output
    await llama.aclose()

    openai_style = LLMClient("http://x.invalid/v1", models="m", max_retries=3,
                             transport=http.MockTransport(handler))
    r = await openai_style.chat("judge", msgs, sampling, response_format=EQUALITY_FORMAT)
    assert r.retries == ["StructuredOutputRefused"] and not openai_style.structured_output
    assert "response_format" not in bodies[-1] and len(bodies) == 3  # one refusal, one retry
    await openai_style.aclose()
