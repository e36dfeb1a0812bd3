"""The template workbench: compare two runs (`compare`, with `stats`), project a run's cost
from a pilot (`estimate`), and let the evolver revise a template (`optimize`)."""
