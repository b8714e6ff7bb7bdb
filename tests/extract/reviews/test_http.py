"""The shared HTTP helper: conditional-request cache, rate limit, Retry-After, secrets kept off disk."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from extract.reviews.harvest import Harvester
from extract.reviews.http import HttpClient, RateLimiter, parse_retry_after, redact_url
from extract.reviews.settings import ReviewsSettings
from tests.extract.reviews.conftest import AS_OF, FRANKENSTEIN, PLURIBUS, SINNERS, SleepRecorder
from tests.fakes.review_sites import ReviewSites


def run_once(settings: ReviewsSettings, sleeper: SleepRecorder):
    with HttpClient(settings, sleep=sleeper) as http:
        harvester = Harvester(settings, http, AS_OF)
        harvests = harvester.harvest_many([SINNERS, FRANKENSTEIN, PLURIBUS])
        harvester.close()
        return harvests, {s: http.source_stats(s) for s in ("tmdb", "rogerebert", "guardian")}


def test_second_run_revalidates_with_304_and_downloads_nothing(review_settings, sites: ReviewSites,
                                                               sleeper: SleepRecorder) -> None:
    first, stats1 = run_once(review_settings, sleeper)
    full_after_first = sites.total_full()
    assert full_after_first > 0 and sum(sites.not_modified.values()) == 0
    assert sum(s.get("cache_hits", 0) for s in stats1.values()) == 0

    second, stats2 = run_once(review_settings, sleeper)
    assert sites.total_full() == full_after_first  # zero full downloads on the re-run
    assert sum(sites.not_modified.values()) == full_after_first  # every earlier 200 (robots.txt too) is now a 304
    assert sum(s.get("downloads", 0) for s in stats2.values()) == 0
    assert sum(s.get("cache_hits", 0) for s in stats2.values()) == full_after_first
    assert [h.reviews for h in second] == [
        [r.model_copy(update={"extracted_at": s.extracted_at}) for r, s in zip(h.reviews, h2.reviews, strict=True)]
        for h, h2 in zip(first, second, strict=True)
    ]


def test_changed_page_is_downloaded_again(review_settings, sites: ReviewSites, sleeper: SleepRecorder) -> None:
    run_once(review_settings, sleeper)
    path = "/reviews/sinners-movie-review-2025"
    sites.pages[path] = sites.pages[path].replace("blues record", "gospel record")
    harvests, _ = run_once(review_settings, sleeper)
    assert sites.full["/rogerebert" + path] == 2
    [ebert] = [r for r in harvests[0].reviews if r.source == "rogerebert"]
    assert "gospel record" in ebert.review_text


def test_cache_files_hold_no_secrets(review_settings, sites: ReviewSites, sleeper: SleepRecorder) -> None:
    run_once(review_settings, sleeper)
    assert review_settings.cache_dir is not None
    blobs = [p.read_bytes() for p in review_settings.cache_dir.iterdir()]
    assert blobs and not any(b"test-tmdb-key" in b or b"test-guardian-key" in b for b in blobs)


def test_without_cache_dir_every_run_downloads(review_settings, sites: ReviewSites, sleeper: SleepRecorder) -> None:
    settings = review_settings.with_changes(cache_dir=None)
    run_once(settings, sleeper)
    first = sites.total_full()
    run_once(settings, sleeper)
    assert sites.total_full() == 2 * first and sum(sites.not_modified.values()) == 0


def test_rate_limiter_spaces_requests_per_host() -> None:
    now = [100.0]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    limiter = RateLimiter(2.0, clock=lambda: now[0], sleep=sleep)
    assert [limiter.acquire("http://a") for _ in range(3)] == [0.0, 0.5, 0.5]
    assert limiter.acquire("http://b") == 0.0
    assert RateLimiter(0, clock=lambda: 0.0, sleep=sleep).acquire("http://a") == 0.0


def test_rate_limit_applies_to_real_requests(review_settings, sites: ReviewSites) -> None:
    now = [0.0]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    settings = review_settings.with_changes(per_host_rps=4.0, concurrency=1)
    with HttpClient(settings, sleep=sleep, clock=lambda: now[0]) as http:
        for _ in range(3):
            http.get(f"{sites.url('tmdb')}/3/movie/1233413/reviews", {"api_key": "k"}, source="tmdb", use_cache=False)
    assert waits == [0.25, 0.25]


def test_retry_after_forms() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    later = datetime.now(UTC) + timedelta(seconds=30)
    assert 25 <= (parse_retry_after(format_datetime(later, usegmt=True)) or 0) <= 31


def test_redact_url_hides_keys() -> None:
    url = "https://api.themoviedb.org/3/movie/1/reviews?language=en-US&page=1&api_key=abcd1234"
    assert redact_url(url) == "https://api.themoviedb.org/3/movie/1/reviews?language=en-US&page=1&api_key=***"
    assert "s3cr3t" not in redact_url("https://content.guardianapis.com/search?q=x&api-key=s3cr3t")
