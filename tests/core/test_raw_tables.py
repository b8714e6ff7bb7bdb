"""Empty raw tables for what no load has made yet: same shape as dlt's, and dlt loads into them later."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from core.config import PROJECT_ROOT
from core.context import RunContext
from core.raw_tables import RAW_TABLES, ensure_raw_tables
from core.replay import ReplayServer

pytestmark = pytest.mark.slow


def _columns(ctx: RunContext, schema: str, table: str) -> list[str]:
    rows = ctx.warehouse.fetch_all(
        "select column_name from information_schema.columns where table_schema = ? and table_name = ? "
        "order by ordinal_position",
        [schema, table],
    )
    return [r["column_name"] for r in rows]


def _fresh_warehouse_then_extract(ctx: RunContext) -> None:
    from extract.justwatch.step import extract_releases
    from transform import step as dbt
    from trending_now.compose import call_step

    created = ensure_raw_tables(ctx.warehouse)
    assert sorted(created) == sorted(f"{s}.{t}" for s, t in RAW_TABLES)
    assert ensure_raw_tables(ctx.warehouse) == []  # idempotent
    for (schema, table), columns in RAW_TABLES.items():
        assert _columns(ctx, schema, table) == [c.name for c in columns]
    # dbt builds on the empty raw tables: an empty window does not break a fresh warehouse
    dbt.build_before_enrich(ctx)
    assert ctx.warehouse.fetch_all("select count(*) as n from marts.titles_enrichment_input") == [{"n": 0}]
    # dlt loads into the tables it did not create
    result = call_step(extract_releases, ctx)
    assert result.rows_out == 46
    assert ctx.warehouse.fetch_all("select count(*) as n from raw_justwatch.titles") == [{"n": 46}]
    genres = ctx.warehouse.fetch_all("select count(*) as n from raw_justwatch.titles__genres")
    assert genres[0]["n"] > 46


@pytest.mark.parametrize("target", ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_fresh_warehouse(target: str, request: pytest.FixtureRequest,
                         make_settings: Callable[..., Any], make_context: Callable[..., RunContext]) -> None:
    if target == "postgres":
        request.getfixturevalue("pg_database")
    with ReplayServer(PROJECT_ROOT / "data/samples") as server:
        settings = make_settings({**server.settings_overrides(), "warehouse.target": target})
        _fresh_warehouse_then_extract(make_context(settings))


def _bad_rows_then_repair(ctx: RunContext) -> None:
    from datetime import UTC, datetime

    from core import raw_spec
    from core.raw_tables import quarantine_broken_rows
    from transform import step as dbt

    ensure_raw_tables(ctx.warehouse)
    now = datetime(2026, 11, 20, 6, tzinfo=UTC)
    # rows an older extractor loaded: one good movie, one with a null title and its genre, a season without its show
    for node_id, object_type, title, show_id, dlt_id in (
        ("tm1", "MOVIE", "Good", None, "d1"), ("tm2", "MOVIE", None, None, "d2"),
        ("tss3", "SHOW_SEASON", "Season 1", None, "d3"),
    ):
        ctx.warehouse.execute(
            "insert into raw_justwatch.titles (id, object_type, object_id, title, show_id, country, new_since, "
            "extracted_at, _dlt_load_id, _dlt_id) values (?, ?, 1, ?, ?, 'US', ?, ?, '1', ?)",
            [node_id, object_type, title, show_id, ctx.as_of, now, dlt_id],
        )
        ctx.warehouse.execute(
            "insert into raw_justwatch.titles__genres (value, _dlt_root_id, _dlt_parent_id, _dlt_list_idx, _dlt_id) "
            "values ('drm', ?, ?, 0, ?)", [dlt_id, dlt_id, f"g{dlt_id}"],
        )

    def repair() -> int:
        return quarantine_broken_rows(ctx.warehouse, raw_spec.TITLES, raw_spec.JUSTWATCH_QUARANTINE,
                                      source="justwatch", as_of=ctx.as_of, now=now)

    assert repair() == 2
    assert ctx.warehouse.fetch_all("select id from raw_justwatch.titles") == [{"id": "tm1"}]
    assert ctx.warehouse.fetch_all("select _dlt_parent_id from raw_justwatch.titles__genres") == [
        {"_dlt_parent_id": "d1"}]
    quarantined = {r["entity_id"]: r["reason"] for r in ctx.warehouse.fetch_all(
        "select entity_id, reason from raw_justwatch.quarantine")}
    assert "title is missing" in quarantined["tm2"]
    assert "show_id is missing (required when object_type = SHOW_SEASON)" in quarantined["tss3"]
    assert repair() == 0  # idempotent
    assert len(ctx.warehouse.fetch_all("select record_key from raw_justwatch.quarantine")) == 2
    dbt.build_before_enrich(ctx)  # the staging tests pass again


@pytest.mark.parametrize("target", ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_rows_loaded_before_a_rule_existed_move_to_quarantine(
    target: str, request: pytest.FixtureRequest, make_settings: Callable[..., Any],
    make_context: Callable[..., RunContext],
) -> None:
    if target == "postgres":
        request.getfixturevalue("pg_database")
    _bad_rows_then_repair(make_context(make_settings({"warehouse.target": target})))
