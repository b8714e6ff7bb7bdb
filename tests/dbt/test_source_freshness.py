"""`dbt source freshness` runs on DuckDB and PostgreSQL; a stale JustWatch source fails check_freshness."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core.context import RunContext
from core.dbt_runner import DbtError
from core.raw_tables import ensure_raw_tables
from transform import step as dbt

pytestmark = pytest.mark.slow


def _add_node(ctx: RunContext, node_id: str, extracted_at: datetime, country: str = "US") -> None:
    ctx.warehouse.execute(
        "insert into raw_justwatch.titles (id, object_type, title, country, extracted_at, _dlt_load_id, _dlt_id) "
        "values (?, 'MOVIE', 'A title', ?, ?, '1', ?)",
        [node_id, country, extracted_at, f"dlt-{node_id}"],
    )
    ctx.warehouse.execute(
        "insert into raw_justwatch.titles__genres (value, _dlt_root_id, _dlt_parent_id, _dlt_list_idx, _dlt_id) "
        "values ('drm', ?, ?, 0, ?)",
        [f"dlt-{node_id}", f"dlt-{node_id}", f"dlt-genre-{node_id}"],
    )


@pytest.mark.parametrize("target", ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_stale_justwatch_source_fails_and_a_fresh_one_passes(
    target: str, request: pytest.FixtureRequest,
    make_settings: Callable[..., Any], make_context: Callable[..., RunContext],
) -> None:
    if target == "postgres":
        request.getfixturevalue("pg_database")
    ctx = make_context(make_settings({"warehouse.target": target}))
    ensure_raw_tables(ctx.warehouse)
    now = datetime.now(UTC)

    _add_node(ctx, "tm1", now - timedelta(hours=60))  # older than error_after (50 hours)
    with pytest.raises(DbtError, match=r"dbt source freshness failed: titles \(error: newest row 60 hours old\)"):
        dbt.check_freshness(ctx)

    _add_node(ctx, "tm2", now - timedelta(hours=1))
    result = dbt.check_freshness(ctx)
    assert result.details["freshness"]["justwatch.titles"] == "pass"
    # the list tables take the time of the newest node that has items (loaded_at_query)
    assert result.details["freshness"]["justwatch.titles__genres"] == "pass"

    # per country: the titles' freshness is the stalest of the run's countries
    both = make_context(ctx.settings, countries="US,GB")
    _add_node(both, "tm3", now - timedelta(hours=70), country="GB")
    with pytest.raises(DbtError, match=r"titles \(error: newest row 70 hours old\)") as caught:
        dbt.check_freshness(both)
    assert str(caught.value).endswith("newest node per country: US 1 h old, GB 70 h old")  # which one is stale
    # a country with no node yet is named as such (not stale: its failed first extract fails the run by name)
    with pytest.raises(DbtError, match=r"newest node per country: GB 70 h old, DE none, US 1 h old$"):
        dbt.check_freshness(make_context(ctx.settings, countries="GB,DE,US"))
    assert dbt.check_freshness(ctx).details["freshness"]["justwatch.titles"] == "pass"  # a US-only run
    _add_node(both, "tm3b", now - timedelta(hours=2), country="GB")
    assert dbt.check_freshness(both).details["freshness"]["justwatch.titles"] == "pass"
