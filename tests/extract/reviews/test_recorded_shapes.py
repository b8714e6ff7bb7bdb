"""The adapters over real HTTP, fed the recorded-format fixtures in tests/extract/reviews/fixtures/ (see its README)."""

from __future__ import annotations

from pathlib import Path

from extract.reviews.harvest import Harvester
from extract.reviews.http import HttpClient
from extract.reviews.models import Subject
from extract.reviews.settings import ReviewsSettings
from tests.extract.reviews.conftest import AS_OF, PLURIBUS, SINNERS
from tests.fakes.review_sites import ReviewSites

FIXTURES = Path(__file__).parent / "fixtures"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def harvest(settings: ReviewsSettings, client: HttpClient, subject: Subject) -> tuple[Harvester, object]:
    harvester = Harvester(settings, client, AS_OF)
    try:
        [h] = harvester.harvest_many([subject])
    finally:
        harvester.close()
    return harvester, h


def test_tmdb_reviews_page_shapes(review_settings, client, sites: ReviewSites) -> None:
    sites.inject("/tmdb/3/movie/1233413/reviews", status=200, times=None, body=fixture("tmdb_movie_reviews.json"))
    _, h = harvest(review_settings, client, SINNERS)
    tmdb = sorted((r for r in h.reviews if r.source == "tmdb"), key=lambda r: r.review_key)
    assert [(r.author, r.original_score, r.score_normalized) for r in tmdb] == [
        ("Goddardish", None, None), ("Manuela Bento", "8", 8.0), ("CinemaSerfish", "7.0", 7.0)]
    assert "**" not in tmdb[1].review_text and "\r" not in tmdb[1].review_text and "<em>" not in tmdb[2].review_text
    [bad] = h.quarantine  # the record whose rating is "eight": quarantined, the three others kept
    assert bad.reason == "TMDB review record rejected: author_details.rating is str 'eight', not a number"
    assert '"rating": "eight"' in bad.payload


def test_tmdb_recorded_401_body_stops_the_source(review_settings, client, sites: ReviewSites) -> None:
    sites.inject("/tmdb/3/movie/1233413/reviews", status=401, times=None, body=fixture("tmdb_401_invalid_api_key.json"))
    harvester, h = harvest(review_settings, client, SINNERS)
    assert harvester.stopped["tmdb"] == (
        "TMDB rejected the v3 api_key in TMDB_API_KEY (HTTP 401, invalid API key): "
        "Invalid API key: You must be granted a valid key. (status_code 7)")
    assert "tmdb" not in {o.source for o in h.outcomes}


def test_tmdb_openresty_html_404_is_not_found(review_settings, client, sites: ReviewSites) -> None:
    sites.inject("/tmdb/3/movie/1233413/reviews", status=404, times=None, body=fixture("tmdb_404_openresty.html"),
                 content_type="text/html")
    _, h = harvest(review_settings, client, SINNERS)
    [tmdb] = [o for o in h.outcomes if o.source == "tmdb"]
    assert (tmdb.status, tmdb.reason) == ("not_found", "TMDB 404: non-JSON error page")


def test_guardian_tv_season_review_without_references(review_settings, client, sites: ReviewSites) -> None:
    sites.inject("/guardian/search", status=200, times=None, body=fixture("guardian_search_tv.json"))
    _, h = harvest(review_settings, client, PLURIBUS)
    [review] = [r for r in h.reviews if r.source == "guardian"]
    assert (review.author, review.original_score, review.score_normalized) == ("Lucy Mangan", "4/5", 8.0)
    assert review.review_url.endswith("pluribus-season-2-review-apple-tv")  # the recap is not a review


def test_rogerebert_wordpress_page_with_json_ld(review_settings, client, sites: ReviewSites) -> None:
    sites.add_page(fixture("rogerebert_review_json_ld.html").decode(), path="/reviews/sinners-movie-review-2025")
    _, h = harvest(review_settings, client, SINNERS)
    [review] = [r for r in h.reviews if r.source == "rogerebert"]
    assert (review.author, review.original_score, review.score_normalized) == ("Robert Daniels", "3.5/4", 8.75)
    assert review.review_text == ("Ryan Coogler’s vampire picture is a blues record played at full volume. Its "
                                  "centrepiece, a song that tears open time, is the year’s most daring sequence.")
    assert review.review_url == "https://www.rogerebert.com/reviews/sinners-movie-review-2025"
    assert str(review.published_at) == "2025-04-18 04:00:00+00:00"
