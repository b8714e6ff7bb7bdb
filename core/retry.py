"""The one HTTP retry policy: what is retried, how long to wait, when to give up (on tenacity).

Every caller (the JustWatch client, the review sites' HTTP helper, the Gemini runner) builds a
:class:`RetryPolicy` from its own settings section in config/base.yaml; what differs between sources is a
parameter of the policy, never a second code path:

- **what is retried**: an attempt raises :class:`Retryable` (a timeout, a connection error, an unreadable
  body, a status in ``statuses``); any other exception ends the call at once;
- **how long to wait**: exponential backoff ``backoff_base_s * 2**(n-1)`` capped at ``max_backoff_s``,
  scaled by a random factor in [0.5, 1) when ``jitter`` is on; a server's ``Retry-After`` (or Google's
  RetryInfo) replaces the backoff, cut to ``max_retry_after_s`` (None: honoured whole), or only raises it
  when ``retry_after_is_floor`` (never sooner than the server asked, nor than the backoff);
- **when to give up**: after ``max_retries`` retries, or before a wait that would end past ``deadline_s``
  seconds from the first attempt.

Each retry logs one line (``<name>: <reason>, retry n/N in <s>s``). :meth:`RetryPolicy.run` drives a call
through tenacity; :meth:`RetryPolicy.wait` is the same arithmetic for a caller that owns its loop (the
Gemini runner, which also spends a budget and a rate-limit token per attempt).
"""

from __future__ import annotations

import email.utils
import logging
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar, cast

import tenacity

log = logging.getLogger(__name__)

T = TypeVar("T")


class Retryable(Exception):
    """One attempt ended in a transient failure: ``reason`` for the log, the server's delay if it gave one,
    and the attempt's ``result`` (e.g. the last 5xx response) for a caller that returns it when giving up."""

    def __init__(self, reason: str, retry_after: float | None = None, result: Any = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
        self.result = result


@dataclass(frozen=True)
class RetryHooks:
    """What a caller plugs into :meth:`RetryPolicy.run`: the sleep, the jitter's random source and the
    clock (tests inject them so nothing waits), and a callback per retry (counters, progress)."""

    sleep: Callable[[float], None] = time.sleep
    rng: Callable[[], float] = random.random
    clock: Callable[[], float] = time.monotonic
    on_retry: Callable[[RetryEvent], None] | None = None


@dataclass(frozen=True)
class RetryEvent:
    """One retry about to happen: the retry's number (1 = first), of how many, the wait, and why."""

    name: str
    number: int
    of: int
    delay_s: float
    reason: str


class RetrySettings(Protocol):
    """A source's settings object holding the policy's keys under their config/base.yaml names."""

    @property
    def max_retries(self) -> int: ...
    @property
    def backoff_base_s(self) -> float: ...
    @property
    def max_backoff_s(self) -> float: ...
    @property
    def retry_jitter(self) -> bool: ...
    @property
    def max_retry_after_s(self) -> float | None: ...
    @property
    def retry_deadline_s(self) -> float | None: ...
    @property
    def retry_statuses(self) -> Iterable[int]: ...


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int
    backoff_base_s: float
    max_backoff_s: float
    jitter: bool = True
    max_retry_after_s: float | None = None
    retry_after_is_floor: bool = False
    deadline_s: float | None = None
    statuses: frozenset[int] = frozenset()

    @classmethod
    def of(cls, settings: RetrySettings) -> RetryPolicy:
        """The policy a source's settings describe (justwatch.*, reviews.*: the same key names)."""
        return cls(
            max_retries=int(settings.max_retries),
            backoff_base_s=settings.backoff_base_s,
            max_backoff_s=settings.max_backoff_s,
            jitter=settings.retry_jitter,
            max_retry_after_s=settings.max_retry_after_s,
            deadline_s=settings.retry_deadline_s,
            statuses=cls.status_set(settings.retry_statuses),
        )

    @staticmethod
    def status_set(values: Iterable[Any]) -> frozenset[int]:
        """A settings list of statuses (``[429, "503"]``) as a set of ints."""
        return frozenset(int(v) for v in values)

    def retryable_status(self, status: int | None) -> bool:
        return status in self.statuses

    def backoff(self, number: int, rng: Callable[[], float] = random.random) -> float:
        """The wait before retry ``number`` (1 = first) when the server named none."""
        ceiling = min(self.max_backoff_s, self.backoff_base_s * (2 ** max(0, number - 1)))
        return ceiling * (0.5 + rng() / 2) if self.jitter else ceiling

    def wait(
        self, number: int, retry_after: float | None = None, rng: Callable[[], float] = random.random
    ) -> float:
        """Seconds to wait before retry ``number``: the backoff, or the server's delay as this policy reads it."""
        if retry_after is None:
            return self.backoff(number, rng)
        if self.max_retry_after_s is not None:
            retry_after = min(retry_after, self.max_retry_after_s)
        return max(retry_after, self.backoff(number, rng)) if self.retry_after_is_floor else retry_after

    def run(
        self,
        attempt: Callable[[], T],
        give_up: Callable[[Retryable, int], T],
        *,
        name: str,
        hooks: RetryHooks = RetryHooks(),
    ) -> T:
        """``attempt()`` until it returns; a :class:`Retryable` is retried after :meth:`wait`.

        When the retries or the deadline are spent, returns ``give_up(last Retryable, attempts made)`` (which
        may raise the caller's own error, or return the last response). ``name`` starts each retry's log line.
        """
        clock, rng = hooks.clock, hooks.rng
        started = clock()

        def last(state: tenacity.RetryCallState) -> Retryable:
            # only a Retryable is retried, so every wait, retry and give-up follows one
            return cast(Retryable, state.outcome.exception() if state.outcome else None)

        def stop(state: tenacity.RetryCallState) -> bool:
            if state.attempt_number > self.max_retries:
                return True
            elapsed = clock() - started + state.upcoming_sleep
            return self.deadline_s is not None and elapsed > self.deadline_s

        def before_sleep(state: tenacity.RetryCallState) -> None:
            event = RetryEvent(
                name, state.attempt_number, self.max_retries, state.upcoming_sleep, last(state).reason
            )
            log.info(
                "%s: %s, retry %d/%d in %.2fs", name, event.reason, event.number, event.of, event.delay_s
            )
            if hooks.on_retry:
                hooks.on_retry(event)

        retrying = tenacity.Retrying(
            sleep=hooks.sleep,
            stop=stop,
            wait=lambda state: self.wait(state.attempt_number, last(state).retry_after, rng),
            retry=tenacity.retry_if_exception_type(Retryable),
            before_sleep=before_sleep,
            retry_error_callback=lambda state: give_up(last(state), state.attempt_number),
        )
        return retrying(attempt)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds (delta-seconds or an HTTP date, RFC 9110 §10.2.3).

    None when the header is absent or unreadable; a date in the past is 0. A date without a zone is UTC.
    """
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
