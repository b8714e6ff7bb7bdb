"""``extract_releases`` end to end: real client -> local GraphQL fake / replay server -> real warehouse."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date

import pytest

from core.replay import ReplayServer
from extract.justwatch.client import JustWatchApi
from extract.justwatch.settings import JustWatchSettings
from extract.justwatch.step import JustWatchCountriesFailed, extract_releases
from tests.conftest import DEMO_AS_OF
from tests.fakes.justwatch_server import FakeJustWatch, ShowRef, TitleSpec, edge_for, malformed_edge

D = [date(2026, 11, d).isoformat() for d in range(14, 21)]

MOVIE = TitleSpec(kind="movie", object_id=1, title="Sinners", release_date="2025-04-18", genres=["hrr", "drm"],
                  imdb_id="tt31193180", tmdb_id="1233413", cast=[("Michael B. Jordan", "Smoke")],
                  directors=["Ryan Coogler"], offers=[("mxx", "FLATRATE", "_4K"), ("mxx", "FLATRATE", "_4K")],
                  new_package="mxx", production_countries=["US"])
MOVIE_LATER = TitleSpec(**{**MOVIE.__dict__, "new_package": "amz", "offers": [("amz", "RENT", "HD")]})
SHOW = TitleSpec(kind="show", object_id=38227, title="Stranger Things", release_date="2016-07-15",
                 imdb_id="tt4574334", tmdb_id="66732", genres=["scf"], cast=[("Winona Ryder", "Joyce Byers")])
SEASON_WITH_SHOW = TitleSpec(kind="season", object_id=11, title="Season 5", release_date="2025-11-26",
                             season_number=5, episode_count=8, new_package="nfx", offers=[("nfx", "FLATRATE", "_4K")],
                             show=ShowRef(38227, "Stranger Things", "/us/tv-show/stranger-things", "tt4574334", "66732"))
SEASON_ALONE = TitleSpec(kind="season", object_id=12, title="Season 2", release_date="2025-08-06", season_number=2,
                         show=ShowRef(260779, "Wednesday", "/us/tv-show/wednesday", "tt13443470", "119051"))


def catalogue() -> dict[str, list[dict]]:
    return {
        D[1]: [edge_for(MOVIE, D[1]), edge_for(SEASON_ALONE, D[1])],
        D[4]: [edge_for(SEASON_WITH_SHOW, D[4]), malformed_edge(D[4])],
        D[6]: [edge_for(SHOW, D[6]), edge_for(MOVIE_LATER, D[6])],
    }


@pytest.fixture
def fake() -> Iterator[FakeJustWatch]:
    with FakeJustWatch(catalogue(), server_page_limit=1) as server:
        yield server


def rows(ctx, sql: str) -> list[dict]:
    return ctx.warehouse.fetch_all(sql)


def no_sleep(_: float) -> None:
    return None


def extract(ctx):
    """The step with the run's JustWatch resource, its retries waiting no time."""
    return extract_releases(ctx, JustWatchApi(JustWatchSettings.from_settings(ctx.settings), sleep=no_sleep))


def test_extract_releases_into_duckdb(make_settings, make_context, fake: FakeJustWatch) -> None:
    ctx = make_context(make_settings(**{"justwatch.graphql_url": fake.url}))
    result = extract(ctx)

    assert (result.step, result.rows_in, result.rows_out, result.quarantined) == ("extract_releases", 6, 4, 1)
    assert result.details["countries"]["US"]["pages_per_day"] == {D[0]: 1, D[1]: 2, D[2]: 1, D[3]: 1, D[4]: 2, D[5]: 1, D[6]: 2}
    assert result.details["requests"] == 10 and result.details["retries"] == 0
    assert [d for d, _ in fake.requests] == [D[0], D[1], D[1], D[2], D[3], D[4], D[4], D[5], D[6], D[6]]
    assert max(fake.requests.values()) == 1

    check_titles(ctx)
    check_child_tables(ctx)
    check_quarantine(ctx)

    counts = {t: rows(ctx, f"select count(*) as n from raw_justwatch.{t}")[0]["n"]
              for t in ("titles", "titles__genres", "titles__credits", "titles__offers", "quarantine")}
    second = extract(ctx)
    assert second.rows_out == 4
    again = {t: rows(ctx, f"select count(*) as n from raw_justwatch.{t}")[0]["n"] for t in counts}
    assert again == counts


def check_titles(ctx) -> None:
    titles = {r["id"]: r for r in rows(ctx, "select * from raw_justwatch.titles")}
    assert sorted(titles) == ["tm1", "ts38227", "tss11", "tss12"]
    # listed on two days: loaded once, with the latest day and that day's offer
    assert titles["tm1"]["new_since"] == date.fromisoformat(D[6])
    assert titles["tm1"]["new_offer_package"] == "Amazon Video"
    season = titles["tss11"]
    assert (season["show_id"], season["show_title"], season["show_tmdb_id"], season["show_imdb_id"]) == (
        "ts38227", "Stranger Things", "66732", "tt4574334")
    assert season["tmdb_id"] == "66732:5" and season["season_number"] == 5
    assert titles["tss12"]["show_id"] == "ts260779" and titles["ts38227"]["object_type"] == "SHOW"
    assert titles["tm1"]["original_language"] is None and titles["tm1"]["country"] == "US"


def check_child_tables(ctx) -> None:
    """Genres, credits, offers and production countries of the titles, each row under its parent."""
    genres = rows(ctx, "select t.id, g.value from raw_justwatch.titles__genres g "
                       "join raw_justwatch.titles t on g._dlt_parent_id = t._dlt_id order by 1, 2")
    assert ("tm1", "drm") in {(r["id"], r["value"]) for r in genres}
    credits = rows(ctx, "select c.role, c.name, c.character_name from raw_justwatch.titles__credits c "
                        "join raw_justwatch.titles t on c._dlt_parent_id = t._dlt_id where t.id = 'tm1' order by 1")
    assert [(c["role"], c["name"], c["character_name"]) for c in credits] == [
        ("ACTOR", "Michael B. Jordan", "Smoke"), ("DIRECTOR", "Ryan Coogler", None)]
    offers = rows(ctx, "select o.* from raw_justwatch.titles__offers o join raw_justwatch.titles t "
                       "on o._dlt_parent_id = t._dlt_id where t.id = 'tm1'")
    assert [(o["package_short_name"], o["monetization_type"]) for o in offers] == [("amz", "RENT")]
    countries = rows(ctx, "select value from raw_justwatch.titles__production_countries")
    assert {r["value"] for r in countries} == {"US"}


def check_quarantine(ctx) -> None:
    [q] = rows(ctx, "select * from raw_justwatch.quarantine")
    assert q["reason"] == "invalid node: id: Field required" and q["source"] == "justwatch"
    assert '"Roofman"' in q["payload"] and q["as_of_date"] == DEMO_AS_OF


def test_limit_caps_titles(make_settings, make_context, fake: FakeJustWatch) -> None:
    ctx = make_context(make_settings(**{"justwatch.graphql_url": fake.url}), limit=2)
    result = extract(ctx)
    assert result.rows_out == 2
    assert {r["id"] for r in rows(ctx, "select id from raw_justwatch.titles")} == {"tm1", "tss12"}
    assert (D[6], None) not in fake.requests  # days after the cap are not queried


def test_a_failing_day_names_the_day_and_the_cause(make_settings, make_context, fake: FakeJustWatch) -> None:
    fake.inject("500", times=50, date=D[4])
    ctx = make_context(make_settings(**{"justwatch.graphql_url": fake.url, "justwatch.max_retries": 2}))
    with pytest.raises(JustWatchCountriesFailed) as info:
        extract(ctx)
    message = str(info.value)
    assert message.startswith(f"JustWatch newTitles for {D[4]} (US) failed:") and "HTTP 500" in message
    assert "\n" not in message
    # the step's record names the country (a DAG run's mapped task of one country: the run report shows it)
    assert info.value.result.details == {"failed_countries": {"US": message}}


def test_transient_faults_are_retried_and_counted(make_settings, make_context, fake: FakeJustWatch) -> None:
    fake.inject("429", times=1, date=D[6], retry_after="0")
    fake.inject("500", times=1, date=D[1])
    ctx = make_context(make_settings(**{"justwatch.graphql_url": fake.url}))
    result = extract(ctx)
    assert result.details["retries"] == 2 and result.rows_out == 4


@pytest.mark.postgres
def test_extract_releases_into_postgres(make_settings, make_context, fake: FakeJustWatch, pg_database) -> None:
    ctx = make_context(make_settings(**{"justwatch.graphql_url": fake.url, "warehouse.target": "postgres"}))
    extract(ctx)
    extract(ctx)
    assert ctx.warehouse.target == "postgres"
    assert rows(ctx, "select count(*) as n from raw_justwatch.titles")[0]["n"] == 4
    assert rows(ctx, "select count(*) as n from raw_justwatch.quarantine")[0]["n"] == 1
    season = rows(ctx, "select show_id, new_since from raw_justwatch.titles where id = 'tss11'")[0]
    assert season["show_id"] == "ts38227" and str(season["new_since"]) == D[4]
    credits = rows(ctx, "select count(*) as n from raw_justwatch.titles__credits")[0]["n"]
    assert credits == 3


def test_replay_samples_load_through_the_real_client(make_settings, make_context) -> None:
    with ReplayServer() as replay:
        ctx = make_context(make_settings(replay.settings_overrides()))
        result = extract(ctx)
        assert replay.misses == []
    assert (result.rows_in, result.rows_out, result.quarantined) == (48, 46, 1)
    assert result.details["countries"]["US"]["pages_per_day"]["2026-11-20"] == 2
    by_type = {r["object_type"]: r["n"] for r in rows(
        ctx, "select object_type, count(*) as n from raw_justwatch.titles group by 1")}
    assert by_type == {"MOVIE": 32, "SHOW": 10, "SHOW_SEASON": 4}
    seasons = rows(ctx, "select id, show_id from raw_justwatch.titles where object_type = 'SHOW_SEASON'")
    assert all(s["show_id"] for s in seasons)
    assert "ts38227" in {s["show_id"] for s in seasons}  # a season whose show is listed too


def test_bad_country_fails_before_any_request(make_settings, make_context, fake: FakeJustWatch) -> None:
    from core.config import ConfigError

    with pytest.raises(ConfigError, match="unknown country code"):
        ctx = make_context(make_settings(**{"justwatch.graphql_url": fake.url}), countries="US,USA")
        extract(ctx)
    assert fake.total_requests == 0


def test_complexity_errors_and_partial_errors_do_not_fail_the_day(make_settings, make_context) -> None:
    with FakeJustWatch(catalogue(), complexity_limit=1) as fake:
        fake.inject("partial", date=D[6], message="Cannot return null for non-nullable field Offer.package")
        ctx = make_context(make_settings(**{"justwatch.graphql_url": fake.url}))
        result = extract(ctx)
    assert result.rows_out == 4  # every title of the window, as without the errors
    assert result.details["countries"]["US"]["page_size"] == 1
    assert [r.split(":")[0] for r in result.details["countries"]["US"]["page_size_reductions"]] == [
        "100->50", "50->25", "25->12", "12->6", "6->3", "3->1"]
    assert result.details["countries"]["US"]["graphql_errors_kept_data"] == ["Cannot return null for non-nullable field Offer.package"]


def gb_catalogue() -> dict[str, list[dict]]:
    """GB lists the movie the US lists (other offers) and one title of its own."""
    movie_gb = TitleSpec(**{**MOVIE.__dict__, "offers": [("amp", "FLATRATE", "HD")], "new_package": "amp"})
    return {D[2]: [edge_for(movie_gb, D[2], "GB"), edge_for(SHOW, D[2], "GB")], D[4]: [malformed_edge(D[4])]}


def test_countries_load_one_row_per_title_and_country(make_settings, make_context) -> None:
    with FakeJustWatch(catalogue(), by_country={"GB": gb_catalogue()}) as fake:
        ctx = make_context(make_settings(**{"justwatch.graphql_url": fake.url}), countries="us,GB")
        result = extract(ctx)
        again = extract(ctx)
        assert fake.requests_by_country == {"US": 14, "GB": 14}  # 7 days, each run
    assert result.failed_parts == {} and result.rows_out == 6 and result.details["unique_nodes"] == 4
    assert {c: d["titles"] for c, d in result.details["countries"].items()} == {"US": 4, "GB": 2}
    listed = rows(ctx, "select id, country, new_since from raw_justwatch.titles order by id, country")
    assert [(r["id"], r["country"]) for r in listed] == [
        ("tm1", "GB"), ("tm1", "US"), ("ts38227", "GB"), ("ts38227", "US"), ("tss11", "US"), ("tss12", "US")]
    offers = rows(ctx, "select t.country, o.package_short_name from raw_justwatch.titles t join "
                  "raw_justwatch.titles__offers o on o._dlt_parent_id = t._dlt_id where t.id = 'tm1'")
    assert {(r["country"], r["package_short_name"]) for r in offers} == {("GB", "amp"), ("US", "amz")}
    assert again.rows_out == 6 and rows(ctx, "select count(*) as n from raw_justwatch.titles")[0]["n"] == 6
    # the same bad node listed in both countries: quarantined once per country
    quarantined = rows(ctx, "select payload from raw_justwatch.quarantine")
    assert sorted(json.loads(q["payload"])["country"] for q in quarantined) == ["GB", "US"]


def test_a_failing_country_is_named_and_the_others_load(make_settings, make_context) -> None:
    with FakeJustWatch(catalogue(), by_country={"GB": gb_catalogue()}) as fake:
        fake.inject("500", times=50, country="GB")
        settings = make_settings(**{"justwatch.graphql_url": fake.url, "justwatch.max_retries": 1})
        ctx = make_context(settings, countries=["US", "GB"])
        result = extract(ctx)
    assert list(result.failed_parts) == ["GB"] and "(GB) failed" in result.failed_parts["GB"]
    assert {r["country"] for r in rows(ctx, "select distinct country from raw_justwatch.titles")} == {"US"}
    assert result.rows_out == 4 and result.details["failed_countries"] == result.failed_parts
