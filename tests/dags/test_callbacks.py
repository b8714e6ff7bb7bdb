"""The failure callback: what it sends, where it sends it, and that it never raises."""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from tests.dags.webhook_receiver import WebhookReceiver


def _context(error: BaseException | None = None) -> dict[str, Any]:
    ti = SimpleNamespace(
        dag_id="data_ingestion_trending_now",
        task_id="extract_reviews",
        map_index=-1,
        try_number=3,
        max_tries=2,
        log_url="http://airflow.local/log",
    )
    return {
        "ti": ti,
        "run_id": "scheduled__2026-11-20T00:00:00+00:00",
        "logical_date": datetime(2026, 11, 20, tzinfo=UTC),
        "exception": error,
    }


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_payload_names_dag_task_run_and_try() -> None:
    from callbacks import failure_payload

    payload = failure_payload(_context(RuntimeError("extract_reviews: HTTP 503 from tmdb\ntraceback...")))
    assert payload == {
        "event": "task_failed",
        "dag_id": "data_ingestion_trending_now",
        "task_id": "extract_reviews",
        "map_index": -1,
        "run_id": "scheduled__2026-11-20T00:00:00+00:00",
        "logical_date": "2026-11-20T00:00:00+00:00",
        "try_number": 3,
        "max_tries": 2,
        "error": "extract_reviews: HTTP 503 from tmdb",
        "log_url": "http://airflow.local/log",
    }


def test_payload_scrubs_secret_values(monkeypatch: pytest.MonkeyPatch) -> None:
    from callbacks import failure_payload

    monkeypatch.setenv("TMDB_API_KEY", "tmdb-secret-value")
    payload = failure_payload(_context(RuntimeError("GET /3/movie?api_key=tmdb-secret-value failed")))
    assert "tmdb-secret-value" not in payload["error"]
    assert payload["error"].startswith("GET /3/movie?api_key=***")


def test_payload_scrubs_the_secrets_the_settings_loaded(
    dotenv_project: Callable[[dict[str, str]], Path],
) -> None:
    """A secret read from .env (or Secrets Manager), never in os.environ, is still scrubbed."""
    from callbacks import failure_payload

    dotenv_project({"GUARDIAN_API_KEY": "guardian-dotenv-secret"})
    payload = failure_payload(_context(RuntimeError("Guardian said 401 for key guardian-dotenv-secret")))
    assert payload["error"] == "Guardian said 401 for key ***"


def test_callback_posts_to_the_configured_webhook(monkeypatch: pytest.MonkeyPatch) -> None:
    from callbacks import on_failure_callback

    with WebhookReceiver() as hook:
        monkeypatch.setenv("TRENDING_NOW__AIRFLOW__FAILURE_WEBHOOK_URL", hook.url)
        on_failure_callback(_context(ValueError("boom")))
    assert len(hook.posts) == 1
    path, body = hook.posts[0]
    assert path == "/hooks/airflow"
    assert (body["task_id"], body["error"], body["try_number"]) == ("extract_reviews", "boom", 3)


def test_without_a_webhook_the_callback_only_logs(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from callbacks import on_failure_callback

    monkeypatch.delenv("TRENDING_NOW__AIRFLOW__FAILURE_WEBHOOK_URL", raising=False)
    with caplog.at_level(logging.ERROR, logger="trending_now.airflow.callbacks"):
        on_failure_callback(_context(ValueError("boom")))
    assert "task failed: dag=data_ingestion_trending_now task=extract_reviews" in caplog.text
    assert "try=3/2 error=boom" in caplog.text


@pytest.mark.parametrize("status", [500, 404])
def test_webhook_errors_are_reported_not_raised(status: int, caplog: pytest.LogCaptureFixture) -> None:
    from callbacks import post_json

    with WebhookReceiver(status=status) as hook:
        assert post_json(hook.url, {"event": "task_failed"}) is False
    assert len(hook.posts) == 1
    assert f"HTTP {status}" in caplog.text


def test_unreachable_webhook_never_raises_and_never_logs_the_url(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from callbacks import on_failure_callback, post_json

    url = f"http://127.0.0.1:{_closed_port()}/T0KEN-in-path"
    assert post_json(url, {"event": "task_failed"}, timeout_s=2) is False
    monkeypatch.setenv("TRENDING_NOW__AIRFLOW__FAILURE_WEBHOOK_URL", url)
    on_failure_callback(_context(ValueError("boom")))
    assert "could not be reached" in caplog.text
    assert "T0KEN" not in caplog.text


def test_a_broken_context_does_not_raise(caplog: pytest.LogCaptureFixture) -> None:
    from callbacks import on_failure_callback

    on_failure_callback({"ti": object(), "logical_date": object()})  # odd values are stringified, not fatal
    on_failure_callback({})
    assert "task failed: dag=None task=None" in caplog.text
