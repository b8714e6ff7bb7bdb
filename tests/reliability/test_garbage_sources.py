"""Case 5: a source answers garbage. JustWatch for a whole day: the step fails naming the day and loads
nothing; review sites: the answers are quarantined and counted, the run goes on. A clean re-run converges."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.context import StepResult
from core.warehouse import Warehouse
from tests.conftest import DEMO_AS_OF
from tests.reliability.conftest import (
    FaultyReplay,
    Hook,
    Reference,
    assert_converged,
    new_project,
    state_of,
)
from trending_now.pipeline import StepFailed

pytestmark = pytest.mark.slow
BAD_DAY = "2026-11-17"  # 9 recorded titles that day


def _check_garbage_quarantined(reviews: StepResult, warehouse: Warehouse) -> None:
    """Each garbage answer quarantined with its reason, counted by the step, from the two sources only."""
    assert reviews.quarantined > 0
    assert reviews.details["sources"]["guardian"]["ok"] == 0
    quarantine = warehouse.fetch_all("select source, reason from raw_reviews.quarantine")
    assert len(quarantine) == reviews.quarantined
    assert all(row["reason"] for row in quarantine)
    assert {row["source"] for row in quarantine} <= {"guardian", "rogerebert"}


def test_garbage_day_fails_naming_the_day_review_garbage_is_quarantined_rerun_converges(
    tmp_path: Path, server: FaultyReplay, reference: Reference
) -> None:
    project = new_project(tmp_path, server, **{"justwatch.max_retries": 1})
    warehouse = project.context().warehouse

    # 1. JustWatch answers an HTML page instead of JSON for every request about one day
    hook = server.add(Hook(prefix="/justwatch/", action="garbage", date=BAD_DAY))
    with pytest.raises(StepFailed) as failed:
        project.run(["extract_releases"])
    message = str(failed.value)
    print("observed:", message)
    assert hook.fired.is_set()
    assert message.startswith("extract_releases: ") and BAD_DAY in message and "\n" not in message
    assert not warehouse.table_exists("raw_justwatch", "titles")  # nothing half-loaded: no day at all
    server.clear()

    # 2. review sites answer garbage: quarantined with a reason, counted, the step succeeds
    server.add(Hook(prefix="/guardian/search", action="garbage", body=b"<html>Service Unavailable</html>"))
    server.add(Hook(prefix="/rogerebert/reviews/", action="garbage", body=b"\x00\x01\x02 binary junk" * 50))
    results = project.run(["extract_releases", "dbt_titles", "extract_reviews"])
    reviews = results["extract_reviews"]
    _check_garbage_quarantined(reviews, warehouse)
    server.clear()

    # 3. the sources recover: a re-run converges (the quarantined records are kept, never dropped)
    project.run()
    state = state_of(project.settings())
    assert state["raw_counts"].pop("raw_reviews.quarantine") == reviews.quarantined
    expected = {**reference.state, "raw_counts": dict(reference.state["raw_counts"])}
    expected["raw_counts"].pop("raw_reviews.quarantine")
    assert_converged(state, expected)
    assert DEMO_AS_OF.isoformat() == "2026-11-20"
