"""The panel's widget: synced state only. All behaviour lives in `evolviz.panel.Explorer`.

The front end (js/, built into evolviz/static/) draws this state and sends actions back as
messages. Nothing here may hold an API key: widget state is saved into notebooks.
"""

from __future__ import annotations

from pathlib import Path

import anywidget
import traitlets as t

__all__ = ["ExplorerWidget"]

_STATIC = Path(__file__).resolve().parents[1] / "static"


class ExplorerWidget(anywidget.AnyWidget):
    _esm = _STATIC / "widget.js"
    _css = _STATIC / "widget.css"

    status = t.Dict().tag(sync=True)
    settings = t.Dict().tag(sync=True)
    options = t.Dict().tag(sync=True)
    query = t.Dict({"offset": 0, "limit": 200}).tag(sync=True)
    page = t.Dict().tag(sync=True)
    selected_id = t.Unicode("").tag(sync=True)
    detail = t.Dict().tag(sync=True)
    lineage = t.List().tag(sync=True)
    templates = t.Dict().tag(sync=True)
    template_focus = t.Dict().tag(sync=True)
    template_result = t.Dict().tag(sync=True)
    reapply_result = t.Dict().tag(sync=True)
    comparison = t.Dict().tag(sync=True)
    revision = t.Dict().tag(sync=True)
