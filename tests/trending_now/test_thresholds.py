"""Abnormal-day thresholds (pure rules) and their effect on a run: the step fails with one line."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

from core.config import Settings
from core.context import RunContext, StepResult
from trending_now import pipeline, thresholds


def test_a_normal_day_passes(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings()
    thresholds.check(pipeline.EXTRACT_RELEASES.checks, StepResult("extract_releases", rows_out=46, quarantined=1), settings)
    thresholds.check(pipeline.EXTRACT_REVIEWS.checks, StepResult("extract_reviews", rows_out=94, quarantined=3), settings)
    thresholds.check(pipeline.ENRICH_TITLES.checks, StepResult("enrich_titles"), settings)  # no rule: nothing to check


def test_zero_titles_fails_naming_the_setting(make_settings: Callable[..., Settings]) -> None:
    with pytest.raises(thresholds.ThresholdBreached, match=r"^0 title\(s\) .* below quality.min_titles 1"):
        thresholds.check(pipeline.EXTRACT_RELEASES.checks, StepResult("extract_releases", rows_out=0), make_settings())


def test_quarantine_share_above_the_limit_fails(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(**{"quality__max_quarantine_share": 0.25})
    # a garbage review site quarantines per title and never fails the day
    thresholds.check(pipeline.EXTRACT_REVIEWS.checks, StepResult("extract_reviews", rows_out=3, quarantined=30), settings)
    with pytest.raises(thresholds.ThresholdBreached) as caught:
        thresholds.check(pipeline.EXTRACT_RELEASES.checks, StepResult("extract_releases", rows_out=2, quarantined=2), settings)
    assert str(caught.value).startswith("2 of 4 JustWatch records (50%) went to quarantine")
    assert "quality.max_quarantine_share 25%" in str(caught.value)
    assert caught.value.result.quarantined == 2  # the step's counts travel with the failure


def test_a_breach_fails_the_run_at_that_step(make_context: Callable[..., RunContext]) -> None:
    empty = replace(pipeline.EXTRACT_RELEASES, function=_empty_day)
    with pytest.raises(pipeline.StepFailed, match=r"^extract_releases: 0 title\(s\) listed") as caught:
        pipeline.run_steps(make_context(), [empty])
    assert caught.value.step == "extract_releases"


def _empty_day(ctx: RunContext) -> StepResult:
    return StepResult("extract_releases", rows_out=0)


def test_thresholds_are_per_country_and_name_the_country(make_settings: Callable[..., Settings]) -> None:
    result = StepResult("extract_releases", rows_out=40, quarantined=6, details={"countries": {
        "US": {"titles": 40, "quarantined_records": 1, "quarantined_items": 5},
        "GB": {"titles": 0, "quarantined_records": 0},
    }})
    with pytest.raises(thresholds.ThresholdBreached, match=r"^GB: 0 title\(s\) listed") as caught:
        thresholds.check(pipeline.EXTRACT_RELEASES.checks, result, make_settings())
    assert "US" not in str(caught.value)  # list items do not count against the share; US is fine


def test_a_failed_country_fails_the_run_after_its_last_step(make_context: Callable[..., RunContext]) -> None:
    ran: list[str] = []

    def extract(ctx: RunContext) -> StepResult:
        return StepResult("extract_releases", rows_out=5, details={"countries": {"US": {"titles": 5}}},
                          failed_parts={"GB": "JustWatch newTitles for 2026-11-20 (GB) failed: HTTP 500"})

    def publish(ctx: RunContext) -> StepResult:
        ran.append("publish")
        return StepResult("publish_mart")

    steps = [replace(pipeline.EXTRACT_RELEASES, function=extract), pipeline.Step("publish_mart", publish, "x")]
    ctx = make_context()
    with pytest.raises(pipeline.StepFailed, match=r"^extract_releases: GB failed \(the other parts were published\)"):
        pipeline.run_steps(ctx, steps)
    assert ran == ["publish"]  # the countries that succeeded went all the way
    rows = ctx.warehouse.fetch_all("select step, status, error from ops.pipeline_runs order by started_at")
    assert [(r["step"], r["status"]) for r in rows] == [("extract_releases", "failed"), ("publish_mart", "ok")]
    assert rows[0]["error"] == "extract_releases: GB failed"
