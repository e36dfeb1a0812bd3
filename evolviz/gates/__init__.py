"""The dataset stage: duplicates and benchmark contamination, judged when a generation
closes (see `dataset_stage`), plus the what-if that re-applies it to a finished run.

Names are imported on first use (`evolviz.lazy`): the rule ids cost nothing, the stage
itself loads numpy and the embedder.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_names

if TYPE_CHECKING:
    from .config import CONTAMINATED, DUPLICATE, GATE_RULES, GateConfig
    from .dataset_stage import DatasetStage, gate_generation, passed_gates, pre_gate
    from .decontam import NgramIndex, load_benchmark, load_index
    from .normalise import normal_form, normal_words
    from .what_if import gates_what_if

#: Public name -> its module.
_NAMES: dict[str, str] = {
    "CONTAMINATED": ".config",
    "DUPLICATE": ".config",
    "GATE_RULES": ".config",
    "GateConfig": ".config",
    "DatasetStage": ".dataset_stage",
    "gate_generation": ".dataset_stage",
    "passed_gates": ".dataset_stage",
    "pre_gate": ".dataset_stage",
    "NgramIndex": ".decontam",
    "load_benchmark": ".decontam",
    "load_index": ".decontam",
    "normal_form": ".normalise",
    "normal_words": ".normalise",
    "gates_what_if": ".what_if",
}

__all__ = [
    "CONTAMINATED", "DUPLICATE", "GATE_RULES", "DatasetStage", "GateConfig", "NgramIndex",
    "gate_generation", "gates_what_if", "load_benchmark", "load_index", "normal_form",
    "normal_words", "passed_gates", "pre_gate",
]
__getattr__, __dir__ = lazy_names(__name__, _NAMES)
