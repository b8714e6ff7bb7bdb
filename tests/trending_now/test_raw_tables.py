"""Empty raw tables for what no load has made yet: same shape as dlt's, and dlt loads into them later."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from trending_now.config import PROJECT_ROOT
from trending_now.context import RunContext
from trending_now.raw_tables import RAW_TABLES, ensure_raw_tables
from trending_now.replay import ReplayServer

pytestmark = pytest.mark.slow


def _columns(ctx: RunContext, schema: str, table: str) -> list[str]:
    rows = ctx.warehouse.fetch_all(
        "select column_name from information_schema.columns where table_schema = ? and table_name = ? "
        "order by ordinal_position",
        [schema, table],
    )
    return [r["column_name"] for r in rows]


def _fresh_warehouse_then_extract(ctx: RunContext) -> None:
    from extract.justwatch.pipeline import extract_releases
    from trending_now import dbt

    created = ensure_raw_tables(ctx.warehouse)
    assert sorted(created) == sorted(f"{s}.{t}" for s, t in RAW_TABLES)
    assert ensure_raw_tables(ctx.warehouse) == []  # idempotent
    for (schema, table), columns in RAW_TABLES.items():
        assert _columns(ctx, schema, table) == [c.name for c in columns]
    # dbt builds on the empty raw tables: an empty window does not break a fresh warehouse
    dbt.build_before_enrich(ctx)
    assert ctx.warehouse.fetch_all("select count(*) as n from marts.titles_enrichment_input") == [{"n": 0}]
    # dlt loads into the tables it did not create
    result = extract_releases(ctx)
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
