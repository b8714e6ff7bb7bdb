"""The pipeline step ``validate_mart``: the Great Expectations gate on ``marts.movies_tv_shows_enriched``.

It reads the mart's audit relation and the per-country availability about to be published with it
(``marts_audit.title_availability_audit``) through SQL (DuckDB, PostgreSQL or Redshift alike), runs the gate
(:mod:`quality.suite`, through :mod:`quality.adapter`; the availability per country), writes the reports
(:mod:`quality.validation_report`), and raises :class:`QualityGateError` naming every failed expectation (and its
country) with sample unexpected values; then nothing is published.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from core import step_names
from core.context import RunContext, StepResult
from core.dbt_relations import relation
from core.mart_schema import (
    AUDIT_TABLE,
    AVAILABILITY_AUDIT_TABLE,
    AVAILABILITY_COLUMNS,
    AVAILABILITY_KEY,
    MART_NAME,
    MartSchemaError,
    read_mart_rows,
)
from quality.adapter import availability_frame, rows_to_frame, run_suite
from quality.suite import ExpectationOutcome, GateThresholds, ValidationOutcome
from quality.validation_report import write_reports

STEP = step_names.VALIDATE_MART
# The listings of every node and country (dbt), which say which of the run's countries listed titles in the window
LISTINGS = str(relation("int_title_nodes_folded"))


class QualityGateError(RuntimeError):
    """The mart failed the gate; the message lists each failed expectation on its own line."""

    def __init__(
        self, message: str, failures: Sequence[ExpectationOutcome] = (), reports: Sequence[Path] = ()
    ):
        super().__init__(message)
        self.failures = list(failures)
        self.reports = list(reports)


def listed_countries(ctx: RunContext) -> tuple[str, ...]:
    """The run's countries with a listing in the window: their extract loaded (a country that failed and never
    loaded this window is named by the run's failure instead, and the others still publish)."""
    rows = ctx.warehouse.fetch_all(
        f"select distinct listing_country from {LISTINGS} where new_since between ? and ?",  # nosec B608  # noqa: S608 - constant identifier: LISTINGS (this module); values are bound
        [ctx.window_start, ctx.as_of],
    )
    found = {str(r["listing_country"]) for r in rows}
    return tuple(c for c in ctx.country_codes if c in found)


def thresholds_for(ctx: RunContext, listed: tuple[str, ...] = ()) -> GateThresholds:
    return GateThresholds(
        as_of=ctx.as_of,
        min_rows=int(ctx.settings.get("quality.min_rows")),
        countries=ctx.country_codes,
        listed_countries=listed,
        window_start=ctx.window_start,
        min_titles=int(ctx.settings.get("quality.min_titles")),
    )


def gate_message(outcome: ValidationOutcome, reports: Sequence[Path]) -> str:
    """The first line names every failing expectation with its column and a sample value (the one line a
    user sees); the following lines repeat them one per line, then the report's path."""
    failures = outcome.failures
    head = (
        f"{MART_NAME} failed the quality gate ({len(failures)} of {outcome.evaluated} expectations on "
        f"{outcome.rows} rows and {outcome.availability_rows} per-country rows; nothing published): "
        + "; ".join(f.describe() for f in failures)
    )
    tail = f"report: {reports[0] if reports else 'not written'}"
    return "\n".join([head, *(f"- {f.describe()}" for f in failures), tail])


def validate_mart(ctx: RunContext) -> StepResult:
    """Gate the mart's audit relation before it is published; raises :class:`QualityGateError` (after
    writing the reports) when it fails, and then ``publish_mart`` does not run."""
    try:
        rows = read_mart_rows(ctx.warehouse, AUDIT_TABLE)
        available = read_mart_rows(
            ctx.warehouse, AVAILABILITY_AUDIT_TABLE, AVAILABILITY_COLUMNS, AVAILABILITY_KEY
        )
    except MartSchemaError as exc:
        raise QualityGateError(f"{MART_NAME} failed the quality gate: {exc}") from exc
    thresholds = thresholds_for(ctx, listed_countries(ctx))
    ctx.progress(
        f"validating {len(rows)} mart rows (minimum {thresholds.min_row_count}) and {len(available)} availability "
        f"rows of {','.join(ctx.country_codes)} (at least {thresholds.min_titles} title(s) of the window in each "
        f"country that listed any: {','.join(thresholds.listed_countries) or 'none'})"
    )
    outcome = run_suite(rows_to_frame(rows), thresholds, availability_frame(available))
    reports = write_reports(outcome, ctx)
    if not outcome.success:
        raise QualityGateError(gate_message(outcome, reports), outcome.failures, reports)
    return StepResult(
        step=STEP,
        rows_in=outcome.rows,
        rows_out=outcome.rows,
        details={
            "availability_rows": outcome.availability_rows,
            "countries_listed": list(thresholds.listed_countries),
            "expectations_evaluated": outcome.evaluated,
            "expectations_failed": 0,
            "min_row_count": thresholds.min_row_count,
            "report_json": str(reports[0]),
            "report_html": str(reports[1]),
        },
    )
