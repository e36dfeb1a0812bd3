"""LLM text is data: HTML, scripts, markdown images and ANSI escapes stay inert everywhere
evolviz shows them outside the browser (the browser half is tests/browser/)."""

import re
from pathlib import Path

from evolviz.panel.scatter_map import tooltip_text
from evolviz.store import RunStore
from evolviz.testing import FakeOpenAIServer
from evolviz.testing.evol_responder import prompt_kind
from evolviz.textsafe import inert

from conftest import ROOT, run_cli

PAYLOAD = ('<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2"> '
           '![x](http://127.0.0.1:9/track.png) \x1b[2J\x1b]0;owned\x07 \x1b[31mred\u202e')


def hostile(req):
    kind = prompt_kind(req)
    if kind == "rewrite":
        return "Describe the tag below in two sentences. " + PAYLOAD
    if kind == "equality":
        return "not equal"
    return "An answer with plenty of content words about markup. " + PAYLOAD


def test_cli_shows_escapes_instead_of_obeying_them(tmp_path):
    store = tmp_path / "r.db"
    with FakeOpenAIServer(hostile) as server:
        r = run_cli("run", str(ROOT / "seeds" / "tiny.txt"), "--store", str(store),
                    "--generations", "1", "--base-url", server.base_url, "--model", "m",
                    "--no-progress")
        assert r.returncode == 0, r.stderr
    with RunStore(store, create=False) as s:
        cand = next(s.candidates(status="accepted"))
        assert PAYLOAD in cand.answer  # stored verbatim: evidence is never altered
    out = run_cli("show", str(store), "--candidate", cand.id).stdout
    assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out
    assert "\\x1b[2J" in out and "<script>" in out  # visible, as text


def test_inert_keeps_text_and_escapes_controls():
    assert inert("a\nb\tc") == "a\nb\tc"
    assert inert("\x1b[31mred") == "\\x1b[31mred"
    assert inert("abc\u202edef") == "abc\\u202edef"
    assert inert(None) == ""


def test_map_tooltip_shows_text_through_textcontent():
    """The map's tooltip shows LLM text as text: jupyter-scatter's bundle sets the text
    preview (and every property value) with textContent, so the tooltip text is passed
    as is (escaping it would show `&lt;` to the reader) and cut to one short line."""
    import jscatter

    t = tooltip_text(PAYLOAD * 20)
    assert t.startswith("<script>") and len(t) <= 301 and "\n" not in t
    bundle = (Path(jscatter.__file__).parent / "bundle.js").read_text()
    start = bundle.index("previewUpdater = (text) =>")
    preview = bundle[start:start + 120]
    assert "tooltipPreviewValueHelper.textContent = text" in preview
    assert "innerHTML" not in bundle[start - 2000:start + 2000]


def test_front_end_never_parses_strings_as_html():
    """The panel's JS puts text in with textContent only; any HTML sink would be a hole."""
    sinks = re.compile(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|"
                       r"createContextualFragment|DOMParser|\beval\(|new Function")
    for path in (ROOT / "js").glob("*.js"):
        if path.name.endswith(".test.js"):
            continue
        for n, line in enumerate(path.read_text().splitlines(), 1):
            assert not sinks.search(line), f"{path.name}:{n}: {line.strip()}"
