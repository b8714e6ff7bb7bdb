"""The Great Expectations calls: the gate's checks (:mod:`quality.suite`) as a GX suite, run on a pandas frame
of mart rows in an ephemeral context, each result reduced to an :class:`ExpectationOutcome`.

Great Expectations takes seconds to import, so it is imported inside the functions that need it: importing
this module (the pipeline does, for every command) costs nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from core.mart_schema import MART_COLUMN_NAMES, MART_NAME
from quality.suite import (
    SAMPLE_SIZE,
    SUITE_NAME,
    ExpectationOutcome,
    GateThresholds,
    ValidationOutcome,
    gate_checks,
)


def build_suite(thresholds: GateThresholds) -> Any:
    """The gate as a ``gx.ExpectationSuite`` (not yet attached to a context)."""
    import great_expectations as gx  # noqa: PLC0415 - GX takes seconds to import; only the gate pays it
    import great_expectations.expectations as gxe  # noqa: PLC0415 - as above

    expectations = [
        getattr(gxe, c.expectation)(**c.kwargs, meta={"check": c.check}) for c in gate_checks(thresholds)
    ]
    # Passed to the constructor (not add_expectation) so building the suite needs no active context.
    return gx.ExpectationSuite(name=SUITE_NAME, expectations=expectations)


def rows_to_frame(rows: Sequence[dict[str, Any]]) -> Any:
    """Object columns keep the driver's Python values, so type expectations check each value itself."""
    import pandas as pd  # noqa: PLC0415 - pandas loads with GX, on the gate's path only

    return pd.DataFrame({c: pd.Series([r.get(c) for r in rows], dtype=object) for c in MART_COLUMN_NAMES})


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


def run_suite(frame: Any, thresholds: GateThresholds) -> ValidationOutcome:
    """Validate a pandas frame of mart rows in an ephemeral GX context."""
    import great_expectations as gx  # noqa: PLC0415 - GX takes seconds to import; only the gate pays it

    context = _ephemeral_context()
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
    outcomes = [outcome_of(r) for r in result.results]
    return ValidationOutcome(
        success=bool(result.success) and all(o.success for o in outcomes),
        rows=len(frame),
        thresholds=thresholds,
        results=outcomes,
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


def outcome_of(result: Any) -> ExpectationOutcome:
    """One ``ExpectationValidationResult`` reduced to what a report or an error line needs."""
    config = result.expectation_config
    details = dict(result.result or {})
    exception = exception_message(result.exception_info)
    return ExpectationOutcome(
        expectation=str(config.type),
        kwargs=outcome_kwargs(config.kwargs),
        success=bool(result.success) and not exception,
        check=str((config.meta or {}).get("check", "")),
        observed_value=details.get("observed_value"),
        element_count=details.get("element_count"),
        unexpected_count=details.get("unexpected_count"),
        unexpected_sample=list(details.get("partial_unexpected_list") or [])[:SAMPLE_SIZE],
        exception=exception,
    )
