"""The write-ahead journal of enrichment results: unit tests, then crash-and-resume runs end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from core.config import PROJECT_ROOT, Settings
from core.context import RunContext, StepResult
from core.warehouse import Warehouse
from enrich.journal import Journal, decode_lines, encode_entry
from enrich.providers.base import CallUsage
from enrich.providers.gemini import GeminiProvider
from enrich.schema import TitleEnrichment
from enrich.step import enrich_titles
from enrich.store import PIPELINE, ResultSink, enrichment_row, open_journal, replay_journal
from tests.enrich.conftest import enrichment_rows, input_row, seed_inputs
from tests.fakes.gemini_server import FakeGemini
from tests.fakes.s3_server import running_s3_server
from trending_now.compose import call_step

Ctx = Callable[..., RunContext]
WHEN = datetime(2026, 11, 20, 6, 30, 15, 123456, tzinfo=UTC)


def row(index: int, ok: bool = True) -> dict[str, Any]:
    enrichment = TitleEnrichment(
        review_summary=f"Critics liked title {index}. The pacing is deliberate.", score=7.5,
        vibe_tags=["suspenseful", "atmospheric", "dark"], primary_genre="Mystery & Thriller", secondary_genres=["Crime"],
    ) if ok else None
    return enrichment_row(
        title_id=f"tm{1000 + index}", source_data_hash=f"hash-{index}", prompt_version="v1",
        model="gemini-3.5-flash-lite", provider="gemini", enrichment=enrichment,
        usage=CallUsage(input_tokens=120, output_tokens=40, cost_usd=0.000136, latency_ms=310.0),
        error=None if ok else "HTTP 500 (gave up after 3 attempts)", enriched_at=WHEN,
    )


def journal_on(tmp_path: Path, make_settings: Callable[..., Settings]) -> Journal:
    return Journal.for_target(make_settings(), "duckdb", timestamp_fields=("enriched_at",))


def objects(journal: Journal) -> list[Path]:
    return sorted(Path(journal.dir).glob("*.jsonl")) if Path(journal.dir).exists() else []


@pytest.fixture
def jr(tmp_path: Path, make_settings: Callable[..., Settings]) -> Journal:
    """The duckdb target's journal on the test's local remote (``dvc.local_remote_path`` under tmp_path)."""
    return journal_on(tmp_path, make_settings)


# ---- the journal on its own ---------------------------------------------------------------------------

def test_append_writes_one_fsynced_object_per_answer_and_reads_back_typed(
    jr: Journal, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core import files

    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(files.os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd)))
    assert Path(jr.dir).is_relative_to(tmp_path / "dvc-remote")  # on the shared remote, not a worker's disk
    with jr as journal:
        assert journal.append([row(0), row(1, ok=False)]) == [0, 1]
        assert synced  # durable before append returns
        assert journal.append([row(2)]) == [2]
        assert journal.append([]) == []
        assert journal.pending == 3
        contents = journal.read()
    # incl. enriched_at back as a datetime
    assert (len(objects(jr)), contents.rejected, contents.rows) == (2, [], [row(0), row(1, ok=False), row(2)])
    assert contents.rows[0]["enriched_at"] == WHEN


def test_discard_deletes_loaded_objects_and_rewrites_a_partly_loaded_one(jr: Journal) -> None:
    with jr as journal:
        journal.append([row(0), row(1)])
        journal.append([row(2), row(3)])
        journal.discard([0, 2])
        assert [r["id"] for r in journal.read().rows] == ["tm1001", "tm1003"] and journal.pending == 2
        journal.discard([1])
        assert len(objects(journal)) == 1 and journal.pending == 1
        assert journal.append([row(4)]) == [4]
        journal.discard([3, 4])
        assert objects(journal) == [] and journal.pending == 0
        journal.append([row(5)])
        journal.clear()
        assert objects(journal) == [] and journal.read().rows == []


def test_another_worker_replays_what_a_dead_one_left_and_deletes_only_what_it_read(
    tmp_path: Path, make_settings: Callable[..., Settings]
) -> None:
    dead = journal_on(tmp_path, make_settings)
    dead.append([row(0), row(1)])  # the worker died before loading them
    replaying = journal_on(tmp_path, make_settings)  # another worker, same remote
    assert [r["id"] for r in replaying.read().rows] == ["tm1000", "tm1001"]
    live = journal_on(tmp_path, make_settings)
    live.append([row(2)])  # a concurrent writer, after the replay read
    replaying.clear()
    assert [r["id"] for r in live.read().rows] == ["tm1002"]  # not lost


def test_torn_last_line_is_reported_not_fatal() -> None:
    good = [encode_entry(0, {"id": "a"}), encode_entry(1, {"id": "b"})]
    torn = encode_entry(2, {"id": "c"})[:17]
    contents = decode_lines(("\n".join(good) + "\n" + torn).encode())
    assert [r["id"] for r in contents.rows] == ["a", "b"]
    assert len(contents.rejected) == 1
    assert contents.rejected[0].line_no == 3 and "torn" in contents.rejected[0].reason
    assert contents.rejected[0].text == torn
    # a complete-looking line that lost its newline is torn too (the write may have been cut anywhere)
    cut = decode_lines((good[0] + "\n" + good[1]).encode())
    assert [r["id"] for r in cut.rows] == ["a"] and cut.rejected[0].line_no == 2
    garbled = decode_lines(b'{"seq": 0, "row": {"id": "a"}}\n{"seq": "x"}\nnot json\n')
    assert [r.line_no for r in garbled.rejected] == [2, 3]
    assert all("undecodable" in r.reason for r in garbled.rejected)
    assert decode_lines(b"").entries == [] and decode_lines(b"\n\n").rejected == []


def test_journal_on_s3_round_trip(
    tmp_path: Path, make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    with running_s3_server(monkeypatch) as s3:
        s3.create_bucket("trending-now-dvc")
        settings = make_settings({"dvc.remote": "s3", "dvc.s3_url": "s3://trending-now-dvc/snapshots",
                                  "aws.endpoint_url": s3.endpoint_url})
        writer = Journal.for_target(settings, "redshift", timestamp_fields=("enriched_at",))
        writer.append([row(0), row(1)])
        writer.append([row(2)])
        writer.discard([0])
        keys = [k for k in s3.keys("trending-now-dvc") if "enrichment-journal/redshift/" in k]
        assert len(keys) == 2 and all(k.startswith("snapshots/enrichment-journal/redshift/") for k in keys)
        other = Journal.for_target(settings, "redshift", timestamp_fields=("enriched_at",))
        assert other.read().rows == [row(1), row(2)]
        other.clear()
        assert not [k for k in s3.keys("trending-now-dvc") if "enrichment-journal/redshift/" in k]


# ---- the journal with the warehouse -------------------------------------------------------------------

def test_replay_loads_the_rows_quarantines_the_torn_line_and_clears(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    warehouse = Warehouse(make_settings())
    with open_journal(warehouse) as journal:
        journal.append([row(0), row(1, ok=False)])
    # an object whose last line was cut (a remote that lost the end of a write)
    cut = Path(journal.dir) / "00000000000000000000-cut-000000000.jsonl"
    cut.write_bytes(encode_entry(2, row(2)).encode()[:40])
    with open_journal(warehouse) as journal:
        report = replay_journal(warehouse, journal)
        assert report.loaded == 2 and len(report.rejected) == 1 and "torn" in report.rejected[0].reason
        assert objects(journal) == []
        assert replay_journal(warehouse, journal).loaded == 0  # nothing left: no load
    [kept] = list(Path(journal.rejected_path.removeprefix("file://")).glob("*.jsonl"))
    rejected = [json.loads(line) for line in kept.read_text(encoding="utf-8").splitlines()]
    assert len(rejected) == 1 and rejected[0]["line_no"] == 1 and rejected[0]["text"].startswith('{"seq":2')
    loaded = {r["id"]: r for r in enrichment_rows(warehouse.settings)}
    ok, failed = loaded["tm1000"], loaded["tm1001"]
    assert (sorted(loaded), ok["status"], ok["score"], ok["enriched_at"].replace(tzinfo=UTC)) == (
        ["tm1000", "tm1001"], "ok", 7.5, WHEN)
    assert failed["status"] == "failed" and "HTTP 500" in failed["error"]


def test_sink_keeps_rows_journaled_until_their_chunk_is_loaded(
    make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    warehouse = Warehouse(make_settings())
    with open_journal(warehouse) as journal:
        sink = ResultSink(warehouse, flush_every=3, flush_seconds=3600, journal=journal)
        sink.add([row(0), row(1)])
        assert journal.pending == 2 and sink.written == 0  # on disk, not yet in the warehouse
        sink.add([row(2)])  # the third row fills the chunk
        assert sink.written == 3 and journal.pending == 0 and objects(journal) == []

        def warehouse_down(*args: Any, **kwargs: Any) -> Any:
            raise ConnectionError("warehouse unreachable")

        monkeypatch.setattr(warehouse, "dlt_run", warehouse_down)
        sink.add([row(3)])
        with pytest.raises(ConnectionError):
            sink.flush()
        assert journal.pending == 1 and [r["id"] for r in journal.read().rows] == ["tm1003"]
        monkeypatch.undo()
        sink.flush()  # the retry loads the kept row and only then forgets it
        assert journal.pending == 0 and sink.written == 4
    assert len(enrichment_rows(warehouse.settings)) == 4


# ---- crash and resume, end to end (real SDK -> fake Gemini -> dlt -> DuckDB) -------------------------

def test_crash_with_the_warehouse_down_keeps_paid_results_for_the_next_run(
    gemini_settings: Callable[..., Settings], make_context: Ctx, fake_gemini: FakeGemini,
    sleeps: list[float], monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = gemini_settings(enrich__concurrency=1, enrich__flush_every=100)
    seed_inputs(settings, [input_row(i) for i in range(8)])
    original_call, original_load = GeminiProvider.call, Warehouse.dlt_run
    calls: list[int] = []

    def killed_after_five(self: GeminiProvider, titles: list[Any]) -> Any:
        calls.append(1)
        if len(calls) > 5:
            raise KeyboardInterrupt("process killed")
        return original_call(self, titles)

    def enrichment_load_fails(self: Warehouse, pipeline: str, *args: Any, **kwargs: Any) -> Any:
        if pipeline == PIPELINE:
            raise ConnectionError("warehouse unreachable")
        return original_load(self, pipeline, *args, **kwargs)

    monkeypatch.setattr(GeminiProvider, "call", killed_after_five)
    monkeypatch.setattr(Warehouse, "dlt_run", enrichment_load_fails)
    with pytest.raises(ConnectionError):  # even the best-effort flush on the way out fails
        call_step(enrich_titles, make_context(settings))
    assert fake_gemini.call_count == 5
    assert not Warehouse(settings).table_exists("raw_enrichment", "title_enrichments")
    journal = open_journal(Warehouse(settings))
    paid = [r["id"] for r in journal.read().rows]
    assert paid == [f"tm100{i}" for i in range(5)]

    monkeypatch.setattr(GeminiProvider, "call", original_call)
    monkeypatch.setattr(Warehouse, "dlt_run", original_load)
    check_resumed(call_step(enrich_titles, make_context(settings)), fake_gemini, settings, journal, paid=5, total=8)


def check_resumed(
    resumed: StepResult, fake_gemini: FakeGemini, settings: Settings, journal: Journal, paid: int, total: int
) -> list[dict[str, Any]]:
    """The next run replays the ``paid`` results from the journal, calls only the other titles (nothing is
    paid for twice), loads every title ok and leaves the journal empty."""
    assert resumed.details["journal_replayed"] == paid
    assert (resumed.rows_in, resumed.cache_hits, resumed.llm.calls) == (total - paid, paid, total - paid)
    assert fake_gemini.call_count == total
    assert [fake_gemini.calls_for(f"tm100{i}") for i in range(total)] == [1] * total
    rows = enrichment_rows(settings)
    assert ([r["id"] for r in rows], {r["status"] for r in rows}) == ([f"tm100{i}" for i in range(total)], {"ok"})
    assert journal.read().rows == []
    return rows


CHILD = textwrap.dedent("""
    import json, os, sys
    from pathlib import Path
    from enrich import journal
    from enrich.step import enrich_titles
    from trending_now.compose import call_step
    from core.config import Secrets, load_settings
    from core.context import RunContext
    from datetime import date

    overrides, die_after = json.loads(sys.argv[1]), int(sys.argv[2])
    settings = load_settings("dev", root=Path(sys.argv[3]), environ={}).with_overrides(overrides)
    settings.secrets = Secrets({"GEMINI_API_KEY": "test-key-not-real"}, source="test")
    append = journal.Journal.append

    def append_then_die(self, rows):
        seqs = append(self, rows)
        if self.pending >= die_after:
            os._exit(3)  # no cleanup, no flush: as a SIGKILL right after the result is durable
        return seqs

    journal.Journal.append = append_then_die
    call_step(enrich_titles, RunContext(settings=settings, as_of=date(2026, 11, 20), quiet=True))
""")

FORWARDED = ("warehouse.duckdb_path", "warehouse.pipelines_dir", "dvc.local_remote_path", "enrich.provider", "enrich.base_url",
             "enrich.api_version", "enrich.concurrency", "enrich.requests_per_minute", "enrich.max_retries",
             "enrich.flush_every", "enrich.flush_seconds", "enrich.timeout_s")


def test_process_killed_between_flushes_loses_no_paid_result(
    gemini_settings: Callable[..., Settings], make_context: Ctx, fake_gemini: FakeGemini, sleeps: list[float]
) -> None:
    settings = gemini_settings(enrich__concurrency=1, enrich__flush_every=1000, enrich__flush_seconds=3600)
    seed_inputs(settings, [input_row(i) for i in range(7)])
    overrides = {key: settings.get(key) for key in FORWARDED}
    child = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(overrides), "4", str(PROJECT_ROOT)],
        capture_output=True, text=True, timeout=120, env={**os.environ, "RUNTIME__DLTHUB_TELEMETRY": "false"},
    )
    assert child.returncode == 3, child.stderr[-2000:]
    assert fake_gemini.call_count == 4
    warehouse = Warehouse(settings)
    assert not warehouse.table_exists("raw_enrichment", "title_enrichments")  # no chunk was ever loaded
    journal = open_journal(warehouse)
    assert len(journal.read().rows) == 4

    resumed = call_step(enrich_titles, make_context(settings))
    assert resumed.details["journal_rejected_lines"] == 0
    rows = check_resumed(resumed, fake_gemini, settings, journal, paid=4, total=7)
    assert {r["input_tokens"] > 0 for r in rows} == {True}  # the replayed rows kept their usage
