"""The replay server matches recorded exchanges by method, path, query subset and JSON-body subset."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests

from core.replay import ReplayServer, is_subset


def test_is_subset() -> None:
    assert is_subset({"variables": {"date": "2026-11-20"}}, {"query": "q", "variables": {"date": "2026-11-20", "x": 1}})
    assert not is_subset({"variables": {"after": None}}, {"variables": {"after": "abc"}})
    assert not is_subset({"a": 1}, None)


@pytest.fixture
def samples(tmp_path: Path) -> Path:
    service = tmp_path / "svc"
    service.mkdir()
    (service / "page1.json").write_text(json.dumps({"page": 1}))
    (service / "page2.json").write_text(json.dumps({"page": 2}))
    (service / "routes.json").write_text(json.dumps([
        {"method": "POST", "path": "/graphql", "json": {"variables": {"after": None}}, "body_file": "page1.json"},
        {"method": "POST", "path": "/graphql", "json": {"variables": {"after": "c1"}}, "body_file": "page2.json"},
        {"method": "GET", "path": "/3/movie/1/reviews", "query": {"page": "1"}, "body": {"results": []}},
        {"method": "GET", "path": "/robots.txt", "body": "User-agent: *\nDisallow: /search\n",
         "headers": {"Content-Type": "text/plain"}},
        {"method": "GET", "path": "/gone", "status": 404, "body": "<html>not here</html>"},
    ]))
    return tmp_path


def test_replays_matching_recordings_and_404s_the_rest(samples: Path) -> None:
    with ReplayServer(samples) as server:
        base = server.url("svc")
        assert requests.post(f"{base}/graphql", json={"variables": {"after": None}}, timeout=5).json() == {"page": 1}
        assert requests.post(f"{base}/graphql", json={"variables": {"after": "c1"}}, timeout=5).json() == {"page": 2}
        ok = requests.get(f"{base}/3/movie/1/reviews", params={"page": 1, "api_key": "x"}, timeout=5)
        assert ok.status_code == 200 and ok.json() == {"results": []}
        robots = requests.get(f"{base}/robots.txt", timeout=5)
        assert robots.headers["Content-Type"] == "text/plain" and "Disallow: /search" in robots.text
        assert requests.get(f"{base}/gone", timeout=5).status_code == 404
        missing = requests.get(f"{base}/3/movie/2/reviews", timeout=5)
        assert missing.status_code == 404 and "no recorded response" in missing.text
        assert server.misses == ["GET /svc/3/movie/2/reviews?"]
        assert server.hits["POST /svc/graphql"] == 2


def test_get_honours_if_none_match_with_304(samples: Path) -> None:
    with ReplayServer(samples) as server:
        url = f"{server.url('svc')}/3/movie/1/reviews?page=1"
        first = requests.get(url, timeout=5)
        again = requests.get(url, headers={"If-None-Match": first.headers["ETag"]}, timeout=5)
        assert again.status_code == 304 and again.content == b""


def test_settings_overrides_point_every_client_at_the_server(samples: Path) -> None:
    with ReplayServer(samples) as server:
        overrides = server.settings_overrides()
    assert overrides["justwatch.graphql_url"].endswith("/justwatch/graphql")
    assert set(overrides) == {
        "justwatch.graphql_url", "reviews.tmdb.base_url", "reviews.rogerebert.base_url", "reviews.guardian.base_url",
    }
