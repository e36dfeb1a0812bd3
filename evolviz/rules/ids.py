"""The names of the rules, and which of them the paper has.

Rule ids are stored with every verdict and every rejected candidate, so they are strings
that never change; `RuleId` is a StrEnum so code can spell them without typos and compare
them with stored text directly.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["BEYOND_PAPER", "CANDIDATE_RULES", "DEFAULT_ENABLED", "PAPER_RULES", "RULE_IDS",
           "RuleId", "Stage"]


class RuleId(StrEnum):
    """Every rule a verdict can name."""

    # Gates: the endpoint gave nothing usable (not one of the paper's rules, always on).
    REWRITE_INVALID = "rewrite_invalid"
    # The paper's four elimination rules.
    NO_INFORMATION_GAIN = "no_information_gain"  # rule 1
    SORRY_SHORT_ANSWER = "sorry_short_answer"  # rule 2
    STOPWORDS_ONLY_ANSWER = "stopwords_only_answer"  # rule 3
    COPIED_PROMPT_WORDING = "copied_prompt_wording"  # rule 4
    # Beyond the paper: each can be switched off (`RuleConfig.paper()` switches all off).
    NOT_A_TASK = "not_a_task"  # the rewrite talks, describes its editing, or answers
    OFF_TOPIC = "off_topic"  # an in-depth rewrite that left its parent's topic
    ANSWER_ECHO = "answer_echo"  # the answer repeats the instruction instead of answering
    ANSWER_REFUSAL = "answer_refusal"
    ANSWER_TRUNCATED = "answer_truncated"
    ANSWER_FILTERED = "answer_filtered"
    JUDGE_UNCLEAR = "judge_unclear"
    # The dataset stage (across candidates); named here, implemented elsewhere.
    DUPLICATE = "duplicate"
    CONTAMINATED = "contaminated"


class Stage(StrEnum):
    """Where in a candidate's life a rule looks; the engine runs them in this order."""

    REWRITE = "rewrite"
    INSTRUCTION = "instruction"
    JUDGE = "judge"
    ANSWER = "answer"
    DATASET = "dataset"


# Plain strings (the enum's values), so they serialise and compare like stored text.
PAPER_RULES: tuple[str, ...] = tuple(r.value for r in (
    RuleId.REWRITE_INVALID, RuleId.NO_INFORMATION_GAIN, RuleId.SORRY_SHORT_ANSWER,
    RuleId.STOPWORDS_ONLY_ANSWER, RuleId.COPIED_PROMPT_WORDING))
BEYOND_PAPER: tuple[str, ...] = tuple(r.value for r in (
    RuleId.NOT_A_TASK, RuleId.OFF_TOPIC, RuleId.ANSWER_ECHO, RuleId.ANSWER_REFUSAL,
    RuleId.ANSWER_TRUNCATED, RuleId.ANSWER_FILTERED, RuleId.JUDGE_UNCLEAR))
#: The rules the per-candidate stages implement (what the panel offers as switches).
CANDIDATE_RULES: tuple[str, ...] = (*PAPER_RULES, *BEYOND_PAPER)
RULE_IDS = CANDIDATE_RULES
#: Every candidate rule is on by default, `judge_unclear` included: when a verdict cannot be
#: established the candidate is rejected with the reason, because a false rejection costs
#: one call (the parent is evolved again) and a false acceptance pollutes the dataset.
DEFAULT_ENABLED: tuple[str, ...] = CANDIDATE_RULES
