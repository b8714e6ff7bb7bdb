"""``enrich.mode: batch`` end to end: the real google-genai SDK's Batch and Files APIs -> the local Gemini
fake -> the journal -> dlt -> a temporary DuckDB, and the ledger ``ops.enrichment_batches``.

The fake moves a batch one state on at each ``batches.get`` (PENDING -> RUNNING -> done), and the wait's
sleep is recorded instead of slept, so nothing here waits on the clock.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from core.config import Settings
from core.context import RunContext
from core.warehouse import Warehouse
from enrich import batch
from enrich.providers.gemini import GeminiProvider
from enrich.providers.gemini_batch import GeminiBatchClient
from enrich.runner import EnrichmentFailed
from enrich.step import enrich_titles
from tests.enrich.conftest import enrichment_rows, input_row, seed_inputs
from tests.fakes.gemini_server import FakeGemini
from trending_now.compose import Resources, call_step

Ctx = Callable[..., RunContext]
IDS = [f"tm100{i}" for i in range(5)]


class Crash(BaseException):
    """The process dies here (not an Exception: nothing may catch and carry on)."""


@pytest.fixture
def polls(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    waits: list[float] = []
    monkeypatch.setattr(batch, "_sleep", waits.append)
    return waits


@pytest.fixture
def batch_settings(gemini_settings: Callable[..., Settings], polls: list[float]) -> Callable[..., Settings]:
    def factory(n: int = 5, **overrides: Any) -> Settings:
        settings = gemini_settings(**{"enrich.mode": "batch", "enrich.batch.poll_interval_s": 7, **overrides})
        seed_inputs(settings, [input_row(i) for i in range(n)])
        return settings

    return factory


def by_id(settings: Settings) -> dict[str, dict[str, Any]]:
    return {row["id"]: row for row in enrichment_rows(settings)}


def ledger(settings: Settings) -> list[dict[str, Any]]:
    return Warehouse(settings).fetch_all("select * from ops.enrichment_batches order by submitted_at")


def paid_requests(fake: FakeGemini, title_id: str, path: str = "batch") -> int:
    return sum(1 for c in fake.calls if title_id in c.ids and c.path == path and c.status == 200)


def test_one_inline_batch_at_half_price_then_nothing_pending(
    batch_settings: Callable[..., Settings], make_context: Ctx, fake_gemini: FakeGemini, polls: list[float]
) -> None:
    settings = batch_settings()
    result = call_step(enrich_titles, make_context(settings))

    assert fake_gemini.batch.created == ["batches/fakebatch00001"]
    assert all(c.path == "batch" for c in fake_gemini.calls)  # no interactive call
    assert polls == [7]  # one poll found it running, the next one done
    rows = by_id(settings)
    assert sorted(rows) == IDS and {r["status"] for r in rows.values()} == {"ok"}
    expected = (result.llm.tokens_in * 0.30 + result.llm.tokens_out * 2.50) / 1e6 * 0.5
    assert result.llm.cost_usd == pytest.approx(expected, abs=2e-6)
    assert sum(r["cost_usd"] for r in rows.values()) == pytest.approx(expected, abs=2e-6)
    assert (result.rows_in, result.rows_out, result.llm.calls) == (5, 5, 5)
    assert result.details["mode"] == "batch" and result.details["batch_cost_usd"] == result.llm.cost_usd
    check_ledger_row(settings, expected)

    again = call_step(enrich_titles, make_context(settings))
    assert len(fake_gemini.batch.created) == 1 and (again.rows_in, again.cache_hits) == (0, 5)


def check_ledger_row(settings: Settings, expected_cost: float) -> None:
    """One harvested inline batch in ops.enrichment_batches, at half price."""
    [row] = ledger(settings)
    assert (row["batch_name"], row["state"], row["input"], row["request_count"], row["ok_count"]) == (
        "batches/fakebatch00001",
        "SUCCEEDED",
        "inline",
        5,
        5,
    )
    assert row["cost_usd"] == pytest.approx(expected_cost, abs=2e-6) and row["price_factor"] == 0.5
    assert row["harvested_at"] is not None


def test_a_batch_above_the_inline_limit_goes_as_a_jsonl_file(
    batch_settings: Callable[..., Settings], make_context: Ctx, fake_gemini: FakeGemini, tmp_path: Path
) -> None:
    settings = batch_settings(3, **{"enrich.batch.inline_max_bytes": 1})
    call_step(enrich_titles, make_context(settings))

    [name] = fake_gemini.batch.created
    sent = fake_gemini.batch.batches[name]
    assert sent.file_input and sent.output_file  # uploaded, answered as a file, downloaded
    assert {r["status"] for r in by_id(settings).values()} == {"ok"} and len(by_id(settings)) == 3
    assert ledger(settings)[0]["input"] == "file"

    # the file's lines are exactly the requests the SDK sends inline (another warehouse: title 0 pending again)
    inline_settings = batch_settings(3, **{"warehouse.duckdb_path": str(tmp_path / "inline.duckdb")})
    call_step(enrich_titles, make_context(inline_settings, run_id="inline"))
    inline_name = fake_gemini.batch.created[-1]
    assert inline_name != name and fake_gemini.batch.batches[inline_name].file_input is None
    inline_sent = fake_gemini.batch.batches[inline_name]
    assert inline_sent.keys == sent.keys == [f"tm100{i}|hash-{i}" for i in range(3)]
    assert inline_sent.requests == sent.requests
    assert sent.requests[0]["generationConfig"]["responseSchema"]["required"]


def test_a_crash_while_waiting_reattaches_and_never_resubmits(
    batch_settings: Callable[..., Settings],
    make_context: Ctx,
    fake_gemini: FakeGemini,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = batch_settings()

    def die(_: float) -> None:
        raise Crash

    monkeypatch.setattr(batch, "_sleep", die)
    with pytest.raises(Crash):
        call_step(enrich_titles, make_context(settings, run_id="first"))
    [row] = ledger(settings)
    assert (
        row["batch_name"] == "batches/fakebatch00001" and row["harvested_at"] is None
    )  # persisted before waiting

    monkeypatch.setattr(batch, "_sleep", lambda _: None)
    result = call_step(enrich_titles, make_context(settings, run_id="retry"))
    assert fake_gemini.batch.created == ["batches/fakebatch00001"]
    assert all(paid_requests(fake_gemini, i) == 1 for i in IDS)
    assert result.rows_out == 5 and {r["status"] for r in by_id(settings).values()} == {"ok"}


def test_a_crash_right_after_the_create_call_finds_the_batch_by_its_display_name(
    batch_settings: Callable[..., Settings],
    make_context: Ctx,
    fake_gemini: FakeGemini,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = batch_settings()
    real_submit = GeminiBatchClient.submit

    def submit_then_die(self: GeminiBatchClient, *args: Any) -> Any:
        real_submit(self, *args)
        raise Crash  # the service has the batch; the ledger has no name for it

    monkeypatch.setattr(GeminiBatchClient, "submit", submit_then_die)
    with pytest.raises(Crash):
        call_step(enrich_titles, make_context(settings, run_id="first"))
    assert ledger(settings)[0]["state"] == "SUBMITTING" and ledger(settings)[0]["batch_name"] is None

    monkeypatch.setattr(GeminiBatchClient, "submit", real_submit)
    call_step(enrich_titles, make_context(settings, run_id="retry"))
    assert fake_gemini.batch.created == ["batches/fakebatch00001"]
    assert [r["batch_name"] for r in ledger(settings)] == ["batches/fakebatch00001"]
    assert len(by_id(settings)) == 5


def test_a_submission_that_never_reached_the_service_is_dropped_and_submitted_once(
    batch_settings: Callable[..., Settings],
    make_context: Ctx,
    fake_gemini: FakeGemini,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = batch_settings()
    real_submit = GeminiBatchClient.submit

    def die_before(self: GeminiBatchClient, *args: Any) -> Any:
        raise Crash

    monkeypatch.setattr(GeminiBatchClient, "submit", die_before)
    with pytest.raises(Crash):
        call_step(enrich_titles, make_context(settings, run_id="first"))
    monkeypatch.setattr(GeminiBatchClient, "submit", real_submit)
    call_step(enrich_titles, make_context(settings, run_id="retry"))
    assert len(fake_gemini.batch.created) == 1
    assert [r["state"] for r in ledger(settings)] == ["NOT_SUBMITTED", "SUCCEEDED"]


def test_an_expired_batch_is_requeued_as_sync_calls(
    batch_settings: Callable[..., Settings],
    make_context: Ctx,
    fake_gemini: FakeGemini,
    sleeps: list[float],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake_gemini.batch.outcomes.append("EXPIRED")
    settings = batch_settings()
    callers: set[int] = set()
    closed: list[object] = []
    real_call, real_close, real_batch_close = GeminiProvider.call, GeminiProvider.close, GeminiBatchClient.close
    monkeypatch.setattr(GeminiProvider, "call", lambda self, t: callers.add(id(self)) or real_call(self, t))
    monkeypatch.setattr(GeminiProvider, "close", lambda self: closed.append(self) or real_close(self))
    monkeypatch.setattr(GeminiBatchClient, "close", lambda self: closed.append(self) or real_batch_close(self))
    ctx = make_context(settings)
    # the step uses the run's batch client (the re-queue the run's provider), closed with the run, not before
    with Resources(ctx) as resources:
        result = call_step(enrich_titles, ctx, resources)
        assert closed == [] and callers == {id(resources.provider)}
    assert resources.gemini_batch is not None
    assert closed == [resources.gemini_batch, resources.gemini_batch.sync, resources.provider]

    [row] = ledger(settings)
    assert (row["state"], row["ok_count"], row["error_count"], row["cost_usd"]) == ("EXPIRED", 0, 5, 0.0)
    assert all(paid_requests(fake_gemini, i, "batch") == 0 for i in IDS)  # an expired batch is not billed
    assert all(c.path.endswith(":generateContent") for c in fake_gemini.calls)
    rows = by_id(settings)
    assert {r["status"] for r in rows.values()} == {"ok"} and len(rows) == 5
    assert result.details["requeued_sync"] == 5 and result.rows_out == 5
    expected = (result.llm.tokens_in * 0.30 + result.llm.tokens_out * 2.50) / 1e6  # interactive price
    assert result.llm.cost_usd == pytest.approx(expected, abs=2e-6)


def test_an_expired_batch_goes_into_the_next_runs_batch(
    batch_settings: Callable[..., Settings], make_context: Ctx, fake_gemini: FakeGemini
) -> None:
    fake_gemini.batch.outcomes.append("EXPIRED")
    settings = batch_settings(**{"enrich.batch.requeue": "next_batch"})
    with pytest.raises(EnrichmentFailed, match=r"coverage 0/5 .* first failure: batch EXPIRED"):
        call_step(enrich_titles, make_context(settings, run_id="day1"))
    assert not Warehouse(settings).table_exists("raw_enrichment", "title_enrichments")
    assert fake_gemini.call_count == 0  # an expired batch's requests were never answered nor billed

    result = call_step(enrich_titles, make_context(settings, run_id="day2"))
    assert len(fake_gemini.batch.created) == 2 and result.rows_out == 5
    assert [r["state"] for r in ledger(settings)] == ["EXPIRED", "SUCCEEDED"]


def test_partial_failures_requeue_errors_and_quarantine_invalid_answers(
    batch_settings: Callable[..., Settings], make_context: Ctx, fake_gemini: FakeGemini, sleeps: list[float]
) -> None:
    fake_gemini.fail_title("tm1001", "500")  # the request fails inside the batch: re-queued, answered sync
    fake_gemini.fail_title("tm1002", "out_of_range")  # answered, invalid: a failed row with the reason
    fake_gemini.fail_title("tm1003", "malformed")
    settings = batch_settings(**{"quality.min_enrichment_coverage": 0.5})
    result = call_step(enrich_titles, make_context(settings))

    rows = by_id(settings)
    assert rows["tm1000"]["status"] == rows["tm1004"]["status"] == rows["tm1001"]["status"] == "ok"
    assert rows["tm1002"]["status"] == "failed" and "score" in rows["tm1002"]["error"]
    assert rows["tm1003"]["status"] == "failed" and "invalid" in rows["tm1003"]["error"].lower()
    assert rows["tm1002"]["cost_usd"] > 0  # an invalid answer is paid for, and recorded
    assert paid_requests(fake_gemini, "tm1001", "batch") == 0
    assert sum(1 for c in fake_gemini.calls if "tm1001" in c.ids and c.path.endswith(":generateContent")) == 1
    assert sum(1 for c in fake_gemini.calls if "tm1002" in c.ids) == 1  # quarantined, not retried this run
    [row] = ledger(settings)
    assert (row["ok_count"], row["invalid_count"], row["error_count"]) == (2, 2, 1)
    assert (result.rows_in, result.rows_out, result.details["requeued_sync"]) == (5, 3, 1)


def test_a_refused_key_costs_one_call_and_no_batch(
    batch_settings: Callable[..., Settings], make_context: Ctx, fake_gemini: FakeGemini
) -> None:
    fake_gemini.revoked_keys.add("test-key-not-real")
    settings = batch_settings()
    with pytest.raises(EnrichmentFailed, match=r"batch submission refused: .*API key") as info:
        call_step(enrich_titles, make_context(settings))
    assert "\n" not in str(info.value)
    assert fake_gemini.batch.created == []
    assert not Warehouse(settings).table_exists("raw_enrichment", "title_enrichments")
    assert [r["state"] for r in ledger(settings)] == ["NOT_SUBMITTED"]


def test_the_wait_gives_up_after_max_wait_and_the_next_run_reattaches(
    batch_settings: Callable[..., Settings], make_context: Ctx, fake_gemini: FakeGemini
) -> None:
    fake_gemini.batch.polls_to_finish = 1000
    settings = batch_settings(**{"enrich.batch.max_wait_s": 0})
    with pytest.raises(EnrichmentFailed, match=r"still running after .* re-attaches"):
        call_step(enrich_titles, make_context(settings, run_id="day1"))
    fake_gemini.batch.finish(fake_gemini.batch.created[0])
    result = call_step(enrich_titles, make_context(settings, run_id="day1-retry"))
    assert len(fake_gemini.batch.created) == 1 and result.rows_out == 5


def test_prepare_submits_once_per_run_and_returns_what_to_wait_for(
    batch_settings: Callable[..., Settings], make_context: Ctx, fake_gemini: FakeGemini
) -> None:
    settings = batch_settings()
    ctx = make_context(settings, run_id="dag-run")
    assert call_step(batch.prepare_batches, ctx) == ["batches/fakebatch00001"]
    assert call_step(batch.prepare_batches, ctx) == ["batches/fakebatch00001"]  # a task retry re-attaches
    fake_gemini.batch.finish("batches/fakebatch00001")
    result = call_step(enrich_titles, ctx)  # the task after the trigger: harvest, no new batch, no wait
    assert result.rows_out == 5 and len(fake_gemini.batch.created) == 1
    assert call_step(batch.prepare_batches, ctx) == []


def test_sync_stays_the_default_and_the_heuristic_provider_has_no_batches(
    make_settings: Callable[..., Settings],
) -> None:
    assert make_settings().get("enrich.mode") == "sync"
    assert not batch.batch_mode(make_settings(**{"enrich.mode": "batch", "enrich.provider": "heuristic"}))


def test_a_cancelled_batch_is_harvested_as_such_and_its_titles_requeued(
    batch_settings: Callable[..., Settings], make_context: Ctx, fake_gemini: FakeGemini, sleeps: list[float]
) -> None:
    settings = batch_settings(3)
    ctx = make_context(settings, run_id="cancelled")
    [name] = call_step(batch.prepare_batches, ctx)
    client = GeminiBatchClient.from_settings(settings)
    client.cancel(name)  # an operator gives the batch up (docs/enrichment.md)
    client.close()
    result = call_step(enrich_titles, ctx)
    assert [(r["state"], r["error_count"]) for r in ledger(settings)] == [("CANCELLED", 3)]
    assert (
        result.rows_out == 3 and result.details["requeued_sync"] == 3 and len(fake_gemini.batch.created) == 1
    )


@pytest.mark.postgres
def test_the_batch_ledger_and_harvest_on_postgres(
    pg_database: str,
    batch_settings: Callable[..., Settings],
    make_context: Ctx,
    fake_gemini: FakeGemini,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = batch_settings(3, warehouse__target="postgres")

    def die(_: float) -> None:
        raise Crash

    monkeypatch.setattr(batch, "_sleep", die)
    with pytest.raises(Crash):
        call_step(enrich_titles, make_context(settings, run_id="first"))
    monkeypatch.setattr(batch, "_sleep", lambda _: None)
    result = call_step(enrich_titles, make_context(settings, run_id="retry"))
    assert result.rows_out == 3 and len(fake_gemini.batch.created) == 1
    [row] = ledger(settings)
    assert (row["state"], row["ok_count"], row["input"]) == ("SUCCEEDED", 3, "inline")
    assert row["harvested_at"] is not None and row["cost_usd"] == pytest.approx(result.llm.cost_usd, abs=1e-6)


def test_the_cli_wait_prints_a_progress_line_per_poll(
    batch_settings: Callable[..., Settings],
    make_context: Ctx,
    fake_gemini: FakeGemini,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fake_gemini.batch.polls_to_finish = 3
    call_step(enrich_titles, make_context(batch_settings(2), quiet=False))
    err = capsys.readouterr().err
    assert "submitted batch batches/fakebatch00001 (2 requests, inline" in err
    assert err.count("enrich: batch batches/fakebatch00001 running (2 requests), waited") == 3
    assert "batches/fakebatch00001 succeeded: 2 ok, 0 invalid, 0 without an answer" in err


def test_a_batch_the_service_no_longer_knows_is_closed_and_its_titles_requeued(
    batch_settings: Callable[..., Settings], make_context: Ctx, fake_gemini: FakeGemini, sleeps: list[float]
) -> None:
    settings = batch_settings(3)
    ctx = make_context(settings, run_id="lost")
    [name] = call_step(batch.prepare_batches, ctx)
    client = GeminiBatchClient.from_settings(settings)
    client.client.batches.delete(name=name)
    client.close()
    result = call_step(enrich_titles, ctx)
    assert [(r["state"], r["error_count"]) for r in ledger(settings)] == [("NOT_FOUND", 3)]
    assert (
        ledger(settings)[0]["harvested_at"] is not None
        and "not found" in ledger(settings)[0]["error"].lower()
    )
    assert result.rows_out == 3 and result.details["requeued_sync"] == 3
