"""The panel's actions, declared once: what the front end may ask the kernel to do.

The table is synced read-only to the front end (the `actions` trait, as jupyter-scatter
syncs its `event_types`): js/protocol.js sends an action by its key and refuses a key or
a payload field the table does not declare, and `Explorer.act` dispatches by the same
table, so a button, a notebook cell and a test all take one path.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ACTIONS", "Action", "by_name", "synced"]


@dataclass(frozen=True)
class Action:
    """One action: its wire name, the payload fields it takes, and what it does."""

    name: str
    payload: tuple[str, ...] = ()
    doc: str = ""


#: Key (what js/ writes) -> action. Keep the keys the names in upper case.
ACTIONS: dict[str, Action] = {
    "STEP": Action("step", (), "evolve one generation"),
    "RUN": Action("run", ("n",), "evolve n generations"),
    "STOP": Action("stop", (), "cancel the calls in flight (a run, or a revision loop)"),
    "LINEAGE": Action("lineage", ("seed_id",), "show a seed and every attempt on its slot"),
    "REAPPLY": Action("reapply", (), "re-apply rules 2-4 and the gates: a what-if, no call"),
    "COMPARE": Action("compare", ("path",), "compare this run with another stored run"),
    "COMPARE_CLEAR": Action("compare_clear", (), "clear the comparison and its overlay"),
    "TEMPLATE_CHECK": Action("template_check", ("template", "instruction"),
                             "check an edited template and preview it filled in"),
    "TEMPLATE_RERUN": Action("template_rerun", ("template", "candidate_id"),
                             "evolve a candidate's parent again with an edited template"),
    "TEMPLATE_APPLY": Action("template_apply", ("template",),
                             "use an edited template from the next generation on"),
    "TEMPLATE_SAVE": Action("template_save", ("template", "path"),
                            "save an edited template as a TOML file"),
    "TEMPLATE_SUGGEST": Action("template_suggest", ("template", "steps", "dev"),
                               "let the evolver revise an operator template"),
    "TEMPLATE_SUGGEST_STOP": Action("template_suggest_stop", (),
                                    "stop the revision loop"),
}


def by_name(name: str) -> Action | None:
    """The action sent as `name` (its wire name), if the table declares it."""
    return _BY_NAME.get(name)


def synced() -> dict[str, dict[str, object]]:
    """The table as the front end reads it: key -> {name, payload}."""
    return {key: {"name": a.name, "payload": list(a.payload)} for key, a in ACTIONS.items()}


_BY_NAME = {a.name: a for a in ACTIONS.values()}
