"""Fixtures for the review extract: fake sites with a small catalogue, and settings pointing at them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from core.config import parse_settings
from extract.reviews.http import HttpClient
from extract.reviews.models import Subject
from extract.reviews.settings import ReviewsSettings
from tests.fakes.review_sites import EbertPage, ReviewSites, guardian_result, tmdb_review

AS_OF = date(2026, 11, 20)

SINNERS = Subject(title_id="tm1522331", content_type="movie", title="Sinners", year=2025,
                  tmdb_id="1233413", imdb_id="tt31193180")
FRANKENSTEIN = Subject(title_id="tm1533075", content_type="movie", title="Frankenstein", year=2025,
                       tmdb_id="1062722", imdb_id="tt1312221")
PLURIBUS = Subject(title_id="ts1560118", content_type="show", title="Pluribus", year=2025,
                   tmdb_id="225171", imdb_id="tt22202452")
OBSCURE = Subject(title_id="tm9000001", content_type="movie", title="A Quiet Field", year=2025,
                  tmdb_id="9000001", imdb_id="tt9000001")


class SleepRecorder:
    """Injected instead of time.sleep: remembers every wait, waits for none."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def populate(sites: ReviewSites) -> None:
    sites.add_tmdb("movie", 1233413, [
        tmdb_review("67f0c2a1e4b0a1c2d3e4f501", "CinemaSerf", "Michael B. Jordan plays twins and it *works*.\r\n\r\n"
                    "The juke joint sequence is **astonishing**; see it on the biggest screen you can.",
                    username="Geronimo1967", rating=8.0, avatar_path="/yHGV4.jpg",
                    created_at="2025-04-20T09:12:44.120Z"),
        tmdb_review("67f0c2a1e4b0a1c2d3e4f502", "msbreviews", "A genre blend that shouldn't hold together but does.",
                    rating=None, avatar_path="/https://secure.gravatar.com/avatar/abc.jpg",
                    created_at="2025-04-18T21:03:10.001Z"),
    ])
    sites.add_page(EbertPage(
        path="/reviews/sinners-movie-review-2025", film_title="Sinners", film_year=2025, critic="Robert Daniels",
        published=date(2025, 4, 18), stars=3.5, tmdb_id="1233413",
        paragraphs=["Ryan Coogler's vampire picture is a blues record played at full volume.",
                    "Its centrepiece, a song that tears open time, is the year's most daring sequence."],
        spoiler="The final act reveals who survives the night."))
    sites.add_guardian(guardian_result(
        "film/2025/apr/16/sinners-review-michael-b-jordan", "Sinners review – Michael B Jordan doubles up in a "
        "thrilling vampire blues", "Coogler's horror western is bold, sensual and frequently terrifying.",
        "Peter Bradshaw", "2025-04-16T14:00:11Z", star_rating="5", imdb_id="tt31193180"))
    # Frankenstein: the only RogerEbert page at the guessed slug is about the 1931 film (a namesake)
    sites.add_page(EbertPage(
        path="/reviews/frankenstein-2025", film_title="Frankenstein", film_year=1931, critic="Roger Ebert",
        published=date(1999, 1, 3), stars=4.0, paragraphs=["James Whale's film remains a marvel of design."]))
    sites.add_guardian(guardian_result(
        "film/2025/aug/30/frankenstein-review-guillermo-del-toro", "Frankenstein review – Guillermo del Toro's "
        "lavish gothic", "Jacob Elordi's creature is the soul of this sumptuous adaptation.",
        "Xan Brooks", "2025-08-30T19:30:00Z", star_rating="4", imdb_id="tt1312221"))
    sites.add_guardian(guardian_result(
        "film/2004/oct/29/frankenstein-review", "Frankenstein review – a stage revival on film",
        "A filmed stage production that never escapes the proscenium.", "Philip French",
        "2004-10-29T00:00:00Z", star_rating="2", imdb_id="tt0400000"))
    # Pluribus: a TV review on RogerEbert, TMDB TV reviews, no Guardian
    sites.add_page(EbertPage(
        path="/streaming/pluribus-tv-review-2025", film_title="Pluribus", film_year=2025, critic="Brian Tallerico",
        published=date(2025, 11, 6), stars=None, tmdb_id="225171", content_type="show",
        paragraphs=["Vince Gilligan's new series is a quiet, unnerving study of happiness as a contagion."]))
    sites.add_tmdb("tv", 225171, [
        tmdb_review("690c1f2ae4b0a1c2d3e4f601", "Brent Marchant", "Rhea Seehorn is *phenomenal*.", name="Brent Marchant",
                    rating=7, created_at="2025-11-09T02:44:51.512Z"),
    ])


@pytest.fixture
def sites() -> Iterator[ReviewSites]:
    with ReviewSites() as fake:
        populate(fake)
        yield fake


@pytest.fixture
def sleeper() -> SleepRecorder:
    return SleepRecorder()


@pytest.fixture
def review_settings(sites: ReviewSites, tmp_path: Path) -> ReviewsSettings:
    urls = {f"reviews.{source}.base_url": url for source, url in sites.base_urls().items()}
    settings = parse_settings("dev", environ={}).with_overrides(urls)
    return ReviewsSettings.from_settings(settings).with_changes(
        concurrency=2, per_host_rps=0, timeout_s=0.5, max_retries=2, backoff_base_s=0.01,
        cache_dir=tmp_path / "http-cache", api_keys={"tmdb": "test-tmdb-key", "guardian": "test-guardian-key"},
    )


@pytest.fixture
def client(review_settings: ReviewsSettings, sleeper: SleepRecorder) -> Iterator[HttpClient]:
    with HttpClient(review_settings, sleep=sleeper) as http:
        yield http
