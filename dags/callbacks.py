"""Failure notification for the Trending Now DAG: log the failing task, post JSON to an optional webhook.

The webhook URL comes from the project config (``airflow.failure_webhook_url``, or the environment override
``TRENDING_NOW__AIRFLOW__FAILURE_WEBHOOK_URL``). A callback must never fail the run a second time, so every
error here is logged and swallowed. The URL itself is never logged (chat webhooks embed a token).
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from datetime import datetime
from typing import Any

log = logging.getLogger("trending_now.airflow.callbacks")

WEBHOOK_TIMEOUT_S = 10.0


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    return value.isoformat() if isinstance(value, datetime) else str(value)


def _first_line(error: BaseException | str | None) -> str | None:
    if error is None:
        return None
    from core.redact import redact
    from core.text import first_line

    return redact(first_line(error), _secrets())[:2000]


def _secrets() -> list[str]:
    """The secrets the task's settings load (``.env`` or AWS Secrets Manager) and those in the environment.

    A failure may come from a secret loaded from Secrets Manager that was never in ``os.environ``: the
    settings are loaded again here. When they cannot be (the failure may be the secrets store itself),
    the environment's values are still scrubbed.
    """
    from step_tasks import loaded_secrets

    from core.config import Settings, load_settings

    try:
        settings = load_settings()
    except Exception as exc:  # scrub what we can; the callback must not fail
        log.warning("failure callback could not load the settings' secrets: %s", type(exc).__name__)
        settings = Settings(data={})
    return loaded_secrets(settings)


def failure_payload(context: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON body describing a failed task (pure: reads only the callback context)."""
    ti = context.get("ti") or context.get("task_instance")
    dag_run = context.get("dag_run")
    task = context.get("task")
    return {
        "event": "task_failed",
        "dag_id": getattr(ti, "dag_id", None) or getattr(dag_run, "dag_id", None),
        "task_id": getattr(ti, "task_id", None) or getattr(task, "task_id", None),
        "map_index": getattr(ti, "map_index", -1),
        "run_id": context.get("run_id") or getattr(dag_run, "run_id", None),
        "logical_date": _iso(context.get("logical_date")),
        "try_number": getattr(ti, "try_number", None),
        "max_tries": getattr(ti, "max_tries", None),
        "error": _first_line(context.get("exception")),
        "log_url": getattr(ti, "log_url", None),
    }


def post_json(url: str, payload: Mapping[str, Any], timeout_s: float = WEBHOOK_TIMEOUT_S) -> bool:
    """POST ``payload`` as JSON; True on a 2xx answer. Never raises."""
    body = json.dumps(payload, default=str).encode("utf-8")
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "trending-now-airflow/1"},
    )
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        log.warning("failure webhook URL is not http(s); not sent")
        return False
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:  # nosec B310  # http(s) checked above
            ok = 200 <= response.status < 300
            if not ok:
                log.warning("failure webhook answered HTTP %s", response.status)
            return ok
    except urllib.error.HTTPError as exc:
        log.warning("failure webhook answered HTTP %s", exc.code)
    except Exception as exc:  # network errors, timeouts, bad URLs: reported, never raised
        log.warning("failure webhook could not be reached: %s", type(exc).__name__)
    return False


def webhook_url() -> str | None:
    """``airflow.failure_webhook_url`` from the project config (no secrets store lookup)."""
    from core.config import parse_settings

    value = parse_settings().get("airflow.failure_webhook_url")
    return str(value).strip() or None if value else None


def on_failure_callback(context: Mapping[str, Any]) -> None:
    """Task failure callback: one log line with dag/task/run/try, then the optional webhook."""
    try:
        payload = failure_payload(context)
        log.error(
            "task failed: dag=%s task=%s run=%s try=%s/%s error=%s",
            payload["dag_id"],
            payload["task_id"],
            payload["run_id"],
            payload["try_number"],
            payload["max_tries"],
            payload["error"],
        )
        url = webhook_url()
        if url:
            post_json(url, payload)
    except Exception:  # a broken callback must not mask the task's own failure
        log.exception("on_failure_callback failed")
