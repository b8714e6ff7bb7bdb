"""The Great Expectations calls: the gate's checks (:mod:`quality.suite`) as GX suites, run on pandas frames
of mart rows (and of the per-country availability rows) in an ephemeral context, each result reduced to an
:class:`ExpectationOutcome`.

Great Expectations takes seconds to import, so it is imported inside the functions that need it: importing
this module (the pipeline does, for every command) costs nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date
from typing import Any

from core.mart_schema import AVAILABILITY_AUDIT_NAME, AVAILABILITY_COLUMNS, MART_COLUMN_NAMES, MART_NAME
from quality.suite import (
    AVAILABILITY_SUITE_NAME,
    SAMPLE_SIZE,
    SUITE_NAME,
    Check,
    ExpectationOutcome,
    GateThresholds,
    ValidationOutcome,
    availability_checks,
    gate_checks,
)


def build_suite(
    thresholds: GateThresholds, checks: Sequence[Check] | None = None, name: str = SUITE_NAME
) -> Any:
    """The gate (or ``checks``) as a ``gx.ExpectationSuite`` (not yet attached to a context)."""
    import great_expectations as gx  # noqa: PLC0415 - GX takes seconds to import; only the gate pays it
    import great_expectations.expectations as gxe  # noqa: PLC0415 - as above

    chosen = gate_checks(thresholds) if checks is None else checks
    expectations = [getattr(gxe, c.expectation)(**c.kwargs, meta=c.meta) for c in chosen]
    # Passed to the constructor (not add_expectation) so building the suite needs no active context.
    return gx.ExpectationSuite(name=name, expectations=expectations)


def rows_to_frame(rows: Sequence[dict[str, Any]], columns: Sequence[str] = MART_COLUMN_NAMES) -> Any:
    """Object columns keep the driver's Python values, so type expectations check each value itself."""
    import pandas as pd  # noqa: PLC0415 - pandas loads with GX, on the gate's path only

    return pd.DataFrame({c: pd.Series([r.get(c) for r in rows], dtype=object) for c in columns})


def availability_frame(rows: Sequence[dict[str, Any]]) -> Any:
    """The per-country availability rows; days as ISO text, which a row condition compares with the window's
    first day (``quality.suite.country_listings_check``)."""
    as_text = [{k: v.isoformat() if isinstance(v, date) else v for k, v in r.items()} for r in rows]
    return rows_to_frame(as_text, AVAILABILITY_COLUMNS)


@contextmanager
def _schema_checked_once() -> Iterator[None]:
    """GX's JSON-schema metric calls ``jsonschema.validate`` once per value, and each call re-checks the
    schema itself (measured: 95% of the gate's time at 10,000 rows). For the duration of a validation,
    ``jsonschema.validate`` checks each schema once and reuses its validator; values are validated and
    errors raised exactly as before."""
    import jsonschema  # noqa: PLC0415 - only patched while the gate runs

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


def _ephemeral_context() -> Any:
    import great_expectations as gx  # noqa: PLC0415 - GX takes seconds to import; only the gate pays it
    from great_expectations.data_context.types.base import (  # noqa: PLC0415 - as above
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False),
    )
    return gx.get_context(mode="ephemeral", project_config=config)


def _validate(
    context: Any, source: Any, name: str, suite: Any, frame: Any
) -> tuple[bool, list[ExpectationOutcome]]:
    """Run ``suite`` on ``frame`` (the asset ``name``): GX's verdict and one outcome per expectation, in order."""
    import great_expectations as gx  # noqa: PLC0415 - GX takes seconds to import; only the gate pays it

    asset = source.add_dataframe_asset(name=name)
    batch = asset.add_batch_definition_whole_dataframe(name=f"whole_{name}")
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name=f"{suite.name}_validation", data=batch, suite=context.suites.add(suite))
    )
    with _schema_checked_once():
        result = definition.run(
            batch_parameters={"dataframe": frame},
            result_format={"result_format": "BASIC", "partial_unexpected_count": SAMPLE_SIZE},
        )
    return bool(result.success), [outcome_of(r, relation=name) for r in result.results]


def run_suite(frame: Any, thresholds: GateThresholds, availability: Any | None = None) -> ValidationOutcome:
    """Validate a pandas frame of mart rows in an ephemeral GX context, and the frame of the per-country
    availability about to be published with them (:func:`availability_frame`) when there is one."""
    context = _ephemeral_context()
    source = context.data_sources.add_pandas(name="warehouse")
    success, outcomes = _validate(context, source, MART_NAME, build_suite(thresholds), frame)
    if availability is not None:
        audited_ids = [str(i) for i in frame["id"] if i is not None]
        suite = build_suite(
            thresholds, availability_checks(thresholds, audited_ids), name=AVAILABILITY_SUITE_NAME
        )
        passed, more = _validate(context, source, AVAILABILITY_AUDIT_NAME, suite, availability)
        success, outcomes = success and passed, [*outcomes, *more]
    return ValidationOutcome(
        success=success and all(o.success for o in outcomes),
        rows=len(frame),
        thresholds=thresholds,
        results=outcomes,
        availability_rows=0 if availability is None else len(availability),
    )


# ---- one GX result -> ExpectationOutcome (pure: reads plain attributes and dicts) ---------------------------
def exception_info(raw: Any) -> dict[str, Any]:
    """GX's ``exception_info``: one dict, or one per metric (keyed by metric) when several raised."""
    info = raw or {}
    if not isinstance(info, dict):
        return {}
    if "raised_exception" in info:
        return info
    first = next(iter(info.values()), {})
    return first if isinstance(first, dict) else {}


def exception_message(raw: Any) -> str | None:
    """The message of the exception an expectation raised, or None when it was evaluated."""
    info = exception_info(raw)
    return info.get("exception_message") if info.get("raised_exception") else None


def outcome_kwargs(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The expectation's arguments as the user wrote them (GX adds the batch it ran on)."""
    return {k: v for k, v in dict(kwargs).items() if k != "batch_id"}


def outcome_of(result: Any, relation: str = MART_NAME) -> ExpectationOutcome:
    """One ``ExpectationValidationResult`` (of a check on ``relation``) reduced to what a report or an error line
    needs."""
    config = result.expectation_config
    meta = config.meta or {}
    details = dict(result.result or {})
    exception = exception_message(result.exception_info)
    return ExpectationOutcome(
        expectation=str(config.type),
        kwargs=outcome_kwargs(config.kwargs),
        success=bool(result.success) and not exception,
        check=str(meta.get("check", "")),
        observed_value=details.get("observed_value"),
        element_count=details.get("element_count"),
        unexpected_count=details.get("unexpected_count"),
        unexpected_sample=list(details.get("partial_unexpected_list") or [])[:SAMPLE_SIZE],
        exception=exception,
        relation=relation,
        country=str(meta.get("country", "")),
    )
