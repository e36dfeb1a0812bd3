"""The dataset stage: duplicates and benchmark contamination, judged when a generation
closes (see `dataset_stage`), plus the what-if that re-applies it to a finished run."""

from .config import CONTAMINATED, DUPLICATE, GATE_RULES, GateConfig
from .dataset_stage import DatasetStage, gate_generation, passed_gates, pre_gate
from .decontam import NgramIndex, load_benchmark, load_index
from .normalise import normal_form, normal_words
from .what_if import gates_what_if

__all__ = [
    "CONTAMINATED",
    "DUPLICATE",
    "GATE_RULES",
    "DatasetStage",
    "GateConfig",
    "NgramIndex",
    "gate_generation",
    "gates_what_if",
    "load_benchmark",
    "load_index",
    "normal_form",
    "normal_words",
    "passed_gates",
    "pre_gate",
]
