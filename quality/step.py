"""The pipeline step ``validate_mart``: the Great Expectations gate on ``marts.movies_tv_shows_enriched``.

It reads the mart's audit relation through SQL (DuckDB, PostgreSQL or Redshift alike), runs the gate
(:mod:`quality.suite`, through :mod:`quality.adapter`), writes the reports (:mod:`quality.validation_report`), and raises
:class:`QualityGateError` naming every failed expectation with sample unexpected values; then nothing is
published.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from core.context import RunContext, StepResult
from core.mart_schema import AUDIT_TABLE, MART_NAME, MartSchemaError, read_mart_rows
from quality.adapter import rows_to_frame, run_suite
from quality.suite import ExpectationOutcome, GateThresholds, ValidationOutcome
from quality.validation_report import write_reports

STEP = "validate_mart"


class QualityGateError(RuntimeError):
    """The mart failed the gate; the message lists each failed expectation on its own line."""

    def __init__(
        self, message: str, failures: Sequence[ExpectationOutcome] = (), reports: Sequence[Path] = ()
    ):
        super().__init__(message)
        self.failures = list(failures)
        self.reports = list(reports)


def thresholds_for(ctx: RunContext) -> GateThresholds:
    return GateThresholds(
        as_of=ctx.as_of,
        min_rows=int(ctx.settings.get("quality.min_rows")),
    )


def gate_message(outcome: ValidationOutcome, reports: Sequence[Path]) -> str:
    """The first line names every failing expectation with its column and a sample value (the one line a
    user sees); the following lines repeat them one per line, then the report's path."""
    failures = outcome.failures
    head = (
        f"{MART_NAME} failed the quality gate ({len(failures)} of {outcome.evaluated} expectations on "
        f"{outcome.rows} rows; nothing published): " + "; ".join(f.describe() for f in failures)
    )
    tail = f"report: {reports[0] if reports else 'not written'}"
    return "\n".join([head, *(f"- {f.describe()}" for f in failures), tail])


def validate_mart(ctx: RunContext) -> StepResult:
    """Gate the mart's audit relation before it is published; raises :class:`QualityGateError` (after
    writing the reports) when it fails, and then ``publish_mart`` does not run."""
    thresholds = thresholds_for(ctx)
    try:
        rows = read_mart_rows(ctx.warehouse, AUDIT_TABLE)
    except MartSchemaError as exc:
        raise QualityGateError(f"{MART_NAME} failed the quality gate: {exc}") from exc
    ctx.progress(f"validating {len(rows)} mart rows (minimum {thresholds.min_row_count})")
    outcome = run_suite(rows_to_frame(rows), thresholds)
    reports = write_reports(outcome, ctx)
    if not outcome.success:
        raise QualityGateError(gate_message(outcome, reports), outcome.failures, reports)
    return StepResult(
        step=STEP,
        rows_in=outcome.rows,
        rows_out=outcome.rows,
        details={
            "expectations_evaluated": outcome.evaluated,
            "expectations_failed": 0,
            "min_row_count": thresholds.min_row_count,
            "report_json": str(reports[0]),
            "report_html": str(reports[1]),
        },
    )
