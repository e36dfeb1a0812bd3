"""The verdicts beyond the paper, as a person reads them in the card, in a real chromium.

tests/browser/verdicts.ipynb scripts an endpoint whose replies are the failures these
rules exist for: an evolver that answers its seed (the judge says so in its structured
reply), one that asks the user a question back (the judge answers in prose, so the check
that needs no model decides), and an answer that repeats its instruction. The card must
name each rule, give its reason, and show its evidence, including who decided.
"""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import expect

from .browser import screenshot
from .notebook import open_and_run_notebook

VERDICTS_NB = Path(__file__).with_name("verdicts.ipynb")


def _open_card(page, text: str):
    page.locator(".evz-root .evz-row", has_text=text).first.click()
    card = page.locator(".evz-card")
    expect(card).to_contain_text(text)
    return card


def _evidence(card, rule: str) -> dict[str, str]:
    item = card.locator(f".evz-verdicts .evz-fail[data-rule='{rule}']")
    expect(item).to_be_visible()
    keys = item.locator(".evz-evidence dt").all_inner_texts()
    values = item.locator(".evz-evidence dd").all_inner_texts()
    return dict(zip(keys, values, strict=True))


def test_the_card_shows_each_new_rules_reason_and_evidence(page, jupyter_server):
    run = open_and_run_notebook(page, jupyter_server, VERDICTS_NB, timeout=300)
    run.assert_clean()
    page.locator(".evz-step").click()
    expect(page.locator(".evz-pill")).to_have_text("next: generation 2", timeout=120_000)
    expect(page.locator(".evz-root .evz-count")).to_have_text("8 candidates")

    # An answer to the seed, stored as an instruction: the judge's structured reply said so.
    card = _open_card(page, "The sky looks blue because")
    expect(card.locator(".evz-banner-rejected")).to_contain_text(
        "Rejected by not_a_task — judge: not a task for an assistant (it answers Task A")
    evidence = _evidence(card, "not_a_task")
    assert evidence["decided_by"] == "judge", evidence
    assert '"task": false' in evidence["judge_text"], evidence

    # A question back to the user; the judge answered in prose, so the check decided.
    card = _open_card(page, "Could you tell me a bit more about the coffee shop")
    expect(card.locator(".evz-banner-rejected")).to_contain_text(
        "Rejected by not_a_task — the rewrite asks the user a question back")
    evidence = _evidence(card, "not_a_task")
    assert evidence["decided_by"] == "check" and evidence["cause"] == "asks_user", evidence
    assert evidence["matched"] == "Could you tell me", evidence

    # An answer that repeats its instruction.
    card = _open_card(page, "Describe how to boil an egg")
    expect(card.locator(".evz-banner-rejected")).to_contain_text(
        "Rejected by answer_echo — the answer repeats the instruction")
    evidence = _evidence(card, "answer_echo")
    assert evidence["share"] == "1" and evidence["new_words"] == "[]", evidence
    screenshot(page, "panel-verdicts")

    # The list's rule filter offers the new rules and narrows to them.
    page.locator("select[data-filter='rule']").select_option("not_a_task")
    expect(page.locator(".evz-root .evz-count")).to_have_text("2 candidates")
    assert not run.log.page_errors, run.log.page_errors
