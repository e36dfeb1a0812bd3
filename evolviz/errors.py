"""Exceptions evolviz raises, drawn as a tree so callers can catch at the right depth.

    EvolvizError
    ├── InputError                 bad input from the user: the CLI exits with code 2
    │   ├── TemplateError          a template file is malformed or its placeholders are wrong
    │   ├── SeedFileError          a seed file cannot be read, or a row in it is bad
    │   ├── ConfigError            an option or a combination of options makes no sense
    │   └── StoreError             a run store cannot be used
    │       ├── NotAStoreError     the file is not an evolviz store (or is corrupt)
    │       ├── StoreVersionError  the store was written by a newer evolviz
    │       ├── StoreMismatchError the store holds a run with other seeds or settings
    │       └── StoreLockedError   another live process is writing the store
    ├── LLMCallError               an LLM call failed after all its retries
    ├── EndpointError              the endpoint refuses every call (401/403/404): stop now
    │   ├── EndpointUnreachable    nothing answers, or no call has ever succeeded: stop now
    │   └── EndpointOutage         down mid-run for longer than max_outage: stop, resume later
    ├── BudgetReached              the next call would cross the run's budget: stop cleanly
    ├── BatchError                 the endpoint refused a batch file or batch (says which, why)
    └── LocalModelError            the embedded local model server cannot be started or used

An `InputError` always names the file, line or field at fault, because the person
reading it has to fix that exact spot. A setting is named by its `field` (the name a
library caller or the panel uses, e.g. ``max_tokens``); the command line, which alone
knows its flags, shows the flag instead (``--max-tokens``). No message here names a flag.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .calls import CallResult

__all__ = [
    "BatchError",
    "BudgetReached",
    "ConfigError",
    "EndpointError",
    "EndpointOutage",
    "EndpointUnreachable",
    "EvolvizError",
    "InputError",
    "LLMCallError",
    "LocalModelError",
    "NotAStoreError",
    "SeedFileError",
    "StoreError",
    "StoreLockedError",
    "StoreMismatchError",
    "StoreVersionError",
    "TemplateError",
]


class EvolvizError(Exception):
    """Root of every error evolviz raises on purpose."""


class InputError(EvolvizError):
    """The user gave something evolviz cannot use; the message says where.

    `field` names the setting at fault when there is one (``max_tokens``, ``near_dup``),
    so a front end can point at its own control for it: the CLI at its flag.
    """

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.detail = message


class TemplateError(InputError):
    pass


class SeedFileError(InputError):
    """A seed file or one of its rows is bad. `path` and `line` locate it (line is 1-based)."""

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None):
        where = path or "<seeds>"
        if line is not None:
            where = f"{where}:{line}"
        super().__init__(f"{where}: {message}")
        self.path = path
        self.line = line
        self.reason = message


class ConfigError(InputError):
    pass


class StoreError(InputError):
    pass


class NotAStoreError(StoreError):
    pass


class StoreVersionError(StoreError):
    pass


class StoreMismatchError(StoreError):
    pass


class StoreLockedError(StoreError):
    """Another process that is still alive holds the store's writer lock.

    `holder` is what it recorded (pid, host, started_at, purpose), so the message can say
    who to wait for; the store was not touched.
    """

    def __init__(self, path: str, holder: dict[str, Any]):
        started = _clock(holder.get("started_at"))
        super().__init__(
            f"{path}: already being written by {holder.get('purpose') or 'another run'} "
            f"(pid {holder.get('pid')} on {holder.get('host')}, since {started}); wait for it "
            f"to finish or stop it. Reading the store (show, export, check, the panel) works "
            f"meanwhile")
        self.path = path
        self.holder = dict(holder)


class LLMCallError(EvolvizError):
    """An LLM call that still failed after its retries.

    `error_class` is a short stable name (e.g. "RateLimited", "ServerError", "Timeout",
    "ConnectionError", "MalformedResponse", "BadRequest") recorded on the candidate so that
    a person can count failures by cause.
    """

    def __init__(self, error_class: str, message: str, *, attempts: int = 1,
                 result: CallResult | None = None):
        super().__init__(f"{error_class}: {message}")
        self.error_class = error_class
        self.message = message
        self.attempts = attempts
        #: The call's record (messages sent, retries, error), filed on the candidate.
        self.result: CallResult | None = result


class EndpointError(EvolvizError):
    """The endpoint answered 401, 403 or 404: a wrong key, no access, or a wrong URL or model.

    Every further call would fail the same way, so the run stops at once (CLI exit 1)
    instead of failing every candidate; nothing is recorded for the calls it stopped.
    """

    def __init__(self, base_url: str, status: int, detail: str):
        hint = {401: "check the API key (api_key_env names its variable)",
                403: "the key has no access to this model or endpoint",
                404: "check the base URL and the model name"}.get(status, "")
        super().__init__(f"{base_url}: HTTP {status}: {detail[:300]}"
                         + (f" ({hint})" if hint else ""))
        self.base_url = base_url
        self.status = status


class EndpointUnreachable(EndpointError):
    """The endpoint does not answer (nothing listening, DNS, TLS, timeouts), or it answers
    but no call to it has ever succeeded: a mistyped URL or a dead server, not bad luck.

    Raised before a run's first candidate is recorded, so nothing is written for it.
    """

    def __init__(self, base_url: str, cause: str):
        EvolvizError.__init__(self, f"{base_url}: the endpoint is unreachable ({cause[:300]}); "
                                    f"check base_url and that the server is up")
        self.base_url = base_url
        self.status = 0
        self.cause = cause


class EndpointOutage(EndpointError):
    """The endpoint went down mid-run and stayed down longer than `max_outage` seconds.

    The calls it interrupted are not recorded as failures; the same command resumes the run.
    """

    def __init__(self, base_url: str, since: float, cause: str, max_outage: float):
        EvolvizError.__init__(
            self, f"{base_url}: the endpoint has been unreachable since {_clock(since)} "
                  f"({cause[:300]}), longer than max_outage ({max_outage:g} s); everything "
                  f"finished is saved, run the same command again to resume")
        self.base_url = base_url
        self.status = 0
        self.since = since
        self.cause = cause


def _clock(timestamp: Any) -> str:
    """A wall-clock time as people read it in a message (local time, to the second)."""
    import time

    try:
        return time.strftime("%H:%M:%S", time.localtime(float(timestamp)))
    except (TypeError, ValueError):
        return "an unknown time"


class BudgetReached(EvolvizError):
    """The next call would cross the run's budget; everything finished is saved.

    `limit` says which limit, in the library's words (``max_tokens 1000``).
    """

    def __init__(self, limit: str):
        super().__init__(f"the budget ({limit}) is reached")
        self.limit = limit


class BatchError(EvolvizError):
    """The endpoint refused a batch request file (HTTP 413, a bad request) or a batch
    failed its validation. The message names the file (generation, stage, part, requests,
    size) and the endpoint's reason; nothing in it was answered or paid for.

    `field` names the setting that can fix it, when one can (``batch_max_mb`` for a file
    too large), so a front end can point at its own control for it.
    """

    def __init__(self, message: str, *, file: str | None = None, status: int | None = None,
                 field: str | None = None):
        super().__init__(message)
        self.file = file
        self.status = status
        self.field = field


class LocalModelError(EvolvizError):
    pass
