"""The check that needs no model: is a rewrite a task at all?

It must pass every rewrite the team corpus expects to be kept (a false rejection costs a
call, but a check that rejects real tasks makes the explorer useless), and reject the
kinds of non-task a weak evolver writes, each with its cause.
"""

from __future__ import annotations

import pytest

from evolviz.calls import CallName
from evolviz.rules.extract import extract
from evolviz.rules.task_shape import task_shape, task_verdict
from evolviz.templates import TemplateSet
from evolviz.testing.corpus import load_cases

from conftest import ROOT

CASES = load_cases(ROOT / "tests" / "verdict_corpus", list(TemplateSet.load().operators))
KEPT = [c for c in CASES if c.expect["status"] == "accepted"]


@pytest.mark.parametrize("case", KEPT, ids=[c.id for c in KEPT])
def test_every_kept_corpus_rewrite_reads_as_a_task(case) -> None:
    reply = case.replies[CallName.REWRITE]
    text = extract(getattr(reply, "content", reply)).text
    shape = task_shape(text, case.parent)
    assert shape.is_task, (case.id, shape.cause, shape.matched, text)


NOT_TASKS = [
    ("I'm glad you asked! Let's make it more interesting together.", "talks_to_user"),
    ("Sure, I can do that for you.", "talks_to_user"),
    ("Here's a rewritten version of your original task with more detail.", "talks_to_user"),
    ("The original task was more focused on cooking than on cleaning.", "describes_editing"),
    ("This version now requires a comparison with freezers.", "describes_editing"),
    ("What type of game are you working on? Do you want me to suggest three?", "asks_user"),
    ("No description yet. Please provide details about your task.", "asks_user"),
    ("def largest(xs):\n    return max(xs)", "code_not_task"),
    ("The sun smiled down on the weathered tin roof as the scent of dew filled the air.",
     "no_request"),
    ("Inflation is a general rise in prices that reduces what money can buy.", "no_request"),
    ("Le boulanger ferme la boutique à midi.", "no_request"),
    ("To make this task harder, I added a limit on the number of steps.", "describes_editing"),
    ("Rewrite it, adding 10 to 20 words.", "describes_editing"),
    ("Can you provide more details about the game you have in mind?", "asks_user"),
    ("What kind of story are you looking for?", "asks_user"),
]


@pytest.mark.parametrize(("text", "cause"), NOT_TASKS)
def test_non_tasks_are_rejected_with_their_cause(text: str, cause: str) -> None:
    shape = task_shape(text, "Explain how a refrigerator keeps food cold.")
    assert (shape.is_task, shape.cause) == (False, cause), shape
    verdict = task_verdict(text)
    assert not verdict.passed and verdict.detail["decided_by"] == "check"
    assert verdict.detail["cause"] == cause and verdict.reason


TASKS = [
    "Write a poem about a cat eating its own ears.",
    "Why does the sky appear blue on Earth but red on Mars?",
    "Given the table below, find the month with the most rain.\n\n| month | mm |\n|---|---|",
    "Can you explain how a heat pump works?",
    "I need a packing list for a weekend trip to the mountains in winter.",
    "Explica por qué el cielo es azul.",
    "Erkläre, warum der Himmel blau ist.",
    "Объясни, почему небо голубое.",
    "请解释为什么天空是蓝色的。",
    "空が青い理由を説明してください。",
    "```python\nfor i in range(3):\n    print(i)\n```\nExplain what the loop above prints.",
    # Real Alpaca tasks the check once rejected (refdata's alpaca_cleaned_sample2000).
    "Rewrite the phrase to make it more formal and appropriate for a professional setting."
    "\n\nIt's my way or the highway.",
    "Can you provide a recipe for an easy, healthy snack?",
    "Imagine you are an animal, what kind of animal are you?",
    "Generate an example for the given task.\n\nClassification Task",
    "Rewrite the following text and add 100 words of detail to make the story richer.\n\n"
    "James went to the store to buy groceries.",
    "Come up with three funny jokes for a stand-up comedy routine.",
    "Devise a marketing campaign to promote a children's toy company.",
    "Given a football team, come up with a clever team name.",
    "Choose a statement that is true about the following two numbers: 24 and 36",
]


@pytest.mark.parametrize("text", TASKS)
def test_tasks_in_many_shapes_and_languages_pass(text: str) -> None:
    shape = task_shape(text, "Explain why the sky is blue.")
    assert shape.is_task, (shape.cause, shape.matched)
