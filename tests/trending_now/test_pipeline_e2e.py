"""The whole daily job on the recorded samples, as `make demo` runs it: DuckDB, then the real PostgreSQL.

Real clients against the replay server, real dlt loads, real dbt, heuristic enrichment, GE gate, Parquet export.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.config import PROJECT_ROOT
from core.context import RunContext
from core.mart_schema import MART_COLUMNS
from core.replay import ReplayServer
from tests.conftest import DEMO_AS_OF, replay_project_settings
from trending_now import pipeline

pytestmark = pytest.mark.slow

CATALOG = json.loads((PROJECT_ROOT / "data/samples/justwatch/catalog.json").read_text())
# Seasons fold into their parent show: one mart row per movie or show.
EXPECTED_IDS = {entry["show_id"] or entry["id"] for entry in CATALOG}
MART = "marts.movies_tv_shows_enriched"


def _run_twice(tmp: Path, target: str) -> Iterator[dict[str, Any]]:
    with ReplayServer(PROJECT_ROOT / "data/samples") as server:
        settings = replay_project_settings(tmp, server, target)
        first_ctx = RunContext(settings=settings, as_of=DEMO_AS_OF, quiet=True)
        first = pipeline.run_steps(first_ctx, pipeline.STEPS)
        warehouse = first_ctx.warehouse
        mart_first = warehouse.fetch_all(f"select * from {MART} order by id")
        second_ctx = RunContext(settings=settings, as_of=DEMO_AS_OF, quiet=True)
        second = pipeline.run_steps(second_ctx, pipeline.STEPS)
        mart_second = warehouse.fetch_all(f"select * from {MART} order by id")
        yield {
            "first": {r.result.step: r.result for r in first},
            "second": {r.result.step: r.result for r in second},
            "mart_first": mart_first,
            "mart_second": mart_second,
            "warehouse": warehouse,
            "misses": list(server.misses),
            "settings": settings,
        }


@pytest.fixture(scope="module")
def duckdb_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    yield from _run_twice(tmp_path_factory.mktemp("e2e-duckdb"), "duckdb")


def test_every_recorded_request_was_matched(duckdb_run: dict[str, Any]) -> None:
    # review sites legitimately 404 on slug guesses; JustWatch and the APIs must all be recorded
    assert not [m for m in duckdb_run["misses"] if "/justwatch/" in m]


def test_mart_has_the_contract_columns_in_order(duckdb_run: dict[str, Any]) -> None:
    row = duckdb_run["mart_first"][0]
    assert list(row) == list(MART_COLUMNS)
    assert len(MART_COLUMNS) == 28 and MART_COLUMNS[24] == "source_data_hash"


def test_one_row_per_movie_or_show_with_seasons_folded(duckdb_run: dict[str, Any]) -> None:
    ids = [row["id"] for row in duckdb_run["mart_first"]]
    assert len(ids) == len(set(ids))
    assert set(ids) == EXPECTED_IDS
    assert not [i for i in ids if i.startswith("tss")]


def _row_shape(row: dict[str, Any]) -> tuple[bool, str, type, type]:
    """(score within 1-10, provider, the JSON type of cast_members and of scraped_reviews) of a mart row."""
    return (
        1 <= row["llm_generated_score"] <= 10,
        row["enrichment_provider"],
        type(json.loads(row["cast_members"])),
        type(json.loads(row["scraped_reviews"])),
    )


def _check_a_movie_and_a_show(rows: dict[str, dict[str, Any]]) -> None:
    """A recorded movie's row has its title, year and US page; a listed season's show is a TV Show."""
    movie = next(e for e in CATALOG if e["object_type"] == "MOVIE")
    row = rows[movie["id"]]
    assert (row["title"], row["content_type"], row["release_year"]) == (movie["title"], "Movie", movie["year"])
    assert row["detail_url"].startswith("https://www.justwatch.com/us/")
    season = next(e for e in CATALOG if e["object_type"] == "SHOW_SEASON")
    show_row = rows[season["show_id"]]
    assert show_row["content_type"] == "TV Show" and show_row["title"] == season["show_title"]


def test_known_values(duckdb_run: dict[str, Any]) -> None:
    rows = {row["id"]: row for row in duckdb_run["mart_first"]}
    _check_a_movie_and_a_show(rows)
    assert {i: _row_shape(r) for i, r in rows.items()} == dict.fromkeys(rows, (True, "heuristic", list, list))
    with_reviews = [r for r in rows.values() if json.loads(r["scraped_reviews"])]
    assert len(with_reviews) >= len(rows) * 0.6


def test_steps_report_counts(duckdb_run: dict[str, Any]) -> None:
    first = duckdb_run["first"]
    assert first["extract_releases"].rows_out >= 45
    assert first["extract_releases"].quarantined >= 1  # the recorded malformed node
    assert first["extract_reviews"].rows_out > 0
    assert first["enrich_titles"].rows_out == len(EXPECTED_IDS)
    assert first["validate_mart"].rows_in == len(EXPECTED_IDS)
    # the gate checked the availability about to be published per country (the run's one country listed titles)
    gate = first["validate_mart"].details
    assert gate["countries_listed"] == ["US"] and gate["availability_rows"] == len(EXPECTED_IDS)
    export = Path(first["export_parquet"].details["path"])
    assert export.exists() and export.name == f"movies_tv_shows_enriched_{DEMO_AS_OF}.parquet"


def test_second_run_is_a_no_op(duckdb_run: dict[str, Any]) -> None:
    second = duckdb_run["second"]
    assert second["enrich_titles"].llm.calls == 0 and second["enrich_titles"].rows_out == 0
    assert second["enrich_titles"].cache_hits == len(EXPECTED_IDS)
    assert duckdb_run["mart_second"] == duckdb_run["mart_first"]  # same rows, same data_ingestion_timestamp


def test_metrics_are_recorded_per_run_and_step(duckdb_run: dict[str, Any]) -> None:
    rows = duckdb_run["warehouse"].fetch_all(
        "select run_id, step, status from ops.pipeline_runs order by started_at"
    )
    assert len(rows) == 2 * len(pipeline.STEPS)
    assert {r["status"] for r in rows} == {"ok"}
    assert [r["step"] for r in rows[: len(pipeline.STEPS)]] == list(pipeline.STEP_NAMES)


@pytest.mark.postgres
def test_the_same_job_on_postgresql_gives_the_same_mart(
    duckdb_run: dict[str, Any], pg_database: str, tmp_path: Path
) -> None:
    run = next(_run_twice(tmp_path, "postgres"))
    assert run["warehouse"].target == "postgres"
    pg_rows = [_comparable(r) for r in run["mart_first"]]
    duck_rows = [_comparable(r, approx=True) for r in duckdb_run["mart_first"]]
    assert [r["id"] for r in pg_rows] == [r["id"] for r in duck_rows]
    assert pg_rows == duck_rows
    assert run["mart_second"] == run["mart_first"]


def _comparable(row: dict[str, Any], approx: bool = False) -> dict[str, Any]:
    """A mart row as both warehouses must agree on it: JSON columns parsed (``approx``: floats within
    pytest.approx, for the expected side), the ingestion time left out (each run's own)."""
    return {
        column: json.loads(value) if column in ("cast_members", "directors", "scraped_reviews")
        else pytest.approx(value) if approx and isinstance(value, float) else value
        for column, value in row.items()
        if column != "data_ingestion_timestamp"
    }
