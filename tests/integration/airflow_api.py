"""A small client for the Airflow 3 REST API (``/api/v2``) with a JWT from ``POST /auth/token``.

Only what the integration tests need: health, the DAG and import errors, pools, triggering a run and
polling it. Errors raise :class:`AirflowApiError` naming the method, path and status; the token and the
password never appear in a message.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import requests

TERMINAL_RUN_STATES = frozenset({"success", "failed"})


class AirflowApiError(RuntimeError):
    """An Airflow API call failed; the message names the call and the server's answer."""


@dataclass(frozen=True)
class Credentials:
    """Either a bearer ``token`` or a ``username``/``password`` exchanged for one at ``/auth/token``."""

    username: str | None = None
    password: str | None = None
    token: str | None = None

    def __repr__(self) -> str:
        return f"Credentials(username={self.username!r}, token={'set' if self.token else 'unset'})"


class AirflowApi:
    def __init__(self, base_url: str, credentials: Credentials, timeout_s: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.credentials = credentials
        self.timeout_s = timeout_s
        self._session = requests.Session()
        self._token = credentials.token

    # ---- plumbing ------------------------------------------------------------------------------------
    def _auth_header(self) -> dict[str, str]:
        if self._token is None:
            self._token = self.fetch_token()
        return {"Authorization": f"Bearer {self._token}"}

    def fetch_token(self) -> str:
        creds = self.credentials
        if not (creds.username and creds.password):
            raise AirflowApiError("no Airflow token and no username/password to get one")
        resp = self._session.post(
            f"{self.base_url}/auth/token",
            json={"username": creds.username, "password": creds.password},
            timeout=self.timeout_s,
        )
        if resp.status_code not in (200, 201):
            raise AirflowApiError(f"POST /auth/token -> {resp.status_code} {resp.text[:300]}")
        token = resp.json().get("access_token")
        if not token:
            raise AirflowApiError("POST /auth/token answered without an access_token")
        return str(token)

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """``method`` ``/api/v2<path>``; one retry with a fresh token after a 401 (expired JWT)."""
        url = f"{self.base_url}/api/v2{path}"
        for attempt in (1, 2):
            resp = self._session.request(
                method, url, headers=self._auth_header(), timeout=self.timeout_s, **kwargs
            )
            if resp.status_code == 401 and attempt == 1 and self.credentials.password:
                self._token = None
                continue
            break
        if resp.status_code >= 400:
            raise AirflowApiError(f"{method} /api/v2{path} -> {resp.status_code} {resp.text[:500]}")
        return resp.json() if resp.content else None

    # ---- endpoints ----------------------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        resp = self._session.get(f"{self.base_url}/api/v2/monitor/health", timeout=self.timeout_s)
        if resp.status_code != 200:
            raise AirflowApiError(f"GET /api/v2/monitor/health -> {resp.status_code}")
        return dict(resp.json())

    def dag(self, dag_id: str) -> dict[str, Any]:
        return dict(self.request("GET", f"/dags/{dag_id}"))

    def set_paused(self, dag_id: str, paused: bool) -> dict[str, Any]:
        return dict(self.request("PATCH", f"/dags/{dag_id}", json={"is_paused": paused}))

    def import_errors(self) -> list[dict[str, Any]]:
        return list(self.request("GET", "/importErrors", params={"limit": 100})["import_errors"])

    def ensure_pool(self, name: str, slots: int, description: str) -> None:
        try:
            self.request("GET", f"/pools/{name}")
        except AirflowApiError as exc:
            if "-> 404" not in str(exc):
                raise
            self.request("POST", "/pools", json={"name": name, "slots": slots, "description": description})

    def trigger(
        self, dag_id: str, logical_date: datetime | None, conf: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        body = {
            "logical_date": logical_date.isoformat() if logical_date else None,
            "conf": dict(conf or {}),
        }
        return dict(self.request("POST", f"/dags/{dag_id}/dagRuns", json=body))

    def dag_run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        return dict(self.request("GET", f"/dags/{dag_id}/dagRuns/{run_id}"))

    def dag_runs(self, dag_id: str, limit: int = 10, **filters: Any) -> list[dict[str, Any]]:
        params = {"limit": limit, "order_by": "-run_after", **filters}
        return list(self.request("GET", f"/dags/{dag_id}/dagRuns", params=params)["dag_runs"])

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        data = self.request("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances", params={"limit": 100})
        return list(data["task_instances"])

    def task_log(
        self, dag_id: str, run_id: str, task_id: str, try_number: int, map_index: int = -1
    ) -> list[Any]:
        """The whole log of one try of a task instance: structured lines (dicts with ``event``, ``level``...)."""
        path = f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{try_number}"
        data = self.request("GET", path, params={"full_content": "true", "map_index": map_index})
        content = data.get("content") if isinstance(data, dict) else data
        return list(content) if isinstance(content, list) else [content]

    def wait_for_run(
        self,
        dag_id: str,
        run_id: str,
        timeout_s: float,
        poll_s: float = 3.0,
        alive: Callable[[], str | None] | None = None,
    ) -> dict[str, Any]:
        """Poll until the run is ``success`` or ``failed``; ``alive`` returns why to stop early, if any."""
        deadline = time.monotonic() + timeout_s
        while True:
            run = self.dag_run(dag_id, run_id)
            if run["state"] in TERMINAL_RUN_STATES:
                return run
            problem = alive() if alive else None
            if problem:
                raise AirflowApiError(f"run {run_id} is {run['state']} but {problem}")
            if time.monotonic() > deadline:
                raise AirflowApiError(
                    f"run {run_id} still {run['state']} after {timeout_s:.0f} s; {self.slowest(dag_id, run_id)}"
                )
            time.sleep(poll_s)

    def slowest(self, dag_id: str, run_id: str, limit: int = 5) -> str:
        """Which tasks a run is waiting for, and the longest ones it ran: the diagnostic of a timeout."""
        from datetime import UTC, datetime

        def parse(value: str | None) -> datetime | None:
            return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None

        now = datetime.now(UTC)
        spans = []
        waiting = []
        for ti in self.task_instances(dag_id, run_id):
            start, end = parse(ti.get("start_date")), parse(ti.get("end_date"))
            if start:
                spans.append((((end or now) - start).total_seconds(), ti["task_id"], ti.get("state")))
            if ti.get("state") not in ("success", "skipped", "failed", "upstream_failed"):
                waiting.append(f"{ti['task_id']}={ti.get('state')}")
        top = ", ".join(
            f"{task} {seconds:.0f} s ({state})" for seconds, task, state in sorted(spans)[::-1][:limit]
        )
        return f"not finished: {', '.join(waiting[:limit]) or 'none'}; longest tasks: {top or 'none started'}"
