"""Colours shared by the panel's map and charts, so an operator or rule keeps its colour
from one view to the other and from one run to the other in a comparison."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.colors as pc

__all__ = ["palette", "sampled", "to_hex"]


def palette(names: Sequence[str]) -> dict[str, str]:
    """One colour per name, the same in both runs of a comparison."""
    colours = pc.qualitative.Plotly
    unique = list(dict.fromkeys(names))
    return {n: colours[i % len(colours)] for i, n in enumerate(unique)}


def sampled(scale: str, n: int) -> list[str]:
    """`n` colours along a plotly colour scale, stopping short of its pale end."""
    return pc.sample_colorscale(scale, [i / max(1, n - 1) * 0.9 for i in range(n)]) if n else []


def to_hex(colour: str) -> str:
    """plotly's 'rgb(r, g, b)' as '#rrggbb' (what matplotlib, under jscatter, reads)."""
    if colour.startswith("#"):
        return colour
    r, g, b = (int(float(v)) for v in colour[colour.index("(") + 1:-1].split(",")[:3])
    return f"#{r:02x}{g:02x}{b:02x}"
