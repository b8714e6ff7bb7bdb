"""Helpers shared by the quality/export/snapshot tests: a realistic mart, created in a temporary warehouse."""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from core.config import Settings
from core.mart_schema import (
    AUDIT_TABLE,
    AVAILABILITY_AUDIT_TABLE,
    AVAILABILITY_COLUMN_SPECS,
    MART_COLUMN_SPECS,
    MART_COLUMNS,
    MART_TABLE,
)
from core.warehouse import Warehouse
from quality.step import LISTINGS

INGESTED_AT = datetime(2026, 11, 20, 6, 15, 42, 123456, tzinfo=UTC)
LISTED_ON = date(2026, 11, 20)


def _reviews(*items: tuple[str, str | None, str, str | None, float | None, str | None]) -> str:
    return json.dumps(
        [
            {"source_name": s, "author": a, "review_text": t, "original_score": o, "score_normalized": n,
             "review_url": u}
            for s, a, t, o, n, u in items
        ]
    )


BASE_ROWS: list[dict[str, Any]] = [
    {
        "id": "tm1481196", "title": "Predator: Badlands", "content_type": "Movie",
        "streaming_platforms": "Disney Plus, Hulu", "release_year": 2025, "release_date_text": "2025-11-07",
        "detail_url": "https://www.justwatch.com/us/movie/predator-badlands", "source_genres": "act,scf,thr",
        "imdb_rating": 7.4, "rotten_tomatoes_rating": "86%",
        "synopsis": "A young Predator outcast finds an unlikely ally on a remote planet.",
        "cast_members": json.dumps([{"name": "Elle Fanning", "character": "Thia"},
                                    {"name": "Dimitrius Schuster-Koloamatangi", "character": "Dek"}]),
        "directors": json.dumps([{"name": "Dan Trachtenberg"}]),
        "duration_text": "1h 47min", "maturity_rating": "PG-13", "language": "en", "country": "US",
        "scraped_reviews": _reviews(
            ("tmdb", "CinemaSerf", "Fun creature feature with heart.", "7.0", 7.0,
             "https://www.themoviedb.org/review/6910a"),
            ("rogerebert", "Brian Tallerico", "A lean, inventive survival story.", "3/4", 7.5,
             "https://www.rogerebert.com/reviews/predator-badlands-2025"),
        ),
        "llm_review_summary": "Critics call it a lean, inventive creature feature with more heart than expected.",
        "llm_generated_score": 7.6, "llm_generated_vibe_tags": "action-packed,stylish,heartwarming",
        "llm_generated_primary_genre": "Science-Fiction", "llm_generated_secondary_genres": "Action,Thriller",
    },
    {
        "id": "ts287734", "title": "Pluribus", "content_type": "TV Show", "streaming_platforms": "Apple TV",
        "release_year": 2025, "release_date_text": "2025-11-07",
        "detail_url": "https://www.justwatch.com/us/tv-show/pluribus", "source_genres": "drm,scf",
        "imdb_rating": 8.2, "rotten_tomatoes_rating": "98%",
        "synopsis": "The most miserable person on Earth must save the world from happiness.",
        "cast_members": json.dumps([{"name": "Rhea Seehorn", "character": "Carol Sturka"}]),
        "directors": json.dumps([{"name": "Vince Gilligan"}]),
        "duration_text": "58min", "maturity_rating": "TV-MA", "language": "en", "country": "US",
        "scraped_reviews": _reviews(
            ("guardian", "Lucy Mangan", "Gilligan's strangest, boldest work yet.", "5/5", 10.0,
             "https://www.theguardian.com/tv-and-radio/2025/nov/07/pluribus-review"),
        ),
        "llm_review_summary": "Reviewers praise Seehorn and the show's eerie, funny premise.",
        "llm_generated_score": 9.1, "llm_generated_vibe_tags": "atmospheric,funny,dark",
        "llm_generated_primary_genre": "Drama", "llm_generated_secondary_genres": "Science Fiction",
    },
    {
        "id": "tm1380472", "title": "Frankenstein", "content_type": "Movie", "streaming_platforms": "Netflix",
        "release_year": 2025, "release_date_text": "2025-10-17",
        "detail_url": "https://www.justwatch.com/us/movie/frankenstein-2025", "source_genres": "drm,hrr,fnt",
        "imdb_rating": 7.6, "rotten_tomatoes_rating": None,
        "synopsis": "A brilliant but egotistical scientist brings a creature to life.",
        "cast_members": json.dumps([{"name": "Oscar Isaac", "character": "Victor Frankenstein"},
                                    {"name": "Jacob Elordi", "character": None}]),
        "directors": json.dumps([{"name": "Guillermo del Toro"}]),
        "duration_text": "2h 29min", "maturity_rating": "R", "language": "en", "country": "US",
        "scraped_reviews": "[]",
        "llm_review_summary": "No critic reviews were found; the synopsis suggests a lavish gothic drama.",
        "llm_generated_score": 6.0, "llm_generated_vibe_tags": "dark,visually striking",
        "llm_generated_primary_genre": "Horror", "llm_generated_secondary_genres": "Drama,Fantasy",
    },
    {
        "id": "ts312055", "title": "Nobody Wants This", "content_type": "TV Show", "streaming_platforms": "Netflix",
        "release_year": 2024, "release_date_text": "2024-09-26",
        "detail_url": "https://www.justwatch.com/us/tv-show/nobody-wants-this", "source_genres": "cmy,rma",
        "imdb_rating": None, "rotten_tomatoes_rating": "92%",
        "synopsis": "An agnostic podcast host falls for a newly single rabbi.",
        "cast_members": json.dumps([{"name": "Kristen Bell", "character": "Joanne"},
                                    {"name": "Adam Brody", "character": "Noah"}]),
        "directors": "[]", "duration_text": "25min", "maturity_rating": "TV-MA", "language": None,
        "country": None,
        "scraped_reviews": _reviews(
            ("tmdb", None, "Charming leads, breezy writing.", None, None, None),
        ),
        "llm_review_summary": "A breezy romantic comedy carried by the chemistry of its leads.",
        "llm_generated_score": 7.2, "llm_generated_vibe_tags": "feel-good,light-hearted,romantic",
        "llm_generated_primary_genre": "Comedy", "llm_generated_secondary_genres": "Romance",
    },
]


def mart_rows(n: int = 4) -> list[dict[str, Any]]:
    """``n`` realistic mart rows (the four base titles, then numbered copies with distinct ids)."""
    rows: list[dict[str, Any]] = []
    for i in range(n):
        row = copy.deepcopy(BASE_ROWS[i % len(BASE_ROWS)])
        if i >= len(BASE_ROWS):
            prefix = row["id"][:2]
            row["id"] = f"{prefix}{900000 + i}"
            row["title"] = f"{row['title']} ({i})"
        row["data_ingestion_timestamp"] = INGESTED_AT
        row["source_data_hash"] = f"{i:064x}"[-64:].replace("0", "a", 1)
        row["enrichment_provider"] = "heuristic"
        row["enrichment_model"] = "heuristic-v1"
        row["prompt_version"] = "v1"
        rows.append({c: row[c] for c in MART_COLUMNS})
    return rows


def _create_table(wh: Warehouse, table: str, types: dict[str, str], rows: Sequence[dict[str, Any]]) -> None:
    names = list(types)
    wh.execute(f"create schema if not exists {table.split('.')[0]}")
    wh.execute(f"drop table if exists {table}")
    wh.execute(f"create table {table} ({', '.join(f'{c} {t}' for c, t in types.items())})")
    if rows:
        wh.executemany(
            f"insert into {table} ({', '.join(names)}) values ({', '.join('?' for _ in names)})",
            [[row.get(c) for c in names] for row in rows],
        )


def availability_rows(rows: Sequence[dict[str, Any]], countries: Sequence[str] = ("US",)) -> list[dict[str, Any]]:
    """Every mart row listed in each of ``countries`` on :data:`LISTED_ON`, with the row's services."""
    return [
        {"id": row["id"], "country_code": country, "streaming_platforms": row["streaming_platforms"],
         "first_listed_on": LISTED_ON, "last_listed_on": LISTED_ON}
        for country in countries
        for row in rows
    ]


def create_mart(
    settings: Settings,
    rows: list[dict[str, Any]],
    *,
    column_types: dict[str, str] | None = None,
    availability: Sequence[dict[str, Any]] | None = None,
    listings: Sequence[dict[str, Any]] | None = None,
) -> None:
    """(Re)create the mart's audit relation and ``marts.movies_tv_shows_enriched`` (as if published from it)
    in the settings' warehouse, both holding ``rows``; and the per-country availability audited with them
    (``availability``, default: every row in the US) with the listings dbt read it from (``listings``, rows of
    ``availability``'s shape, default: the availability's own).

    ``column_types`` overrides a column's SQL type (to store a value of the wrong type on purpose).
    """
    wh = Warehouse(settings)
    types = {c.name: c.sql_type for c in MART_COLUMN_SPECS} | (column_types or {})
    for table in (AUDIT_TABLE, MART_TABLE):
        _create_table(wh, table, types, rows)
    available = availability_rows(rows) if availability is None else availability
    _create_table(wh, AVAILABILITY_AUDIT_TABLE, {c.name: c.sql_type for c in AVAILABILITY_COLUMN_SPECS}, available)
    listed = [
        {"title_id": r["id"], "listing_country": r["country_code"], "new_since": r["last_listed_on"]}
        for r in (available if listings is None else listings)
    ]
    _create_table(wh, LISTINGS, {"title_id": "varchar", "listing_country": "varchar", "new_since": "date"}, listed)


PIPELINE_RUNS_DDL = (
    "create table if not exists ops.pipeline_runs (run_id varchar, step varchar, as_of date, target varchar, "
    "status varchar, started_at timestamp, finished_at timestamp, duration_s double precision, rows_in bigint, "
    "rows_out bigint, quarantined bigint, llm_calls bigint, tokens_in bigint, tokens_out bigint, "
    "cost_usd double precision, cache_hits bigint, error varchar, details varchar)"
)


def record_run(settings: Settings, run_id: str, step: str, status: str, rows_in: int, finished_at: datetime) -> None:
    """One ``ops.pipeline_runs`` row, as ``core.metrics`` writes it (columns from docs/raw-tables.md)."""
    wh = Warehouse(settings)
    wh.execute("create schema if not exists ops")
    wh.execute(PIPELINE_RUNS_DDL)
    wh.execute(
        "insert into ops.pipeline_runs (run_id, step, as_of, target, status, started_at, finished_at, duration_s, "
        "rows_in, rows_out) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [run_id, step, finished_at.date(), wh.target, status, finished_at, finished_at, 1.0, rows_in, rows_in],
    )
