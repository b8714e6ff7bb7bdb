"""The same two pipeline builds on the real PostgreSQL: contract types, values, JSON, a no-op re-run."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import dlt
import psycopg2
import pytest

from tests.dbt.dbt_helpers import AFTER_ENRICHMENT, BEFORE_ENRICHMENT, MART_COLUMNS, run_dbt
from tests.dbt.raw_loader import (
    RawLoader,
    enrichment_record,
    sample_review_fetches,
    sample_reviews,
    sample_titles,
)

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def pg_query(sql: str) -> list[dict[str, Any]]:
    conn = psycopg2.connect(
        host=os.environ["PGHOST"], port=int(os.environ["PGPORT"]), user=os.environ["PGUSER"],
        password=os.environ["PGPASSWORD"], dbname=os.environ["PGDATABASE"],
    )
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            names = [d[0] for d in cur.description]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
    finally:
        conn.close()


def check_mart_columns() -> None:
    """The mart's columns in the contract's order, with PostgreSQL's types."""
    columns = pg_query(
        "select column_name, data_type from information_schema.columns where table_schema = 'marts' "
        "and table_name = 'movies_tv_shows_enriched' order by ordinal_position")
    assert [c["column_name"] for c in columns] == MART_COLUMNS
    types = {c["column_name"]: c["data_type"] for c in columns}
    assert {c: types[c] for c in ("release_year", "imdb_rating", "llm_generated_score", "data_ingestion_timestamp",
                                  "cast_members")} == {
        "release_year": "integer",
        "imdb_rating": "double precision",
        "llm_generated_score": "double precision",
        "data_ingestion_timestamp": "timestamp with time zone",
        "cast_members": "character varying",
    }


def check_mart_rows(first: dict[str, dict[str, Any]]) -> None:
    """The enriched titles (the failed one pending), seasons folded, JSON escaped."""
    assert sorted(first) == ["tm1001", "ts2001", "ts3001"]
    assert first["ts2001"]["streaming_platforms"] == "Amazon Video, Apple TV"
    assert first["ts3001"]["title"] == "Slow Horses"
    reviews = json.loads(first["tm1001"]["scraped_reviews"])
    raw = {r["review_key"]: r["review_text"] for r in sample_reviews()}
    assert [r["review_text"] for r in reviews] == [
        raw["https://www.rogerebert.com/reviews/predator-badlands"], raw["https://www.themoviedb.org/review/abc"]]
    assert json.loads(first["tm1001"]["cast_members"])[1]["name"] == 'Dimitrius "Dek" Koloamatangi'
    assert pg_query("select id from intermediate.int_titles_pending_enrichment") == [{"id": "tm4001"}]


def check_availability(first: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """One availability row per published title, in the primary country, with the mart's platforms."""
    availability = pg_query("select id, country_code, streaming_platforms from marts.title_availability order by id")
    assert [(r["id"], r["country_code"]) for r in availability] == [(i, "US") for i in sorted(first)]
    assert {r["id"]: r["streaming_platforms"] for r in availability} == {
        i: row["streaming_platforms"] for i, row in first.items()}  # the primary country's, as the mart has them
    return availability


def test_build_on_postgres(pg_database: str, tmp_path: Path) -> None:
    destination = dlt.destinations.postgres(credentials={
        "database": pg_database, "username": os.environ["PGUSER"], "password": os.environ["PGPASSWORD"],
        "host": os.environ["PGHOST"], "port": int(os.environ["PGPORT"]),
    })
    loader = RawLoader(destination, tmp_path / ".dlt", name="dbt_tests_pg")
    loader.titles(sample_titles())
    loader.reviews(sample_reviews())
    loader.review_fetches(sample_review_fetches())

    run_dbt(BEFORE_ENRICHMENT, target="postgres", work_dir=tmp_path)
    inputs = pg_query("select id, source_data_hash from marts.titles_enrichment_input")
    loader.enrichments([
        enrichment_record(r["id"], r["source_data_hash"], status="failed" if r["id"] == "tm4001" else "ok")
        for r in inputs
    ])
    run_dbt(AFTER_ENRICHMENT, target="postgres", work_dir=tmp_path)
    first = {r["id"]: r for r in pg_query("select * from marts.movies_tv_shows_enriched")}

    check_mart_columns()
    check_mart_rows(first)
    availability = check_availability(first)

    run_dbt(AFTER_ENRICHMENT, target="postgres", work_dir=tmp_path)
    second = {r["id"]: r for r in pg_query("select * from marts.movies_tv_shows_enriched")}
    assert second == first
    assert pg_query("select id, country_code, streaming_platforms from marts.title_availability order by id") == (
        availability)  # the incremental merge changes nothing on a re-run
