"""The Great Expectations adapter: the suite GX builds is the gate's checks; each GX result is reduced alike."""

from __future__ import annotations

from datetime import UTC, date, datetime
from types import SimpleNamespace
from typing import Any

from quality.adapter import build_suite, exception_message, outcome_of
from quality.suite import SAMPLE_SIZE, SUITE_NAME, GateThresholds, gate_checks

THRESHOLDS = GateThresholds(as_of=date(2026, 11, 20), min_rows=3, now=datetime(2026, 11, 21, tzinfo=UTC))


def test_the_gx_suite_is_the_gates_checks_in_order() -> None:
    suite = build_suite(THRESHOLDS)
    checks = gate_checks(THRESHOLDS)
    assert suite.name == SUITE_NAME
    assert [e.meta["check"] for e in suite.expectations] == [c.check for c in checks]
    assert [getattr(e, "column", None) for e in suite.expectations] == [
        c.kwargs.get("column") for c in checks
    ]


def result(success: bool, details: dict[str, Any] | None = None, info: Any = None) -> Any:
    config = SimpleNamespace(
        type="expect_column_values_to_not_be_null",
        kwargs={"column": "title", "batch_id": "warehouse-mart"},
        meta={"check": "not_null"},
    )
    return SimpleNamespace(expectation_config=config, success=success, result=details, exception_info=info)


def test_outcome_of_a_failed_result() -> None:
    sample = list(range(SAMPLE_SIZE + 3))
    found = outcome_of(
        result(False, {"element_count": 9, "unexpected_count": 8, "partial_unexpected_list": sample})
    )
    assert (found.expectation, found.check, found.kwargs) == (
        "expect_column_values_to_not_be_null",
        "not_null",
        {"column": "title"},
    )
    assert (
        not found.success and found.unexpected_count == 8 and found.unexpected_sample == sample[:SAMPLE_SIZE]
    )
    assert found.exception is None


def test_an_expectation_that_raised_fails_with_its_message() -> None:
    raised = {"raised_exception": True, "exception_message": "column missing"}
    assert outcome_of(result(True, info=raised)).exception == "column missing"
    assert not outcome_of(result(True, info=raised)).success
    # keyed by metric when several metrics raised: the first one's message
    assert exception_message({"column_values.nonnull": raised}) == "column missing"
    assert exception_message({"raised_exception": False, "exception_message": None}) is None
    assert exception_message(None) is None and exception_message("odd") is None
    assert outcome_of(result(True, info={"raised_exception": False})).success
