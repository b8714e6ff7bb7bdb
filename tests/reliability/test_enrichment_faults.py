"""Cases 2, 6, 7: enrichment killed mid-way, the LLM rate-limited for a while, the budget cap hit.

The LLM is the fake Gemini server (real google-genai SDK); the raw data is a copy of the reference
warehouse before enrichment, so each case pays only for the enrich step and the mart.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from enrich.store import open_journal
from tests.reliability.conftest import (
    UP_TO_MART,
    RateLimitedGemini,
    Reference,
    assert_converged,
    enrichment_ids,
    gemini_project,
    state_of,
)
from trending_now.pipeline import StepFailed

pytestmark = pytest.mark.slow
AFTER_ENRICH = UP_TO_MART[UP_TO_MART.index("enrich_titles"):]  # enrich, audit, gate, publish


def _call_ids(calls: list[Any]) -> Counter[str]:
    return Counter(title_id for call in calls for title_id in call.ids)


def test_killed_mid_enrichment_rerun_pays_only_for_unpaid_titles(
    tmp_path: Path, reference: Reference, gemini_reference: dict[str, Any], fake_gemini: RateLimitedGemini
) -> None:
    all_ids = {row["id"] for row in gemini_reference["mart"]}
    project = gemini_project(reference, tmp_path, fake_gemini, **{"enrich.concurrency": 2})
    fake_gemini.latency_s = 0.15  # slow answers, so the kill lands mid-way
    cli = project.cli("enrich")
    cli.wait_for(lambda: fake_gemini.call_count >= 12, "12 Gemini calls")
    cli.kill()
    first_calls = list(fake_gemini.calls)
    fake_gemini.latency_s = 0.0

    # what the killed run kept: fsynced journal lines (not yet loaded: flush_every is 25) + loaded rows
    settings = project.settings()
    journal = open_journal(project.context().warehouse)  # on the shared remote, as the next worker sees it
    journaled = {row["id"] for row in journal.read().rows if row["status"] == "ok"}
    loaded = set(enrichment_ids(settings))
    done = journaled | loaded
    assert journaled, "the kill should leave paid results in the journal only"
    assert len(first_calls) - len(done) <= 2  # at most the in-flight calls (concurrency 2) were lost

    results = project.run(AFTER_ENRICH)
    enrich = results["enrich_titles"]
    rerun_calls = _call_ids(fake_gemini.calls[len(first_calls):])
    assert enrich.details["journal_replayed"] == len(journaled)  # the journal was replayed first
    # one call for each title whose answer was not kept: never pays twice for one that was
    assert rerun_calls == Counter(all_ids - done)
    assert enrich.llm.calls == len(all_ids - done)
    assert journal.read().rows == []  # replayed and loaded: the journal is empty again
    assert_converged(state_of(settings), gemini_reference)


def test_llm_rate_limited_for_a_while_then_recovers(
    tmp_path: Path, reference: Reference, gemini_reference: dict[str, Any], fake_gemini: RateLimitedGemini
) -> None:
    project = gemini_project(
        reference, tmp_path, fake_gemini,
        **{"enrich.max_retries": 10, "enrich.backoff_base_s": 0.2, "enrich.max_backoff_s": 1.0},
    )
    fake_gemini.rate_limit_next(8)  # a count, never a time window: 8 answers of 429, within max_retries 10
    results = project.run(AFTER_ENRICH)
    enrich = results["enrich_titles"]
    assert fake_gemini.rate_limited == 8
    assert enrich.rows_out == len(gemini_reference["mart"]) and enrich.details["failed"] == 0
    assert enrich.details["retries"] == fake_gemini.rate_limited  # every 429 was retried and counted
    assert enrich.llm.calls == fake_gemini.call_count + fake_gemini.rate_limited
    row = project.context().warehouse.fetch_all(
        "select llm_calls, details from ops.pipeline_runs where step = 'enrich_titles'"
    )[0]
    assert json.loads(row["details"])["retries"] == fake_gemini.rate_limited
    assert_converged(state_of(project.settings()), gemini_reference)


def test_budget_cap_leaves_the_rest_pending_fails_loudly_and_the_next_run_finishes(
    tmp_path: Path, reference: Reference, gemini_reference: dict[str, Any], fake_gemini: RateLimitedGemini
) -> None:
    all_ids = {row["id"] for row in gemini_reference["mart"]}
    project = gemini_project(reference, tmp_path, fake_gemini, **{"enrich.max_cost_usd": 0.012})
    with pytest.raises(StepFailed, match=r"^enrich_titles: budget cap reached: \d+ title\(s\) left pending after "
                       r"\$0\.\d{4} \(cap \$0\.012\); raise enrich\.max_cost_usd to enrich them$"):
        project.run(AFTER_ENRICH)
    warehouse = project.context().warehouse
    enriched = set(enrichment_ids(project.settings()))
    assert 0 < len(enriched) < len(all_ids)
    assert len(enriched) == fake_gemini.call_count  # every paid answer was kept
    spent = warehouse.fetch_all("select sum(cost_usd) as usd from raw_enrichment.title_enrichments")[0]["usd"]
    assert 0 < spent <= 0.012
    assert not warehouse.table_exists("marts", "movies_tv_shows_enriched")  # the failed run published nothing

    calls_before = fake_gemini.call_count
    results = project.run(AFTER_ENRICH, extra={"enrich.max_cost_usd": 5.0})
    assert set(_call_ids(fake_gemini.calls[calls_before:])) == all_ids - enriched
    assert results["enrich_titles"].cache_hits == len(enriched)
    assert not warehouse.fetch_all("select id from intermediate.int_titles_pending_enrichment")
    assert_converged(state_of(project.settings()), gemini_reference)
