"""A planted API key must reach the endpoint and nowhere else: not the store, exports,
logs, notebook outputs or widget state."""

import json
import os

import nbformat
import pytest
from nbclient import NotebookClient

from evolviz.store import RunStore
from evolviz.testing import FakeOpenAIServer
from evolviz.testing.evol_responder import EvolResponder

from conftest import ROOT, run_cli

KEY = "sk-PLANTED-7f3a9c0e1b2d4e6f"


def scan(folder, key=KEY):
    leaks = []
    for path in folder.rglob("*"):
        if path.is_file() and key.encode() in path.read_bytes():
            leaks.append(str(path))
    return leaks


def test_cli_run_exports_and_logs_hold_no_key(tmp_path):


    store = tmp_path / "run.db"
    with FakeOpenAIServer(EvolResponder()) as server:
        r = run_cli("run", str(ROOT / "seeds" / "tiny.txt"), "--store", str(store),
                    "--generations", "1", "--base-url", server.base_url, "--model", "m",
                    "--api-key-env", "EVZ_KEY", env={"EVZ_KEY": KEY})
        assert r.returncode == 0, r.stderr
        assert server.stats.authorizations[f"Bearer {KEY}"] > 0  # the key was used
    (tmp_path / "cli.log").write_text(r.stdout + r.stderr)
    for fmt in ("alpaca", "sharegpt", "jsonl", "parquet"):
        assert run_cli("export", str(store), "--format", fmt, "-o",
                       str(tmp_path / f"out.{fmt}"), "--include-rejected").returncode == 0
    (tmp_path / "show.log").write_text(run_cli("show", str(store)).stdout)
    with RunStore(store, create=False) as s:
        s.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        meta = json.dumps({r[0]: r[1] for r in s.conn.execute("SELECT key, value FROM meta")})
    assert KEY not in meta
    assert scan(tmp_path) == []


@pytest.mark.slow
def test_notebook_outputs_and_saved_widget_state_hold_no_key(tmp_path):
    with FakeOpenAIServer(EvolResponder()) as server:
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_code_cell(
            "import os\n"
            "from evolviz import Explorer\n"
            f"ex = Explorer({str(ROOT / 'seeds' / 'tiny.txt')!r}, base_url={server.base_url!r},"
            " model='m', api_key_env='EVZ_KEY', maps=False,"
            f" store={str(tmp_path / 'nb.db')!r})\n"
            "ex"),
            nbformat.v4.new_code_cell("await ex.step()\nprint(ex.client, ex.widget.status)"),
            nbformat.v4.new_code_cell("print(os.environ['EVZ_KEY'] == 'x')")]
        old = os.environ.get("EVZ_KEY")
        os.environ["EVZ_KEY"] = KEY
        try:
            NotebookClient(nb, timeout=300, kernel_name="python3", store_widget_state=True,
                           resources={"metadata": {"path": str(tmp_path)}}).execute()
        finally:
            if old is None:
                del os.environ["EVZ_KEY"]
            else:
                os.environ["EVZ_KEY"] = old
        assert server.stats.authorizations[f"Bearer {KEY}"] > 0
    nbformat.write(nb, tmp_path / "saved.ipynb")
    text = (tmp_path / "saved.ipynb").read_text()
    assert "application/vnd.jupyter.widget-state+json" in text  # widget state was saved
    assert KEY not in text
    with RunStore(tmp_path / "nb.db", create=False) as s:
        s.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert scan(tmp_path) == []
