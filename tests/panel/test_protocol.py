"""The panel's protocol is declared once and both sides keep to it.

Why a test: the actions and the widget state cross a language boundary, where nothing
else checks a name. An action the front end sends that the kernel does not answer, a
trait field Python renames and js/ still reads, or a state the page infers from display
text all work on the day they are written and fail silently the next.
"""

from __future__ import annotations

import dataclasses
import re
import typing

import pytest

from evolviz.calls import CallResult
from evolviz.panel import Explorer, state
from evolviz.panel.actions import ACTIONS
from evolviz.panel.settings_codec import encode_budget
from evolviz.panel.templates_controller import template_state
from evolviz.panel.widget import ExplorerWidget, Record
from evolviz.records import Candidate
from evolviz.store import CandidateRow, LineageStep
from evolviz.templates import TemplateSet
from evolviz.testing import FakeOpenAIServer
from evolviz.testing.evol_responder import EvolResponder

from conftest import ROOT

JS = ROOT / "js"
#: A JSDoc property line's name (its type may hold one level of braces).
PROPERTY = r"@property \{(?:[^{}]|\{[^{}]*\})*\} \[?(\w+)"


def _js_sources() -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(JS.glob("*.js"))
            if not p.name.endswith(".test.js")}


def _typedefs() -> dict[str, set[str]]:
    """Each JSDoc `@typedef {Object} Name` of js/protocol.js and its property names."""
    text = (JS / "protocol.js").read_text(encoding="utf-8")
    out = {}
    for block in re.findall(r"/\*\*(.*?)\*/", text, re.S):
        name = re.search(r"@typedef \{Object\} (\w+)", block)
        if name:
            out[name.group(1)] = set(re.findall(PROPERTY, block))
    return out


def _typed_dicts() -> dict[str, type]:
    return {n: getattr(state, n) for n in state.__all__
            if typing.is_typeddict(getattr(state, n))}


def test_the_front_end_sends_only_declared_actions_and_every_one_is_used():
    sources = _js_sources()
    bare = [name for name, text in sources.items()
            if name != "protocol.js" and "model.send(" in text]
    assert not bare, f"send actions with createSender (js/protocol.js), not model.send: {bare}"
    used = {key for text in sources.values() for key in re.findall(r'send\("([A-Z_]+)"', text)}
    assert used == set(ACTIONS), (f"sent but not declared: {sorted(used - set(ACTIONS))}; "
                                  f"declared but never sent: {sorted(set(ACTIONS) - used)}")


def test_each_typedef_in_js_has_its_typeddicts_fields():
    typedefs, schemas = _typedefs(), _typed_dicts()
    # Status is one typedef in js/ (its parts are a Python-side convenience).
    # (A TypedDict keeps no bases at run time: its parts are those made of its fields.)
    status = set(state.Status.__annotations__)
    parts = {n for n, t in schemas.items()
             if n != "Status" and set(t.__annotations__) <= status}
    assert set().union(*(schemas[n].__annotations__ for n in parts)) == status
    missing = sorted(set(schemas) - parts - set(typedefs))
    assert not missing, f"TypedDicts with no typedef in js/protocol.js: {missing}"
    for name, schema in schemas.items():
        if name in parts:
            continue
        assert typedefs[name] == set(schema.__annotations__), name


def test_every_synced_trait_has_a_schema():
    traits = ExplorerWidget().traits(sync=True)
    ours = {n for n in traits if n in vars(ExplorerWidget) and not n.startswith("_")}
    untyped = {"selected_id", "actions"}  # a string, and the read-only action table
    assert ours - untyped == set(state.TRAIT_SCHEMAS)
    for name, schema in state.TRAIT_SCHEMAS.items():
        trait = traits[name]
        inner = getattr(trait, "_trait", None) or getattr(trait, "_value_trait", None) or trait
        assert isinstance(inner, Record) and inner.schema is schema, name


def test_the_schemas_match_what_the_library_sends():
    fields = {f.name for f in dataclasses.fields(Candidate)} - {"calls", "verdicts"}
    keys = set(Candidate(id="c", generation=1, slot=0, parent_id="p", seed_id="s",
                         operator="mutation", parent_instruction="x").to_dict())
    assert keys == set(state.CandidateDetail.__annotations__) and fields <= keys
    assert {f.name for f in dataclasses.fields(CallResult)} == set(
        state.CallState.__annotations__)
    assert {f.name for f in dataclasses.fields(CandidateRow)} == set(
        state.CandidateRowState.__annotations__)
    assert {f.name for f in dataclasses.fields(LineageStep)} == set(
        state.LineageStepState.__annotations__)
    t = TemplateSet.load().operators["mutation"]
    assert set(template_state(t)) == set(state.TemplateState.__annotations__)
    assert set(encode_budget(None)) == set(state.BudgetForm.__annotations__)


def test_a_trait_refuses_a_field_its_schema_does_not_declare():
    w = ExplorerWidget()
    with pytest.raises(Exception, match=r"unknown key.*'colour'"):
        w.template_focus = {"name": "mutation", "colour": "red"}
    with pytest.raises(Exception, match="missing key"):
        w.page = {"offset": 0, "rows": []}
    w.detail = {}  # nothing selected


@pytest.fixture
def explorer(tmp_path):
    with FakeOpenAIServer(EvolResponder()) as s:
        ex = Explorer(ROOT / "seeds" / "tiny.txt", base_url=s.base_url, model="fake-model",
                      store=tmp_path / "run.db", maps=False)
        yield ex
        ex.close()


async def test_act_takes_the_buttons_path_and_reports_what_it_refuses(explorer):
    ex = explorer
    assert set(ex._dispatch) == {a.name for a in ACTIONS.values()}
    assert ex.act("jump") is None
    assert ex.widget.status["error"] and "unknown action 'jump'" in ex.widget.status["message"]
    assert ex.act("step", n=2) is None  # a payload field the table does not declare
    assert ex.widget.status["error"] and "takes no payload" in ex.widget.status["message"]
    task = ex.act("run", n=1)
    await task
    status = ex.widget.status
    assert not status["error"] and not status["running"] and status["generation"] == 2
    assert set(status) == set(state.Status.__annotations__)


async def test_the_error_flag_is_set_by_what_happened_not_by_the_wording(explorer):
    ex = explorer
    ex.say("error: this is only a message that starts like one")
    assert not ex.widget.status["error"]
    ex.report(ValueError("a real failure"))
    assert ex.widget.status["error"] and ex.widget.status["message"].endswith(
        "error: ValueError: a real failure")
    ex.say("settings applied")
    assert not ex.widget.status["error"]
    assert not ex.widget.status["budget_set"] and ex.widget.status["budget"] == ""
    ex.set_budget(max_tokens=10)
    assert ex.widget.status["budget_set"] and not ex.widget.status["budget_reached"]
