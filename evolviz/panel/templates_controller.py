"""The template editor's side in Python: check, preview, re-run one candidate, apply, save.

Kept apart from the `Explorer` facade because it is the panel's one piece of real logic
that spends money (a re-run makes LLM calls) and writes files.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from ..errors import EvolvizError, TemplateError
from ..records import Candidate, PoolMember, seed_text
from ..run.engine import evolve_candidate
from ..run.session import RunSession
from ..templates import ROLE_PLACEHOLDERS, Template, parse_template

__all__ = ["TemplatesController", "template_fields", "template_state"]

_FIELDS = ("name", "role", "kind", "description", "placeholders", "markers", "system", "user",
           "style", "stop")


def template_fields(d: dict[str, Any]) -> dict[str, Any]:
    """The fields of an edited template as the form sends them (empty ones dropped)."""
    out = {k: d[k] for k in _FIELDS if k in d and d[k] not in (None, "")}
    out.setdefault("placeholders", [])
    return out


def template_state(t: Template) -> dict[str, Any]:
    return {"name": t.name, "role": t.role, "kind": t.kind, "system": t.system,
            "user": t.user, "placeholders": list(t.placeholders),
            "allowed": sorted(ROLE_PLACEHOLDERS[t.role]), "markers": list(t.markers),
            "description": t.description, "path": t.path, "style": t.style,
            "stop": list(t.stop)}


class TemplatesController:
    """Answers the template editor's actions against one run session."""

    def __init__(self, session: RunSession, widget: Any, say: Callable[[str], None]):
        self.session = session
        self.widget = widget
        self.say = say
        self.last_rerun: Candidate | None = None

    def push(self) -> None:
        self.widget.templates = {t.name: template_state(t)
                                 for t in self.session.templates.all()}

    def default_instruction(self, given: str | None) -> str:
        """What a preview fills in: the instruction given, else the selected candidate's
        parent, else the run's first seed."""
        if given:
            return given
        detail = self.widget.detail or {}
        seeds = self.session.store.seed_rows()
        first = seed_text(seeds[0]["instruction"], seeds[0]["input"] or "") if seeds else ""
        return detail.get("parent_instruction") or first

    def check(self, content: dict[str, Any]) -> None:
        fields = template_fields(content["template"])
        name = fields.get("name", "")
        try:
            t = parse_template(fields, path=f"(edited {name})")
        except TemplateError as e:
            self.widget.template_result = {"name": name, "errors": [str(e)], "preview": []}
            return
        text = self.default_instruction(content.get("instruction"))
        self.widget.template_result = {"name": name, "errors": [],
                                       "preview": t.render(**dict.fromkeys(t.placeholders,
                                                                           text))}

    async def rerun(self, content: dict[str, Any],
                    client: Callable[[], Awaitable[Any]]) -> None:
        """Evolve a stored candidate's parent again with the edited template; compare."""
        store = self.session.store
        cid = content.get("candidate_id") or ""
        old = store.candidate(cid)
        fields = template_fields(content["template"])
        name = fields.get("name", "")
        if old is None:
            self.widget.template_result = {"name": name, "errors": [
                "select a candidate first (the re-run evolves its parent again)"]}
            return
        t = parse_template(fields, path="(panel)")
        templates = self.session.templates.replace(t)
        operator = t.name if t.role == "operator" else old.operator
        self.widget.template_result = {"name": name, "errors": [], "running": True}
        parent = PoolMember(old.parent_id, old.seed_id, old.generation - 1,
                            old.parent_instruction)
        new = await evolve_candidate(parent, operator, generation=old.generation,
                                     slot=old.slot, client=await client(),
                                     templates=templates, config=self.session.config)
        keep = ("status", "rejected_by", "instruction", "answer", "error")
        self.widget.template_result = {
            "name": name, "errors": [],
            "rerun": {"old": {k: getattr(old, k) for k in keep},
                      "new": {k: getattr(new, k) for k in keep},
                      "messages": new.calls["rewrite"].messages if "rewrite" in new.calls
                      else []},
        }
        self.last_rerun = new

    def apply(self, content: dict[str, Any]) -> None:
        t = parse_template(template_fields(content["template"]), path="(panel)")
        self.session.configure(templates=self.session.templates.replace(t))
        self.push()
        self.say(f"template {t.name!r} will be used from the next generation on")

    def save(self, content: dict[str, Any]) -> None:
        path = str(content.get("path") or "").strip()
        fields = template_fields(content["template"])
        if not path:
            raise EvolvizError("give a file path to save the template to")
        t = parse_template(fields, path=path)
        target = Path(path)
        if target.suffix != ".toml":
            target = target.with_suffix(".toml")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(t.to_toml(), encoding="utf-8")
        self.widget.template_result = {"name": t.name, "errors": [], "saved": str(target)}
        self.say(f"saved template {t.name!r} to {target}")
