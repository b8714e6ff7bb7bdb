"""Case 10: secret values never reach logs, reports, caches, journals, run metrics or error lines.

The review APIs are made unreachable (connection errors name the request URL, key included, unless
scrubbed), then the whole job runs through the CLI with distinctive keys (the fake Gemini answers, TMDB and
Guardian get their keys as query parameters; the failed review fetches are retried the same day), then
JustWatch is made unreachable too (an error line). Every file the runs left
- stdout/stderr, dbt logs and target, validation reports, the HTTP cache, the enrichment journal, the dlt
pipelines dir, the DuckDB file itself - and the rows that carry free text are scanned for the values.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from core.warehouse import Warehouse
from tests.reliability.conftest import (
    FaultyReplay,
    RateLimitedGemini,
    gemini_overrides,
    new_project,
)
from trending_now.pipeline import StepFailed

pytestmark = pytest.mark.slow
SECRETS = {
    "GEMINI_API_KEY": "AIzaLEAKCHECKgemini7f3a9c1e5b2d",
    "TMDB_API_KEY": "LEAKCHECKtmdb4e8b1f0a6c9d2e7",
    "GUARDIAN_API_KEY": "LEAKCHECKguardian9d1c3b7a5e0f",
}
TEXT_COLUMNS = {
    "ops.pipeline_runs": "error, details",
    "raw_reviews.review_fetches": "reason",
    "raw_reviews.quarantine": "reason, payload",
    "raw_enrichment.title_enrichments": "error, review_summary",
}


def _closed_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_secret_values_appear_nowhere(tmp_path: Path, server: FaultyReplay, fake_gemini: RateLimitedGemini) -> None:
    project = new_project(tmp_path, server, **gemini_overrides(fake_gemini))
    project.secrets = dict(SECRETS)

    # the review APIs unreachable first: connection errors name the request URL (key included, unless scrubbed)
    dead = _closed_url()
    unreachable = project.cli(
        "extract",
        extra={"reviews.tmdb.base_url": dead, "reviews.guardian.base_url": dead, "reviews.max_retries": 0},
    )
    assert unreachable.wait() == 0, unreachable.stderr  # a failing source never fails the step
    warehouse = project.context().warehouse
    fetch_errors = warehouse.fetch_all(
        "select count(*) as n from raw_reviews.review_fetches where status = 'error' and source in ('tmdb', 'guardian')"
    )[0]["n"]
    assert fetch_errors > 0  # reasons left behind (the dlt load packages keep them after the re-run below)

    full = project.cli("run")  # the same day again: the failed review fetches are retried with the keys
    assert full.wait() == 0, full.stderr
    assert fake_gemini.call_count > 0  # the key was really used
    failing = project.cli("run", extra={"justwatch.graphql_url": f"{dead}/graphql", "justwatch.max_retries": 0})
    assert failing.wait() == 1
    error_lines = [line for line in failing.stderr.splitlines() if line.startswith("error: ")]
    print("observed:", error_lines)
    assert len(error_lines) == 1

    assert _leaks_in_files(tmp_path, project.root) + _leaks_in_tables(warehouse) == []


def _leaks_in_files(tmp_path: Path, root: Path) -> list[str]:
    """Every file the runs wrote (the dbt logs, reports, HTTP cache and dlt's packages among them)."""
    files = [p for p in tmp_path.rglob("*") if p.is_file() and not p.is_symlink()]
    scanned_dirs = [tmp_path / "dbt-logs", root / "data/reports", root / "data/warehouse/http-cache",
                    root / "data/warehouse/.dlt"]
    assert [d for d in scanned_dirs if not any(d in p.parents for p in files)] == [], "nothing written there"
    leaks = []
    for path in files:
        data = path.read_bytes()
        leaks += [f"{name} in {path.relative_to(tmp_path)}" for name, value in SECRETS.items() if value.encode() in data]
    return leaks


def _leaks_in_tables(warehouse: Warehouse) -> list[str]:
    leaks = []
    for table, columns in TEXT_COLUMNS.items():
        for row in warehouse.fetch_all(f"select {columns} from {table}"):
            text = " ".join(str(v) for v in row.values())
            leaks += [f"{name} in {table}" for name, value in SECRETS.items() if value in text]
    return leaks


def test_step_errors_are_scrubbed_of_secret_values() -> None:
    cause = RuntimeError(f"GET https://api.example/3/movie/1?api_key={SECRETS['TMDB_API_KEY']} failed\nmore")
    message = str(StepFailed("extract_reviews", cause, list(SECRETS.values())))
    assert message == "extract_reviews: GET https://api.example/3/movie/1?api_key=*** failed"
