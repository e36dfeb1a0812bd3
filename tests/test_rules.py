import pytest
from hypothesis import given
from hypothesis import strategies as st

from evolviz.errors import ConfigError
from evolviz.rules import (
    RULE_IDS,
    RuleConfig,
    check_rewrite,
    copied_prompt_wording,
    extract_instruction,
    parse_equality,
    sorry_short_answer,
    stopwords_only_answer,
)
from evolviz.templates import TemplateSet


def test_rule2_sorry_and_short_rejects():
    v = sorry_short_answer("Sorry, I can't help with that request.")
    assert not v.passed and v.rule == "sorry_short_answer" and "sorry" in v.reason


def test_rule2_long_answer_with_sorry_passes_and_threshold_moves():
    long = "I'm sorry to hear that. " + " ".join(["word"] * 90)
    assert sorry_short_answer(long).passed
    assert not sorry_short_answer(long, max_words=200).passed


def test_rule2_needs_the_word_sorry():
    assert sorry_short_answer("No.").passed
    assert sorry_short_answer("The sorrynessometer reads 4.").passed


def test_rule3_stopwords_and_punctuation_only():
    assert not stopwords_only_answer("...").passed
    assert not stopwords_only_answer("").passed
    assert not stopwords_only_answer("It is what it is, and so on!").passed
    assert stopwords_only_answer("It is raining in Lima.").passed


def test_rule4_markers_of_the_prompt():
    v = copied_prompt_wording("#Harder Task# Write a poem.", markers=["#Harder Task#"])
    assert not v.passed and "#Harder Task#" in v.reason
    v = copied_prompt_wording("Here is the rewritten prompt: write a poem")
    assert not v.passed


def test_rule4_marker_already_in_parent_is_not_a_copy():
    parent = "Explain what a 'rewritten prompt' is in prompt engineering."
    assert copied_prompt_wording(parent + " Give two examples.", parent=parent).passed


def test_rule4_copied_wording_run():
    t = TemplateSet.load().operators["add_constraints"]
    copied = ("Write a poem. It must still make sense and a person must be able to answer "
              "it.")
    v = copied_prompt_wording(copied, prompt_prose=t.prose(), markers=t.markers)
    assert not v.passed and "copies 8+ words" in v.reason
    assert copied_prompt_wording("Write a poem about a fox in exactly four lines.",
                                 prompt_prose=t.prose(), markers=t.markers).passed


def test_rewrite_invalid_each_reason():
    assert check_rewrite("", "stop", "p").detail["cause"] == "empty"
    assert check_rewrite(None, "stop", "p").detail["cause"] == "empty"
    assert check_rewrite("Write a long", "length", "p").detail["cause"] == "truncated"
    assert check_rewrite(None, "content_filter", "p").detail["cause"] == "filtered"
    assert check_rewrite("  ?!  ", "stop", "p").detail["cause"] == "unparseable"
    v = check_rewrite("Name a river.", "stop", "name a river")
    assert not v.passed and v.rule == "no_information_gain"
    assert check_rewrite("Name a river in Asia.", "stop", "Name a river.").passed


def test_extract_instruction_is_conservative():
    assert extract_instruction('  "Write a poem."  ') == "Write a poem."
    assert extract_instruction("New task: Write a poem.") == "Write a poem."
    assert extract_instruction("```\nWrite a poem.\n```") == "Write a poem."
    # A label in the middle stays, for rule 4 to see.
    assert "#Harder Task#" in extract_instruction("Write #Harder Task# a poem.")


@pytest.mark.parametrize("reply,passed,judge", [
    ("not equal", True, "not_equal"), ("Not Equal.", True, "not_equal"),
    ("equal", False, "equal"), ("Equal", False, "equal"), ("They are the same.", False, "equal"),
    ("", True, "unclear"), ("banana", True, "unclear"), ("They are different", True, "not_equal"),
])
def test_rule1_parser(reply, passed, judge):
    v = parse_equality(reply)
    assert v.rule == "no_information_gain" and v.passed is passed and v.detail["judge"] == judge


def test_rule_config_validates_names_and_thresholds():
    with pytest.raises(ConfigError, match="unknown rule"):
        RuleConfig().without(["no_such_rule"])
    with pytest.raises(ConfigError):
        RuleConfig(sorry_max_words=-1)
    cfg = RuleConfig().without(["sorry_short_answer"])
    assert not cfg.is_on("sorry_short_answer") and cfg.is_on("stopwords_only_answer")
    assert RuleConfig.from_dict(cfg.to_dict()) == cfg
    assert set(RULE_IDS) >= set(cfg.enabled)


@given(st.text(max_size=400))
def test_answer_rules_never_raise_and_are_consistent(text):
    v2, v3 = sorry_short_answer(text), stopwords_only_answer(text)
    assert isinstance(v2.passed, bool) and isinstance(v3.passed, bool)
    if "sorry" not in text.lower():
        assert v2.passed
    if not v3.passed:  # nothing but stop words: adding a content word must pass
        assert stopwords_only_answer(text + " photosynthesis").passed


@given(st.text(max_size=300), st.text(max_size=300))
def test_rewrite_and_marker_rules_never_raise(raw, parent):
    v = check_rewrite(raw, "stop", parent)
    assert v.rule in RULE_IDS
    assert copied_prompt_wording(extract_instruction(raw), parent=parent,
                                 prompt_prose="the quick brown fox jumps over the lazy dog "
                                              "again and again").rule == "copied_prompt_wording"
