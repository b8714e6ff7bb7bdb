"""The real HTTP client against the local GraphQL fake: retries, errors, paging, request shape."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest

from core.config import ConfigError, parse_settings
from extract.justwatch.client import (
    JustWatchBlockedError,
    JustWatchClient,
    JustWatchError,
    JustWatchGraphQLError,
    JustWatchHTTPError,
    parse_retry_after,
)
from extract.justwatch.settings import GET_NEW_TITLES, JustWatchSettings
from tests.fakes.justwatch_server import FakeJustWatch, synthetic_catalogue, validate_request

DAY = date(2026, 11, 20)


@pytest.fixture
def fake() -> Iterator[FakeJustWatch]:
    with FakeJustWatch(synthetic_catalogue(25, [DAY])) as server:
        yield server


def default_settings() -> JustWatchSettings:
    """The justwatch section as config/base.yaml sets it."""
    return JustWatchSettings.from_settings(parse_settings("dev", environ={}))


def make_client(fake: FakeJustWatch, sleeps: list[float] | None = None, **changes) -> JustWatchClient:
    base = {"graphql_url": fake.url, "max_retries": 3, "backoff_base_s": 1.0, "timeout_s": 5.0}
    settings = default_settings().with_changes(**{**base, **changes})
    record = sleeps if sleeps is not None else []
    return JustWatchClient(settings, sleep=record.append, rng=lambda: 0.0)


def test_request_carries_browser_headers_and_a_valid_operation(fake: FakeJustWatch) -> None:
    with make_client(fake) as client:
        body = client.new_titles_page(DAY, "US")
    assert body["data"]["newTitles"]["totalCount"] == 25
    headers = fake.headers[0]
    assert headers["User-Agent"].startswith("Mozilla/5.0") and "python-requests" not in headers["User-Agent"]
    assert headers["Origin"] == "https://www.justwatch.com" and headers["Referer"] == "https://www.justwatch.com/"
    sent = fake.bodies[0]
    assert sent["operationName"] == "GetNewTitles"
    assert sent["variables"] == {
        "country": "US", "date": "2026-11-20", "language": "en", "platform": "WEB", "first": 100, "after": None,
        "filter": {"packages": [], "objectTypes": []}, "priceDrops": False, "pageType": "NEW",
    }


def test_the_query_document_uses_every_declared_variable() -> None:
    variables, errors = validate_request({"operationName": "GetNewTitles", "query": GET_NEW_TITLES, "variables": {
        "country": "US", "date": "2026-11-20", "language": "en", "platform": "WEB", "first": 10,
        "priceDrops": False, "pageType": "NEW"}})
    assert errors == [] and variables is not None
    broken = GET_NEW_TITLES.replace("$filter: TitleFilter", "$filter: TitleFilter\n  $unused: String", 1)
    _, errors = validate_request({"operationName": "GetNewTitles", "query": broken, "variables": variables})
    assert [e["message"] for e in errors] == ['Variable "$unused" is never used in operation "GetNewTitles".']


def test_retries_on_429_honouring_retry_after(fake: FakeJustWatch) -> None:
    fake.inject("429", times=2, retry_after="7")
    sleeps: list[float] = []
    with make_client(fake, sleeps) as client:
        client.new_titles_page(DAY, "US")
        assert (client.stats.requests, client.stats.retries) == (3, 2)
    assert sleeps == [7.0, 7.0]
    assert fake.status_log == [429, 429, 200]


def test_retries_on_500_with_exponential_backoff(fake: FakeJustWatch) -> None:
    fake.inject("500", times=3)
    sleeps: list[float] = []
    with make_client(fake, sleeps) as client:
        client.new_titles_page(DAY, "US")
        assert client.stats.retries == 3
    assert sleeps == [0.5, 1.0, 2.0]  # base * 2**n, jitter factor 0.5 with rng() == 0


def test_gives_up_after_max_retries_naming_the_cause(fake: FakeJustWatch) -> None:
    fake.inject("500", times=10)
    with make_client(fake, max_retries=2) as client, pytest.raises(JustWatchHTTPError) as info:
        client.new_titles_page(DAY, "US")
    assert "after 3 attempt(s)" in str(info.value) and "HTTP 500" in str(info.value)
    assert fake.total_requests == 3


def test_retries_on_timeout(fake: FakeJustWatch) -> None:
    fake.inject("slow", times=1, delay_s=1.5)
    with make_client(fake, timeout_s=0.3) as client:
        body = client.new_titles_page(DAY, "US")
        assert client.stats.retries == 1 and client.stats.statuses["timeout"] == 1
    assert body["data"]["newTitles"]["totalCount"] == 25


def test_retries_on_garbage_body(fake: FakeJustWatch) -> None:
    fake.inject("garbage")
    with make_client(fake) as client:
        client.new_titles_page(DAY, "US")
        assert client.stats.retries == 1


def test_retries_on_connection_error() -> None:
    fake = FakeJustWatch()
    url = fake.url
    fake._httpd.server_close()  # nothing listens on this port any more
    sleeps: list[float] = []
    client = JustWatchClient(default_settings().with_changes(graphql_url=url, max_retries=2), sleep=sleeps.append)
    with client, pytest.raises(JustWatchHTTPError, match="connection error"):
        client.new_titles_page(DAY, "US")
    assert len(sleeps) == 2


def test_graphql_errors_raise_with_the_service_message(fake: FakeJustWatch) -> None:
    fake.inject("graphql_error", message="Query complexity exceeds the limit")
    with make_client(fake) as client, pytest.raises(JustWatchGraphQLError) as info:
        client.new_titles_page(DAY, "US")
    assert "Query complexity exceeds the limit" in str(info.value)
    assert fake.total_requests == 1  # not retried


def test_rate_limit_reported_as_graphql_error_is_retried(fake: FakeJustWatch) -> None:
    fake.inject("graphql_error", message="Rate limit exceeded, slow down")
    with make_client(fake) as client:
        client.new_titles_page(DAY, "US")
        assert client.stats.retries == 1


def test_403_is_reported_as_a_waf_block_without_retrying(fake: FakeJustWatch) -> None:
    fake.inject("403", times=5)
    with make_client(fake) as client, pytest.raises(JustWatchBlockedError) as info:
        client.new_titles_page(DAY, "US")
    message = str(info.value)
    assert "blocked by the service (WAF)" in message and "user_agent" in message and "wait" in message
    assert fake.total_requests == 1


def test_paging_follows_cursors_and_never_fetches_a_page_twice() -> None:
    with FakeJustWatch(synthetic_catalogue(25, [DAY]), server_page_limit=10) as fake:
        with make_client(fake) as client:
            pages = list(client.iter_new_titles_pages(DAY, "US"))
        assert [len(p["data"]["newTitles"]["edges"]) for p in pages] == [10, 10, 5]
        assert fake.requests == {("2026-11-20", None): 1, ("2026-11-20", "MTA="): 1, ("2026-11-20", "MjA="): 1}
        ids = [e["node"]["id"] for p in pages for e in p["data"]["newTitles"]["edges"]]
        assert len(ids) == len(set(ids)) == 25


def test_repeated_cursor_stops_paging_with_an_error(fake: FakeJustWatch) -> None:
    original = fake.page

    def stuck(variables):
        body = original({**variables, "after": None, "first": 5})
        return body

    fake.page = stuck  # type: ignore[method-assign]
    with make_client(fake) as client, pytest.raises(JustWatchError, match="already fetched"):
        list(client.iter_new_titles_pages(DAY, "US"))
    assert max(fake.requests.values()) == 1


def test_page_size_above_100_is_refused_before_any_request() -> None:
    with pytest.raises(ConfigError, match="TOO_BIG"):
        default_settings().with_changes(page_size=150)


def test_server_rejects_too_big_pages_and_the_client_reports_it(fake: FakeJustWatch) -> None:
    with make_client(fake) as client:
        variables = client.new_titles_variables(DAY, "US", None)
        variables["first"] = 150
        with pytest.raises(JustWatchGraphQLError, match="TOO_BIG"):
            client.execute(GET_NEW_TITLES, "GetNewTitles", variables)


def test_retry_after_parsing() -> None:
    assert parse_retry_after("12") == 12.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    from datetime import UTC, datetime

    now = datetime(2026, 11, 20, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("Fri, 20 Nov 2026 12:00:30 GMT", now=now) == 30.0


def test_backoff_is_capped_and_jittered() -> None:
    policy = default_settings().retry_policy
    assert policy.wait(11, rng=lambda: 0.999) < 60.0
    assert policy.wait(3, rng=lambda: 0.0) == 2.0
    assert policy.wait(1, retry_after=3600.0) == 600.0  # a server's Retry-After is honoured up to 10 minutes


def test_settings_from_config_validate_values(make_settings) -> None:
    settings = JustWatchSettings.from_settings(make_settings(**{"justwatch.packages": "nfx, amp",
                                                                "justwatch.object_types": ["movie"]}))
    assert settings.packages == ("nfx", "amp") and settings.object_types == ("MOVIE",)
    assert settings.page_size == 100 and settings.user_agent.startswith("Mozilla/5.0")
    with pytest.raises(ConfigError, match="language"):
        JustWatchSettings.from_settings(make_settings(**{"justwatch.language": "English"}))
    with pytest.raises(ConfigError, match="page_size"):
        JustWatchSettings.from_settings(make_settings(**{"justwatch.page_size": 101}))


def test_a_complexity_error_halves_the_page_and_resumes_at_the_same_cursor() -> None:
    with FakeJustWatch(synthetic_catalogue(70, [DAY]), complexity_limit=30) as fake:
        with make_client(fake) as client:
            pages = list(client.iter_new_titles_pages(DAY, "US"))
            assert client.page_size == 25
            assert [r.split(":")[0] for r in client.stats.page_size_reductions] == ["100->50", "50->25"]
            assert "Query complexity" in client.stats.page_size_reductions[0]
        ids = [e["node"]["id"] for p in pages for e in p["data"]["newTitles"]["edges"]]
        assert len(ids) == len(set(ids)) == 70
        assert [len(p["data"]["newTitles"]["edges"]) for p in pages] == [25, 25, 20]
        # two refused first pages, then three pages; the smaller size holds for the rest of the day
        assert fake.requests[("2026-11-20", None)] == 3 and fake.total_requests == 5
        assert [b["variables"]["first"] for b in fake.bodies] == [100, 50, 25, 25, 25]


def test_errors_next_to_usable_data_keep_the_data_and_are_recorded(fake: FakeJustWatch) -> None:
    fake.inject("partial", message="Cannot return null for non-nullable field Offer.package")
    with make_client(fake) as client:
        [page] = list(client.iter_new_titles_pages(DAY, "US"))
        assert len(page["data"]["newTitles"]["edges"]) == 25
        assert client.stats.partial_errors == ["Cannot return null for non-nullable field Offer.package"]
        assert client.stats.retries == 0 and fake.total_requests == 1


def test_errors_without_data_still_fail_the_page(fake: FakeJustWatch) -> None:
    fake.inject("graphql_error", message="Internal error")
    with make_client(fake) as client, pytest.raises(JustWatchGraphQLError, match="Internal error"):
        list(client.iter_new_titles_pages(DAY, "US"))
