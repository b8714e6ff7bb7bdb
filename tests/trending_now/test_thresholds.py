"""Abnormal-day thresholds (pure rules) and their effect on a run: the step fails with one line."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from core.config import Settings
from core.context import RunContext, StepResult
from trending_now import pipeline, thresholds


def test_a_normal_day_passes(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings()
    thresholds.check("extract_releases", StepResult("extract_releases", rows_out=46, quarantined=1), settings)
    thresholds.check("extract_reviews", StepResult("extract_reviews", rows_out=94, quarantined=3), settings)
    thresholds.check("enrich_titles", StepResult("enrich_titles"), settings)  # no rule: nothing to check


def test_zero_titles_fails_naming_the_setting(make_settings: Callable[..., Settings]) -> None:
    with pytest.raises(thresholds.ThresholdBreached, match=r"^0 title\(s\) .* below quality.min_titles 1"):
        thresholds.check("extract_releases", StepResult("extract_releases", rows_out=0), make_settings())


def test_quarantine_share_above_the_limit_fails(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(**{"quality__max_quarantine_share": 0.25})
    # a garbage review site quarantines per title and never fails the day
    thresholds.check("extract_reviews", StepResult("extract_reviews", rows_out=3, quarantined=30), settings)
    with pytest.raises(thresholds.ThresholdBreached) as caught:
        thresholds.check("extract_releases", StepResult("extract_releases", rows_out=2, quarantined=2), settings)
    assert str(caught.value).startswith("2 of 4 JustWatch records (50%) went to quarantine")
    assert "quality.max_quarantine_share 25%" in str(caught.value)
    assert caught.value.result.quarantined == 2  # the step's counts travel with the failure


def test_a_breach_fails_the_run_at_that_step(make_context: Callable[..., RunContext]) -> None:
    empty = pipeline.Step("extract_releases", _empty_day, "extract")
    with pytest.raises(pipeline.StepFailed, match=r"^extract_releases: 0 title\(s\) listed") as caught:
        pipeline.run_steps(make_context(), [empty])
    assert caught.value.step == "extract_releases"


def _empty_day(ctx: RunContext) -> StepResult:
    return StepResult("extract_releases", rows_out=0)
