"""The elimination rules, as a staged pipeline whose every verdict names its rule and
carries its evidence.

Stages, in the order the engine runs them (cheapest first, so a lost candidate costs no
further calls):

- rewrite (`extract`): take the instruction out of the evolver's reply and reject one that
  cannot be used (``rewrite_invalid``: empty, cut off, filtered, a refusal, only stop words,
  a judge verdict or a marker alone, ...; ``no_information_gain`` when it repeats its parent).
- instruction (`wording`): rule 4, ``copied_prompt_wording``.
- judge (`judge`): rule 1, ``no_information_gain``, from an LLM judge asked for JSON;
  ``judge_unclear`` (off by default) rejects when the judge stays unreadable.
- answer (`answer`): rules 2 and 3 (``sorry_short_answer``, ``stopwords_only_answer``) and,
  beyond the paper, ``answer_refusal``, ``answer_truncated``, ``answer_filtered``.

`RuleConfig.paper()` runs the paper's rules only. The dataset stage (``duplicate``,
``contaminated``) is named in `RuleId` and lives elsewhere.

Names are imported on first use (`evolviz.lazy`): `evolviz show` needs `RULE_IDS`, not the
judge reader's compiled patterns. `extract` and `task_shape` are functions of modules of
the same name: import them from there (`from evolviz.rules.extract import extract`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_names

if TYPE_CHECKING:
    from .answer import answer_refusal, sorry_short_answer, stopwords_only_answer
    from .extract import check_rewrite, extract_instruction, identical_instructions
    from .ids import BEYOND_PAPER, DEFAULT_ENABLED, PAPER_RULES, RULE_IDS, RuleId, Stage
    from .judge import (
        DIFFICULTY_FORMAT,
        EQUALITY_FORMAT,
        equality_verdict,
        parse_difficulty,
        parse_equality,
        read_equality,
    )
    from .stages import (
        DIFFICULTY_REASK,
        EQUALITY_REASK,
        OperatorView,
        answer_stage,
        check_stage,
        instruction_stage,
        judge_stage,
        rewrite_stage,
        unusable,
    )
    from .task_shape import task_verdict
    from .text import STOP_WORDS, content_words, word_count, words
    from .verdict import RuleConfig, Verdict
    from .wording import DEFAULT_MARKERS, copied_prompt_wording

#: Public name -> its module.
_NAMES: dict[str, str] = {
    "answer_refusal": ".answer",
    "sorry_short_answer": ".answer",
    "stopwords_only_answer": ".answer",
    "check_rewrite": ".extract",
    "extract_instruction": ".extract",
    "identical_instructions": ".extract",
    "BEYOND_PAPER": ".ids",
    "DEFAULT_ENABLED": ".ids",
    "PAPER_RULES": ".ids",
    "RULE_IDS": ".ids",
    "RuleId": ".ids",
    "Stage": ".ids",
    "DIFFICULTY_FORMAT": ".judge",
    "EQUALITY_FORMAT": ".judge",
    "equality_verdict": ".judge",
    "parse_difficulty": ".judge",
    "parse_equality": ".judge",
    "read_equality": ".judge",
    "DIFFICULTY_REASK": ".stages",
    "EQUALITY_REASK": ".stages",
    "OperatorView": ".stages",
    "answer_stage": ".stages",
    "check_stage": ".stages",
    "instruction_stage": ".stages",
    "judge_stage": ".stages",
    "rewrite_stage": ".stages",
    "unusable": ".stages",
    "task_verdict": ".task_shape",
    "STOP_WORDS": ".text",
    "content_words": ".text",
    "word_count": ".text",
    "words": ".text",
    "RuleConfig": ".verdict",
    "Verdict": ".verdict",
    "DEFAULT_MARKERS": ".wording",
    "copied_prompt_wording": ".wording",
}

__all__ = [
    "BEYOND_PAPER", "DEFAULT_ENABLED", "DEFAULT_MARKERS", "DIFFICULTY_FORMAT",
    "DIFFICULTY_REASK", "EQUALITY_FORMAT", "EQUALITY_REASK", "PAPER_RULES", "RULE_IDS",
    "STOP_WORDS", "OperatorView", "RuleConfig", "RuleId", "Stage", "Verdict",
    "answer_refusal", "answer_stage", "check_rewrite", "check_stage", "content_words",
    "copied_prompt_wording", "equality_verdict", "extract_instruction",
    "identical_instructions", "instruction_stage", "judge_stage", "parse_difficulty",
    "parse_equality", "read_equality", "rewrite_stage", "sorry_short_answer",
    "stopwords_only_answer", "task_verdict", "unusable", "word_count", "words",
]
__getattr__, __dir__ = lazy_names(__name__, _NAMES)
