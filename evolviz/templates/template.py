"""Prompt templates as data files, checked when they load.

Templates are TOML files so that a person debugging a prompt edits text, not Python. Each
declares the placeholders it uses; a declared placeholder that the text never uses, or a
used one that is not declared or not allowed for the template's role, is an error naming
the file. That catches the commonest template bug (a typo in `{{instruction}}`) before a
single paid call is made.

Placeholders are written `{{name}}`. Single braces are left alone because the
complicate-input operator shows JSON and code, which are full of them.

Two prompt styles (`PROMPT_STYLES`), each a folder of built-in files:

- ``chat``: a system and a user message, the paper-faithful editing instructions; what a
  capable chat model follows.
- ``few_shot``: one text the model continues, through an endpoint's completions API
  (`style = "completion"` in the file): a short frame, worked examples, and the task left
  open after its label, ended by the template's `stop` strings. A 135M model cannot follow
  a long editing instruction but continues a pattern (docs/local_model.md measures it).

A style names a set of built-ins; each template says how it is sent (`style` in the file),
so a set may mix them (the few-shot set answers in chat).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from ..calls import COMPLETION
from ..errors import TemplateError

__all__ = [
    "COMPLETION",
    "PROMPT_STYLES",
    "ROLE_PLACEHOLDERS",
    "Template",
    "TemplateSet",
    "builtin_template_dir",
    "find_placeholders",
    "load_template",
    "parse_template",
]

PLACEHOLDER_RE = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")

#: Which placeholders each role may use (all are required, so none is silently empty).
ROLE_PLACEHOLDERS: dict[str, frozenset[str]] = {
    "operator": frozenset({"instruction"}),
    "answer": frozenset({"instruction"}),
    "equality": frozenset({"first", "second"}),
    "difficulty": frozenset({"instruction"}),
}
KINDS = ("depth", "breadth")
#: The built-in template sets, by prompt style (a folder each beside this module).
PROMPT_STYLES = ("chat", "few_shot")
#: How a template is sent: as chat messages, or as one text to continue.
SEND_STYLES = ("chat", "completion")
_KNOWN_KEYS = {"name", "role", "kind", "description", "placeholders", "markers", "system", "user",
               "style", "stop"}


def find_placeholders(text: str) -> list[str]:
    """Placeholder names in order of first use, as written (so typos show up verbatim)."""
    seen: list[str] = []
    for match in PLACEHOLDER_RE.finditer(text):
        name = match.group(1)
        if name not in seen:
            seen.append(name)
    return seen


@dataclass(frozen=True)
class Template:
    """One prompt: an optional system message and a user message with placeholders."""

    name: str
    role: str
    user: str
    system: str = ""
    kind: str = ""
    description: str = ""
    placeholders: tuple[str, ...] = ()
    markers: tuple[str, ...] = ()
    path: str = ""
    style: str = "chat"
    stop: tuple[str, ...] = ()

    @property
    def completion(self) -> bool:
        return self.style == COMPLETION

    def render(self, **values: str) -> list[dict[str, str]]:
        """Chat messages with every placeholder filled in (for a completion-style template,
        one message of role `COMPLETION` whose content is the text to continue).

        Missing or extra values raise `TemplateError`: silently sending a prompt with a hole
        in it would waste a call and confuse whoever reads the record.
        """
        missing = set(self.placeholders) - values.keys()
        extra = values.keys() - set(self.placeholders)
        if missing or extra:
            problems = []
            if missing:
                problems.append(f"missing value for {sorted(missing)}")
            if extra:
                problems.append(f"unexpected value for {sorted(extra)}")
            raise TemplateError(f"{self.path or self.name}: " + "; ".join(problems))

        def fill(text: str) -> str:
            return PLACEHOLDER_RE.sub(lambda m: values[m.group(1)], text)

        if self.completion:
            return [{"role": COMPLETION, "content": fill(self.user)}]
        messages = []
        if self.system:
            messages.append({"role": "system", "content": fill(self.system)})
        messages.append({"role": "user", "content": fill(self.user)})
        return messages

    def prose(self) -> str:
        """The template's own wording, placeholders removed; rule 4 looks for copies of it."""
        return PLACEHOLDER_RE.sub(" ", f"{self.system}\n{self.user}")

    def to_fields(self) -> dict[str, object]:
        """The template as the fields `parse_template` reads, for storing it with a run."""
        out: dict[str, object] = {"name": self.name, "role": self.role, "user": self.user,
                                  "placeholders": list(self.placeholders)}
        for key in ("system", "kind", "description"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        if self.markers:
            out["markers"] = list(self.markers)
        if self.completion:
            out["style"] = self.style
        if self.stop:
            out["stop"] = list(self.stop)
        return out

    def to_toml(self) -> str:
        """Serialise back to the file format, so an edited template can be saved."""

        def q(text: str) -> str:
            escaped = text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
            return f'"""{escaped}"""'

        def arr(items: Iterable[str]) -> str:
            return "[" + ", ".join(_toml_str(i) for i in items) + "]"

        lines = [f"name = {_toml_str(self.name)}", f"role = {_toml_str(self.role)}"]
        if self.kind:
            lines.append(f"kind = {_toml_str(self.kind)}")
        if self.description:
            lines.append(f"description = {_toml_str(self.description)}")
        lines.append(f"placeholders = {arr(self.placeholders)}")
        if self.markers:
            lines.append(f"markers = {arr(self.markers)}")
        if self.completion:
            lines.append(f"style = {_toml_str(self.style)}")
        if self.stop:
            lines.append(f"stop = {arr(self.stop)}")
        if self.system:
            lines.append(f"system = {q(self.system)}")
        lines.append(f"user = {q(self.user)}")
        return "\n".join(lines) + "\n"


def _toml_str(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def parse_template(data: Mapping[str, object], *, path: str = "<template>") -> Template:
    """Build and validate a template from parsed TOML (or the panel's editor)."""

    def fail(message: str) -> TemplateError:
        return TemplateError(f"{path}: {message}")

    unknown = set(data) - _KNOWN_KEYS
    if unknown:
        raise fail(f"unknown field(s) {sorted(unknown)}; allowed: {sorted(_KNOWN_KEYS)}")
    for key in ("name", "role", "user"):
        if not isinstance(data.get(key), str) or not str(data.get(key)).strip():
            raise fail(f"field '{key}' is required and must be a non-empty string")
    for key in ("system", "kind", "description"):
        if key in data and not isinstance(data[key], str):
            raise fail(f"field '{key}' must be a string")
    name, role = str(data["name"]), str(data["role"])
    if not NAME_RE.match(name):
        raise fail(f"field 'name': {name!r} must be lower_snake_case")
    if role not in ROLE_PLACEHOLDERS:
        raise fail(f"field 'role': {role!r} is not one of {sorted(ROLE_PLACEHOLDERS)}")
    kind = str(data.get("kind", ""))
    if role == "operator" and kind not in KINDS:
        raise fail(f"field 'kind': an operator must be one of {list(KINDS)}, got {kind!r}")
    if role != "operator" and kind:
        raise fail(f"field 'kind' only applies to operators, not role {role!r}")

    declared = data.get("placeholders")
    if not isinstance(declared, list) or not all(isinstance(p, str) for p in declared):
        raise fail("field 'placeholders' must be a list of names, e.g. [\"instruction\"]")
    markers = data.get("markers", [])
    if not isinstance(markers, list) or not all(isinstance(m, str) and m for m in markers):
        raise fail("field 'markers' must be a list of non-empty strings")
    style = data.get("style", "chat")
    if style not in SEND_STYLES:
        raise fail(f"field 'style': {style!r} is not one of {list(SEND_STYLES)}")
    stop = data.get("stop", [])
    if not isinstance(stop, list) or not all(isinstance(x, str) and x for x in stop):
        raise fail("field 'stop' must be a list of non-empty strings, e.g. [\"###\"]")
    if style == COMPLETION and str(data.get("system", "")).strip():
        raise fail("a completion-style template is one text ('user'); it has no 'system'")

    system, user = str(data.get("system", "")), str(data["user"])
    used = find_placeholders(system + "\n" + user)
    allowed = ROLE_PLACEHOLDERS[role]
    problems = []
    for p in used:
        if p not in declared:
            problems.append(f"placeholder {{{{{p}}}}} is used but not declared")
    for p in declared:
        if p not in allowed:
            problems.append(f"placeholder '{p}' is not allowed for role {role!r}")
        elif p not in used:
            problems.append(f"placeholder '{p}' is declared but never used")
    for p in sorted(allowed - set(declared)):
        problems.append(f"role {role!r} needs placeholder '{p}'")
    if problems:
        raise fail("; ".join(problems))
    return Template(
        name=name,
        role=role,
        user=user,
        system=system,
        kind=kind,
        description=str(data.get("description", "")),
        placeholders=tuple(declared),
        markers=tuple(markers),
        path=path,
        style=str(style),
        stop=tuple(stop),
    )


def load_template(path: str | Path) -> Template:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TemplateError(f"{path}: no such template file") from None
    except UnicodeDecodeError as e:
        raise TemplateError(f"{path}: not UTF-8 text (byte {e.start})") from None
    except tomllib.TOMLDecodeError as e:
        raise TemplateError(f"{path}: not valid TOML: {e}") from None
    return parse_template(data, path=str(path))


def builtin_template_dir(style: str = "chat") -> Path:
    """The folder of a prompt style's built-in templates."""
    if style not in PROMPT_STYLES:
        raise TemplateError(f"{style!r} is not a prompt style; styles are "
                            f"{list(PROMPT_STYLES)}")
    return Path(str(resources.files("evolviz") / "templates" / style))


@dataclass
class TemplateSet:
    """The operators and the three judge/answer prompts a run uses.

    Built from the package's templates with an optional user folder laid over them: a file
    there with a built-in's name replaces it, a new operator name adds an operator.
    """

    operators: dict[str, Template]
    answer: Template
    equality: Template
    difficulty: Template
    sources: list[str] = field(default_factory=list)

    @classmethod
    def load(cls, user_dir: str | Path | None = None, *, style: str = "chat") -> TemplateSet:
        """The built-ins of a prompt style, with `user_dir`'s files laid over them."""
        by_name: dict[str, Template] = {}
        builtin = builtin_template_dir(style)
        sources = [str(builtin)]
        for path in sorted(builtin.glob("*.toml")):
            t = load_template(path)
            by_name[t.name] = t
        if user_dir is not None:
            user_dir = Path(user_dir)
            if not user_dir.is_dir():
                raise TemplateError(f"{user_dir}: template folder does not exist")
            sources.append(str(user_dir))
            for path in sorted(user_dir.glob("*.toml")):
                t = load_template(path)
                old = by_name.get(t.name)
                if old is not None and old.role != t.role:
                    raise TemplateError(
                        f"{path}: replaces built-in {t.name!r} of role {old.role!r} "
                        f"with role {t.role!r}"
                    )
                by_name[t.name] = t
        return cls.from_templates(by_name.values(), sources=sources)

    @classmethod
    def from_templates(cls, templates: Iterable[Template], sources: list[str] | None = None):
        operators: dict[str, Template] = {}
        singles: dict[str, Template] = {}
        for t in templates:
            if t.role == "operator":
                operators[t.name] = t
            else:
                if t.role in singles and singles[t.role].name != t.name:
                    raise TemplateError(
                        f"{t.path}: a second template for role {t.role!r} "
                        f"(already {singles[t.role].path})"
                    )
                singles[t.role] = t
        for role in ("answer", "equality", "difficulty"):
            if role not in singles:
                raise TemplateError(f"no template with role {role!r} was found")
        if not operators:
            raise TemplateError("no operator templates were found")
        return cls(
            operators=dict(sorted(operators.items())),
            answer=singles["answer"],
            equality=singles["equality"],
            difficulty=singles["difficulty"],
            sources=sources or [],
        )

    def replace(self, template: Template) -> TemplateSet:
        """A copy with one template swapped, for the panel's edit-and-rerun loop."""
        items = {t.name: t for t in self.all()}
        items[template.name] = template
        return TemplateSet.from_templates(items.values(), sources=self.sources)

    def all(self) -> list[Template]:
        return [*self.operators.values(), self.answer, self.equality, self.difficulty]

    @property
    def style(self) -> str:
        """The prompt style of the operators: "few_shot" when all are completion-style,
        "chat" when none is, "mixed" otherwise (a user folder laid over a set)."""
        kinds = {t.completion for t in self.operators.values()}
        return "mixed" if len(kinds) > 1 else ("few_shot" if kinds == {True} else "chat")

    def to_fields(self) -> list[dict[str, object]]:
        """Every template as plain data: a stored run reopens with exactly these."""
        return [t.to_fields() for t in self.all()]

    @classmethod
    def from_fields(cls, items: Iterable[Mapping[str, object]], *,
                    origin: str = "(stored run)") -> TemplateSet:
        """The inverse of `to_fields`, validated like a file (a damaged store says so)."""
        templates = [parse_template(d, path=f"{origin}: template {d.get('name', '?')!r}")
                     for d in items]
        return cls.from_templates(templates, sources=[origin])

    def markers(self) -> list[str]:
        """Every marker phrase any operator template declares (rule 4 checks all of them)."""
        out: list[str] = []
        for t in self.operators.values():
            out.extend(m for m in t.markers if m not in out)
        return out
