"""Prompt templates: the TOML files beside this module, and the code that loads and checks
them (`template`)."""

from ..calls import COMPLETION
from .template import (
    PROMPT_STYLES,
    ROLE_PLACEHOLDERS,
    Template,
    TemplateSet,
    builtin_template_dir,
    find_placeholders,
    load_template,
    parse_template,
)

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
