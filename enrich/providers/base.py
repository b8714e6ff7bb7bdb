"""What every provider returns and raises; the runner only talks to providers through these types."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from enrich.inputs import TitleInput
from enrich.schema import TitleEnrichment


@dataclass
class CallUsage:
    """Tokens, cost and latency of one provider call (zeros for the heuristic provider)."""

    input_tokens: int = 0
    output_tokens: int = 0  # visible output + thinking tokens (both billed as output)
    thoughts_tokens: int = 0
    cost_usd: float = 0.0
    latency_ms: float = 0.0

    def add(self, other: CallUsage) -> None:
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens
        self.thoughts_tokens += other.thoughts_tokens
        self.cost_usd += other.cost_usd
        self.latency_ms += other.latency_ms


@dataclass
class CallResult:
    """The answer to one call: valid results by title id, and per-title problems (missing/invalid item)."""

    usage: CallUsage
    results: dict[str, TitleEnrichment] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)


class ProviderError(Exception):
    """A call produced no usable answer. ``usage`` is what it cost anyway (a paid but invalid answer)."""

    def __init__(self, message: str, *, usage: CallUsage | None = None, code: int | None = None) -> None:
        super().__init__(message)
        self.usage = usage or CallUsage()
        self.code = code


class TransientError(ProviderError):
    """Worth retrying after a wait (429, 5xx, timeouts); ``retry_after`` is the server's hint in seconds."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.retry_after = retry_after


class InvalidResponse(ProviderError):
    """The service answered, but not with a valid enrichment (bad JSON, out of range, MAX_TOKENS, SAFETY...)."""


class PermanentError(ProviderError):
    """Retrying the same request cannot help (400...). ``fatal``: no other call can succeed either
    (402 credits depleted, 401/403 key refused, 404 unknown model, per-day quota): stop issuing calls."""

    def __init__(self, message: str, *, fatal: bool = False, **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.fatal = fatal


class Provider(Protocol):
    name: str
    model: str

    def call(self, titles: list[TitleInput]) -> CallResult:
        """Enrich ``titles`` in one request; raise a :class:`ProviderError` when nothing usable came back."""
        ...

    def estimate_max_cost(self, titles: list[TitleInput]) -> float:
        """An upper bound of what one call for ``titles`` can cost (for the budget cap)."""
        ...

    def close(self) -> None: ...
