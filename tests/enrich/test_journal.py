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

from enrich import journal as journal_module
from enrich.journal import Journal, JournalBusy, decode_lines, encode_entry, journal_path
from enrich.providers.base import CallUsage
from enrich.providers.gemini import GeminiProvider
from enrich.runner import enrich_titles
from enrich.schema import TitleEnrichment
from enrich.store import PIPELINE, ResultSink, enrichment_row, open_journal, replay_journal
from tests.enrich.conftest import enrichment_rows, input_row, seed_inputs
from tests.fakes.gemini_server import FakeGemini
from trending_now.config import PROJECT_ROOT, Settings
from trending_now.context import RunContext
from trending_now.warehouse import Warehouse

Ctx = Callable[..., RunContext]
WHEN = datetime(2026, 11, 20, 6, 30, 15, 123456, tzinfo=UTC)


def row(index: int, ok: bool = True) -> dict[str, Any]:
    enrichment = TitleEnrichment(
        review_summary=f"Critics liked title {index}. The pacing is deliberate.", score=7.5,
        vibe_tags=["tense", "moody", "dark"], primary_genre="Mystery & Thriller", secondary_genres=["Crime"],
    ) if ok else None
    return enrichment_row(
        title_id=f"tm{1000 + index}", source_data_hash=f"hash-{index}", prompt_version="v1",
        model="gemini-3.5-flash-lite", provider="gemini", enrichment=enrichment,
        usage=CallUsage(input_tokens=120, output_tokens=40, cost_usd=0.000136, latency_ms=310.0),
        error=None if ok else "HTTP 500 (gave up after 3 attempts)", enriched_at=WHEN,
    )


def lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


@pytest.fixture
def jpath(tmp_path: Path) -> Path:
    return journal_path(tmp_path / "warehouse" / ".dlt", "duckdb")  # as make_settings lays it out


# ---- the journal on its own ---------------------------------------------------------------------------

def test_append_writes_one_fsynced_line_per_row_and_reads_back_typed(
    jpath: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(journal_module.os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd)))
    with Journal(jpath, timestamp_fields=("enriched_at",)) as journal:
        synced.clear()  # creating the file synced its directory
        assert journal.append([row(0), row(1, ok=False)]) == [0, 1]
        assert len(synced) == 1  # durable before append returns
        assert journal.append([row(2)]) == [2]
        assert len(synced) == 2
        assert journal.append([]) == [] and len(synced) == 2
        assert journal.pending == 3
        contents = journal.read()
    assert len(lines(jpath)) == 3 and jpath.read_bytes().endswith(b"\n")
    assert contents.rejected == []
    assert contents.rows == [row(0), row(1, ok=False), row(2)]  # incl. enriched_at back as a datetime
    assert contents.rows[0]["enriched_at"] == WHEN


def test_discard_rewrites_atomically_or_truncates_when_all_were_loaded(jpath: Path) -> None:
    with Journal(jpath, timestamp_fields=("enriched_at",)) as journal:
        journal.append([row(i) for i in range(4)])
        journal.discard([0, 2])
        assert [r["id"] for r in journal.read().rows] == ["tm1001", "tm1003"] and journal.pending == 2
        assert not jpath.with_name(jpath.name + ".tmp").exists()
        assert journal.append([row(4)]) == [4]  # appends go to the rewritten file
        assert [r["id"] for r in journal.read().rows] == ["tm1001", "tm1003", "tm1004"]
        journal.discard([1, 3, 4])
        assert jpath.stat().st_size == 0 and journal.pending == 0
        journal.append([row(5)])
        journal.clear()
        assert jpath.stat().st_size == 0


def test_reopening_keeps_what_a_dead_process_left_and_continues_its_numbering(jpath: Path) -> None:
    with Journal(jpath) as journal:
        journal.append([row(0), row(1)])
    with Journal(jpath) as journal:
        assert journal.pending == 2
        assert journal.append([row(2)]) == [2]
        journal.discard([0, 1])
        assert [r["id"] for r in journal.read().rows] == ["tm1002"]


def test_a_second_run_on_the_same_journal_is_refused_also_after_a_rewrite(jpath: Path) -> None:
    with Journal(jpath) as journal:
        with pytest.raises(JournalBusy, match="in use"):
            Journal(jpath).open()
        journal.append([row(0), row(1)])
        journal.discard([0])  # the rename swaps the file: the lock must follow it
        with pytest.raises(JournalBusy):
            Journal(jpath).open()
    Journal(jpath).open().close()  # released on close


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


def test_append_after_a_torn_line_starts_a_new_line(jpath: Path) -> None:
    jpath.parent.mkdir(parents=True)
    jpath.write_bytes((encode_entry(0, {"id": "a"}) + "\n" + encode_entry(1, {"id": "b"})[:12]).encode())
    with Journal(jpath) as journal:
        assert journal.append([{"id": "c"}]) == [1]
        contents = journal.read()
    assert [r["id"] for r in contents.rows] == ["a", "c"]
    assert [r.line_no for r in contents.rejected] == [2]


# ---- the journal with the warehouse -------------------------------------------------------------------

def test_replay_loads_the_rows_quarantines_the_torn_line_and_clears(
    make_settings: Callable[..., Settings], jpath: Path
) -> None:
    warehouse = Warehouse(make_settings())
    with open_journal(warehouse) as journal:
        assert journal.path == jpath
        journal.append([row(0), row(1, ok=False)])
    with open(jpath, "ab") as handle:  # the process died while writing the third row
        handle.write(encode_entry(2, row(2)).encode()[:40])
    with open_journal(warehouse) as journal:
        report = replay_journal(warehouse, journal)
        assert report.loaded == 2 and len(report.rejected) == 1 and "torn" in report.rejected[0].reason
        assert jpath.stat().st_size == 0
        assert replay_journal(warehouse, journal).loaded == 0  # nothing left: no load
    rejected = [json.loads(line) for line in lines(journal.rejected_path)]
    assert len(rejected) == 1 and rejected[0]["line_no"] == 3 and rejected[0]["text"].startswith('{"seq":2')
    loaded = {r["id"]: r for r in enrichment_rows(warehouse.settings)}
    assert sorted(loaded) == ["tm1000", "tm1001"]
    assert loaded["tm1000"]["status"] == "ok" and loaded["tm1000"]["score"] == 7.5
    assert loaded["tm1001"]["status"] == "failed" and "HTTP 500" in loaded["tm1001"]["error"]
    assert loaded["tm1000"]["enriched_at"].replace(tzinfo=UTC) == WHEN


def test_sink_keeps_rows_journaled_until_their_chunk_is_loaded(
    make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    warehouse = Warehouse(make_settings())
    with open_journal(warehouse) as journal:
        sink = ResultSink(warehouse, flush_every=3, flush_seconds=3600, journal=journal)
        sink.add([row(0), row(1)])
        assert journal.pending == 2 and sink.written == 0  # on disk, not yet in the warehouse
        sink.add([row(2)])  # the third row fills the chunk
        assert sink.written == 3 and journal.pending == 0 and journal.path.stat().st_size == 0

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
        enrich_titles(make_context(settings))
    assert fake_gemini.call_count == 5
    assert not Warehouse(settings).table_exists("raw_enrichment", "title_enrichments")
    path = journal_path(Warehouse(settings).pipelines_dir, "duckdb")
    paid = [json.loads(line)["row"]["id"] for line in lines(path)]
    assert paid == [f"tm100{i}" for i in range(5)]

    monkeypatch.setattr(GeminiProvider, "call", original_call)
    monkeypatch.setattr(Warehouse, "dlt_run", original_load)
    resumed = enrich_titles(make_context(settings))
    assert resumed.details["journal_replayed"] == 5
    assert (resumed.rows_in, resumed.cache_hits, resumed.llm_calls) == (3, 5, 3)
    assert fake_gemini.call_count == 8
    assert all(fake_gemini.calls_for(f"tm100{i}") == 1 for i in range(8))  # nothing paid for twice
    rows = enrichment_rows(settings)
    assert len(rows) == 8 and {r["status"] for r in rows} == {"ok"}
    assert path.stat().st_size == 0


CHILD = textwrap.dedent("""
    import json, os, sys
    from pathlib import Path
    from enrich import journal
    from enrich.runner import enrich_titles
    from trending_now.config import Secrets, load_settings
    from trending_now.context import RunContext
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
    enrich_titles(RunContext(settings=settings, as_of=date(2026, 11, 20), quiet=True))
""")

FORWARDED = ("warehouse.duckdb_path", "warehouse.pipelines_dir", "enrich.provider", "enrich.base_url",
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
    path = journal_path(warehouse.pipelines_dir, "duckdb")
    assert len(lines(path)) == 4

    resumed = enrich_titles(make_context(settings))
    assert resumed.details["journal_replayed"] == 4 and resumed.details["journal_rejected_lines"] == 0
    assert (resumed.rows_in, resumed.cache_hits, resumed.llm_calls) == (3, 4, 3)
    assert fake_gemini.call_count == 7
    assert all(fake_gemini.calls_for(f"tm100{i}") == 1 for i in range(7))  # only the titles without a result
    rows = enrichment_rows(settings)
    assert [r["id"] for r in rows] == [f"tm100{i}" for i in range(7)] and {r["status"] for r in rows} == {"ok"}
    assert {r["input_tokens"] > 0 for r in rows} == {True}  # the replayed rows kept their usage
    assert path.stat().st_size == 0
