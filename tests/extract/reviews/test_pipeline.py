"""End to end: raw_justwatch.titles (loaded with dlt) -> extract_reviews -> raw_reviews.* in a real warehouse."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import dlt
import pytest

from extract.reviews.pipeline import extract_reviews, subjects_from_rows
from tests.fakes.review_sites import EbertPage, ReviewSites, render_wordpress_2025_page
from trending_now.config import Secrets, Settings
from trending_now.context import RunContext

CONTRACT_COLUMNS = {
    "reviews": {"title_id", "source", "review_key", "author", "review_text", "original_score", "score_normalized",
                "review_url", "published_at", "extracted_at"},
    "review_fetches": {"title_id", "source", "status", "reason", "reviews_found", "fetched_at"},
    "quarantine": {"record_key", "source", "entity_id", "reason", "payload", "as_of_date", "quarantined_at"},
}


def title_row(node_id: str, object_type: str, title: str, year: int, new_since: str, **kw: Any) -> dict[str, Any]:
    row = {
        "id": node_id, "object_type": object_type, "object_id": int("".join(c for c in node_id if c.isdigit())),
        "title": title, "original_title": title, "original_release_year": year, "country": "US",
        "new_since": date.fromisoformat(new_since), "extracted_at": datetime(2026, 11, 20, 6, tzinfo=UTC),
        "genres": ["drm"],
    }
    row.update(kw)
    return row


TITLES = [
    title_row("tm1522331", "MOVIE", "Sinners", 2025, "2026-11-18", tmdb_id="1233413", imdb_id="tt31193180"),
    title_row("tm1533075", "MOVIE", "Frankenstein", 2025, "2026-11-20", tmdb_id="1062722", imdb_id="tt1312221"),
    title_row("tm9000001", "MOVIE", "A Quiet Field", 2025, "2026-11-15", tmdb_id="9000001", imdb_id="tt9000001"),
    title_row("ts1560118", "SHOW", "Pluribus", 2025, "2026-11-17", tmdb_id="225171", imdb_id="tt22202452"),
    title_row("tss1560200", "SHOW_SEASON", "Season 1", 2025, "2026-11-19", tmdb_id="225171:1", season_number=1,
              show_id="ts1560118", show_title="Pluribus", show_tmdb_id="225171", show_imdb_id="tt22202452"),
    title_row("tm1000001", "MOVIE", "Last Month's Film", 2025, "2026-10-01", tmdb_id="1000001"),  # outside window
]


def load_titles(settings: Settings, rows: list[dict[str, Any]]) -> None:
    resource = dlt.resource(rows, name="titles", write_disposition="merge", primary_key="id")
    RunContext(settings=settings, as_of=date(2026, 11, 20)).warehouse.dlt_run("justwatch_fixture", "raw_justwatch",
                                                                              resource)


def review_settings(make_settings, sites: ReviewSites, **extra: Any) -> Settings:
    base = make_settings({**sites.settings_overrides(), "reviews.per_host_rps": 0, "reviews.timeout_s": 2,
                          "reviews.max_retries": 1, **extra})
    keys = Secrets({"TMDB_API_KEY": "replay", "GUARDIAN_API_KEY": "replay"}, source="test")
    return Settings(base.data, base.env, keys, base.root)


def counts(ctx: RunContext) -> dict[str, int]:
    wh = ctx.warehouse
    return {
        "reviews": wh.fetch_all("select count(*) as n from raw_reviews.reviews")[0]["n"],
        "distinct": wh.fetch_all("select count(*) as n from (select distinct title_id, source, review_key "
                                 "from raw_reviews.reviews) d")[0]["n"],
        "fetches": wh.fetch_all("select count(*) as n from raw_reviews.review_fetches")[0]["n"],
        "quarantine": wh.fetch_all("select count(*) as n from raw_reviews.quarantine")[0]["n"],
    }


def run_end_to_end(make_settings, make_context, sites: ReviewSites, **extra: Any) -> None:
    # layout drift on one page, so the quarantine path is exercised end to end
    sites.add_page(render_wordpress_2025_page(EbertPage(
        path="/reviews/a-quiet-field-2025", film_title="A Quiet Field", film_year=2025, critic="Matt Zoller Seitz",
        published=date(2025, 6, 1), paragraphs=["A redesigned page."])), path="/reviews/a-quiet-field-2025")
    settings = review_settings(make_settings, sites, **extra)
    load_titles(settings, TITLES)
    ctx = make_context(settings)

    result = extract_reviews(ctx)
    assert result.step == "extract_reviews"
    assert result.rows_in == 4  # 3 movies + Pluribus (its season folds into the show); last month's film is out
    first = counts(ctx)
    assert first["reviews"] == first["distinct"] == result.rows_out == 7
    assert first["fetches"] == 4 * 3 and first["quarantine"] == result.quarantined == 1
    assert result.details["sources"]["rogerebert"]["ok"] == 2
    assert result.details["titles_with_reviews"] == 3

    wh = ctx.warehouse
    rows = wh.fetch_all("select title_id, source, author, original_score, score_normalized from raw_reviews.reviews "
                        "order by title_id, source, author")
    assert {r["title_id"] for r in rows} == {"tm1522331", "tm1533075", "ts1560118"}
    ebert = [r for r in rows if r["source"] == "rogerebert" and r["title_id"] == "tm1522331"]
    assert [(r["original_score"], r["score_normalized"]) for r in ebert] == [("3.5/4", 8.75)]
    pluribus_ebert = [r for r in rows if r["title_id"] == "ts1560118" and r["source"] == "rogerebert"]
    assert pluribus_ebert[0]["original_score"] is None and pluribus_ebert[0]["score_normalized"] is None
    statuses = {(r["title_id"], r["source"]): r["status"] for r in
                wh.fetch_all("select title_id, source, status from raw_reviews.review_fetches")}
    assert statuses[("tm9000001", "rogerebert")] == "error"
    assert statuses[("tm1533075", "rogerebert")] == "not_found"
    for table, expected in CONTRACT_COLUMNS.items():
        present = {r["column_name"] for r in wh.fetch_all(
            "select column_name from information_schema.columns where table_schema = ? and table_name = ?",
            ["raw_reviews", table])}
        assert expected <= present, (table, expected - present)

    again = extract_reviews(ctx)
    assert counts(ctx) == first  # a re-run adds no duplicates
    assert again.rows_out == result.rows_out and again.cache_hits > 0

    limited = extract_reviews(make_context(settings, limit=2))
    assert limited.rows_in == 2


def test_extract_reviews_into_duckdb(make_settings, make_context) -> None:
    with ReviewSites() as sites:
        from tests.extract.reviews.conftest import populate

        populate(sites)
        run_end_to_end(make_settings, make_context, sites)


@pytest.mark.postgres
def test_extract_reviews_into_postgres(make_settings, make_context, pg_database: str) -> None:
    with ReviewSites() as sites:
        from tests.extract.reviews.conftest import populate

        populate(sites)
        run_end_to_end(make_settings, make_context, sites, **{"warehouse.target": "postgres"})


def test_no_titles_table_means_no_work(make_settings, make_context) -> None:
    with ReviewSites() as sites:
        ctx = make_context(review_settings(make_settings, sites))
        result = extract_reviews(ctx)
    assert (result.rows_in, result.rows_out) == (0, 0) and sites.total() == 0


def test_subjects_from_rows_maps_seasons_to_shows_and_prefers_the_shows_own_row() -> None:
    rows = [
        {"id": "tss2", "object_type": "SHOW_SEASON", "title": "Season 5", "original_release_year": 2025,
         "tmdb_id": "66732:5", "show_id": "ts1", "show_title": "Stranger Things", "show_tmdb_id": None,
         "show_imdb_id": "tt4574334"},
        {"id": "ts1", "object_type": "SHOW", "title": "Stranger Things", "original_release_year": 2016,
         "tmdb_id": "66732", "imdb_id": "tt4574334"},
        {"id": "tss3", "object_type": "SHOW_SEASON", "title": "Season 2", "original_release_year": 2025,
         "tmdb_id": "119051:2", "show_id": "ts9", "show_title": "Wednesday", "show_tmdb_id": "119051"},
        {"id": "tss4", "object_type": "SHOW_SEASON", "title": "Season 1", "original_release_year": 2025},
        {"id": "tm5", "object_type": "MOVIE", "title": "F1", "original_release_year": 2025, "tmdb_id": "911430"},
    ]
    subjects, orphans = subjects_from_rows(rows)
    assert [(s.title_id, s.content_type, s.title, s.year, s.tmdb_id) for s in subjects] == [
        ("ts1", "show", "Stranger Things", 2016, "66732"),
        ("ts9", "show", "Wednesday", 2025, "119051"),
        ("tm5", "movie", "F1", 2025, "911430"),
    ]
    assert orphans == 1
