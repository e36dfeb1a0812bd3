"""The panel's widget: synced state only. All behaviour lives in `evolviz.panel.Explorer`.

The front end (js/, built into evolviz/static/) draws this state and sends actions back as
messages, each one declared in actions.py (synced here read-only as `actions`). Every
trait's value has a schema in state.py; `Record` refuses a key the schema does not
declare, so Python and js/ cannot drift apart silently. Nothing here may hold an API key:
widget state is saved into notebooks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anywidget
import traitlets as t

from . import state
from .actions import synced

__all__ = ["ExplorerWidget", "Record"]

_STATIC = Path(__file__).resolve().parents[1] / "static"


class Record(t.Dict):
    """A dict trait typed by a TypedDict: a key outside the schema is an error, and so is
    a required key missing from a non-empty value ({} means "nothing yet")."""

    def __init__(self, schema: type, default_value: Any = None, **kwargs: Any):
        self.schema = schema
        super().__init__(default_value=dict(default_value or {}), **kwargs)

    def validate(self, obj: Any, value: Any) -> Any:
        value = super().validate(obj, value)
        if value:
            keys = set(value)
            unknown = keys - set(self.schema.__annotations__)
            missing = set(self.schema.__required_keys__) - keys
            if unknown or missing:
                problems = [f"unknown key(s) {sorted(unknown)}" if unknown else "",
                            f"missing key(s) {sorted(missing)}" if missing else ""]
                where = f"{self.name}: " if self.name else ""
                raise t.TraitError(f"{where}not a {self.schema.__name__}: "
                                   + "; ".join(p for p in problems if p))
        return value


class ExplorerWidget(anywidget.AnyWidget):
    _esm = _STATIC / "widget.js"
    _css = _STATIC / "widget.css"

    #: The actions the front end may send (actions.ACTIONS), read-only.
    actions = t.Dict(synced(), read_only=True).tag(sync=True)
    status = Record(state.Status).tag(sync=True)
    settings = Record(state.SettingsForm).tag(sync=True)
    options = Record(state.FilterOptions).tag(sync=True)
    query = Record(state.QueryState, {"offset": 0, "limit": 200}).tag(sync=True)
    page = Record(state.PageState).tag(sync=True)
    selected_id = t.Unicode("").tag(sync=True)
    detail = Record(state.CandidateDetail).tag(sync=True)
    lineage = t.List(Record(state.LineageStepState)).tag(sync=True)
    templates = t.Dict(value_trait=Record(state.TemplateState)).tag(sync=True)
    template_focus = Record(state.TemplateFocus).tag(sync=True)
    template_result = Record(state.TemplateResult).tag(sync=True)
    reapply_result = Record(state.ReapplyResult).tag(sync=True)
    comparison = Record(state.Comparison).tag(sync=True)
    revision = Record(state.Revision).tag(sync=True)
