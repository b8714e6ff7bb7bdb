"""Parquet export: published schema, sorted rows, same bytes for the same data, atomic writes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import pyarrow.parquet as pq
import pytest

from core.context import RunContext
from core.mart_schema import MART_ARROW_SCHEMA
from publish import export as export_module
from publish.export import ExportError
from publish.step import EXPORT_STEP, export_parquet
from tests.trending_now import create_mart, mart_rows
from trending_now.compose import call_step

EXPORT_NAME = "movies_tv_shows_enriched_2026-11-20.parquet"


@pytest.fixture
def ctx(make_context: Callable[..., RunContext]) -> RunContext:
    return make_context()


def export_dir(ctx: RunContext) -> Path:
    return ctx.settings.path("export.dir")


def test_export_has_the_published_schema_sorted_rows_and_zstd(ctx: RunContext) -> None:
    rows = mart_rows(7)
    create_mart(ctx.settings, list(reversed(rows)))

    result = call_step(export_parquet, ctx)

    path = export_dir(ctx) / EXPORT_NAME
    assert (result.step, result.rows_in, result.rows_out, result.details["path"], result.details["changed"]) == (
        EXPORT_STEP, 7, 7, str(path), True)
    assert EXPORT_STEP == "export_parquet"
    table = pq.read_table(path)
    assert table.schema.equals(MART_ARROW_SCHEMA)
    ids = table.column("id").to_pylist()
    assert ids == sorted(r["id"] for r in rows)
    meta = pq.ParquetFile(path).metadata
    assert {meta.row_group(0).column(i).compression for i in range(meta.num_columns)} == {"ZSTD"}
    by_id = {r["id"]: r for r in table.to_pylist()}
    assert (by_id["ts287734"]["data_ingestion_timestamp"], by_id["tm1481196"]["imdb_rating"]) == (
        rows[1]["data_ingestion_timestamp"], 7.4)
    assert sorted(p.name for p in export_dir(ctx).iterdir()) == [EXPORT_NAME]  # no temporary file left
    assert path.stat().st_mode & 0o777 == 0o644  # readable by other users, unlike mkstemp's 0600


def test_same_data_gives_identical_bytes(ctx: RunContext) -> None:
    rows = mart_rows(9)
    create_mart(ctx.settings, rows)
    first = call_step(export_parquet, ctx)
    path = Path(first.details["path"])
    first_bytes = path.read_bytes()
    first_mtime = path.stat().st_mtime_ns

    second = call_step(export_parquet, ctx)  # re-run: unchanged, not rewritten
    assert second.details["changed"] is False
    assert path.stat().st_mtime_ns == first_mtime

    path.unlink()
    create_mart(ctx.settings, rows[4:] + rows[:4])  # same data, other physical order
    third = call_step(export_parquet, ctx)
    assert third.details["changed"] is True
    assert path.read_bytes() == first_bytes
    assert third.details["md5"] == first.details["md5"]

    rows[0]["llm_generated_score"] = 5.5  # and a real change is seen
    create_mart(ctx.settings, rows)
    fourth = call_step(export_parquet, ctx)
    assert fourth.details["changed"] is True and fourth.details["md5"] != first.details["md5"]


def _failing_writer(table: Any, sink: IO[bytes]) -> None:
    sink.write(b"PAR1 half a file")
    raise OSError("disk full")


def test_failing_writer_leaves_no_partial_file(ctx: RunContext, monkeypatch: pytest.MonkeyPatch) -> None:
    create_mart(ctx.settings, mart_rows(4))
    monkeypatch.setattr(export_module, "write_parquet", _failing_writer)

    with pytest.raises(OSError, match="disk full"):
        call_step(export_parquet, ctx)

    assert list(export_dir(ctx).iterdir()) == []


def test_failing_writer_keeps_the_previous_file(ctx: RunContext, monkeypatch: pytest.MonkeyPatch) -> None:
    create_mart(ctx.settings, mart_rows(4))
    good = Path(call_step(export_parquet, ctx).details["path"])
    good_bytes = good.read_bytes()
    create_mart(ctx.settings, mart_rows(6))
    monkeypatch.setattr(export_module, "write_parquet", _failing_writer)

    with pytest.raises(OSError):
        call_step(export_parquet, ctx)

    assert sorted(p.name for p in export_dir(ctx).iterdir()) == [EXPORT_NAME]
    assert good.read_bytes() == good_bytes


def test_type_mismatch_fails_clearly(ctx: RunContext) -> None:
    rows = mart_rows(3)
    rows[1]["release_year"] = "MMXXV"
    create_mart(ctx.settings, rows, column_types={"release_year": "varchar"})

    with pytest.raises(ExportError, match=r"column 'release_year' does not convert to int32"):
        call_step(export_parquet, ctx)
    assert not export_dir(ctx).exists() or list(export_dir(ctx).iterdir()) == []


def test_extra_column_fails_clearly(ctx: RunContext) -> None:
    create_mart(ctx.settings, mart_rows(3))
    ctx.warehouse.execute("alter table marts.movies_tv_shows_enriched add column popularity double")

    with pytest.raises(ExportError, match="unexpected popularity"):
        call_step(export_parquet, ctx)


def test_duplicate_ids_are_refused(ctx: RunContext) -> None:
    rows = mart_rows(3)
    rows[2]["id"] = rows[0]["id"]
    create_mart(ctx.settings, rows)

    with pytest.raises(ExportError, match="duplicate ids"):
        call_step(export_parquet, ctx)


@pytest.mark.postgres
def test_postgres_export_matches_duckdb_byte_for_byte(
    pg_database: str, make_settings: Callable[..., Any], make_context: Callable[..., RunContext], tmp_path: Path
) -> None:
    rows = mart_rows(6)
    duck = make_context(make_settings(**{"export.dir": str(tmp_path / "duck")}))
    pg = make_context(make_settings(**{"warehouse.target": "postgres", "export.dir": str(tmp_path / "pg")}))
    create_mart(duck.settings, rows)
    create_mart(pg.settings, rows)

    duck_file = Path(call_step(export_parquet, duck).details["path"])
    pg_file = Path(call_step(export_parquet, pg).details["path"])

    assert duck_file.read_bytes() == pg_file.read_bytes()


def test_mart_schema_is_the_plan_then_provenance() -> None:
    from core.mart_schema import MART_COLUMN_SPECS, MART_COLUMNS

    assert len(MART_COLUMNS) == 28 and tuple(c.name for c in MART_COLUMN_SPECS) == MART_COLUMNS
    assert MART_COLUMNS[:3] == ("id", "title", "content_type")
    assert MART_COLUMNS[23:25] == ("data_ingestion_timestamp", "source_data_hash")
    assert MART_COLUMNS[25:] == ("enrichment_provider", "enrichment_model", "prompt_version")
    assert MART_ARROW_SCHEMA.names == list(MART_COLUMNS)
    assert str(MART_ARROW_SCHEMA.field("data_ingestion_timestamp").type) == "timestamp[us, tz=UTC]"
    assert str(MART_ARROW_SCHEMA.field("release_year").type) == "int32"
