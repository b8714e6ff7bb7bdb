"""Pure parser tests: GraphQL page -> title records and quarantine entries."""

from __future__ import annotations

import copy
import json
from datetime import UTC, date, datetime

import pytest

from core import quarantine, raw_spec
from extract.justwatch.models import Offer, QuarantineRecord, TitleRecord
from extract.justwatch.parse import (
    ResponseShapeError,
    dedupe_offers,
    parse_edge,
    parse_edge_items,
    parse_new_titles_page,
)
from tests.fakes.justwatch_server import FakeJustWatch, ShowRef, TitleSpec, edge_for, malformed_edge

DAY = date(2026, 11, 20)
NOW = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)
YEAR_MIN, YEAR_MAX = raw_spec.RELEASE_YEAR_MIN.resolve(DAY), raw_spec.RELEASE_YEAR_MAX.resolve(DAY)  # dbt vars

MOVIE = TitleSpec(
    kind="movie", object_id=1540902, title="One Battle After Another", release_date="2025-09-26", runtime=162,
    short_description="Ex-revolutionaries reunite.", genres=["act", "drm", "act"], imdb_score=7.9, imdb_votes=1000,
    tomato_meter=95, offers=[("mxx", "FLATRATE", "_4K"), ("mxx", "FLATRATE", "_4K"), ("amz", "RENT", "HD")],
    new_package="mxx", original_title="One Battle After Another", age_certification="R",
    production_countries=["US"], imdb_id="tt30144839", tmdb_id="1054867",
    cast=[("Leonardo DiCaprio", "Bob Ferguson")], directors=["Paul Thomas Anderson"],
)
SHOW = TitleSpec(
    kind="show", object_id=38227, title="Stranger Things", release_date="2016-07-15", runtime=60,
    genres=["scf"], imdb_id="tt4574334", tmdb_id="66732", age_certification="TV-14", production_countries=["US"],
    cast=[("Millie Bobby Brown", "Eleven")], directors=["Matt Duffer"], offers=[("nfx", "FLATRATE", "_4K")],
    new_package="nfx",
)
SEASON = TitleSpec(
    kind="season", object_id=1602241, title="Season 5", release_date="2025-11-26", runtime=75, genres=["scf"],
    season_number=5, episode_count=8, offers=[("nfx", "FLATRATE", "_4K")], new_package="nfx",
    show=ShowRef(38227, "Stranger Things", "/us/tv-show/stranger-things", "tt4574334", "66732"),
)


def page_of(*edges: dict, has_next: bool = False, end_cursor: str | None = "Mw==") -> dict:
    return {"data": {"newTitles": {"totalCount": len(edges), "edges": [{**e, "cursor": "x"} for e in edges],
                                   "pageInfo": {"endCursor": end_cursor, "hasNextPage": has_next}}}}


def parse(*edges: dict, **kw):
    return parse_new_titles_page(page_of(*edges), day=DAY, country="US", as_of=DAY, extracted_at=NOW, **kw)


def test_movie_maps_every_contract_field() -> None:
    page = parse(edge_for(MOVIE, DAY.isoformat()))
    assert page.quarantine == [] and page.nodes_seen == 1
    [rec] = page.records
    expected = {
        "id": "tm1540902", "object_type": "MOVIE", "object_id": 1540902,
        "title": "One Battle After Another", "original_title": "One Battle After Another",
        "original_release_year": 2025, "original_release_date": "2025-09-26", "runtime_minutes": 162,
        "age_certification": "R", "full_path": "/us/movie/one-battle-after-another",
        "imdb_id": "tt30144839", "tmdb_id": "1054867", "imdb_score": 7.9, "tomato_meter": 95,
        "genres": ["act", "drm"],  # duplicates folded, order kept
        "production_countries": ["US"],
        "credits": [
            {"role": "ACTOR", "name": "Leonardo DiCaprio", "character_name": "Bob Ferguson"},
            {"role": "DIRECTOR", "name": "Paul Thomas Anderson", "character_name": None},
        ],
        "new_since": DAY, "country": "US", "new_offer_package": "HBO Max",
        "season_number": None, "show_id": None, "original_language": None,
    }
    assert rec.model_dump(include=set(expected)) == expected


def test_offers_are_deduplicated() -> None:
    [rec] = parse(edge_for(MOVIE, DAY.isoformat())).records
    assert [(o.package_short_name, o.monetization_type, o.presentation_type) for o in rec.offers] == [
        ("mxx", "FLATRATE", "_4K"), ("amz", "RENT", "HD")]
    assert rec.offers[0].package_clear_name == "HBO Max"


def test_dedupe_offers_keeps_distinct_presentations() -> None:
    raw = [{"monetizationType": "BUY", "presentationType": p, "package": {"shortName": "itu", "clearName": "Apple TV"}}
           for p in ("HD", "_4K", "HD")]
    offers = dedupe_offers([Offer.model_validate(o) for o in raw])
    assert [o.presentation_type for o in offers] == ["HD", "_4K"]


def test_show_maps_to_show() -> None:
    [rec] = parse(edge_for(SHOW, DAY.isoformat())).records
    assert (rec.id, rec.object_type, rec.tmdb_id, rec.age_certification) == ("ts38227", "SHOW", "66732", "TV-14")


def test_season_keeps_its_id_and_carries_the_parent_show() -> None:
    [rec] = parse(edge_for(SEASON, DAY.isoformat())).records
    assert (rec.id, rec.object_type, rec.title, rec.season_number) == ("tss1602241", "SHOW_SEASON", "Season 5", 5)
    assert rec.tmdb_id == "66732:5" and rec.imdb_id is None
    assert (rec.show_id, rec.show_title, rec.show_full_path) == ("ts38227", "Stranger Things",
                                                                  "/us/tv-show/stranger-things")
    assert (rec.show_tmdb_id, rec.show_imdb_id) == ("66732", "tt4574334")
    assert rec.credits == [] and rec.original_title is None


def test_numeric_tmdb_id_becomes_a_string() -> None:
    edge = edge_for(MOVIE, DAY.isoformat())
    edge["node"]["content"]["externalIds"]["tmdbId"] = 1054867
    [rec] = parse(edge).records
    assert rec.tmdb_id == "1054867"


def test_missing_id_is_quarantined_and_the_rest_of_the_page_loads() -> None:
    bad = malformed_edge(DAY.isoformat())
    page = parse(edge_for(MOVIE, DAY.isoformat()), bad, edge_for(SEASON, DAY.isoformat()))
    assert [r.id for r in page.records] == ["tm1540902", "tss1602241"]
    [q] = page.quarantine
    assert q.reason == "invalid node: id: Field required"
    assert q.entity_id is None and q.source == "justwatch" and q.as_of_date == DAY
    assert json.loads(q.payload)["node"]["content"]["title"] == "Roofman"
    assert q.record_key == quarantine.record_key("justwatch", q.payload)
    assert page.nodes_seen == 3


@pytest.mark.parametrize(
    ("mutate", "reason_part"),
    [
        (lambda n: n.update(objectType="SHOW_EPISODE"), "unsupported objectType 'SHOW_EPISODE'"),
        (lambda n: n.update(id="ts1540902"), "does not match objectType MOVIE"),
        (lambda n: n.pop("content"), "content: Field required"),
        (lambda n: n.update(objectId="abc"), "objectId"),
        # the raw_justwatch.titles contract (core.raw_spec), i.e. what the staging tests check
        (lambda n: n["content"].update(title=None), "breaks the raw_justwatch.titles contract: title is missing"),
        (lambda n: n["content"].update(title="  "), "title is missing"),
        (lambda n: n["content"].update(originalReleaseYear=3000), f"original_release_year 3000 is above {YEAR_MAX}"),
        (lambda n: n["content"].update(originalReleaseYear=YEAR_MIN - 1), f"is below {YEAR_MIN}"),
        (lambda n: n["content"].update(runtime=-5), "runtime_minutes -5 is below 0"),
        (lambda n: n["content"]["scoring"].update(imdbScore=11.5), "imdb_score 11.5 is above 10"),
        (lambda n: n["content"].update(title=["One", "Battle"]), "content.title: Input should be a valid string"),
        (lambda n: n["content"].update(originalReleaseYear="soon"), "content.originalReleaseYear"),
    ],
)
def test_bad_nodes_are_quarantined_with_a_reason(mutate, reason_part) -> None:
    edge = copy.deepcopy(edge_for(MOVIE, DAY.isoformat()))
    mutate(edge["node"])
    result = parse_edge(edge, day=DAY, country="US", as_of=DAY, extracted_at=NOW)
    assert isinstance(result, QuarantineRecord)
    assert reason_part in result.reason


def test_season_without_show_is_quarantined() -> None:
    edge = edge_for(SEASON, DAY.isoformat())
    del edge["node"]["show"]
    result = parse_edge(edge, day=DAY, country="US", as_of=DAY, extracted_at=NOW)
    assert isinstance(result, QuarantineRecord) and "parent show" in result.reason
    assert result.entity_id == "tss1602241"


def test_null_new_offer_is_allowed() -> None:
    edge = edge_for(MOVIE, DAY.isoformat())
    edge["newOffer"] = None
    result = parse_edge(edge, day=DAY, country="US", as_of=DAY, extracted_at=NOW)
    assert isinstance(result, TitleRecord) and result.new_offer_package is None


def test_object_type_filter_counts_what_it_leaves_out() -> None:
    page = parse(edge_for(MOVIE, DAY.isoformat()), edge_for(SEASON, DAY.isoformat()), object_types=["MOVIE"])
    assert [r.id for r in page.records] == ["tm1540902"] and page.filtered_out == 1


def test_page_info_and_total_count() -> None:
    page = parse_new_titles_page(page_of(edge_for(MOVIE, "d"), has_next=True, end_cursor="MQ=="), day=DAY,
                                 country="US", as_of=DAY, extracted_at=NOW)
    assert (page.has_next_page, page.end_cursor, page.total_count) == (True, "MQ==", 1)


@pytest.mark.parametrize("response", [{}, {"data": None}, {"data": {"newTitles": None}}, [],
                                      {"data": {"newTitles": {"edges": []}}}])
def test_broken_envelope_raises(response) -> None:
    with pytest.raises(ResponseShapeError):
        parse_new_titles_page(response, day=DAY, country="US", as_of=DAY, extracted_at=NOW)


def test_server_pages_parse_like_the_samples() -> None:
    """The fake's served page format (cursors, __typename) parses without loss."""
    fake = FakeJustWatch({DAY.isoformat(): [edge_for(MOVIE, DAY.isoformat()), edge_for(SHOW, DAY.isoformat())]})
    try:
        body = fake.page({"date": DAY.isoformat(), "first": 1})
    finally:
        fake._httpd.server_close()
    page = parse_new_titles_page(body, day=DAY, country="US", as_of=DAY, extracted_at=NOW)
    assert [r.id for r in page.records] == ["tm1540902"]
    assert page.has_next_page and page.end_cursor == "MQ==" and page.total_count == 2


def test_list_items_breaking_their_child_rule_are_dropped_and_the_title_kept() -> None:
    edge = edge_for(MOVIE, DAY.isoformat())
    content = edge["node"]["content"]
    content["credits"].append({"role": None, "name": "Nobody", "characterName": None})
    content["credits"].append({"role": "ACTOR", "name": " ", "characterName": "Ghost"})
    content["productionCountries"].append("  ")
    edge["node"]["offers"].append({"monetizationType": "FREE", "presentationType": "SD", "package": None})
    result = parse_edge(edge, day=DAY, country="US", as_of=DAY, extracted_at=NOW)
    assert isinstance(result, TitleRecord)
    assert [c.name for c in result.credits] == ["Leonardo DiCaprio", "Paul Thomas Anderson"]
    assert result.production_countries == ["US"]
    assert all(o.package_clear_name for o in result.offers) and len(result.offers) == 2


def test_the_latest_plausible_year_is_the_run_year_plus_the_dbt_var() -> None:
    edge = edge_for(MOVIE, DAY.isoformat())
    edge["node"]["content"]["originalReleaseYear"] = YEAR_MAX
    assert isinstance(parse_edge(edge, day=DAY, country="US", as_of=DAY, extracted_at=NOW), TitleRecord)
    edge["node"]["content"]["originalReleaseYear"] = YEAR_MAX + 1
    assert isinstance(parse_edge(edge, day=DAY, country="US", as_of=DAY, extracted_at=NOW), QuarantineRecord)


def test_list_items_breaking_a_rule_are_quarantined_with_their_reason() -> None:
    spec = TitleSpec(kind="movie", object_id=5, title="Heat", release_date="1995-12-15", genres=["crm", ""],
                     production_countries=["US", " "], cast=[("Al Pacino", "Vincent Hanna")],
                     offers=[("nfx", "FLATRATE", "HD")])
    edge = edge_for(spec, DAY.isoformat())
    edge["node"]["content"]["credits"].append({"role": "ACTOR", "name": None, "characterName": "Waingro"})
    edge["node"]["offers"].append({"monetizationType": "RENT", "package": None})
    record, items = parse_edge_items(edge, day=DAY, country="GB", as_of=DAY, extracted_at=NOW)
    assert isinstance(record, TitleRecord)
    assert record.genres == ["crm"] and record.production_countries == ["US"] and len(record.credits) == 1
    assert len(record.offers) == 1
    reasons = sorted(q.reason.split(": ", 1)[1] for q in items)
    assert reasons == ["credits[1].name is missing", "genres[1].value is missing", "offers[1].package_clear_name is missing",
                       "production_countries[1].value is missing"]
    assert all(q.entity_id == "tm5" and '"country":"GB"' in q.payload for q in items)
    page = parse_new_titles_page(page_of(edge), day=DAY, country="GB", as_of=DAY, extracted_at=NOW)
    assert len(page.records) == 1 and len(page.item_quarantine) == 4 and page.quarantine == []
