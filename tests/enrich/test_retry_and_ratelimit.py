from __future__ import annotations

import random

import pytest

from core.config import parse_settings
from enrich.api_errors import Backoff, classify, parse_duration, retry_delay_from
from enrich.ratelimit import TokenBucket

STATUSES = parse_settings("dev", environ={}).typed.enrich.retry_statuses  # config/base.yaml's list
BODY_429 = {"error": {"code": 429, "message": "You exceeded your current quota", "status": "RESOURCE_EXHAUSTED",
                      "details": [
                          {"@type": "type.googleapis.com/google.rpc.QuotaFailure",
                           "violations": [{"quotaId": "GenerateContentInputTokensPerModelPerMinute-FreeTier"}]},
                          {"@type": "type.googleapis.com/google.rpc.Help", "links": []},
                          {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "26s"}]}}


def test_retry_delay_is_read_from_retry_info() -> None:
    assert retry_delay_from(BODY_429) == 26.0
    assert retry_delay_from([BODY_429]) == 26.0  # array-wrapped bodies exist in the wild
    assert retry_delay_from({"error": {"code": 429, "status": "RESOURCE_EXHAUSTED"}}) is None
    assert parse_duration("0.5s") == 0.5
    assert parse_duration({"seconds": 3, "nanos": 500_000_000}) == 3.5
    assert parse_duration("soon") is None


@pytest.mark.parametrize(
    ("code", "retryable", "fatal"),
    [(429, True, False), (500, True, False), (503, True, False), (504, True, False), (400, False, False),
     (402, False, True), (403, False, True), (404, False, True), (401, False, True)],
)
def test_classification(code: int, retryable: bool, fatal: bool) -> None:
    verdict = classify(code, "X", "msg", BODY_429 if code == 429 else None, STATUSES)
    assert (verdict.retryable, verdict.fatal) == (retryable, fatal)
    if code == 429:
        assert verdict.retry_after == 26.0


def test_per_day_quota_is_not_retried() -> None:
    body = {"error": {"code": 429, "details": [{"@type": "type.googleapis.com/google.rpc.QuotaFailure",
                                                "violations": [{"quotaId": "GenerateRequestsPerDayPerProjectPerModel"}]}]}}
    verdict = classify(429, "RESOURCE_EXHAUSTED", "quota", body, STATUSES)
    assert not verdict.retryable and verdict.fatal


def test_backoff_grows_jitters_and_honours_the_server_delay() -> None:
    backoff = Backoff(base_s=1.0, max_s=8.0)
    rng = random.Random(7)
    delays = [backoff.delay(n, rng=rng) for n in range(1, 7)]
    for attempt, delay in enumerate(delays, start=1):
        ceiling = min(8.0, 2 ** (attempt - 1))
        assert ceiling / 2 <= delay <= ceiling
    assert backoff.delay(1, retry_after=5.0, rng=rng) == 5.0
    assert backoff.delay(1, retry_after=30.0, rng=rng) == 30.0  # above the cap: still honoured


def test_token_bucket_limits_rate() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    bucket = TokenBucket(60, capacity=2, clock=lambda: now[0], sleep=sleep)  # 1 per second, burst 2
    waits = [bucket.acquire() for _ in range(5)]
    assert waits[:2] == [0.0, 0.0]
    assert waits[2:] == pytest.approx([1.0, 1.0, 1.0])
    assert now[0] == pytest.approx(3.0)
    assert TokenBucket(0).acquire() == 0.0


def test_the_retryable_statuses_are_the_settings_list() -> None:
    assert classify(499, "CANCELLED", "cancelled", None, STATUSES).retryable  # enrich.retry_statuses
    assert not classify(503, "UNAVAILABLE", "busy", None, frozenset({429})).retryable


def _body(code: int, status: str, message: str, *details: dict[str, object]) -> dict[str, object]:
    return {"error": {"code": code, "message": message, "status": status, **({"details": list(details)} if details
                                                                          else {})}}


KEY_INFO = {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID",
            "domain": "googleapis.com", "metadata": {"service": "generativelanguage.googleapis.com"}}
# Recorded shapes of the live API's fatal answers (real-payloads/gemini/errors_from_issue_threads) -> the start of
# the remedy, and advice that does not fit the cause.
REAL_FATAL = [
    (_body(400, "FAILED_PRECONDITION", "User location is not supported for the API use."),
     "Gemini does not serve the location", ("billing account", "enable billing", "GEMINI_API_KEY")),
    (_body(400, "FAILED_PRECONDITION", "User location is not supported for the API use without a billing account "
           "linked."), "Gemini's free tier is not offered", ("GEMINI_API_KEY",)),
    (_body(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.", KEY_INFO),
     "Gemini rejected the API key (API_KEY_INVALID)", ("billing", "enrich.model")),
    ([_body(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.", KEY_INFO)],
     "Gemini rejected the API key (API_KEY_INVALID)", ("billing",)),  # array-wrapped, as some proxies send it
    (_body(403, "PERMISSION_DENIED", "Your API key was reported as leaked. Please use another API key."),
     "Gemini blocked the API key as leaked", ("billing",)),
    (_body(403, "PERMISSION_DENIED", "Method doesn't allow unregistered callers (callers without established "
           "identity). Please use API Key or other form of API consumer identity to call this API."),
     "Gemini received no API key", ("billing",)),
    (_body(403, "PERMISSION_DENIED", "Your project has been denied access. Please contact support."),
     "Gemini denied the key's project", ("billing",)),
    (_body(404, "NOT_FOUND", "models/gemini-9-pro is not found for API version v1beta, or is not supported for "
           "generateContent."), "Gemini model not found", ("billing", "GEMINI_API_KEY")),
]


@pytest.mark.parametrize(("body", "start", "wrong"), REAL_FATAL)
def test_each_fatal_cause_gets_its_own_remedy(body: object, start: str, wrong: tuple[str, ...]) -> None:
    error = body[0]["error"] if isinstance(body, list) else body["error"]  # type: ignore[index]
    verdict = classify(error["code"], error["status"], error["message"], body, STATUSES)
    assert verdict.fatal and not verdict.retryable
    assert verdict.reason.startswith(start), verdict.reason
    assert not any(advice in verdict.reason for advice in wrong), verdict.reason
