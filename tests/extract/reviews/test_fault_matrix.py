"""Every adapter against the real HTTP fakes, with faults injected: what is kept, skipped, and why."""

from __future__ import annotations

from datetime import date

from extract.reviews.harvest import Harvester
from extract.reviews.http import HttpClient
from extract.reviews.models import TitleHarvest
from extract.reviews.settings import ReviewsSettings
from tests.extract.reviews.conftest import AS_OF, FRANKENSTEIN, OBSCURE, PLURIBUS, SINNERS, SleepRecorder
from tests.fakes.review_sites import EbertPage, ReviewSites, render_review_page, render_wordpress_2025_page

TMDB_SINNERS = "/tmdb/3/movie/1233413/reviews"
EBERT_SINNERS = "/rogerebert/reviews/sinners-movie-review-2025"


def harvest(settings: ReviewsSettings, client: HttpClient, *subjects) -> list[TitleHarvest]:
    harvester = Harvester(settings, client, AS_OF)
    try:
        return harvester.harvest_many(subjects)
    finally:
        harvester.close()


def outcome(h: TitleHarvest, source: str):
    [found] = [o for o in h.outcomes if o.source == source]
    return found


def sources_kept(h: TitleHarvest) -> list[str]:
    return sorted({r.source for r in h.reviews})


def test_all_sources_ok_with_a_named_user_agent(review_settings, client, sites: ReviewSites) -> None:
    [h] = harvest(review_settings, client, SINNERS)
    assert {o.source: o.status for o in h.outcomes} == {"tmdb": "ok", "rogerebert": "ok", "guardian": "ok"}
    assert sources_kept(h) == ["guardian", "rogerebert", "tmdb"]
    assert [r.source for r in h.reviews][:2] == ["rogerebert", "guardian"]  # critics first, newest first
    assert sites.user_agents == {review_settings.user_agent}


def test_tmdb_404_costs_only_tmdb(review_settings, client, sites: ReviewSites) -> None:
    sites.tmdb.pop(("movie", 1233413))
    [h] = harvest(review_settings, client, SINNERS)
    assert outcome(h, "tmdb").status == "not_found"
    assert "status_code 34" in (outcome(h, "tmdb").reason or "")
    assert sources_kept(h) == ["guardian", "rogerebert"]


def test_429_then_success_honours_retry_after(review_settings, client, sites: ReviewSites,
                                              sleeper: SleepRecorder) -> None:
    sites.inject(TMDB_SINNERS, status=429, times=1, retry_after="7",
                 body=b'{"status_code":25,"status_message":"Your request count (41) is over the allowed limit of 40."}')
    [h] = harvest(review_settings, client, SINNERS)
    assert outcome(h, "tmdb").status == "ok" and outcome(h, "tmdb").reviews_found == 2
    assert sites.hits[TMDB_SINNERS] == 2
    assert 7.0 in sleeper.calls
    assert client.source_stats("tmdb")["retries"] == 1


def test_500_exhausted_is_an_error_for_that_source_only(review_settings, client, sites: ReviewSites,
                                                        sleeper: SleepRecorder) -> None:
    sites.inject("/guardian/search", status=500, times=None, body=b'{"response":{"status":"error"}}')
    [h] = harvest(review_settings, client, SINNERS)
    assert outcome(h, "guardian").status == "error"
    assert outcome(h, "guardian").reason == "Guardian HTTP 500 after 3 attempt(s)"
    assert sites.hits["/guardian/search"] == review_settings.max_retries + 1
    assert sleeper.calls[:2] == [0.01, 0.02]  # exponential backoff from backoff_base_s
    assert sources_kept(h) == ["rogerebert", "tmdb"]


def test_timeouts_retry_then_give_up(review_settings, client, sites: ReviewSites) -> None:
    sites.inject(TMDB_SINNERS, delay_s=1.0, status=None, times=1)  # one slow answer, then normal
    sites.inject("/rogerebert/reviews/sinners-2025", delay_s=1.0, status=404, times=None)  # always too slow
    [h] = harvest(review_settings, client, SINNERS)
    assert outcome(h, "tmdb").status == "ok"
    ebert = outcome(h, "rogerebert")
    assert ebert.status == "error" and "timed out after 0.5s (3 attempts)" in (ebert.reason or "")
    assert sources_kept(h) == ["guardian", "tmdb"]


def test_layout_change_is_quarantined_with_reason_and_excerpt(review_settings, client, sites: ReviewSites) -> None:
    page = EbertPage(path="/reviews/sinners-movie-review-2025", film_title="Sinners", film_year=2025,
                     critic="Robert Daniels", published=date(2025, 4, 18), paragraphs=["A new-look review page."])
    sites.add_page(render_wordpress_2025_page(page), path=page.path)
    [h] = harvest(review_settings, client, SINNERS)
    ebert = outcome(h, "rogerebert")
    assert ebert.status == "error" and "layout changed at /reviews/sinners-movie-review-2025" in (ebert.reason or "")
    [entry] = h.quarantine
    assert entry.source == "rogerebert" and entry.entity_id == SINNERS.title_id
    assert "headline selector" in entry.reason
    assert "wp-block-post-title" in entry.payload and entry.as_of_date == AS_OF
    assert sources_kept(h) == ["guardian", "tmdb"]


def test_garbage_html_and_garbage_json_are_quarantined(review_settings, client, sites: ReviewSites) -> None:
    sites.inject(EBERT_SINNERS, status=200, times=None, body=b"\x00\x01\x02 binary junk" * 50,
                 content_type="text/html")
    sites.inject("/guardian/search", status=200, times=None, body=b"<html>Service Unavailable</html>",
                 content_type="text/html")
    [h] = harvest(review_settings, client, SINNERS)
    assert outcome(h, "rogerebert").status == "error"
    assert outcome(h, "guardian").status == "error"
    reasons = {q.source: q.reason for q in h.quarantine}
    assert len(h.quarantine) == 2
    assert "not an HTML page" in reasons["rogerebert"]
    assert "unreadable Guardian search response" in reasons["guardian"]
    assert sources_kept(h) == ["tmdb"]


def test_namesakes_are_rejected(review_settings, client, sites: ReviewSites) -> None:
    [h] = harvest(review_settings, client, FRANKENSTEIN)
    ebert = outcome(h, "rogerebert")
    assert ebert.status == "not_found" and "namesake: page reviews 'Frankenstein' (1931)" in (ebert.reason or "")
    assert outcome(h, "guardian").reviews_found == 1  # the 2004 item with another IMDb id is not ours
    [review] = h.reviews
    assert review.author == "Xan Brooks" and review.score_normalized == 8.0


def test_namesake_by_tmdb_widget(review_settings, client, sites: ReviewSites) -> None:
    sites.add_page(EbertPage(path="/reviews/sinners-movie-review-2025", film_title="Sinners", film_year=2025,
                             critic="Someone Else", published=date(2025, 5, 1), tmdb_id="424242",
                             paragraphs=["A different film with the same name."]))
    [h] = harvest(review_settings, client, SINNERS)
    assert outcome(h, "rogerebert").status == "not_found"
    assert "TMDB widget id 424242" in (outcome(h, "rogerebert").reason or "")


def test_robots_txt_disallow_skips_without_fetching(review_settings, client, sites: ReviewSites) -> None:
    sites.robots_txt = "User-agent: TrendingNowBot\nDisallow: /reviews/\n\nUser-agent: *\nAllow: /\n"
    [sinners, pluribus] = harvest(review_settings, client, SINNERS, PLURIBUS)
    assert outcome(sinners, "rogerebert").status == "skipped"
    assert "robots.txt disallows /reviews/sinners-2025" in (outcome(sinners, "rogerebert").reason or "")
    assert sites.total("/rogerebert/reviews/") == 0
    assert outcome(pluribus, "rogerebert").status == "ok"  # /streaming/ is allowed
    assert sites.hits["/rogerebert/robots.txt"] == 1  # read once per site


def test_unreachable_robots_txt_means_no_crawling(review_settings, client, sites: ReviewSites) -> None:
    sites.inject("/rogerebert/robots.txt", status=503, times=None)
    [h] = harvest(review_settings, client, SINNERS)
    assert outcome(h, "rogerebert").status == "skipped"
    assert "robots.txt answered HTTP 503" in (outcome(h, "rogerebert").reason or "")
    assert sites.total("/rogerebert/reviews/") == 0


def test_missing_keys_skip_the_api_sources(review_settings, sites: ReviewSites, sleeper) -> None:
    settings = review_settings.with_changes(api_keys={})
    with HttpClient(settings, sleep=sleeper) as http:
        [h] = harvest(settings, http, SINNERS)
    assert (outcome(h, "tmdb").status, outcome(h, "tmdb").reason) == ("skipped", "no TMDB_API_KEY")
    assert (outcome(h, "guardian").status, outcome(h, "guardian").reason) == ("skipped", "no GUARDIAN_API_KEY")
    assert sites.total("/tmdb") == 0 and sites.total("/guardian") == 0
    assert sources_kept(h) == ["rogerebert"]


def test_rejected_key_is_an_error_and_secrets_stay_out_of_reasons(review_settings, client, sites: ReviewSites) -> None:
    sites.inject("/guardian/search", status=403, times=None, body=b'{"message":"Invalid authentication credentials"}')
    sites.inject(TMDB_SINNERS, delay_s=1.0, status=500, times=None)  # always too slow: the reason names the URL
    harvester = Harvester(review_settings, client, AS_OF)
    try:
        [h] = harvester.harvest_many([SINNERS])
    finally:
        harvester.close()
    assert "guardian" not in {o.source for o in h.outcomes}  # stopped: no outcome, the title stays due
    assert harvester.stopped["guardian"] == ("Guardian rejected GUARDIAN_API_KEY (HTTP 403): "
                                             "Invalid authentication credentials")
    tmdb_reason = outcome(h, "tmdb").reason or ""
    assert outcome(h, "tmdb").status == "error" and "api_key=***" in tmdb_reason
    everything = " ".join(o.reason or "" for o in h.outcomes)
    assert "test-tmdb-key" not in everything and "test-guardian-key" not in everything


def test_title_without_reviews_still_flows_with_outcomes(review_settings, client) -> None:
    [h] = harvest(review_settings, client, OBSCURE)
    assert h.reviews == []
    assert {o.source: o.status for o in h.outcomes} == {
        "tmdb": "not_found", "rogerebert": "not_found", "guardian": "no_reviews"}


def test_max_reviews_and_disabled_source(review_settings, sites: ReviewSites, sleeper) -> None:
    settings = review_settings.with_changes(max_reviews=2, guardian={"enabled": False})
    with HttpClient(settings, sleep=sleeper) as http:
        [h] = harvest(settings, http, SINNERS)
    assert [r.source for r in h.reviews] == ["rogerebert", "tmdb", "tmdb"]  # at most 2 per source
    assert outcome(h, "guardian").status == "skipped" and outcome(h, "tmdb").reviews_found == 2


def test_rogerebert_second_guess_found_after_404(review_settings, client, sites: ReviewSites) -> None:
    page = sites.pages.pop("/reviews/sinners-movie-review-2025")
    sites.add_page(page.replace("sinners-movie-review-2025", "sinners-film-review-2025"),
                   path="/reviews/sinners-film-review-2025")
    [h] = harvest(review_settings, client, SINNERS)
    [ebert] = [r for r in h.reviews if r.source == "rogerebert"]
    assert ebert.review_url == "https://www.rogerebert.com/reviews/sinners-film-review-2025"
    assert render_review_page  # the template builder is the one the parser tests use
