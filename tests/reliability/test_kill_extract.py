"""Case 1: the process is SIGKILLed in the middle of the extract; a re-run loses nothing and converges."""

from __future__ import annotations

from pathlib import Path

import pytest

from extract.reviews import schedule
from tests.reliability.conftest import (
    FaultyReplay,
    Reference,
    assert_converged,
    new_project,
    state_of,
    step_line,
    step_tag,
)

pytestmark = pytest.mark.slow


def test_killed_mid_releases_then_mid_reviews_then_rerun_converges(
    tmp_path: Path, server: FaultyReplay, reference: Reference
) -> None:
    project = new_project(tmp_path, server)

    # 1. killed while JustWatch pages are being fetched (the 4th GraphQL request hangs)
    hook = server.block("/justwatch/", after=3)
    cli = project.cli("run")
    cli.wait_for(hook.fired.is_set, "the 4th JustWatch request")
    cli.kill()
    server.clear()
    assert step_line("extract_releases") in cli.stderr and step_tag("dbt_titles") not in cli.stderr

    # 2. killed while reviews stream into dlt (the 20th TMDB request hangs); the releases are loaded by then
    hook = server.block("/tmdb/", after=19)
    cli = project.cli("run")
    cli.wait_for(hook.fired.is_set, "the 20th TMDB request")
    cli.kill()
    server.clear()
    assert step_line("extract_reviews") in cli.stderr
    assert step_tag("dbt_staging_intermediate") not in cli.stderr
    assert cli.proc.returncode == -9
    # the killed run never reached its end, yet its requests already count against today's budget: it
    # reserved them before its first request (extract/reviews/step.py Ledger.reserve), so a re-run
    # cannot spend the same budget twice
    warehouse = project.context().warehouse
    recorded = warehouse.table_exists(*schedule.LEDGER.split("."))
    ledger = warehouse.fetch_all(f"select source, requests from {schedule.LEDGER}") if recorded else []  # noqa: S608 - constant identifier
    used = {row["source"]: int(row["requests"]) for row in ledger}
    print("ledger after the kill:", used)
    assert used.get("tmdb", 0) >= 20, f"the 20 TMDB requests of the killed run are not counted: {used}"

    # 3. a re-run (in-process, up to the mart) converges to the clean run
    results = project.run()
    assert results["extract_releases"].rows_out == reference.results["extract_releases"].rows_out
    assert results["extract_reviews"].rows_out == reference.results["extract_reviews"].rows_out
    assert_converged(state_of(project.settings()), reference.state)
