"""End to end: raw_justwatch.titles (loaded with dlt) -> extract_reviews -> raw_reviews.* in a real warehouse."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import dlt
import pytest

from core.config import Secrets, Settings
from core.context import RunContext
from extract.reviews.step import SubjectsNotBuilt, extract_reviews, subjects_from_rows
from tests.fakes.review_sites import EbertPage, ReviewSites, render_wordpress_2025_page
from trending_now.compose import call_step

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
    """Rows into raw_justwatch.titles (created first in dlt's full shape), then the ``dbt_titles`` step.

    As in the pipeline: extract_releases, then dbt builds the titles to review, then extract_reviews.
    """
    from core.raw_tables import ensure_raw_tables
    from transform.step import build_titles

    ctx = RunContext(settings=settings, as_of=date(2026, 11, 20))
    ensure_raw_tables(ctx.warehouse)
    text = {"data_type": "text"}  # as the JustWatch source's hints say: "66732:5" is no timestamp
    resource = dlt.resource(rows, name="titles", write_disposition="merge", primary_key="id",
                            columns={"tmdb_id": text, "show_tmdb_id": text, "imdb_id": text})
    ctx.warehouse.dlt_run("justwatch_fixture", "raw_justwatch", resource)
    build_titles(ctx)


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


def fetch_state(ctx: RunContext) -> dict[tuple[str, str], tuple]:
    rows = ctx.warehouse.fetch_all("select title_id, source, status, first_fetched_on, last_fetched_on, fetch_count "
                                   "from raw_reviews.review_fetches")
    return {(r["title_id"], r["source"]): (r["status"], str(r["first_fetched_on"]), str(r["last_fetched_on"]),
                                           r["fetch_count"]) for r in rows}


def run_end_to_end(make_settings, make_context, sites: ReviewSites, **extra: Any) -> None:
    # layout drift on one page, so the quarantine path is exercised end to end
    sites.add_page(render_wordpress_2025_page(EbertPage(
        path="/reviews/a-quiet-field-2025", film_title="A Quiet Field", film_year=2025, critic="Matt Zoller Seitz",
        published=date(2025, 6, 1), paragraphs=["A redesigned page."])), path="/reviews/a-quiet-field-2025")
    settings = review_settings(make_settings, sites, **{"reviews.budget_day": "as_of", **extra})
    load_titles(settings, TITLES)
    ctx = make_context(settings)

    first = check_first_run(ctx, sites)
    check_first_rows(ctx)
    check_first_states(ctx)
    check_contract_columns(ctx)
    check_same_day_again(ctx, sites, first)
    check_next_day(ctx, make_context, settings, first)
    check_later_days(ctx, make_context, settings)


def check_first_run(ctx: RunContext, sites: ReviewSites) -> dict[str, int]:
    """The first run's counters and budget; returns the tables' counts."""
    result = call_step(extract_reviews, ctx)
    first = counts(ctx)
    budget = result.details["budget"]
    assert (result.step, result.rows_in, result.rows_out, result.quarantined) == (
        "extract_reviews", 4, 7, 1  # 3 movies + Pluribus (its season folds into the show); last month's film is out
    )
    assert first == {"reviews": 7, "distinct": 7, "fetches": 4 * 3, "quarantine": 1}
    assert result.details["sources"]["rogerebert"]["ok"] == 2
    assert result.details["titles_with_reviews"] == 3
    assert result.details["fetches_due"] == {"new": 12} and result.details["stopped_sources"] == {}
    assert budget["guardian"]["daily_budget"] == 500 and budget["guardian"]["used"] == sites.total("/guardian")
    assert budget["tmdb"]["used"] == sites.total("/tmdb") == 4
    return first


def check_first_rows(ctx: RunContext) -> None:
    """The first run's reviews and their scores."""
    wh = ctx.warehouse
    rows = wh.fetch_all("select title_id, source, author, original_score, score_normalized from raw_reviews.reviews "
                        "order by title_id, source, author")
    assert {r["title_id"] for r in rows} == {"tm1522331", "tm1533075", "ts1560118"}
    ebert = [r for r in rows if r["source"] == "rogerebert" and r["title_id"] == "tm1522331"]
    assert [(r["original_score"], r["score_normalized"]) for r in ebert] == [("3.5/4", 8.75)]
    pluribus_ebert = [r for r in rows if r["title_id"] == "ts1560118" and r["source"] == "rogerebert"]
    assert (pluribus_ebert[0]["original_score"], pluribus_ebert[0]["score_normalized"]) == (None, None)


def check_first_states(ctx: RunContext) -> None:
    """The first run's fetch states: the drifted page an error, the unknown film not found, all day 0."""
    state = fetch_state(ctx)
    assert (state[("tm9000001", "rogerebert")][0], state[("tm1533075", "rogerebert")][0]) == ("error", "not_found")
    assert {v[1:] for v in state.values()} == {("2026-11-20", "2026-11-20", 1)}


def check_contract_columns(ctx: RunContext) -> None:
    wh = ctx.warehouse
    for table, expected in CONTRACT_COLUMNS.items():
        present = {r["column_name"] for r in wh.fetch_all(
            "select column_name from information_schema.columns where table_schema = ? and table_name = ?",
            ["raw_reviews", table])}
        assert expected <= present, (table, expected - present)


def check_same_day_again(ctx: RunContext, sites: ReviewSites, first: dict[str, int]) -> None:
    """The same day again: only the failed fetch is retried (A Quiet Field's drifted RogerEbert page)."""
    before = sites.total()
    again = call_step(extract_reviews, ctx)
    assert again.details["fetches_due"] == {"retry": 1} and sites.total() == before + 2  # + robots.txt
    assert counts(ctx) == first and fetch_state(ctx)[("tm9000001", "rogerebert")][1:] == (
        "2026-11-20", "2026-11-20", 2)


def check_next_day(ctx: RunContext, make_context, settings: Settings, first: dict[str, int]) -> None:
    """The next day: TMDB's 1-day refresh (the critics' sites refresh on days 3 and 10)."""
    nxt = call_step(extract_reviews, make_context(settings, as_of=date(2026, 11, 21)))
    assert nxt.details["fetches_due"] == {"refresh": 4}
    assert nxt.details["budget"]["tmdb"]["used"] == 4 and nxt.details["budget"]["guardian"]["used"] == 0
    state = fetch_state(ctx)
    assert state[("tm1522331", "tmdb")][1:] == ("2026-11-20", "2026-11-21", 2)
    assert state[("tm9000001", "rogerebert")][1:] == ("2026-11-20", "2026-11-20", 2)
    assert counts(ctx)["reviews"] == first["reviews"]


def check_later_days(ctx: RunContext, make_context, settings: Settings) -> None:
    """Two days after: nothing; three days after: every source, except RogerEbert where its review was found."""
    assert call_step(extract_reviews, make_context(settings, as_of=date(2026, 11, 22))).rows_in == 0
    third = call_step(extract_reviews, make_context(settings, as_of=date(2026, 11, 23)))
    assert third.details["fetches_due"] == {"refresh": 4 + 4 + 2}
    # RogerEbert: Frankenstein's 3 slug guesses, A Quiet Field's drifted page, robots.txt
    assert third.details["budget"]["rogerebert"]["used"] == 3 + 1 + 1
    assert fetch_state(ctx)[("tm1522331", "rogerebert")][1:] == ("2026-11-20", "2026-11-20", 1)  # found
    ledger = {(str(r["day"]), r["source"]): r["requests"] for r in ctx.warehouse.fetch_all(
        "select day, source, requests from ops.review_request_budget")}
    assert ledger[("2026-11-20", "tmdb")] == 4 and ledger[("2026-11-21", "tmdb")] == 4

    limited = call_step(extract_reviews, make_context(settings, as_of=date(2026, 11, 27), limit=2))
    assert limited.rows_in == 2  # day 7: TMDB's refresh, two titles only


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


def test_daily_budget_holds_across_runs_and_the_newest_go_first(make_settings, make_context) -> None:
    with ReviewSites() as sites:
        from tests.extract.reviews.conftest import populate

        populate(sites)
        settings = review_settings(make_settings, sites, **{"reviews.guardian.daily_budget": 2,
                                                            "reviews.concurrency": 1})
        load_titles(settings, TITLES)
        first = call_step(extract_reviews, make_context(settings))
        guardian_ids = [q["q"] for p, q in sites.queries if p == "/guardian/search"]
        assert guardian_ids == ['"Frankenstein"', '"Pluribus"']  # listed 11-20, then 11-19 (its season)
        assert first.details["budget"]["guardian"] | {"day": None} == {
            "day": None, "daily_budget": 2, "used_before": 0, "reserved": 2, "used": 2, "used_today": 2,
            "due": 4, "deferred": 2}
        second = call_step(extract_reviews, make_context(settings))  # same day: the budget is spent, the rest carries over
        assert sites.total("/guardian") == 2 and second.details["budget"]["guardian"]["deferred"] == 2
        assert second.details["budget"]["guardian"]["used_before"] == 2


def test_a_rejected_credential_stops_the_source_once_and_is_in_the_metrics(make_settings, make_context) -> None:
    with ReviewSites() as sites:
        from tests.extract.reviews.conftest import populate

        populate(sites)
        sites.tmdb_credentials = {"a-key-we-do-not-have"}
        settings = review_settings(make_settings, sites, **{"reviews.concurrency": 1})
        load_titles(settings, TITLES)
        ctx = make_context(settings)
        result = call_step(extract_reviews, ctx)
        assert list(result.details["stopped_sources"]) == ["tmdb"]
        assert "TMDB rejected the v3 api_key in TMDB_API_KEY (HTTP 401" in result.details["stopped_sources"]["tmdb"]
        assert sites.total("/tmdb") == 1 and result.rows_out > 0
        assert not ctx.warehouse.fetch_all("select * from raw_reviews.review_fetches where source = 'tmdb'")
        sites.tmdb_credentials = None  # the key is fixed: TMDB's titles are still due
        fixed = call_step(extract_reviews, ctx)
        assert fixed.details["fetches_due"] == {"new": 4} and fixed.details["stopped_sources"] == {}


def test_no_titles_means_no_work(make_settings, make_context) -> None:
    with ReviewSites() as sites:
        settings = review_settings(make_settings, sites)
        load_titles(settings, [])  # dbt builds the model on empty raw tables
        result = call_step(extract_reviews, make_context(settings))
    assert (result.rows_in, result.rows_out) == (0, 0) and sites.total() == 0


def test_without_the_dbt_titles_step_it_fails_clearly_and_calls_no_site(make_settings, make_context) -> None:
    with ReviewSites() as sites:
        ctx = make_context(review_settings(make_settings, sites))
        with pytest.raises(SubjectsNotBuilt, match=r"int_review_subjects_listed does not exist: run the dbt_titles"):
            call_step(extract_reviews, ctx)
    assert sites.total() == 0


def test_seasons_fold_into_their_show_in_dbt(make_settings, make_context) -> None:
    rows = [
        title_row("tm5", "MOVIE", "F1", 2025, "2026-11-18", tmdb_id="911430"),
        title_row("tss2", "SHOW_SEASON", "Season 5", 2025, "2026-11-20", tmdb_id="66732:5", season_number=5,
                  show_id="ts1", show_title="Stranger Things", show_imdb_id="tt4574334"),
        title_row("ts1", "SHOW", "Stranger Things", 2016, "2026-11-14", tmdb_id="66732", imdb_id="tt4574334"),
        title_row("tss3", "SHOW_SEASON", "Season 2", 2025, "2026-11-19", tmdb_id="119051:2", season_number=2,
                  show_id="ts9", show_title="Wednesday", show_tmdb_id="119051"),
    ]
    settings = make_settings()
    load_titles(settings, rows)  # runs build_titles
    ctx = make_context(settings)
    got = ctx.warehouse.fetch_all("select title_id, subject_type, title, release_year, tmdb_id, imdb_id, "
                                  "last_listed_on from intermediate.int_review_subjects_listed order by title_id")
    assert [(r["title_id"], r["subject_type"], r["title"], r["release_year"], r["tmdb_id"], r["imdb_id"],
             str(r["last_listed_on"])) for r in got] == [
        ("tm5", "movie", "F1", 2025, "911430", None, "2026-11-18"),
        ("ts1", "show", "Stranger Things", 2016, "66732", "tt4574334", "2026-11-20"),  # its own row, season's day
        ("ts9", "show", "Wednesday", 2025, "119051", None, "2026-11-19"),
    ]


def test_malformed_subjects_are_quarantined_and_the_good_ones_kept() -> None:
    rows = [
        {"title_id": "tm1", "subject_type": "movie", "title": "F1", "release_year": 2025, "tmdb_id": "911430"},
        {"title_id": None, "subject_type": "movie", "title": "No identity"},
        {"title_id": "tm2", "subject_type": "episode", "title": "Wrong type"},
        {"title_id": "tm3", "subject_type": "movie", "title": "  ", "release_year": "next year"},
    ]
    subjects, quarantine = subjects_from_rows(rows, date(2026, 11, 20))
    assert [s.title_id for s in subjects] == ["tm1"]
    assert [(q.source, q.entity_id) for q in quarantine] == [("reviews", None), ("reviews", "tm2"), ("reviews", "tm3")]
    assert "title_id" in quarantine[0].reason and "content_type" in quarantine[1].reason
    assert "title" in quarantine[2].reason and "year" in quarantine[2].reason
    assert all(q.reason.startswith("malformed review subject: ") and q.payload for q in quarantine)
