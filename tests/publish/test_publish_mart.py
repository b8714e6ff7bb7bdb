"""Write-audit-publish: a run whose gate fails exits non-zero and leaves the published table exactly as it
was; the next good run publishes. DuckDB and the real PostgreSQL, the real steps on the recorded samples."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from core.config import PROJECT_ROOT, Settings
from core.context import RunContext
from core.mart_schema import AUDIT_TABLE, MART_TABLE
from core.replay import ReplayServer
from tests.conftest import replay_project_settings
from trending_now import pipeline

pytestmark = pytest.mark.slow

EARLY_DAY = date(2026, 11, 17)  # a window holding part of the samples' titles
DEMO_DAY = date(2026, 11, 20)


def _rows(ctx: RunContext, table: str) -> list[dict[str, Any]]:
    return ctx.warehouse.fetch_all(f"select * from {table} order by id")


def _failing_gate_leaves_the_published_table(tmp: Path, target: str) -> None:
    with ReplayServer(PROJECT_ROOT / "data/samples") as server:
        settings = replay_project_settings(tmp, server, target)
        early = RunContext(settings=settings, as_of=EARLY_DAY, days=4, quiet=True)
        pipeline.run_steps(early, pipeline.STEPS)
        published_before = _rows(early, MART_TABLE)
        assert published_before

        export = settings.path("export.dir") / f"movies_tv_shows_enriched_{DEMO_DAY.isoformat()}.parquet"
        failed_run = _check_the_gate_fails(settings, published_before, export)
        _check_the_retried_run_publishes(settings, failed_run, published_before, export)


def _check_the_gate_fails(settings: Settings, published_before: list[dict[str, Any]], export: Path) -> str:
    """The next day's gate fails (a floor no mart reaches): the audit relation grew, the published one did not.
    Returns the failed run's id."""
    strict = settings.with_overrides({"quality.min_rows": 10_000})
    failing = RunContext(settings=strict, as_of=DEMO_DAY, quiet=True)
    with pytest.raises(pipeline.StepFailed) as caught:
        pipeline.run_steps(failing, pipeline.STEPS)
    assert caught.value.step == "validate_mart"
    assert "nothing published" in str(caught.value)
    assert len(_rows(failing, AUDIT_TABLE)) > len(published_before)
    assert _rows(failing, MART_TABLE) == published_before  # not a row, not a timestamp changed
    assert not export.exists()  # nothing below the gate ran
    return failing.run_id


def _check_the_retried_run_publishes(
    settings: Settings, failed_run: str, published_before: list[dict[str, Any]], export: Path
) -> None:
    """The failed run, retried from its failed step once the gate's cause is fixed (as Airflow clears
    validate_mart and what follows it), publishes the audited mart: the changed rows only."""
    good = RunContext(settings=settings, as_of=DEMO_DAY, quiet=True, run_id=failed_run)
    retried = pipeline.STEPS[[step.name for step in pipeline.STEPS].index("validate_mart") :]
    records = {r.result.step: r.result for r in pipeline.run_steps(good, retried)}
    published = _rows(good, MART_TABLE)
    assert published == _rows(good, AUDIT_TABLE)
    assert len(published) > len(published_before)
    before = {(r["id"], r["data_ingestion_timestamp"]) for r in published_before}
    changed = [r for r in published if (r["id"], r["data_ingestion_timestamp"]) not in before]
    assert records["publish_mart"].details["changed_rows"] == len(changed) >= len(published) - len(before)
    assert export.exists()


def test_failing_gate_leaves_the_published_table_on_duckdb(tmp_path: Path) -> None:
    _failing_gate_leaves_the_published_table(tmp_path, "duckdb")


@pytest.mark.postgres
def test_failing_gate_leaves_the_published_table_on_postgres(tmp_path: Path, pg_database: str) -> None:
    _failing_gate_leaves_the_published_table(tmp_path, "postgres")
