"""The Great Expectations gate on ``marts.movies_tv_shows_enriched``: a failing suite stops the run.

The suite lives in code (:func:`build_suite`), never in hand-edited JSON. :func:`validate_mart` reads the
mart through SQL (DuckDB, PostgreSQL or Redshift alike), runs the suite in an ephemeral GX context on a
pandas frame, writes a compact JSON and an HTML report per run, and raises :class:`QualityGateError`
naming every failed expectation with sample unexpected values.

Great Expectations takes seconds to import, so it is imported inside the functions that need it.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from core.context import RunContext, StepResult
from core.files import write_text_atomic
from core.mart_schema import (
    AUDIT_TABLE,
    JSON_COLUMNS,
    MART_COLUMN_NAMES,
    MART_COLUMN_SPECS,
    MART_NAME,
    STRING_COLUMNS,
    MartSchemaError,
    read_mart_rows,
)

STEP = "validate_mart"
SUITE_NAME = f"{MART_NAME}_gate"
EARLIEST_INGESTION = datetime(2020, 1, 1, tzinfo=UTC)
SAMPLE_SIZE = 5
SAMPLE_CHARS = 80

CAST_SCHEMA: dict[str, Any] = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["name"],
        "properties": {"name": {"type": "string"}, "character": {"type": ["string", "null"]}},
    },
}
DIRECTORS_SCHEMA: dict[str, Any] = {
    "type": "array",
    "items": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}},
}
REVIEWS_SCHEMA: dict[str, Any] = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["source_name", "review_text"],
        "properties": {
            "source_name": {"type": "string"},
            "author": {"type": ["string", "null"]},
            "review_text": {"type": "string"},
            "original_score": {"type": ["string", "null"]},
            "score_normalized": {"type": ["number", "null"], "minimum": 0, "maximum": 10},
            "review_url": {"type": ["string", "null"]},
        },
    },
}
JSON_SCHEMAS = {"cast_members": CAST_SCHEMA, "directors": DIRECTORS_SCHEMA, "scraped_reviews": REVIEWS_SCHEMA}


class QualityGateError(RuntimeError):
    """The mart failed the gate; the message lists each failed expectation on its own line."""

    def __init__(
        self, message: str, failures: Sequence[ExpectationOutcome] = (), reports: Sequence[Path] = ()
    ):
        super().__init__(message)
        self.failures = list(failures)
        self.reports = list(reports)


@dataclass(frozen=True)
class GateThresholds:
    """What the suite's table-level and time-dependent bounds are computed from."""

    as_of: date
    min_rows: int = 1
    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def min_row_count(self) -> int:
        return max(int(self.min_rows), 0)

    def years_ahead(self, years: int) -> int:
        """dbt's ``extract(year from current_date) + years`` (``max_years_ahead``), for a backfill too."""
        return max(self.now.date(), self.as_of).year + int(years)

    @property
    def latest_ingestion(self) -> datetime:
        """A row cannot have been ingested after the run (wall clock, or the end of ``as_of`` for backfills)."""
        end_of_as_of = datetime.combine(self.as_of, time.max, tzinfo=UTC)
        return max(self.now, end_of_as_of) + timedelta(days=1)


@dataclass
class ExpectationOutcome:
    """One evaluated expectation, reduced to what a report or an error line needs."""

    expectation: str
    kwargs: dict[str, Any]
    success: bool
    check: str = ""  # the short name of the property checked (``meta.check``), e.g. ``not_null``
    observed_value: Any = None
    element_count: int | None = None
    unexpected_count: int | None = None
    unexpected_sample: list[Any] = field(default_factory=list)
    exception: str | None = None

    @property
    def column(self) -> str | None:
        return self.kwargs.get("column")

    def describe(self) -> str:
        """``expect_column_values_to_not_be_null(title): 1 of 3 unexpected, e.g. [None]``."""
        args = [str(self.column)] if self.column else []
        args += [f"{k}={_short(v)}" for k, v in self.kwargs.items() if k not in ("column", "json_schema")]
        head = f"{self.expectation}({', '.join(args)})"
        if self.exception:
            return f"{head}: could not be evaluated: {self.exception}"
        if self.unexpected_count is not None:
            of = f" of {self.element_count}" if self.element_count is not None else ""
            sample = ", ".join(_short(v) for v in self.unexpected_sample)
            return f"{head}: {self.unexpected_count}{of} unexpected, e.g. [{sample}]"
        return f"{head}: observed {_short(self.observed_value)}"


@dataclass
class ValidationOutcome:
    success: bool
    rows: int
    thresholds: GateThresholds
    results: list[ExpectationOutcome]

    @property
    def evaluated(self) -> int:
        return len(self.results)

    @property
    def failures(self) -> list[ExpectationOutcome]:
        return [r for r in self.results if not r.success]


def _short(value: Any) -> str:
    if isinstance(value, float) and math.isnan(value):
        value = None
    text = repr(value)
    return text if len(text) <= SAMPLE_CHARS else text[: SAMPLE_CHARS - 1] + "…"


# ---- the suite --------------------------------------------------------------------------------------------
def contract_expectations(thresholds: GateThresholds, meta: Any) -> list[Any]:
    """The dbt contract's own column tests (not_null, unique, accepted_values, value_in_range), read from the
    mart's yml through :mod:`core.mart_schema`: one owner for every bound the gate checks."""
    import great_expectations.expectations as gxe

    found: list[Any] = []
    for column in MART_COLUMN_SPECS:
        if column.not_null:
            found.append(gxe.ExpectColumnValuesToNotBeNull(column=column.name, meta=meta("not_null")))
        if column.test("unique"):
            found.append(gxe.ExpectColumnValuesToBeUnique(column=column.name, meta=meta("unique")))
        if accepted := column.test("accepted_values"):
            found.append(
                gxe.ExpectColumnValuesToBeInSet(
                    column=column.name,
                    value_set=list(accepted.arguments["values"]),
                    meta=meta("accepted_values"),
                )
            )
        if bounds := column.test("value_in_range"):
            args = bounds.arguments
            high = args.get("max_value")
            if args.get("max_years_ahead") is not None:
                high = thresholds.years_ahead(args["max_years_ahead"])
            found.append(
                gxe.ExpectColumnValuesToBeBetween(
                    column=column.name, min_value=args.get("min_value"), max_value=high, meta=meta("range")
                )
            )
    return found


def build_suite(thresholds: GateThresholds) -> Any:
    """The gate as a ``gx.ExpectationSuite`` (not yet attached to a context)."""
    import great_expectations as gx
    import great_expectations.expectations as gxe

    def meta(check: str) -> dict[str, Any]:
        return {"check": check}

    expectations: list[Any] = [
        gxe.ExpectTableColumnsToMatchOrderedList(column_list=list(MART_COLUMN_NAMES), meta=meta("columns")),
        gxe.ExpectTableRowCountToBeBetween(min_value=thresholds.min_row_count, meta=meta("row_count")),
    ]
    expectations += contract_expectations(thresholds, meta)
    expectations += [
        gxe.ExpectColumnValuesToMatchRegex(column="id", regex=r"^t[ms]\d+$", meta=meta("id_format")),
        gxe.ExpectColumnValuesToBeInTypeList(column="release_year", type_list=["int"], meta=meta("types")),
        gxe.ExpectColumnValuesToMatchRegex(
            column="rotten_tomatoes_rating", regex=r"^\d{1,3}%$", meta=meta("rotten_tomatoes")
        ),
        gxe.ExpectColumnValuesToMatchRegex(
            column="source_data_hash", regex=r"^[0-9a-f]{32,128}$", meta=meta("hash")
        ),
        gxe.ExpectColumnValuesToBeOfType(
            column="data_ingestion_timestamp", type_="datetime", meta=meta("timestamp")
        ),
        gxe.ExpectColumnValuesToBeBetween(
            column="data_ingestion_timestamp",
            min_value=EARLIEST_INGESTION,
            max_value=thresholds.latest_ingestion,
            meta=meta("timestamp"),
        ),
    ]
    expectations += [
        gxe.ExpectColumnValuesToBeOfType(column=c, type_="str", meta=meta("types")) for c in STRING_COLUMNS
    ]
    for column in JSON_COLUMNS:
        expectations.append(gxe.ExpectColumnValuesToBeJsonParseable(column=column, meta=meta("json")))
        expectations.append(
            gxe.ExpectColumnValuesToMatchJsonSchema(
                column=column, json_schema=JSON_SCHEMAS[column], meta=meta("json_shape")
            )
        )

    # Passed to the constructor (not add_expectation) so building the suite needs no active context.
    return gx.ExpectationSuite(name=SUITE_NAME, expectations=expectations)


def rows_to_frame(rows: Sequence[dict[str, Any]]) -> Any:
    """Object columns keep the driver's Python values, so type expectations check each value itself."""
    import pandas as pd

    return pd.DataFrame({c: pd.Series([r.get(c) for r in rows], dtype=object) for c in MART_COLUMN_NAMES})


@contextmanager
def _schema_checked_once() -> Iterator[None]:
    """GX's JSON-schema metric calls ``jsonschema.validate`` once per value, and each call re-checks the
    schema itself (measured: 95% of the gate's time at 10,000 rows). For the duration of a validation,
    ``jsonschema.validate`` checks each schema once and reuses its validator; values are validated and
    errors raised exactly as before."""
    import jsonschema

    original = jsonschema.validate
    validators: dict[str, Any] = {}

    def validate(instance: Any, schema: Any, cls: Any = None, *args: Any, **kwargs: Any) -> None:
        if cls is not None or args or kwargs:  # a caller asking for more than GX does: the original
            return original(instance, schema, cls, *args, **kwargs)
        key = json.dumps(schema, sort_keys=True, default=str)
        if key not in validators:
            validator_cls = jsonschema.validators.validator_for(schema)
            validator_cls.check_schema(schema)
            validators[key] = validator_cls(schema)
        error = jsonschema.exceptions.best_match(validators[key].iter_errors(instance))
        if error is not None:
            raise error
        return None

    jsonschema.validate = validate
    try:
        yield
    finally:
        jsonschema.validate = original


def run_suite(frame: Any, thresholds: GateThresholds) -> ValidationOutcome:
    """Validate a pandas frame of mart rows in an ephemeral GX context."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False),
    )
    context = gx.get_context(mode="ephemeral", project_config=config)
    source = context.data_sources.add_pandas(name="warehouse")
    asset = source.add_dataframe_asset(name=MART_NAME)
    batch = asset.add_batch_definition_whole_dataframe(name="whole_mart")
    suite = context.suites.add(build_suite(thresholds))
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name=f"{SUITE_NAME}_validation", data=batch, suite=suite)
    )
    with _schema_checked_once():
        result = definition.run(
            batch_parameters={"dataframe": frame},
            result_format={"result_format": "BASIC", "partial_unexpected_count": SAMPLE_SIZE},
        )
    outcomes = [_outcome(r) for r in result.results]
    return ValidationOutcome(
        success=bool(result.success) and all(o.success for o in outcomes),
        rows=len(frame),
        thresholds=thresholds,
        results=outcomes,
    )


def _outcome(result: Any) -> ExpectationOutcome:
    config = result.expectation_config
    kwargs = {k: v for k, v in dict(config.kwargs).items() if k != "batch_id"}
    details = dict(result.result or {})
    info = result.exception_info or {}
    if isinstance(info, dict) and "raised_exception" not in info:  # keyed by metric when several raised
        info = next(iter(info.values()), {}) if info else {}
    exception = (
        info.get("exception_message") if isinstance(info, dict) and info.get("raised_exception") else None
    )
    return ExpectationOutcome(
        expectation=str(config.type),
        kwargs=kwargs,
        success=bool(result.success) and not exception,
        check=str((config.meta or {}).get("check", "")),
        observed_value=details.get("observed_value"),
        element_count=details.get("element_count"),
        unexpected_count=details.get("unexpected_count"),
        unexpected_sample=list(details.get("partial_unexpected_list") or [])[:SAMPLE_SIZE],
        exception=exception,
    )


# ---- reports ---------------------------------------------------------------------------------------------
def report_payload(outcome: ValidationOutcome, ctx: RunContext) -> dict[str, Any]:
    t = outcome.thresholds
    return {
        "suite": SUITE_NAME,
        "run_id": ctx.run_id,
        "as_of": ctx.as_of.isoformat(),
        "target": ctx.warehouse.target,
        "success": outcome.success,
        "rows": outcome.rows,
        "thresholds": {
            "min_rows": t.min_rows,
            "min_row_count": t.min_row_count,
        },
        "statistics": {"evaluated": outcome.evaluated, "failed": len(outcome.failures)},
        "results": [
            {
                "expectation": r.expectation,
                "check": r.check,
                "kwargs": r.kwargs,
                "success": r.success,
                "observed_value": r.observed_value,
                "unexpected_count": r.unexpected_count,
                "unexpected_sample": [_short(v) for v in r.unexpected_sample],
                "exception": r.exception,
            }
            for r in outcome.results
        ],
    }


def render_html(payload: dict[str, Any]) -> str:
    esc = html.escape
    rows = []
    for r in payload["results"]:
        status = "pass" if r["success"] else "FAIL"
        kwargs = {k: v for k, v in r["kwargs"].items() if k != "json_schema"}
        detail = r["exception"] or (
            f"{r['unexpected_count']} unexpected: {', '.join(r['unexpected_sample'])}"
            if r["unexpected_count"]
            else f"observed {_short(r['observed_value'])}"
        )
        rows.append(
            f'<tr class="{status.lower()}"><td>{status}</td><td>{esc(r["expectation"])}</td>'
            f"<td><code>{esc(json.dumps(kwargs, default=str))}</code></td><td>{esc(detail)}</td></tr>"
        )
    title = f"{payload['suite']} — {payload['as_of']} — run {payload['run_id']}"
    verdict = "PASSED" if payload["success"] else "FAILED"
    stats = payload["statistics"]
    return (
        '<!doctype html>\n<html><head><meta charset="utf-8">'
        f"<title>{esc(title)}</title><style>"
        "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px;vertical-align:top}"
        "tr.fail{background:#fdd}tr.pass{background:#efe}code{font-size:90%}"
        "</style></head><body>\n"
        f"<h1>{esc(title)}</h1>\n"
        f"<p><strong>{verdict}</strong>: {stats['evaluated']} expectations evaluated, {stats['failed']} failed, "
        f"{payload['rows']} rows ({esc(payload['target'])}); minimum row count "
        f"{payload['thresholds']['min_row_count']}.</p>\n"
        "<table><tr><th>status</th><th>expectation</th><th>arguments</th><th>result</th></tr>\n"
        + "\n".join(rows)
        + "\n</table></body></html>\n"
    )


def write_reports(outcome: ValidationOutcome, ctx: RunContext) -> tuple[Path, Path]:
    report_dir = (
        ctx.settings.path("quality.report_dir")
        if ctx.settings.get("quality.report_dir")
        else (ctx.settings.root / "data" / "reports")
    )
    stem = f"validation-{ctx.as_of.isoformat()}-{ctx.run_id}"
    payload = report_payload(outcome, ctx)
    json_path, html_path = report_dir / f"{stem}.json", report_dir / f"{stem}.html"
    write_text_atomic(json_path, json.dumps(payload, indent=1, default=str, sort_keys=False) + "\n")
    write_text_atomic(html_path, render_html(payload))
    return json_path, html_path


# ---- the step --------------------------------------------------------------------------------------------
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
