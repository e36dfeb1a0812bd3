"""Seed loaders: turn the instruction files people already have into a list of seeds.

Seed files come from many places (Alpaca, ShareGPT dumps, Self-Instruct, spreadsheets,
hand-written text files) and real ones are messy. One bad row must not cost a person the
other fifty thousand, so bad rows become `SeedProblem`s that name the file and line, and
only a file that cannot be read at all raises `SeedFileError`. `strict=True` turns the
first problem into an error, for builds that must not silently drop anything.

Line numbers are 1-based file lines for JSONL, text and CSV (a CSV record that spans
several lines is numbered by its first line), and 1-based record indexes for JSON lists
and Parquet files, which have no useful line of their own; for JSON lists the problem's
reason also gives the file line where the record starts, so an editor can jump to it.

Modules: `loader` (`load_seeds`, format detection), `report` (the result types and the
row collector), and one module per format family: `text`, `tabular` (CSV, Parquet),
`jsonfiles` (Alpaca, ShareGPT, Self-Instruct, JSON Lines).
"""

from __future__ import annotations

from .loader import FORMATS, load_seeds
from .report import Seed, SeedLoad, SeedProblem

__all__ = ["FORMATS", "Seed", "SeedLoad", "SeedProblem", "load_seeds"]
