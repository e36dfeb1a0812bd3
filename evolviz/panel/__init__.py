"""The JupyterLab panel: a slim `Explorer` facade over a run session and small controllers
(settings codec, templates, maps). The engine never imports this package."""

from .explorer import Explorer

__all__ = ["Explorer"]
