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
    RuleId.ANSWER_REFUSAL, RuleId.ANSWER_TRUNCATED, RuleId.ANSWER_FILTERED,
    RuleId.JUDGE_UNCLEAR))
#: The rules the per-candidate stages implement (what the panel offers as switches).
CANDIDATE_RULES: tuple[str, ...] = (*PAPER_RULES, *BEYOND_PAPER)
RULE_IDS = CANDIDATE_RULES
#: An unclear judge keeps its candidate unless asked otherwise: dropping a good candidate
#: on a small model's noise costs more than keeping a doubtful one.
DEFAULT_ENABLED: tuple[str, ...] = tuple(r for r in CANDIDATE_RULES
                                         if r != RuleId.JUDGE_UNCLEAR)
