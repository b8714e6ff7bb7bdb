"""Case 3: the process is SIGKILLed while dbt builds (staging/intermediate, then the mart's merge).

The project starts from a copy of the reference warehouse with its mart, so the kill lands on a mart that
already holds published rows; after the re-run the mart equals the reference one, timestamps included
(``data_ingestion_timestamp`` changes only when a row's content changes).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.reliability.conftest import (
    MART,
    CliProcess,
    FaultyReplay,
    Reference,
    assert_converged,
    state_of,
)

pytestmark = pytest.mark.slow


def _kill_when_dbt_logs(cli: CliProcess, log: Path, text: str) -> None:
    start = log.stat().st_size if log.exists() else 0

    def logged() -> bool:
        return log.exists() and text in log.read_bytes()[start:].decode(errors="replace")

    cli.wait_for(logged, f"dbt to log {text!r}")
    cli.kill()


def test_killed_mid_dbt_build_then_rerun_converges(
    tmp_path: Path, server: FaultyReplay, reference: Reference
) -> None:
    project = reference.project_from(tmp_path, reference.with_mart)
    dbt_log = tmp_path / "dbt-logs" / "dbt.log"
    reference_rows: list[dict[str, Any]] = reference.mart_rows

    # 1. killed while dbt rebuilds the intermediate tables
    cli = project.cli("transform", "--layer", "staging")
    _kill_when_dbt_logs(cli, dbt_log, "START sql table model intermediate.int_titles_prepared")
    assert "[1/1] dbt_staging_intermediate" in cli.stderr

    # 2. killed while dbt merges into the existing mart
    cli = project.cli("transform", "--layer", "marts")
    _kill_when_dbt_logs(cli, dbt_log, "START sql incremental model marts_audit.movies_tv_shows_enriched_audit")
    assert cli.proc.returncode == -9

    # 3. re-run the dbt steps (and the enricher, a no-op here) to completion
    results = project.run(["dbt_staging_intermediate", "enrich_titles", "dbt_marts", "validate_mart", "publish_mart"])
    assert results["enrich_titles"].llm.calls == 0 and results["enrich_titles"].rows_out == 0
    assert_converged(state_of(project.settings()), reference.state)
    rows = project.context().warehouse.fetch_all(f"select * from {MART} order by id")
    assert rows == reference_rows  # same rows, same data_ingestion_timestamp
