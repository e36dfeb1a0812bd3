"""Prompt templates: the TOML files beside this module, and the code that loads and checks
them (`template`)."""

from .template import (
    ROLE_PLACEHOLDERS,
    Template,
    TemplateSet,
    builtin_template_dir,
    find_placeholders,
    load_template,
    parse_template,
)

__all__ = [
    "ROLE_PLACEHOLDERS",
    "Template",
    "TemplateSet",
    "builtin_template_dir",
    "find_placeholders",
    "load_template",
    "parse_template",
]
