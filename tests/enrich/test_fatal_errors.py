"""Never silently green: fatal Gemini answers, the budget cap and low coverage fail the step with one line.

Real google-genai SDK -> the local Gemini fake answering in the bodies the live API returns -> dlt -> a
temporary DuckDB (and one PostgreSQL case). Every paid result is kept; the next run pays only for the rest.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from core.config import Secrets, Settings, parse_settings
from core.context import RunContext, StepResult
from enrich.api_errors import classify
from enrich.runner import EnrichmentFailed
from enrich.step import enrich_titles
from tests.enrich.conftest import enrichment_rows, input_row, seed_inputs
from tests.fakes.gemini_server import FakeGemini, account_fault
from trending_now.compose import call_step

Ctx = Callable[..., RunContext]
KEY = "AIzaSyD-revoked-key-0123456789abcdef"
STATUSES = parse_settings("dev", environ={}).typed.enrich.retry_statuses  # config/base.yaml's list

# fault -> the start of the one line the step fails with
FATAL: dict[str, str] = {
    "key_invalid": "Gemini rejected the API key (API_KEY_INVALID): check GEMINI_API_KEY",
    "key_expired": "Gemini rejected the API key (API_KEY_INVALID): check GEMINI_API_KEY",
    "suspended": "Gemini denied the key's project (403 PERMISSION_DENIED, CONSUMER_SUSPENDED: Permission denied: "
                 "Consumer 'api_key:***' has been suspended.): the project is suspended or denied",
    "project_denied": "Gemini denied the key's project (403 PERMISSION_DENIED: Your project has been denied "
                      "access.): the project is suspended or denied; contact Google support",
    "leaked": "Gemini blocked the API key as leaked (403 PERMISSION_DENIED: Your API key was reported as leaked.): "
              "create a new key and replace GEMINI_API_KEY",
    "location": "Gemini does not serve the location the call came from (400 FAILED_PRECONDITION: User location is "
                "not supported for the API use.): billing or a new key will not help",
    "billing": "Gemini's free tier is not offered where the call came from (400 FAILED_PRECONDITION: User location "
               "is not supported for the API use without a billing account linked.): link a billing account to "
               "the key's project",
    "unknown_model": "Gemini model not found (404 NOT_FOUND: models/gemini-3.5-flash-lite is not found for API "
                     "version v1beta",
    "429_daily": "Gemini quota GenerateRequestsPerDayPerProjectPerModel-FreeTier exhausted (429 RESOURCE_EXHAUSTED): "
                 "it resets at midnight Pacific",
    "402": "Gemini prepaid credits are depleted (402 RESOURCE_EXHAUSTED: Your prepayment credits are depleted.)",
}
# Each cause's remedy, and advice it must never give (the location error once said "enable billing").
WRONG_ADVICE: dict[str, tuple[str, ...]] = {
    "location": ("enable billing", "link a billing", "GEMINI_API_KEY"),
    "billing": ("GEMINI_API_KEY", "enrich.model"),
    "key_invalid": ("billing", "enrich.model"),
    "unknown_model": ("billing", "GEMINI_API_KEY"),
}


def keyed(gemini_settings: Callable[..., Settings], n: int, **overrides: Any) -> Settings:
    settings = gemini_settings(**overrides)
    settings.secrets = Secrets({"GEMINI_API_KEY": KEY}, source="test")
    seed_inputs(settings, [input_row(i) for i in range(n)])
    return settings


def failing(ctx: RunContext) -> tuple[str, StepResult]:
    with pytest.raises(EnrichmentFailed) as info:
        call_step(enrich_titles, ctx)
    message = str(info.value)
    assert "\n" not in message and KEY not in message and KEY[:12] not in message
    return message, info.value.result


@pytest.mark.parametrize("fault", sorted(FATAL))
def test_a_fatal_answer_costs_one_call_and_fails_the_step_with_its_cause(
    fault: str, gemini_settings: Callable[..., Settings], make_context: Ctx, fake_gemini: FakeGemini,
    sleeps: list[float],
) -> None:
    settings = keyed(gemini_settings, 6, enrich__concurrency=4)
    fake_gemini.fail_next(fault)
    message, result = failing(make_context(settings))
    assert message.startswith(FATAL[fault]), message
    assert not any(advice in message for advice in WRONG_ADVICE.get(fault, ())), message
    assert fake_gemini.call_count == 1 and result.llm.calls == 1  # the first call goes alone; nothing after it
    assert sleeps == []  # not retried
    assert result.rows_out == 0 and result.details["left_pending"] == 5
    assert result.details["stopped_reason"] == message
    rows = enrichment_rows(settings)
    assert [(r["status"], r["error"]) for r in rows] == [("failed", message)]  # pending again next run


def test_a_revoked_key_stops_mid_run_and_keeps_every_paid_result(
    gemini_settings: Callable[..., Settings], make_context: Ctx, fake_gemini: FakeGemini, sleeps: list[float]
) -> None:
    settings = keyed(gemini_settings, 8, enrich__concurrency=1, enrich__flush_every=100)
    fake_gemini.fail_title("tm1003", "key_invalid")  # the key is revoked after three paid answers
    message, result = failing(make_context(settings, limit=None))
    assert message.startswith("Gemini rejected the API key (API_KEY_INVALID): check GEMINI_API_KEY")
    assert fake_gemini.call_count == 4 and result.llm.calls == 4
    assert result.rows_out == 3 and result.details["left_pending"] == 4 and result.llm.cost_usd > 0
    rows = {r["id"]: r for r in enrichment_rows(settings)}
    assert {i: r["status"] for i, r in rows.items()} == {"tm1000": "ok", "tm1001": "ok", "tm1002": "ok",
                                                         "tm1003": "failed"}
    assert sum(r["input_tokens"] for r in rows.values()) == result.llm.tokens_in  # the paid tokens are on record

    fixed = call_step(enrich_titles, make_context(settings))  # a valid key again: only the unpaid titles are called
    assert (fixed.rows_in, fixed.cache_hits, fixed.rows_out) == (5, 3, 5)
    assert fake_gemini.call_count == 9
    assert {r["status"] for r in enrichment_rows(settings)} == {"ok"}


def test_every_call_with_a_revoked_key_is_refused_and_the_run_stops_at_the_first(
    gemini_settings: Callable[..., Settings], make_context: Ctx, fake_gemini: FakeGemini, sleeps: list[float]
) -> None:
    settings = keyed(gemini_settings, 20, enrich__concurrency=4, enrich__batch_size=2)
    fake_gemini.revoked_keys.add(KEY)
    message, result = failing(make_context(settings))
    assert message.startswith("Gemini rejected the API key (API_KEY_INVALID): check GEMINI_API_KEY")
    assert fake_gemini.call_count == 1 and [c.status for c in fake_gemini.calls] == [400]
    assert result.details["left_pending"] == 18 and result.llm.cost_usd == 0


def test_no_call_after_a_fatal_answer_even_from_workers_waiting_for_the_rate_limit(
    gemini_settings: Callable[..., Settings], make_context: Ctx, fake_gemini: FakeGemini, sleeps: list[float]
) -> None:
    settings = keyed(gemini_settings, 6, enrich__concurrency=3, enrich__requests_per_minute=60)  # 1 call/s
    fake_gemini.fail_next("ok", "key_invalid")  # the second call, whichever title it carries
    message, result = failing(make_context(settings))
    assert message.startswith("Gemini rejected the API key (API_KEY_INVALID): check GEMINI_API_KEY")
    assert fake_gemini.call_count == 2 and result.llm.calls == 2  # the workers still waiting made no call
    assert (result.rows_out, result.details["left_pending"]) == (1, 4)


def test_a_per_minute_quota_stays_retryable() -> None:
    status, body = 429, {"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "message": "quota", "details": [
        {"@type": "type.googleapis.com/google.rpc.QuotaFailure",
         "violations": [{"quotaId": "GenerateContentInputTokensPerModelPerMinute-FreeTier"}]},
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "26s"}]}}
    verdict = classify(status, "RESOURCE_EXHAUSTED", "quota", body, STATUSES)
    assert verdict.retryable and not verdict.fatal and verdict.retry_after == 26.0
    code, other = account_fault("key_invalid", "m", KEY)
    assert classify(code, other["error"]["status"], other["error"]["message"], other, STATUSES).fatal
    plain_400 = classify(400, "INVALID_ARGUMENT", "Request contains an invalid argument.", None, STATUSES)
    assert not plain_400.fatal and not plain_400.retryable  # this request only: a failed row, the run goes on


@pytest.mark.parametrize(("threshold", "fails"), [(0.75, False), (0.8, True), (0.0, False)])
def test_coverage_threshold(
    threshold: float, fails: bool, gemini_settings: Callable[..., Settings], make_context: Ctx,
    fake_gemini: FakeGemini, sleeps: list[float],
) -> None:
    settings = keyed(gemini_settings, 4, quality__min_enrichment_coverage=threshold)
    fake_gemini.fail_title("tm1002", "malformed", "malformed")  # 3 of 4 ok = 75 %
    if fails:
        message, result = failing(make_context(settings))
        assert message.startswith("enrichment coverage 3/4 (75%) is below quality.min_enrichment_coverage 80%; "
                                  "first failure: invalid answer: Invalid JSON")
        assert message.endswith("(after a retry)")
    else:
        result = call_step(enrich_titles, make_context(settings))
    assert result.rows_out == 3 and result.details["coverage"] == 0.75
    assert len(enrichment_rows(settings)) == 4  # the ok rows and the failed row are stored either way

    nothing = call_step(enrich_titles, make_context(settings.with_overrides({"quality.min_enrichment_coverage": 1.0})))
    assert nothing.rows_in == 1 and nothing.rows_out == 1  # the failed title alone, enriched now
    assert call_step(enrich_titles, make_context(settings)).rows_in == 0  # nothing pending: no coverage check


@pytest.mark.postgres
def test_revoked_key_on_postgres_keeps_the_paid_results(
    pg_database: str, gemini_settings: Callable[..., Settings], make_context: Ctx, fake_gemini: FakeGemini,
    sleeps: list[float],
) -> None:
    settings = keyed(gemini_settings, 5, warehouse__target="postgres", enrich__concurrency=1)
    fake_gemini.fail_title("tm1002", "suspended")
    message, result = failing(make_context(settings))
    assert message.startswith(FATAL["suspended"])
    assert fake_gemini.call_count == 3 and result.rows_out == 2
    assert {r["id"]: r["status"] for r in enrichment_rows(settings)} == {
        "tm1000": "ok", "tm1001": "ok", "tm1002": "failed"}
    again = call_step(enrich_titles, make_context(settings))
    assert (again.rows_in, again.cache_hits, fake_gemini.call_count) == (3, 2, 6)
