"""The schema of every piece of widget state the panel syncs, declared once.

Each synced trait of `ExplorerWidget` holds one of these TypedDicts (its trait checks the
keys, see `widget.Record`), and js/protocol.js declares the same shapes as JSDoc
typedefs; tests/test_panel_protocol.py keeps the two in step. State is JSON a notebook
saves, so nothing here may ever hold an API key (only the *name* of its variable).

`Status` is made of parts, one per concern, so a new concern (batch runs, endpoint
health) is one more TypedDict among its bases and one more function in status.py.
"""

from __future__ import annotations

from typing import Any, TypedDict

__all__ = [
    "TRAIT_SCHEMAS",
    "Batches",
    "BudgetForm",
    "CallState",
    "Calls",
    "CandidateDetail",
    "CandidateRowState",
    "Comparison",
    "Counts",
    "FilterOptions",
    "GatesForm",
    "LineageStepState",
    "Messages",
    "PageState",
    "QueryState",
    "ReapplyResult",
    "RerunSide",
    "RerunState",
    "Revision",
    "RunState",
    "SettingsForm",
    "Spending",
    "Status",
    "TemplateFocus",
    "TemplateResult",
    "TemplateState",
    "VerdictState",
]


# -- status: what the run is doing, as facts (the display text is built from them) -----

class RunState(TypedDict):
    running: bool  # a Step/Run is in progress
    revising: bool  # a "Suggest a revision" loop is in progress
    generation: int  # the next generation, or the one running
    finished_generations: int
    endpoint: str  # a label: never the key
    store: str


class Counts(TypedDict):
    counts_generation: int  # the generation counted (between generations: the last one)
    pool_size: int
    done: int
    accepted: int
    rejected: int
    failed: int


class Spending(TypedDict):
    tokens: int  # the whole run's
    cost: float  # USD, priced by the budget's prices (else the per-1K price)
    budget: str  # display text, "" without a budget
    budget_set: bool  # a limit or prices are set
    budget_reached: bool  # the live budget refused a call (during a run)
    budget_stopped: bool  # the last Step/Run stopped at the budget


class Messages(TypedDict):
    message: str  # the last three messages, " · " between them
    error: bool  # the latest message reports an error


class Batches(TypedDict):
    batches: str  # a batch run's batches and their states; "" for a live run


class Calls(TypedDict):
    in_flight: int  # calls in flight now (0 between runs)
    calls_per_s: float  # calls finished per second, lately
    # While the endpoint is down: "endpoint unreachable since HH:MM, retrying in N s";
    # "" while it answers (and between runs).
    endpoint_health: str


class Status(RunState, Counts, Spending, Calls, Batches, Messages):
    """The status line: `Explorer.refresh()` pushes it (status.py builds it)."""


# -- the settings form (two-way: the front end edits it, Python applies it) --------------

class GatesForm(TypedDict):
    dedup: bool
    near_dup: float | None
    decontaminate: list[str]


class BudgetForm(TypedDict):
    max_tokens: int | None
    max_cost: float | None
    price_in: float | None
    price_out: float | None


class SettingsForm(TypedDict, total=False):
    seed: int
    temperature: float
    concurrency: int
    base_url: str
    model: str
    rules: dict[str, bool]
    sorry_max_words: int
    copied_ngram: int
    judge_difficulty: bool
    judge: str  # who decides rule 1 and not_a_task: "model" or "check"
    prompt_style: str  # the templates' style: "few_shot", "chat" (or "mixed", shown only)
    weights: dict[str, float]
    max_tokens: dict[str, int]  # per role
    gates: GatesForm
    budget: BudgetForm


# -- the candidate list, its filters and a candidate's card -----------------------------

class FilterOptions(TypedDict):
    generation: list[int]
    operator: list[str]
    status: list[str]
    rule: list[str]


class QueryState(TypedDict, total=False):
    """The list's filters (two-way); None or "" means any (`store.Query.from_dict`)."""

    generation: int | str | None
    operator: str | None
    status: str | None
    rule: str | None
    text: str | None
    ids: list[str]  # a lasso on the map
    offset: int
    limit: int


class CandidateRowState(TypedDict):
    """`store.CandidateRow.to_dict()`."""

    id: str
    generation: int
    slot: int
    operator: str
    status: str
    rejected_by: str | None
    error_class: str | None
    instruction: str | None
    difficulty: float | None


class PageState(TypedDict):
    offset: int
    total: int
    rows: list[CandidateRowState]
    reset: bool  # the first page of a new query: the list drops the rows it had
    stamp: float


class VerdictState(TypedDict):
    rule: str
    passed: bool
    reason: str
    detail: dict[str, Any]


class CallState(TypedDict):
    """`calls.CallResult.to_dict()`: the exact prompt sent and the raw response."""

    role: str
    model: str
    messages: list[dict[str, str]]
    sampling: dict[str, Any]
    content: str | None
    finish_reason: str | None
    prompt_tokens: int
    completion_tokens: int
    latency_s: float
    attempts: int
    cached: bool
    error_class: str | None
    error: str | None
    retries: list[str]
    response_format: dict[str, Any] | None
    batch_id: str | None  # the batch it came back in (batch mode), else None


class CandidateDetail(TypedDict, total=False):
    """`records.Candidate.to_dict()` ({} when no candidate is selected)."""

    id: str
    generation: int
    slot: int
    parent_id: str
    seed_id: str
    operator: str
    parent_instruction: str
    status: str
    rejected_by: str | None
    error_class: str | None
    error: str | None
    instruction: str | None
    answer: str | None
    verdicts: list[VerdictState]
    calls: dict[str, CallState]
    difficulty: float | None
    difficulty_raw: str | None
    tokens: int
    latency_s: float
    finished_at: float | None


class LineageStepState(TypedDict):
    """`store.LineageStep.to_dict()`: the seed, or one attempt on its slot."""

    id: str
    generation: int
    operator: str | None
    status: str
    text: str | None
    rejected_by: str | None
    parent_id: str | None
    error: str | None


# -- templates, what-if, comparison, revisions ------------------------------------------

class TemplateState(TypedDict):
    name: str
    role: str
    kind: str | None
    system: str
    user: str
    placeholders: list[str]
    allowed: list[str]
    markers: list[str]
    description: str
    path: str | None
    style: str  # how it is sent: "chat", or "completion" (a few-shot text to continue)
    stop: list[str]  # its own stop strings


class TemplateFocus(TypedDict, total=False):
    name: str  # the template the editor shows (set by the card's button)


class RerunSide(TypedDict):
    status: str
    rejected_by: str | None
    instruction: str | None
    answer: str | None
    error: str | None


class RerunState(TypedDict):
    old: RerunSide
    new: RerunSide
    messages: list[dict[str, str]]


class TemplateResult(TypedDict, total=False):
    name: str
    errors: list[str]
    preview: list[dict[str, str]]  # the messages exactly as they would be sent
    running: bool
    rerun: RerunState
    saved: str


class ReapplyResult(TypedDict, total=False):
    """`run.whatif.WhatIf.to_dict()`."""

    per_generation: list[dict[str, Any]]
    changed: list[dict[str, Any]]
    total_changed: int


class Comparison(TypedDict, total=False):
    """`workbench.compare.compare_stores` plus the flipped seeds' text (compare_view.py)."""

    a: dict[str, Any]
    b: dict[str, Any]
    paired: bool
    pairing: str
    pairs: int
    unpaired_candidates: int
    alpha: float
    correction: str
    tests: list[dict[str, Any]]
    significant: list[dict[str, Any]]
    difficulty_by_generation: list[dict[str, Any]]
    tokens_per_accepted: dict[str, Any]
    cost_per_accepted: dict[str, Any] | None
    flipped: list[dict[str, Any]]
    flipped_total: int


class Revision(TypedDict, total=False):
    """One "Suggest a revision" loop, as revision_controller.py mirrors it."""

    name: str
    store: str
    dev: int
    steps_asked: int
    running: bool
    steps: list[dict[str, Any]]
    doing: str
    best: dict[str, Any] | None
    error: str | None


#: Each synced trait and the schema of its value (of each item, for `lineage`; of each
#: value, for `templates`); js/protocol.js names the same typedefs.
TRAIT_SCHEMAS: dict[str, type] = {
    "status": Status, "settings": SettingsForm, "options": FilterOptions,
    "query": QueryState, "page": PageState, "detail": CandidateDetail,
    "lineage": LineageStepState, "templates": TemplateState, "template_focus": TemplateFocus,
    "template_result": TemplateResult, "reapply_result": ReapplyResult,
    "comparison": Comparison, "revision": Revision,
}
