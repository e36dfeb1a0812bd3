"""The run store: the only place evolviz writes SQL.

- `schema`: the tables, the marks that identify a store, the migration from version 1;
- `run_store.RunStore`: opening a store and writing a run into it, candidate by candidate;
- `rows`: a candidate's columns and record, a seed list's fingerprint, the write transaction;
- `read.RunView`: the typed read model the panel, exports, maps and `evolviz show` use;
- `integrity.check_store`: `evolviz check`;
- `cache.ResponseCache`: every paid response, so a replayed run costs nothing.
"""

from .cache import ResponseCache
from .integrity import check_store
from .read import CandidateRow, LineageStep, MapPoint, Page, Query, RunView
from .rows import candidate_from_row, seeds_fingerprint
from .run_store import RunStore
from .schema import APPLICATION_ID, SCHEMA_VERSION

__all__ = [
    "APPLICATION_ID",
    "SCHEMA_VERSION",
    "CandidateRow",
    "LineageStep",
    "MapPoint",
    "Page",
    "Query",
    "ResponseCache",
    "RunStore",
    "RunView",
    "candidate_from_row",
    "check_store",
    "seeds_fingerprint",
]
