from pathlib import Path

import pytest

from evolviz.errors import TemplateError
from evolviz.templates import TemplateSet, load_template, parse_template

OPERATORS = {"add_constraints", "deepening", "concretizing", "increase_reasoning",
             "complicate_input", "mutation"}


def test_builtins_hold_the_papers_six_operators():
    ts = TemplateSet.load()
    assert set(ts.operators) == OPERATORS
    kinds = {name: t.kind for name, t in ts.operators.items()}
    assert kinds.pop("mutation") == "breadth"
    assert set(kinds.values()) == {"depth"}
    assert ts.answer.role == "answer" and ts.equality.role == "equality"


def test_each_operator_renders_the_instruction_and_no_placeholder_is_left():
    ts = TemplateSet.load()
    for t in ts.operators.values():
        messages = t.render(instruction="Name three rivers in Peru.")
        text = " ".join(m["content"] for m in messages)
        assert "Name three rivers in Peru." in text
        assert "{{" not in text
        assert messages[-1]["role"] == "user"


def test_complicate_input_carries_examples():
    t = TemplateSet.load().operators["complicate_input"]
    assert t.user.count("becomes:") >= 3  # a few worked examples, as the paper's prompt has


def _write(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    return path


GOOD = '''name = "shorten"
role = "operator"
kind = "depth"
placeholders = ["instruction"]
user = """Make this shorter: {{instruction}}"""
'''


def test_unknown_placeholder_is_an_error_naming_the_file(tmp_path):
    path = _write(tmp_path, "typo.toml", GOOD.replace("{{instruction}}", "{{instrucion}}"))
    with pytest.raises(TemplateError) as e:
        load_template(path)
    assert str(path) in str(e.value)
    assert "instrucion" in str(e.value)


def test_declared_but_unused_placeholder_is_an_error(tmp_path):
    path = _write(tmp_path, "unused.toml", GOOD.replace("Make this shorter: {{instruction}}",
                                                        "Make this shorter."))
    with pytest.raises(TemplateError, match="declared but never used"):
        load_template(path)


def test_placeholder_not_allowed_for_role(tmp_path):
    body = GOOD.replace('["instruction"]', '["instruction", "answer"]').replace(
        "{{instruction}}", "{{instruction}} {{answer}}")
    with pytest.raises(TemplateError, match="not allowed for role 'operator'"):
        load_template(_write(tmp_path, "extra.toml", body))


def test_bad_toml_and_missing_fields_name_the_file(tmp_path):
    bad = _write(tmp_path, "bad.toml", 'name = "x\n')
    with pytest.raises(TemplateError, match=r"bad\.toml: not valid TOML"):
        load_template(bad)
    with pytest.raises(TemplateError, match="field 'kind'"):
        parse_template({"name": "x", "role": "operator", "user": "{{instruction}}",
                        "placeholders": ["instruction"]}, path="mem.toml")
    with pytest.raises(TemplateError, match="unknown field"):
        parse_template({"name": "x", "role": "answer", "user": "{{instruction}}",
                        "placeholders": ["instruction"], "temprature": 1}, path="mem.toml")


def test_user_folder_adds_and_replaces_operators(tmp_path):
    _write(tmp_path, "shorten.toml", GOOD)
    replaced = GOOD.replace('"shorten"', '"deepening"').replace("shorter", "deeper")
    _write(tmp_path, "deepening.toml", replaced)
    ts = TemplateSet.load(tmp_path)
    assert set(ts.operators) == OPERATORS | {"shorten"}
    assert "deeper" in ts.operators["deepening"].user


def test_user_folder_missing_is_an_error(tmp_path):
    with pytest.raises(TemplateError, match="does not exist"):
        TemplateSet.load(tmp_path / "nope")


def test_render_refuses_missing_values():
    t = TemplateSet.load().equality
    with pytest.raises(TemplateError, match="missing value"):
        t.render(first="a")


def test_toml_round_trip_keeps_every_builtin(tmp_path):
    for t in TemplateSet.load().all():
        path = _write(tmp_path, f"{t.name}.toml", t.to_toml())
        again = load_template(path)
        assert (again.user, again.system, again.placeholders, again.markers, again.kind) == (
            t.user, t.system, t.placeholders, t.markers, t.kind)


def test_templates_cli_preview():
    from evolviz.cli import main

    assert main(["templates", "--preview", "deepening", "--instruction", "Say hi."]) == 0
    assert main(["templates", "--preview", "nope"]) == 2
