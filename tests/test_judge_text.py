"""A verdict is read from a judge's explicit statement, never from a word that occurs.

Each reply below contains a verdict word ("same", "equal", "different", "harder", or the
same in another language) in a position that states no verdict; each must read as unclear
(then re-asked, then rejected as judge_unclear). Beside them, explicit statements in the
same words must read as the verdict they state.
"""

from __future__ import annotations

import pytest

from evolviz.rules import read_equality

INCIDENTAL = [
    "#Harder Task# Explain how a refrigerator keeps food cold in three steps.",
    "Task B is harder: it asks for a table as well.",
    "Both tasks cover the same topic; B adds a word limit.",
    "Task B asks for the same explanation plus a comparison.",
    "The second task has a different tone.",
    "Equal attention is given to both parts of Task B.",
    "Task B keeps the same subject but is more specific.",
    "Different people might answer these differently.",
    "Is task B the same as task A? Let me think.",
    "The same question could be asked about freezers.",
    "Task B is more demanding and more detailed.",
    "A harder version would add a constraint on length.",
    "La tarea B trata el mismo tema pero pide más detalles.",
    "Aufgabe B behandelt dasselbe Thema ausführlicher und verlangt eine Tabelle.",
    "La tâche B porte sur le même sujet avec une contrainte de longueur en plus.",
    "Задача B о той же теме, но требует больше деталей и одного примера.",
    "任务B讨论相同的话题，但要求更多细节和一个例子，并且字数限制为一百字。",
    "タスクBは同じ話題ですが、より詳しい説明と例を一つ求め、百字以内で答えるよう求めています。",
]

EXPLICIT = {
    "They are the same.": "equal",
    "They're essentially the same task.": "equal",
    "Task B is not equal to Task A.": "not_equal",
    "The two tasks are different.": "not_equal",
    "They differ only in wording.": "equal",
    "There is no real difference between them.": "equal",
    "Verdict: not equal": "not_equal",
    "Final answer: equal": "equal",
    "Task B is harder, so they are not the same.": "not_equal",
    "They are equal, not different in any way.": "equal",
    "The tasks are not equal, although they share the same topic.": "not_equal",
    "Not the same": "not_equal",
    "different": "not_equal",
    " same": "equal",
    "Yes, they are the same.": "equal",
    "No, Task B asks for more.": "not_equal",
    "Son diferentes.": "not_equal",
    "Sie sind gleich.": "equal",
    "Elles ne sont pas identiques.": "not_equal",
    "Они одинаковые.": "equal",
    "不相同": "not_equal",
    "同じです。": "equal",
    "同じではありません。": "not_equal",
}


@pytest.mark.parametrize("reply", INCIDENTAL)
def test_an_incidental_verdict_word_is_no_verdict(reply: str) -> None:
    verdict, how, _ = read_equality(reply)
    assert verdict == "unclear", (reply, how)


@pytest.mark.parametrize(("reply", "expected"), EXPLICIT.items())
def test_an_explicit_statement_is_read(reply: str, expected: str) -> None:
    verdict, how, words = read_equality(reply)
    assert verdict == expected, (reply, how, words)
    assert words, "the words read are kept as evidence"


def test_statements_that_disagree_are_unclear() -> None:
    verdict, how, words = read_equality("They are different. On reflection, they are the same.")
    assert (verdict, how) == ("unclear", "conflict") and "different" in words


def test_a_label_outranks_the_reasoning_before_it() -> None:
    reply = "At first they look the same, but B adds a limit.\nVerdict: not equal"
    assert read_equality(reply)[:2] == ("not_equal", "label")
