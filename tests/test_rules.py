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


# --- the staged pipeline (issue 11) -------------------------------------------------------

import unicodedata  # noqa: E402

from evolviz.calls import CallResult  # noqa: E402
from evolviz.rules import (  # noqa: E402
    BEYOND_PAPER,
    PAPER_RULES,
    RuleId,
    answer_refusal,
    answer_stage,
    parse_difficulty,
    read_equality,
    word_count,
)
from evolviz.rules.extract import extract  # noqa: E402


def test_rule_ids_name_every_stage_and_config_accepts_the_dataset_rules():
    assert {r.value for r in RuleId} >= {*RULE_IDS, "duplicate", "contaminated"}
    cfg = RuleConfig().with_([RuleId.DUPLICATE, "contaminated"])
    assert cfg.is_on("duplicate") and RuleConfig.from_dict(cfg.to_dict()) == cfg
    assert set(RuleConfig.paper().enabled) == set(PAPER_RULES)
    assert not set(BEYOND_PAPER) & set(PAPER_RULES)
    assert RuleConfig().is_on("judge_unclear")  # an unclear judge rejects by default
    assert not RuleConfig.paper().is_on("judge_unclear")  # the paper keeps it


@pytest.mark.parametrize("raw,instruction,removed", [
    ("Sure! Here is a harder version:\n\nName three rivers in Peru.",
     "Name three rivers in Peru.", "Sure! Here is a harder version:"),
    ("**Rewritten Prompt:**\nName three rivers in Peru.", "Name three rivers in Peru.",
     "**Rewritten Prompt:**"),
    ("Name three rivers in Peru.\n\nThis version adds a country.",
     "Name three rivers in Peru.", "This version adds a country."),
    ("<think>they want harder</think>Name three rivers in Peru.",
     "Name three rivers in Peru.", "<think>...</think>"),
])
def test_extraction_says_what_it_removed(raw, instruction, removed):
    ex = extract(raw, ["#Harder Task#"])
    assert ex.text == instruction and removed in ex.removed


def test_extraction_keeps_fences_balanced():
    ex = extract("Here it is:\n```python\nx = 1\n```\nMake x a list.\n\nNote: I added a list.")
    assert ex.text == "```python\nx = 1\n```\nMake x a list." and ex.text.count("```") == 2
    assert extract("```\nName a river.").text == "Name a river."


@pytest.mark.parametrize("raw,cause", [
    ("I can't help with rewriting that.", "refusal"), ("As an AI, I cannot do that.", "refusal"),
    ("It is what it is.", "stopwords_only"), ("Not Equal", "judge_verdict"),
    ("#Rewritten Prompt#:", "marker_only"), ("<html><body>502 Bad Gateway</body></html>", "html"),
])
def test_rewrite_rejections_have_their_own_cause(raw, cause):
    v = check_rewrite(raw, "stop", "Name a river.")
    assert not v.passed and v.rule == "rewrite_invalid" and v.detail["cause"] == cause


def test_rule4_markers_are_phrases_of_the_operator_only():
    mutation = TemplateSet.load().operators["mutation"]
    ok = copied_prompt_wording("Add a new task to the list, then sort it.",
                               markers=mutation.markers, parent="Sort the list.")
    assert ok.passed
    bad = copied_prompt_wording("New Task: sort the list.", markers=mutation.markers)
    assert not bad.passed and bad.detail["marker"] == "new task"
    # Another operator's plain markers do not count; its decorated one would.
    deepening = TemplateSet.load().operators["deepening"]
    assert copied_prompt_wording("Write a harder task list.", markers=mutation.markers).passed
    assert not copied_prompt_wording("Harder task: x.", markers=deepening.markers).passed
    assert copied_prompt_wording("Explain the unrewritten prompts.").passed  # word edges


@pytest.mark.parametrize("reply,verdict", [
    ("They are not identical.", "not_equal"), ("Not exactly the same.", "not_equal"),
    ("They differ.", "not_equal"), ("There is no real difference.", "equal"),
    ("Task B adds a limit, so they are not equal.", "not_equal"),
    ("The wording differs but they are equal.", "equal"), ("No.", "not_equal"),
    ("Yes", "equal"), ('{"verdict": "equal"}', "equal"), ("Verdict: not equal", "not_equal"),
    ("Sie sind gleich.", "equal"), ("它们不相同。", "not_equal"), ("banana", "unclear"),
])
def test_judge_is_read_by_its_verdict(reply, verdict):
    assert read_equality(reply)[0] == verdict


@pytest.mark.parametrize("reply,rating", [
    ('{"rating": 7}', 7.0), ("Rating: 8", 8.0), ("6/10", 6.0), ("seven", 7.0),
    ('{"rating": 6.5}', 7.0), ("no idea", None), ('{"rating": 42}', None),
])
def test_difficulty_is_a_whole_number_from_one_to_ten(reply, rating):
    assert parse_difficulty(reply) == rating


_PUNCT = [chr(c) for c in range(0x20, 0x3100)
          if unicodedata.category(chr(c))[0] in "PSZ"]


@given(st.lists(st.sampled_from(_PUNCT), min_size=1, max_size=30))
def test_rule3_treats_all_unicode_punctuation_and_symbols_as_punctuation(chars):
    text = "".join(chars)
    assert not stopwords_only_answer(text).passed and word_count(text) == 0


def test_word_count_counts_unspaced_scripts_by_character():
    assert word_count("冰箱很冷。") == 4 and word_count("Hello, world…") == 2


def test_answer_refusal_and_asks_for_input_are_short_answers_only():
    assert answer_refusal("I can't help with that.").detail["cause"] == "refusal"
    assert answer_refusal("Please provide the text.").detail["cause"] == "asks_for_input"
    long = "Here is the plan. " * 30 + "If you share your code I can say more."
    assert answer_refusal(long).passed


def test_answer_stage_names_truncated_and_filtered_answers():
    def call(finish):
        return CallResult("answerer", "m", [], {"max_tokens": 9}, content="A long answ",
                          finish_reason=finish)

    cut = answer_stage(call("length"), RuleConfig())
    assert cut[0].rule == "answer_truncated" and cut[0].detail["max_tokens"] == 9
    assert answer_stage(call("content_filter"), RuleConfig())[0].rule == "answer_filtered"
    paper = answer_stage(call("length"), RuleConfig.paper())
    assert {v.rule for v in paper} == {"sorry_short_answer", "stopwords_only_answer"}


@given(st.text(max_size=600))
def test_no_stage_raises_on_any_text(text):
    ex = extract(text, ["#Harder Task#", "harder task"])
    assert isinstance(ex.text, str)
    assert read_equality(text)[0] in ("equal", "not_equal", "unclear")
    rating = parse_difficulty(text)
    assert rating is None or (1 <= rating <= 10 and rating == int(rating))
    for v in answer_stage(CallResult("answerer", "m", [], {}, content=text,
                                     finish_reason="stop"), RuleConfig()):
        assert v.rule in RULE_IDS and v.reason


def test_huge_and_hostile_replies_are_judged_quickly():
    import time

    huge = ("Explain the fridge, **Rewritten Prompt:** #Harder Task# not equal? " * 4000
            + "\x00\ufffd" * 50)
    started = time.perf_counter()
    v = check_rewrite(huge, "stop", "Explain the fridge.", ["#Harder Task#"])
    read_equality(huge)
    answer_stage(CallResult("answerer", "m", [], {}, content=huge, finish_reason="stop"),
                 RuleConfig())
    assert not v.passed and time.perf_counter() - started < 5.0


@given(st.text(alphabet="abcXYZ059'_-.,!? \n\t\"`", max_size=30))
def test_the_ascii_fast_path_finds_the_words_the_general_loop_finds(text):
    from evolviz.rules.text import words

    # A leading no-break space (a separator, not ASCII) sends the text down the loop.
    assert words(text) == words("\u00a0" + text)
