"""Test helpers shipped with evolviz, so downstream tests and benchmarks can drive the engine
against a real OpenAI-compatible endpoint without a model or network (as httpx ships a mock
transport).

Names are imported lazily so `python -m evolviz.testing.serve` does not import its own
module twice (runpy warns when the package has already imported it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from evolviz.testing.batch_server import FakeBatchServer, LineFaults
    from evolviz.testing.fake_server import (
        ALL_FAULTS,
        FakeOpenAIServer,
        FaultKind,
        Faults,
        Reply,
        Responder,
        ServerStats,
        default_responder,
    )

__all__ = [
    "ALL_FAULTS",
    "FakeBatchServer",
    "FakeOpenAIServer",
    "FaultKind",
    "Faults",
    "LineFaults",
    "Reply",
    "Responder",
    "ServerStats",
    "default_responder",
]


def __getattr__(name: str) -> Any:
    if name in ("FakeBatchServer", "LineFaults"):
        from evolviz.testing import batch_server

        return getattr(batch_server, name)
    if name in __all__:
        from evolviz.testing import fake_server

        return getattr(fake_server, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
