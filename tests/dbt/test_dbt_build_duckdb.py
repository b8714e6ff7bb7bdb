"""The dbt project end to end on DuckDB: raw tables loaded by dlt, the two pipeline builds around the
enrichment step, a no-op re-run, and a change (new synopsis, late review) that updates exactly its rows."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dlt
import duckdb
import pytest

from tests.dbt.dbt_helpers import (
    AFTER_ENRICHMENT,
    BEFORE_ENRICHMENT,
    MART_COLUMNS,
    UNIT_TESTS,
    run_dbt,
)
from tests.dbt.raw_loader import (
    RawLoader,
    enrichment_record,
    review_record,
    sample_review_fetches,
    sample_reviews,
    sample_titles,
)

pytestmark = pytest.mark.slow

FAILED_TITLE = "tm4001"


def query(path: Path, sql: str) -> list[dict[str, Any]]:
    conn = duckdb.connect(str(path))
    try:
        cur = conn.execute(sql)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
    finally:
        conn.close()


def enrich_pending(path: Path, loader: RawLoader, enriched_at_hour: int) -> None:
    """What the enrich step does: one attempt per input row without an ok enrichment for its hash."""
    from datetime import UTC, datetime

    rows = query(path, "select id, source_data_hash from marts.titles_enrichment_input")
    done = {(r["id"], r["source_data_hash"]) for r in query(
        path, "select id, source_data_hash from raw_enrichment.title_enrichments where status = 'ok'"
    )} if query(path, "select count(*) as n from information_schema.tables "
                      "where table_schema = 'raw_enrichment' and table_name = 'title_enrichments'")[0]["n"] else set()
    when = datetime(2026, 11, 20, enriched_at_hour, tzinfo=UTC)
    records = [
        enrichment_record(r["id"], r["source_data_hash"], status="failed" if r["id"] == FAILED_TITLE else "ok",
                          enriched_at=when)
        for r in rows if (r["id"], r["source_data_hash"]) not in done
    ]
    if records:
        loader.enrichments(records)


def mart(path: Path) -> dict[str, dict[str, Any]]:
    return {r["id"]: r for r in query(path, "select * from marts.movies_tv_shows_enriched")}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("dbt_duckdb")
    db = base / "warehouse.duckdb"
    loader = RawLoader(dlt.destinations.duckdb(credentials=str(db)), base / ".dlt")
    loader.titles(sample_titles())
    loader.reviews(sample_reviews())
    loader.review_fetches(sample_review_fetches())
    conn = duckdb.connect(str(db))
    conn.execute("checkpoint")
    conn.close()
    shutil.copy(db, base / "raw_only.duckdb")

    env = {"TRENDING_NOW_DUCKDB_PATH": str(db)}
    dbt: Callable[[list[str]], Any] = lambda args: run_dbt(args, target="duckdb", work_dir=base, env=env)  # noqa: E731

    dbt(BEFORE_ENRICHMENT)
    enrich_pending(db, loader, enriched_at_hour=7)
    dbt(AFTER_ENRICHMENT)
    first = mart(db)
    pending_first = query(db, "select * from intermediate.int_titles_pending_enrichment")
    types = query(db, "select column_name, data_type from information_schema.columns "
                      "where table_schema = 'marts' and table_name = 'movies_tv_shows_enriched' "
                      "order by ordinal_position")

    dbt(BEFORE_ENRICHMENT)
    enrich_pending(db, loader, enriched_at_hour=8)
    dbt(AFTER_ENRICHMENT)
    second = mart(db)

    changed_titles = sample_titles()
    changed_titles[0]["short_description"] = "A young Predator outcast finds an unlikely ally on a deadly planet."
    loader.titles(changed_titles[:1])
    loader.reviews([review_record("ts3001", "guardian", "https://www.theguardian.com/tv/slow-horses-5",
                                  "Late but \"great\": Lamb\\Oldman.", author="Lucy Mangan",
                                  original_score="4/5", score_normalized=8.0)])
    dbt(BEFORE_ENRICHMENT)
    enrich_pending(db, loader, enriched_at_hour=9)
    dbt(AFTER_ENRICHMENT)
    third = mart(db)
    return {
        "base": base, "db": db, "env": env, "first": first, "second": second, "third": third,
        "pending_first": pending_first, "types": types,
    }


def test_mart_columns_order_and_types(built: dict[str, Any]) -> None:
    assert [t["column_name"] for t in built["types"]] == MART_COLUMNS
    types = {t["column_name"]: t["data_type"] for t in built["types"]}
    assert types["release_year"] == "INTEGER"
    assert types["imdb_rating"] == types["llm_generated_score"] == "DOUBLE"
    assert types["data_ingestion_timestamp"] == "TIMESTAMP WITH TIME ZONE"
    assert {types[c] for c in MART_COLUMNS if c not in (
        "release_year", "imdb_rating", "llm_generated_score", "data_ingestion_timestamp")} == {"VARCHAR"}


def test_only_enriched_titles_are_published_and_seasons_are_folded(built: dict[str, Any]) -> None:
    first = built["first"]
    assert sorted(first) == ["tm1001", "ts2001", "ts3001"]
    assert [p["id"] for p in built["pending_first"]] == [FAILED_TITLE]
    assert built["pending_first"][0]["pending_reason"] == "failed"
    assert built["pending_first"][0]["last_error"] == "response did not match the schema"

    pluribus = first["ts2001"]  # show listed with its season: one row, platforms/genres unioned
    assert_columns(pluribus, {
        "content_type": "TV Show",
        "title": "Pluribus",
        "streaming_platforms": "Amazon Video, Apple TV",
        "source_genres": "Drama, Mystery & Thriller, Science-Fiction",
        "detail_url": "https://www.justwatch.com/us/tv-show/pluribus",
    })
    assert json.loads(pluribus["cast_members"]) == [
        {"name": "Rhea Seehorn", "character": "Carol Sturka"}, {"name": "Karolina Wydra", "character": "Zosia"}]

    # only its season was listed: published under the show
    assert_columns(first["ts3001"], {
        "title": "Slow Horses",
        "detail_url": "https://www.justwatch.com/us/tv-show/slow-horses",
        "duration_text": "48min",
        "rotten_tomatoes_rating": "100%",
        "source_genres": "Drama, Made in Europe, Mystery & Thriller",
    })


def assert_columns(row: dict[str, Any], expected: dict[str, Any]) -> None:
    """``row`` has ``expected``'s values in those columns (a mismatch shows every column at once)."""
    assert {key: row[key] for key in expected} == expected


def test_movie_values_and_json_escaping(built: dict[str, Any]) -> None:
    movie = built["first"]["tm1001"]
    assert_columns(movie, {
        "content_type": "Movie",
        "streaming_platforms": "Disney Plus, Hulu",
        "source_genres": "Action & Adventure, Science-Fiction",
        "country": "NZ, US",
        "duration_text": "1h 47min",
        "release_year": 2025,
        "imdb_rating": pytest.approx(7.4),
        "rotten_tomatoes_rating": "85%",
        "llm_generated_primary_genre": "Science-Fiction",
        "enrichment_provider": "heuristic",
        "enrichment_model": "heuristic-v1",
        "prompt_version": "v1",
    })
    assert json.loads(movie["directors"]) == [{"name": "Dan Trachtenberg"}]
    assert json.loads(movie["cast_members"])[1]["name"] == 'Dimitrius "Dek" Koloamatangi'
    reviews = json.loads(movie["scraped_reviews"])
    raw = {r["review_key"]: r for r in sample_reviews()}
    assert [r["source_name"] for r in reviews] == ["rogerebert", "tmdb"]
    assert reviews[0]["review_text"] == raw["https://www.rogerebert.com/reviews/predator-badlands"]["review_text"]
    assert reviews[1]["review_text"] == raw["https://www.themoviedb.org/review/abc"]["review_text"]
    assert reviews[0]["score_normalized"] == 7.5
    assert set(reviews[0]) == {"source_name", "author", "review_text", "original_score", "score_normalized",
                               "review_url"}


def test_rerun_changes_nothing(built: dict[str, Any]) -> None:
    assert built["second"] == built["first"]


def test_changed_synopsis_and_late_review_update_exactly_their_rows(built: dict[str, Any]) -> None:
    first, third = built["first"], built["third"]
    assert sorted(third) == sorted(first)
    assert third["ts2001"] == first["ts2001"]

    movie = third["tm1001"]
    assert movie["synopsis"].endswith("on a deadly planet.")
    assert movie["source_data_hash"] != first["tm1001"]["source_data_hash"]
    assert movie["data_ingestion_timestamp"] > first["tm1001"]["data_ingestion_timestamp"]

    show = third["ts3001"]
    assert [r["source_name"] for r in json.loads(show["scraped_reviews"])] == ["guardian", "tmdb"]
    assert json.loads(show["scraped_reviews"])[0]["review_text"] == 'Late but "great": Lamb\\Oldman.'
    assert show["data_ingestion_timestamp"] == movie["data_ingestion_timestamp"]
    assert show["data_ingestion_timestamp"] > first["ts3001"]["data_ingestion_timestamp"]


def test_schemas_are_exactly_the_layer_names(built: dict[str, Any]) -> None:
    rows = query(built["db"], "select distinct table_schema from information_schema.tables "
                              "where table_name like 'stg_%' or table_name like 'int_%' "
                              "or table_name = 'movies_tv_shows_enriched'")
    assert {r["table_schema"] for r in rows} == {"staging", "intermediate", "marts"}


def test_unit_tests_pass(built: dict[str, Any]) -> None:
    result = run_dbt(UNIT_TESTS, target="duckdb", work_dir=built["base"], env=built["env"])
    names = sorted(r.node.name for r in result.result.results if r.node.resource_type == "unit_test")
    assert names == [
        "test_availability_audit_lists_audited_titles_per_run_country",
        "test_availability_keeps_first_listing_and_services",
        "test_incremental_merge_emits_only_new_and_changed_rows",
        "test_seasons_fold_into_their_show",
        "test_source_data_hash_covers_llm_inputs",
        "test_the_primary_countrys_listing_represents_a_title",
    ]


def expected_reviews(title_id: str) -> list[dict[str, Any]]:
    rows = [r for r in sample_reviews() if r["title_id"] == title_id]
    rows.sort(key=lambda r: (r["source"], r["review_key"]))
    return [
        {"source_name": r["source"], "author": r["author"], "review_text": r["review_text"],
         "original_score": r["original_score"], "score_normalized": r["score_normalized"],
         "review_url": r["review_url"]}
        for r in rows
    ]


def test_portable_json_path_used_on_redshift_yields_valid_json(built: dict[str, Any]) -> None:
    """The listagg + json_escape SQL that Redshift runs, executed on DuckDB, parses back to the raw values."""
    db = built["base"] / "raw_only.duckdb"
    work = built["base"] / "portable"
    run_dbt(["run", "--select", "+int_titles_reviews_aggregated", "+int_titles_credits_aggregated",
             "--vars", "{portable_json: true}"],
            target="duckdb", work_dir=work, env={"TRENDING_NOW_DUCKDB_PATH": str(db)})
    compiled = next((work / "target" / "compiled").rglob("int_titles_reviews_aggregated.sql")).read_text()
    assert "to_json" not in compiled and "chr(92)" in compiled

    portable = {r["title_id"]: r for r in query(db, "select * from intermediate.int_titles_reviews_aggregated")}
    assert sorted(portable) == ["tm1001", "ts2001", "ts3001"]
    for title_id, row in portable.items():
        assert json.loads(row["scraped_reviews"]) == expected_reviews(title_id)
    credits = query(db, "select * from intermediate.int_titles_credits_aggregated where title_id = 'tm1001'")[0]
    assert json.loads(credits["cast_members"])[1] == {"name": 'Dimitrius "Dek" Koloamatangi', "character": "Dek"}
    assert json.loads(credits["directors"]) == [{"name": "Dan Trachtenberg"}]


def _stored_failures(db: Path) -> set[str]:
    """The relations dbt stored failing tests' rows in (``store_failures``)."""
    conn = duckdb.connect(str(db))
    try:
        return {row[0] for row in conn.execute(
            "select table_name from information_schema.tables where table_schema = 'dbt_test__audit'").fetchall()}
    finally:
        conn.close()


def test_mart_tests_catch_bad_rows_and_store_failures(built: dict[str, Any]) -> None:
    """The custom generic tests fail on broken JSON, unclean lists and out-of-range scores."""
    db = built["base"] / "corrupted.duckdb"
    conn = duckdb.connect(str(built["db"]))
    conn.execute("checkpoint")  # the copy must include everything still in the write-ahead log
    conn.close()
    shutil.copy(built["db"], db)
    conn = duckdb.connect(str(db))
    try:
        conn.execute("""
            update marts.movies_tv_shows_enriched
            set scraped_reviews = '[{"source_name": "tmdb"', streaming_platforms = 'Hulu, Hulu',
                country = 'NZ, , US', llm_generated_score = 11, llm_generated_primary_genre = 'Space Opera'
            where id = 'tm1001'
        """)
        conn.execute("""
            update marts.movies_tv_shows_enriched
            set llm_generated_vibe_tags = 'dark,moody', prompt_version = 'v2'
            where id <> 'tm1001'
        """)
    finally:
        conn.close()
    result = run_dbt(["test", "--select", "movies_tv_shows_enriched", "--exclude", "test_type:unit"],
                     target="duckdb", work_dir=built["base"] / "corrupted", check=False,
                     env={"TRENDING_NOW_DUCKDB_PATH": str(db)})
    failed_nodes = [r.node for r in result.result.results if str(r.status) == "fail"]
    failed = sorted(node.name for node in failed_nodes)
    kinds = sorted(name.split("_movies_tv_shows")[0] for name in failed)
    assert kinds == ["accepted_values", "csv_hygiene", "csv_hygiene", "valid_json", "value_in_range"], failed
    assert {node.alias for node in failed_nodes} <= _stored_failures(db)  # store_failures kept every failed test's rows
    # the vocabulary is tested on the audit relation (what the gate passes): "moody" is not in the vibe_tags seed
    conn = duckdb.connect(str(db))
    try:
        conn.execute("""
            update marts_audit.movies_tv_shows_enriched_audit
            set llm_generated_vibe_tags = 'dark,moody', prompt_version = 'v2'
        """)
    finally:
        conn.close()
    result = run_dbt(["test", "--select", "movies_tv_shows_enriched_audit,test_name:csv_items_accepted"],
                     target="duckdb", work_dir=built["base"] / "corrupted", check=False,
                     env={"TRENDING_NOW_DUCKDB_PATH": str(db)})
    vocabulary = [str(r.status) for r in result.result.results if r.node.resource_type == "test"]
    assert vocabulary == ["fail"], vocabulary
