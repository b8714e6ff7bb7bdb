"""Source stops (credentials, blocks), request budgets, malformed records and TV headlines, over real HTTP."""

from __future__ import annotations

import logging
from datetime import date

import pytest

from extract.reviews.harvest import Harvester
from extract.reviews.http import HttpClient
from extract.reviews.models import Subject
from extract.reviews.settings import ReviewsSettings
from tests.extract.reviews.conftest import AS_OF, FRANKENSTEIN, OBSCURE, PLURIBUS, SINNERS
from tests.fakes.review_sites import EbertPage, ReviewSites, guardian_result, tmdb_review

# the shape of TMDB's v4 API Read Access Token (a JWT); not a real credential
READ_TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJhdWQiOiJ0ZXN0In0.c2lnbmF0dXJl"


def run(settings: ReviewsSettings, client: HttpClient, *subjects: Subject, **kw) -> tuple[Harvester, list]:
    harvester = Harvester(settings, client, AS_OF, **kw)
    try:
        return harvester, harvester.harvest_many(subjects)
    finally:
        harvester.close()


def statuses(harvests: list) -> dict[tuple[str, str], str]:
    return {(o.title_id, o.source): o.status for h in harvests for o in h.outcomes}


@pytest.mark.parametrize("credential", [READ_TOKEN, "0123456789abcdef0123456789abcdef"])
def test_tmdb_takes_the_read_access_token_as_bearer_and_the_v3_key_as_api_key(
        review_settings, sites: ReviewSites, sleeper, credential: str) -> None:
    sites.tmdb_credentials = {credential}
    settings = review_settings.with_changes(api_keys={"tmdb": credential, "guardian": "g"})
    with HttpClient(settings, sleep=sleeper) as http:
        _, [h] = run(settings, http, SINNERS)
    assert statuses([h])[(SINNERS.title_id, "tmdb")] == "ok"
    [(_path, query)] = [(p, q) for p, q in sites.queries if p.startswith("/tmdb")]
    auth = [a for (p, _), a in zip(sites.queries, sites.authorizations, strict=True) if p.startswith("/tmdb")]
    if credential == READ_TOKEN:
        assert auth == [f"Bearer {READ_TOKEN}"] and "api_key" not in query
    else:
        assert auth == [""] and query["api_key"] == credential


def test_a_rejected_tmdb_credential_stops_tmdb_once_and_the_others_go_on(
        review_settings, sites: ReviewSites, sleeper, caplog) -> None:
    sites.tmdb_credentials = {"the-right-key"}
    settings = review_settings.with_changes(concurrency=1)
    stops: list[tuple[str, str]] = []
    with HttpClient(settings, sleep=sleeper) as http, caplog.at_level(logging.ERROR):
        harvester, harvests = run(settings, http, SINNERS, FRANKENSTEIN, PLURIBUS,
                                  on_stop=lambda s, why: stops.append((s, why)))
    assert stops == [("tmdb", harvester.stopped["tmdb"])]
    assert "HTTP 401, invalid API key" in stops[0][1] and "status_code 7" in stops[0][1]
    assert "test-tmdb-key" not in stops[0][1]
    assert sites.total("/tmdb") == 1  # the first 401 stops the source: no request per title
    assert all(o.source != "tmdb" for h in harvests for o in h.outcomes)  # no state: all stay due
    assert harvester.deferred["tmdb"] == 3
    assert statuses(harvests)[(SINNERS.title_id, "guardian")] == "ok"
    assert [r.message for r in caplog.records if "stopped" in r.message] == [f"tmdb stopped for this run: {stops[0][1]}"]


def test_a_rejected_guardian_key_stops_the_guardian(review_settings, sites: ReviewSites, sleeper) -> None:
    sites.guardian_keys = {"another-key"}
    with HttpClient(review_settings, sleep=sleeper) as http:
        harvester, harvests = run(review_settings, http, SINNERS, FRANKENSTEIN)
    assert harvester.stopped["guardian"].startswith("Guardian rejected GUARDIAN_API_KEY (HTTP 401)")
    assert sites.total("/guardian") <= review_settings.concurrency
    assert statuses(harvests)[(SINNERS.title_id, "tmdb")] == "ok"


def test_one_403_is_an_error_consecutive_403s_stop_the_site(review_settings, sites: ReviewSites, sleeper) -> None:
    settings = review_settings.with_changes(concurrency=1, block_after_403s=2)
    sites.inject("/rogerebert/reviews/sinners-2025", status=403, times=1, body=b"<html>denied</html>",
                 content_type="text/html")
    with HttpClient(settings, sleep=sleeper) as http:
        harvester, [h] = run(settings, http, SINNERS)
    assert statuses([h])[(SINNERS.title_id, "rogerebert")] == "error" and not harvester.stopped

    sites.block("/rogerebert/")
    with HttpClient(settings, sleep=sleeper) as http:
        harvester, harvests = run(settings, http, SINNERS, FRANKENSTEIN, OBSCURE, PLURIBUS)
    assert harvester.stopped["rogerebert"] == "answered HTTP 403 to 2 consecutive pages: the site blocks us"
    assert [statuses(harvests).get((s.title_id, "rogerebert")) for s in (SINNERS, FRANKENSTEIN, OBSCURE, PLURIBUS)] \
        == ["error", "error", None, None]
    assert statuses(harvests)[(PLURIBUS.title_id, "tmdb")] == "ok"


def test_the_budget_caps_requests_and_defers_the_rest(review_settings, sites: ReviewSites, sleeper) -> None:
    settings = review_settings.with_changes(concurrency=1)
    with HttpClient(settings, sleep=sleeper) as http:
        http.set_budget("guardian", 2)
        harvester, harvests = run(settings, http, SINNERS, FRANKENSTEIN, PLURIBUS, OBSCURE)
        assert http.remaining("guardian") == 0
    assert sites.total("/guardian") == 2
    assert [statuses(harvests).get((s.title_id, "guardian")) for s in (SINNERS, FRANKENSTEIN, PLURIBUS, OBSCURE)] \
        == ["ok", "ok", None, None]
    assert harvester.deferred["guardian"] == 2 and harvester.details()["guardian"]["deferred"] == 2


def test_malformed_tmdb_and_guardian_records_are_quarantined_and_the_good_ones_kept(
        review_settings, client, sites: ReviewSites) -> None:
    good = tmdb_review("5f0c2a1e4b0a1c2d3e4f5099", "goodone", "Solid.", rating=7)
    no_identity = {**tmdb_review("x", "who", "No id, no url."), "id": None, "url": None}
    wrong_rating = {**tmdb_review("5f0c2a1e4b0a1c2d3e4f5098", "typo", "Great."),
                    "author_details": {"name": "", "username": "typo", "avatar_path": None, "rating": "8/10"}}
    sites.add_tmdb("movie", 9000001, [good, no_identity, wrong_rating, "not an object", {**good, "content": 42}])
    sites.add_guardian({"id": "", "webTitle": "A Quiet Field review – broken item", "fields": {"bodyText": "x"},
                        "webPublicationDate": "2025-06-01T00:00:00Z"})
    sites.add_guardian(guardian_result("film/2025/jun/02/a-quiet-field-review", "A Quiet Field review – hushed",
                                       "A Quiet Field is hushed and fine.", "Wendy Ide", "2025-06-02T10:00:00Z",
                                       star_rating="3"))
    _, [h] = run(review_settings, client, OBSCURE)
    assert {(r.source, r.author) for r in h.reviews} == {("tmdb", "goodone"), ("guardian", "Wendy Ide")}
    reasons = sorted(q.reason for q in h.quarantine)
    assert reasons == [
        "Guardian result rejected: result has no id (no identity)",
        "TMDB review record rejected: author_details.rating is str '8/10', not a number",
        "TMDB review record rejected: content is int, not text",
        "TMDB review record rejected: entry is str, not an object",
        "TMDB review record rejected: neither id nor url (no identity)",
    ]
    assert all(q.entity_id == OBSCURE.title_id and q.payload for q in h.quarantine)
    assert len({q.record_key for q in h.quarantine}) == 5


@pytest.mark.parametrize("headline", [
    "Pluribus season 2 review – Rhea Seehorn is extraordinary again",
    "Pluribus series two review – still the strangest show on TV",
    "Pluribus: Season 2 review – happiness is catching",
    "Pluribus review – Vince Gilligan's best since Breaking Bad",
])
def test_guardian_tv_headlines_without_imdb_reference(review_settings, client, sites: ReviewSites,
                                                      headline: str) -> None:
    sites.add_guardian(guardian_result("tv-and-radio/2027/jan/09/pluribus-review", headline, "Body of the review.",
                                       "Lucy Mangan", "2027-01-09T06:00:00Z", star_rating="4", section="tv-and-radio"),
                       tv=True)
    _, [h] = run(review_settings, client, PLURIBUS)  # 2027 is fine for a show first released in 2025
    assert [(r.source, r.author) for r in h.reviews if r.source == "guardian"] == [("guardian", "Lucy Mangan")]


def test_guardian_tv_headline_recaps_and_other_shows_are_not_ours(review_settings, client,
                                                                  sites: ReviewSites) -> None:
    for i, headline in enumerate(["Pluribus recap – season 2, episode 3", "Pluribus season 2 episode 1 recap",
                                  "Pluribus Redux season 1 review – a spin-off"]):
        sites.add_guardian(guardian_result(f"tv-and-radio/2026/jan/0{i + 1}/x", headline, "Pluribus talk.",
                                           "Someone", "2026-01-01T06:00:00Z"), tv=True)
    _, [h] = run(review_settings, client, PLURIBUS)
    assert not [r for r in h.reviews if r.source == "guardian"]


def test_a_page_with_json_ld_only_is_read(review_settings, client, sites: ReviewSites) -> None:
    from tests.fakes.review_sites import render_wordpress_2025_page

    page = EbertPage(path="/reviews/sinners-movie-review-2025", film_title="Sinners", film_year=2025,
                     critic="Robert Daniels", published=date(2025, 4, 18), stars=3.0, tmdb_id="1233413",
                     paragraphs=["A new-look page that still carries its JSON-LD."])
    sites.add_page(render_wordpress_2025_page(page, json_ld=True), path=page.path)
    _, [h] = run(review_settings, client, SINNERS)
    [ebert] = [r for r in h.reviews if r.source == "rogerebert"]
    assert (ebert.author, ebert.original_score, ebert.review_text) == (
        "Robert Daniels", "3/4", "A new-look page that still carries its JSON-LD.")
    assert not h.quarantine


@pytest.mark.parametrize(("code", "meaning"), [(3, "authentication failed"), (32, "email not verified"),
                                               (7, "invalid API key")])
def test_tmdb_auth_status_codes_stop_the_source(review_settings, client, sites: ReviewSites, code: int,
                                                 meaning: str) -> None:
    body = f'{{"success":false,"status_code":{code},"status_message":"Rejected ({code})."}}'.encode()
    sites.inject("/tmdb/3/movie/1233413/reviews", status=401, times=None, body=body)
    harvester, [h] = run(review_settings, client, SINNERS)
    assert harvester.stopped["tmdb"] == (f"TMDB rejected the v3 api_key in TMDB_API_KEY (HTTP 401, {meaning}): "
                                         f"Rejected ({code}). (status_code {code})")
    assert statuses([h])[(SINNERS.title_id, "guardian")] == "ok"


def test_a_read_access_token_sent_as_api_key_is_what_tmdb_rejects(sites: ReviewSites) -> None:
    # the fake answers as TMDB does: the v4 token is no v3 key (status_code 7), so the client must send it as Bearer
    assert not sites._tmdb_authorised({"api_key": READ_TOKEN}, "")
    assert sites._tmdb_authorised({}, f"Bearer {READ_TOKEN}")
