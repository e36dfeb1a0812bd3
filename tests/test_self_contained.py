"""A rewrite must hold what it refers to: the check that catches a small evolver losing
its data (written after reading the fresh held-out run, tests/local_labels/fresh_*.jsonl),
and the shapes of real tasks with data that it must let through."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from evolviz.rules.self_contained import problem
from evolviz.rules.task_shape import reads_as_request, task_shape, task_verdict

from conftest import REFDATA

TRANSLATE = "Translate the sentence below into Spanish.\n\nThe shop closes at six in the evening."
SUMMARIZE = ("Summarize the paragraph below in one sentence.\n\nThe town library will close "
             "for repairs in May and reopen in September with a new children's room.")
TABLE = "| month | mm |\n|---|---|\n| March | 40 |\n| April | 12 |"

BROKEN = [
    # The few-shot separator half-written, then the model's next example.
    ("Write a caption for a photo of a mountain lake.\n\nTitle: Iceberg in the Grand Canyon"
     "\n\n##\n\nWhat's the most surreal experience you've had?", "x", "runs_on"),
    ("What makes a thunderstorm occur.\n\n##\nIn this task you will have to write a Python "
     "function that returns the short words of a list.", "What causes thunder?", "runs_on"),
    ("Explain tides.\n###\nWrite a haiku about the moon.", "Explain tides.", "runs_on"),
    # The parent's data dropped, the words that referred to it kept.
    ("Translate the sentence into Spanish, using the correct grammar.", TRANSLATE,
     "missing_input"),
    ("Summarize the paragraph in a single sentence.", SUMMARIZE, "missing_input"),
    ("Sort these words by length.", "Sort words.", "missing_input"),
    # New data that no words point at: a table, code, JSON, a line of numbers.
    (f"Explain what weathering and erosion are in simple terms.\n\n{TABLE}",
     "Explain the difference between weathering and erosion.", "unreferenced_data"),
    ("Write a function that counts the vowels in a string of text.\n\n```python\n"
     "def count_vowels(text):\n    return len([c for c in text if c != 'aeiou'])\n```",
     "Write a Python function that counts the vowels in a string.", "unreferenced_data"),
    ('Describe a good breakfast.\n\n{"eggs": 2, "toast": 1}', "Describe breakfast.",
     "unreferenced_data"),
    ("Compute the mean.\n\n4, 8, 15, 16, 23", "Compute a mean.", "unreferenced_data"),
    # After the request, statements that neither ask nor instruct: an answer posing as data.
    ("What is the main organ of the human respiratory system?\n\nThe main organ of the "
     "human digestive system is the stomach, and that of the respiratory system is the nose.",
     "What are the main organs of the human digestive system?", "unreferenced_data"),
    ("Speed can be measured in seconds or miles per hour, but what does that mean?\n\n"
     "Speed = 5mph (100 m/s)\nVocity = 4mph (16 km/h)",
     "Explain the difference between speed and velocity.", "unreferenced_data"),
]


@pytest.mark.parametrize(("text", "parent", "cause"), BROKEN)
def test_a_rewrite_that_loses_or_strays_from_its_data_is_not_a_task(text, parent, cause):
    found = problem(text, parent, reads_as_request, pattern=True)
    assert found is not None and found[0] == cause
    verdict = task_verdict(text, parent, pattern=True)
    assert not verdict.passed
    assert verdict.detail == {"decided_by": "check", "cause": cause, "matched": found[1]}
    assert verdict.reason


HELD = [
    # The parent's data carried along.
    ("Translate the sentence below into Spanish, keeping the tense.\n\nThe shop closes at "
     "six in the evening.", TRANSLATE),
    # Data the request points at, as strong models write it.
    (f"Given the table below, find the month with the most rain.\n\n{TABLE}", "x"),
    (f"Using the data, find the driest month and explain why.\n\n{TABLE}", "x"),
    ("Calculate the average of the numbers and their median.\n\n4, 8, 15, 16, 23", "x"),
    ("Write a SQL query that lists customers with two orders, for this schema:\n\n```sql\n"
     "CREATE TABLE orders (id INT, customer_id INT, placed DATE);\n```", "x"),
    ("Find the bug and fix it.\n\nHere is my code:\n```python\ndef add(a, b):\n"
     "    return a - b\n```", "x"),
    ("Write a SQL query that returns the customers who ordered twice.\n\n"
     "Table: orders(id, customer_id, placed)", "x"),
    ('Parse the JSON and print each name.\n\n[{"name": "Ada"}, {"name": "Alan"}]', "x"),
    # Other languages point at their data in their own words.
    (f"Dada la siguiente tabla, calcula la media.\n\n{TABLE}", "x"),
    (f"Berechne den Mittelwert der folgenden Tabelle.\n\n{TABLE}", "x"),
    (f"请根据下面的表格计算平均值。\n\n{TABLE}", "x"),
    (f"Вычислите среднее по данным ниже.\n\n{TABLE}", "x"),
    (f"次の表から平均を計算してください。\n\n{TABLE}", "x"),
    # A second paragraph of instructions is not data; a heading is not a separator.
    ("Write a story about a lighthouse keeper.\n\nThe story should be told in the first "
     "person and end with a twist.", "Write a story about a lighthouse keeper."),
    ("## Task\nWrite a poem about rain.\n\n## Rules\nFour lines, no rhyme.", "x"),
    # Material the request names, or under a label; context before the request; a bare
    # constraint after it.
    ("Rewrite the paragraph to be more formal.\n\nHey guys, the meeting's moved to 3, "
     "bring your laptops.", "x"),
    ("Summarize it for a ten-year-old.\n\nArticle: The city council voted on Tuesday to "
     "turn the old railway yard into a public park.", "x"),
    ("You are a travel agent.\n\nThe family likes hiking and museums and has $3,000.\n\n"
     "Plan a seven-day trip for them.", "x"),
    ("Write a poem about rain.\n\nFour lines, no rhyme.", "Write a poem."),
    # "the sentence structure" is a compound, not the parent's sentence.
    ("Explain the sentence structure of German questions.", TRANSLATE),
]


@pytest.mark.parametrize(("text", "parent"), HELD)
def test_tasks_that_hold_and_point_at_their_data_pass(text, parent):
    assert problem(text, parent, reads_as_request, pattern=True) is None
    assert task_verdict(text, parent, pattern=True).passed


UNPOINTED = [(t, p) for t, p, cause in BROKEN if cause == "unreferenced_data"]


@pytest.mark.parametrize(("text", "parent"), UNPOINTED)
def test_unpointed_material_from_a_chat_evolver_passes(text, parent):
    """People write a task and then its material with no word pointing at it (below): the
    shape says something only of a few-shot evolver that continues a pattern."""
    assert problem(text, parent, reads_as_request) is None
    assert task_verdict(text, parent).passed


def test_real_alpaca_tasks_pass_the_check() -> None:
    """2,000 real Alpaca tasks (instruction, then its input as a second block), written by
    people and never tuned on when the checks were built: none is rejected for its data,
    and the check's other causes reject at most the share measured when this test was
    written (129, 6.5%, almost all `no_request`: verbs left out because answers' steps
    start with them too, "Add", "Take", "Put"). With `pattern` (a few-shot evolver),
    `unreferenced_data` would reject 132 more: why it is kept to such evolvers."""
    rows = json.loads((REFDATA / "alpaca" / "alpaca_cleaned_sample2000.json").read_text())
    texts = [r["instruction"] + (f"\n\n{r['input']}" if r.get("input") else "") for r in rows]
    causes = Counter(task_shape(t).cause for t in texts)
    assert len(texts) == 2000
    assert causes["missing_input"] + causes["unreferenced_data"] + causes["runs_on"] == 0
    assert sum(n for c, n in causes.items() if c is not None) <= 129, causes
    with_pattern = Counter(task_shape(t, pattern=True).cause for t in texts)
    assert with_pattern["unreferenced_data"] > 100  # the shape is common in real tasks
