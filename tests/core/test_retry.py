"""core.retry: the one retry policy (waits, Retry-After, attempts, deadline, one log line per retry) and
the shape each source's settings give it."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest

from core.config import Settings
from core.retry import Retryable, RetryEvent, RetryHooks, RetryPolicy
from enrich.api_errors import Backoff
from enrich.providers.gemini import GeminiConfig
from extract.justwatch.settings import JustWatchSettings
from extract.reviews.settings import ReviewsSettings

NO_WAIT = RetryHooks(sleep=lambda _s: None)
PLAIN = RetryPolicy(max_retries=3, backoff_base_s=1.0, max_backoff_s=4.0, jitter=False, statuses=frozenset({503}))


def test_backoff_doubles_up_to_the_cap_and_jitter_scales_it_into_half_to_whole() -> None:
    assert [PLAIN.backoff(n) for n in range(1, 6)] == [1.0, 2.0, 4.0, 4.0, 4.0]
    jittered = RetryPolicy(max_retries=3, backoff_base_s=1.0, max_backoff_s=4.0)
    assert jittered.backoff(3, rng=lambda: 0.0) == 2.0
    assert jittered.backoff(3, rng=lambda: 0.5) == 3.0


def test_retry_after_is_cut_to_its_cap_or_floors_the_backoff() -> None:
    capped = RetryPolicy(max_retries=1, backoff_base_s=1.0, max_backoff_s=4.0, jitter=False, max_retry_after_s=10)
    assert capped.wait(1, retry_after=0.0) == 0.0  # the server's word, even when shorter than the backoff
    assert capped.wait(1, retry_after=600.0) == 10.0
    floor = RetryPolicy(max_retries=1, backoff_base_s=1.0, max_backoff_s=4.0, jitter=False,
                        retry_after_is_floor=True)
    assert floor.wait(3, retry_after=1.0) == 4.0
    assert floor.wait(3, retry_after=600.0) == 600.0  # no cap: honoured whole


def test_run_retries_a_retryable_outcome_and_logs_one_line_per_retry(caplog: pytest.LogCaptureFixture) -> None:
    outcomes: list[object] = [Retryable("HTTP 503"), Retryable("HTTP 429", retry_after=7.0), "ok"]
    sleeps: list[float] = []
    events: list[RetryEvent] = []

    def attempt() -> str:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return str(outcome)

    with caplog.at_level(logging.INFO, logger="core.retry"):
        result = PLAIN.run(attempt, _never, name="site", hooks=RetryHooks(sleep=sleeps.append, on_retry=events.append))
    assert result == "ok" and sleeps == [1.0, 7.0]
    assert [(e.number, e.of, e.delay_s, e.reason) for e in events] == [(1, 3, 1.0, "HTTP 503"), (2, 3, 7.0, "HTTP 429")]
    assert [r.getMessage() for r in caplog.records] == [
        "site: HTTP 503, retry 1/3 in 1.00s", "site: HTTP 429, retry 2/3 in 7.00s"]


def test_run_gives_up_after_the_retries_with_the_last_outcome() -> None:
    calls: list[int] = []

    def attempt() -> str:
        calls.append(1)
        raise Retryable(f"HTTP 503 #{len(calls)}", result=f"response {len(calls)}")

    def give_up(last: Retryable, attempts: int) -> str:
        return f"{last.result} after {attempts}"

    assert PLAIN.run(attempt, give_up, name="site", hooks=NO_WAIT) == "response 4 after 4"


def test_any_other_error_ends_the_call_at_once() -> None:
    calls: list[int] = []

    def attempt() -> str:
        calls.append(1)
        raise KeyError("not transient")

    with pytest.raises(KeyError):
        PLAIN.run(attempt, _never, name="site", hooks=NO_WAIT)
    assert calls == [1]


def test_the_deadline_stops_before_a_wait_that_would_end_past_it() -> None:
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    def attempt() -> str:
        raise Retryable("timeout")

    policy = RetryPolicy(max_retries=10, backoff_base_s=1.0, max_backoff_s=60.0, jitter=False, deadline_s=5.0)
    attempts = policy.run(attempt, lambda _last, n: n, name="site", hooks=RetryHooks(sleep=sleep, clock=lambda: now[0]))
    assert (attempts, now[0]) == (3, 3.0)  # waits 1 + 2; the next (4) would end at 7 > 5


def test_each_source_takes_its_shape_from_config_base_yaml(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings()
    justwatch = JustWatchSettings.from_settings(settings).retry_policy
    assert (justwatch.jitter, justwatch.max_retry_after_s, justwatch.retryable_status(503)) == (True, 600.0, True)
    reviews = ReviewsSettings.from_settings(settings).retry_policy
    assert (reviews.jitter, reviews.max_retry_after_s, reviews.retryable_status(408)) == (False, 60.0, False)
    assert GeminiConfig.from_settings(settings).retry_statuses >= {408, 429, 499, 503}
    assert Backoff(base_s=1.0, max_s=60.0).policy().retry_after_is_floor
    overridden = make_settings(**{"reviews.retry_statuses": [503], "justwatch.max_retry_after_s": None})
    assert ReviewsSettings.from_settings(overridden).retry_policy.statuses == frozenset({503})
    assert JustWatchSettings.from_settings(overridden).retry_policy.max_retry_after_s is None


def _never(last: Retryable, attempts: int) -> str:
    raise AssertionError(f"gave up after {attempts}: {last}")
