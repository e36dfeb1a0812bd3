"""The panel's settings form to and from the run's settings, with no widget at all."""

from dataclasses import replace

import pytest

from evolviz.config import RunConfig
from evolviz.errors import ConfigError, InputError
from evolviz.panel.settings_codec import decode_settings, encode_settings
from evolviz.rules import RuleConfig
from evolviz.run.session import Endpoint
from evolviz.templates import TemplateSet

OPS = list(TemplateSet.load().operators)


def roundtrip(config, endpoint, **form_changes):
    form = {**encode_settings(config, endpoint, OPS), **form_changes}
    return decode_settings(form, config, endpoint, OPS)


def test_an_unchanged_form_changes_nothing():
    config = RunConfig(seed=4, rules=RuleConfig(extra_markers=("#Twist#",), copied_ngram=5))
    endpoint = Endpoint(base_url="http://127.0.0.1:9/v1", model="m")
    assert roundtrip(config, endpoint) == (config, endpoint)


def test_what_the_form_does_not_show_survives_a_change():
    config = RunConfig(rules=RuleConfig(extra_markers=("#Twist#", "new riddle")))
    judge = replace(config.sampling["judge"], stop=("\n",), top_p=0.5)
    config = config.with_(sampling={**config.sampling, "judge": judge})
    new, _ = roundtrip(config, Endpoint(), temperature=0.2, sorry_max_words=40)
    assert new.rules.extra_markers == ("#Twist#", "new riddle")  # dropped before the codec
    assert new.sampling["judge"] == judge  # the judge's own temperature is not the form's
    assert new.sampling["evolver"].temperature == new.sampling["answerer"].temperature == 0.2
    assert new.rules.sorry_max_words == 40


def test_rules_weights_and_max_tokens_decode():
    config = RunConfig()
    form = encode_settings(config, Endpoint(), OPS)
    form["rules"] = {**form["rules"], "copied_prompt_wording": False, "rewrite_invalid": False}
    form["weights"] = {**form["weights"], "mutation": 0.0}
    form["max_tokens"] = {"answerer": 99}
    new, _ = decode_settings(form, config, Endpoint(), OPS)
    assert not new.rules.is_on("copied_prompt_wording")
    assert new.rules.is_on("rewrite_invalid")  # cannot be switched off
    assert new.operator_weights["mutation"] == 0.0
    assert new.sampling["answerer"].max_tokens == 99
    all_uniform, _ = roundtrip(config, Endpoint())
    assert all_uniform.operator_weights == {}  # uniform is stored as "the paper's default"


def test_the_endpoint_keeps_its_default_concurrency_unless_changed():
    ep = Endpoint()
    assert roundtrip(RunConfig(), ep)[1].concurrency is None
    assert roundtrip(RunConfig(), ep, concurrency=5)[1].concurrency == 5
    remote = roundtrip(RunConfig(), ep, base_url="http://127.0.0.1:1/v1", model="x")[1]
    assert remote.base_url == "http://127.0.0.1:1/v1" and remote.model == "x"
    assert remote.api_key_env == "OPENAI_API_KEY"


@pytest.mark.parametrize("field,value,message", [
    ("seed", "abc", "'seed'"),
    ("temperature", None, "'temperature'"),
    ("max_tokens", {"answerer": 0}, "max_tokens.answerer"),
    ("max_tokens", {"poet": 5}, "unknown role"),
    ("rules", {"no_such_rule": True}, "unknown rule"),
    ("weights", {"no_such_operator": 1.0}, "unknown operator"),
])
def test_bad_fields_are_refused_naming_the_field(field, value, message):
    with pytest.raises(ConfigError, match=message):
        roundtrip(RunConfig(), Endpoint(), **{field: value})


def test_no_key_in_the_form(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-PLANTED-codec")
    form = encode_settings(RunConfig(), Endpoint(base_url="http://127.0.0.1:1/v1"), OPS)
    assert "sk-PLANTED" not in repr(form)


def test_the_dataset_gates_decode_and_a_bad_benchmark_file_is_named(tmp_path):
    bench = tmp_path / "bench.jsonl"
    bench.write_text('{"instruction": "Name the capital of France and explain why it grew '
                     'so large over the centuries."}\n')
    config = RunConfig()
    new, _ = roundtrip(config, Endpoint(), gates={"dedup": False, "near_dup": 0.9,
                                                  "decontaminate": [str(bench)]})
    assert new.gates.dedup is False and new.gates.near_dup == 0.9
    assert new.gates.decontaminate == (str(bench),)
    again, _ = roundtrip(new, Endpoint(), gates={"near_dup": ""})
    assert again.gates.near_dup is None and again.gates.decontaminate == (str(bench),)
    with pytest.raises(ConfigError, match="near"):
        roundtrip(config, Endpoint(), gates={"near_dup": 1.5})
    with pytest.raises(InputError, match=r"missing\.jsonl"):
        roundtrip(config, Endpoint(), gates={"decontaminate": [str(tmp_path / "missing.jsonl")]})


def test_the_form_shows_the_gates_and_every_roles_reply_budget():
    form = encode_settings(RunConfig(), Endpoint(), OPS)
    assert form["gates"] == {"dedup": True, "near_dup": None, "decontaminate": []}
    assert set(form["max_tokens"]) == {"evolver", "answerer", "judge"}


def test_the_budget_fields_decode_to_a_checked_budget_or_none():
    from evolviz.panel.settings_codec import decode_budget, encode_budget
    from evolviz.run.budget import Budget

    assert decode_budget(None) is None
    assert decode_budget(encode_budget(None)) is None
    assert decode_budget({"max_tokens": "", "price_in": None}) is None
    b = decode_budget({"max_tokens": "9000", "max_cost": 2, "price_in": 0.15,
                       "price_out": 0.6})
    assert (b.max_tokens, b.max_cost, b.prices) == (9000, 2.0, (0.15, 0.6))
    assert decode_budget(encode_budget(b)) == Budget(9000, 2.0, (0.15, 0.6))
    with pytest.raises(ConfigError, match=r"'budget.max_tokens'.*not a number"):
        decode_budget({"max_tokens": "lots"})
    with pytest.raises(ConfigError, match=r"'budget'.*both prices"):
        decode_budget({"price_in": 1.0})
    with pytest.raises(ConfigError, match=r"'budget'.*max cost needs both prices"):
        decode_budget({"max_cost": 1.0})
    with pytest.raises(ConfigError, match=r"'budget.max_tokens'.*>= 0"):
        decode_budget({"max_tokens": -5})


def test_who_judges_and_the_prompt_style_are_settings():
    from evolviz.panel.settings_codec import decode_style

    config, endpoint = RunConfig(judge="check"), Endpoint()
    form = encode_settings(config, endpoint, OPS, "few_shot")
    assert (form["judge"], form["prompt_style"]) == ("check", "few_shot")
    new, _ = decode_settings({**form, "judge": "model"}, config, endpoint, OPS)
    assert new.judge == "model"
    with pytest.raises(ConfigError, match="'judge'"):
        decode_settings({**form, "judge": "oracle"}, config, endpoint, OPS)
    assert decode_style(form, "few_shot") is None  # unchanged: edited templates stay
    assert decode_style({**form, "prompt_style": "chat"}, "few_shot") == "chat"
    assert decode_style({**form, "prompt_style": "mixed"}, "mixed") is None
    with pytest.raises(ConfigError, match="'prompt_style'"):
        decode_style({**form, "prompt_style": "haiku"}, "chat")
    assert TemplateSet.load(style="few_shot").style == "few_shot"
    assert TemplateSet.load().style == "chat"
