"""The panel's template editor: check, preview, re-run and save an edited template, and
"Suggest a revision", beside the run and never in it."""

import asyncio

import pytest

from evolviz.panel import Explorer

from .conftest import TINY, explorer, press


async def test_template_check_preview_rerun_and_save(server, tmp_path):
    ex = explorer(server, tmp_path)
    await press(ex, "step")
    t = dict(ex.widget.templates["deepening"])
    bad = {**t, "user": t["user"].replace("{{instruction}}", "{{instrution}}")}
    await press(ex, "template_check", template=bad, instruction="Say hi.")
    assert "instrution" in ex.widget.template_result["errors"][0]
    edited = {**t, "user": t["user"] + "\nBe brief."}
    await press(ex, "template_check", template=edited, instruction="Say hi.")
    preview = ex.widget.template_result["preview"]
    assert preview[-1]["content"].endswith("Be brief.") and "Say hi." in preview[-1]["content"]
    first = ex.widget.page["rows"][0]["id"]
    ex.select(first)
    ex.act("template_rerun", template=edited, candidate_id=first)
    for _ in range(100):
        await asyncio.sleep(0.05)
        if "rerun" in ex.widget.template_result:
            break
    rerun = ex.widget.template_result["rerun"]
    assert set(rerun) >= {"old", "new"} and rerun["messages"][-1]["content"].endswith("Be brief.")
    assert ex.store.candidate_count() == 8  # a re-run is a what-if, never stored
    out = tmp_path / "mine" / "deepening.toml"
    await press(ex, "template_save", template=edited, path=str(out))
    assert out.exists() and "Be brief." in out.read_text()


async def test_suggest_a_revision_fixes_a_planted_flaw_beside_the_run(tmp_path, fake_llm):
    """The editor's "Suggest a revision" on the demo seeds: the evolver restores the line
    the broken mutation template lost, the paired test keeps it, each step reaches the
    widget with its diff and numbers, and the run itself is untouched."""
    from conftest import broken_mutation

    ex = Explorer(TINY, base_url=fake_llm.base_url, model="fake-model", maps=False,
                  store=tmp_path / "run.db", templates=broken_mutation(tmp_path / "broken"))
    seen = []
    ex.widget.observe(lambda ch: seen.append(ch["new"].get("doing")), names="revision")
    t = dict(ex.widget.templates["mutation"])
    await press(ex, "template_suggest", template=t, steps=2, dev=8)
    await ex.revisions.task
    r = ex.widget.revision
    assert not r["running"] and r["error"] is None and r["dev"] == 8
    steps = r["steps"]
    assert steps[0]["status"] == "baseline" and steps[0]["failure_rate"]["value"] > 0.9
    assert steps[1]["status"] == "kept" and steps[1]["p"] < 0.05
    assert steps[1]["failure_rate"]["value"] < steps[0]["failure_rate"]["value"]
    assert "+#New Task#" in steps[1]["diff"] and steps[1]["tokens"] > 0
    assert "revision_call" not in steps[1]  # its messages stay in the store, not the widget
    assert r["best"]["step"] == 1 and "#New Task#" in r["best"]["template"]
    assert any(d and d.startswith("step 1 of 2: evolving") for d in seen)  # live progress
    assert "kept step 1" in ex.widget.status["message"]

    # Every call is in a store of its own beside the run's; the run has none of them.
    from evolviz.store import RunStore

    assert r["store"] == str(tmp_path / "run.optimize-mutation-1.db")
    with RunStore(r["store"], create=False, readonly=True) as opt:
        assert opt.candidate_count() == 16 and opt.get_meta("optimize")["steps"][1][
            "revision_call"]["messages"]
    assert ex.store.candidate_count() == 0
    assert "#New Task#" not in ex.templates.operators["mutation"].user  # a suggestion only

    # A second one gets the next free store; a non-operator template is refused by name.
    assert ex.revisions.store_for("mutation").name == "run.optimize-mutation-2.db"
    await press(ex, "template_suggest", template=dict(ex.widget.templates["answer"]))
    assert ex.widget.status["error"] and "operators' rewrite prompts" in ex.widget.status[
        "message"]
    assert ex.widget.revision["best"]["step"] == 1  # the last suggestion stays shown


async def test_a_revision_loop_stops_and_waits_for_no_run(server, tmp_path):
    ex = explorer(server, tmp_path)
    t = dict(ex.widget.templates["deepening"])
    task = ex.act("template_suggest", template=t, steps=3, dev=8)
    with pytest.raises(Exception, match="revision is being evaluated"):
        ex.start(1)
    while not (ex.widget.revision.get("doing") or "").startswith("baseline"):
        await asyncio.sleep(0.01)
    await press(ex, "stop")  # mid-flight: the baseline's calls are out
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not ex.revisions.running and "stopped" in ex.widget.revision["error"]
    await press(ex, "step")
    assert ex.store.candidate_count() == 8
