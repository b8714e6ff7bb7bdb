"""The daily job as an ordered list of steps; the CLI and the Airflow DAG both call these functions.

extract_releases -> extract_reviews -> dbt staging/intermediate -> enrich -> dbt marts (+tests)
-> Great Expectations gate -> publish -> Parquet export -> DVC snapshot.

Write-audit-publish: ``dbt_marts`` merges into the mart's audit relation and tests it, ``validate_mart``
gates it, and only then ``publish_mart`` swaps it into ``marts.movies_tv_shows_enriched``; a failure
before that leaves the published table as it was.

Each step is idempotent (dlt merges on primary keys, the enricher skips what is already enriched, the mart
merges on ``id``), so a failed run is retried by running the same day again.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

from core import step_names
from core.context import RunContext, StepResult
from core.metrics import StepRecord, record_steps, utcnow
from core.redact import redact
from core.run_lock import RunLocked, run_lock
from core.text import first_line
from trending_now import thresholds
from trending_now.compose import Resources, call_step


@dataclass(frozen=True)
class Step:
    name: str
    function: Callable[..., StepResult]  # (ctx, <the resources it names>): trending_now.compose.call_step
    group: str  # the CLI subcommand that runs it
    checks: tuple[
        thresholds.Rule, ...
    ] = ()  # abnormal-day rules its result must pass (trending_now.thresholds)


def imported(target: str) -> Callable[..., StepResult]:
    """The step function ``module:function``, imported when the step first runs (``resolve()``).

    The Airflow DAG is built from ``STEPS`` in the DAG processor and again in every task's own process: a
    step module imported here would load its libraries (dlt, pyarrow, DVC, the LLM SDK) into each of them,
    about a second a task (bench/bench_dag.py). ``tests/trending_now`` resolves every target.
    """
    module, _, name = target.partition(":")

    def resolve() -> Callable[..., StepResult]:
        function: Callable[..., StepResult] = getattr(importlib.import_module(module), name)
        return function

    def run(ctx: RunContext, **resources: Any) -> StepResult:
        return resolve()(ctx, **resources)

    run.__name__ = run.__qualname__ = name
    run.target = target  # type: ignore[attr-defined]
    run.resolve = resolve  # type: ignore[attr-defined]
    return run


# The steps, in order (their names: core.step_names).
EXTRACT_RELEASES = Step(
    step_names.EXTRACT_RELEASES,
    imported("extract.justwatch.step:extract_releases"),
    "extract",
    thresholds.RELEASE_RULES,
)
# a stale JustWatch source fails the run
CHECK_FRESHNESS = Step(step_names.CHECK_FRESHNESS, imported("transform.step:check_freshness"), "extract")
# the folded titles extract_reviews reads
DBT_TITLES = Step(step_names.DBT_TITLES, imported("transform.step:build_titles"), "extract")
EXTRACT_REVIEWS = Step(
    step_names.EXTRACT_REVIEWS, imported("extract.reviews.step:extract_reviews"), "extract"
)
DBT_BEFORE_ENRICH = Step(
    step_names.DBT_STAGING_INTERMEDIATE, imported("transform.step:build_before_enrich"), "transform"
)
ENRICH_TITLES = Step(step_names.ENRICH_TITLES, imported("enrich.step:enrich_titles"), "enrich")
DBT_MARTS = Step(step_names.DBT_MARTS, imported("transform.step:build_marts"), "transform")
VALIDATE_MART = Step(step_names.VALIDATE_MART, imported("quality.step:validate_mart"), "validate")
# only after the audit passed
PUBLISH_MART = Step(step_names.PUBLISH_MART, imported("publish.step:publish_mart"), "publish")
EXPORT_PARQUET = Step(step_names.EXPORT_PARQUET, imported("publish.step:export_parquet"), "export")
SNAPSHOT_DVC = Step(step_names.SNAPSHOT_DVC, imported("publish.step:snapshot"), "snapshot")
STEPS: tuple[Step, ...] = (
    EXTRACT_RELEASES,
    CHECK_FRESHNESS,
    DBT_TITLES,
    EXTRACT_REVIEWS,
    DBT_BEFORE_ENRICH,
    ENRICH_TITLES,
    DBT_MARTS,
    VALIDATE_MART,
    PUBLISH_MART,
    EXPORT_PARQUET,
    SNAPSHOT_DVC,
)
STEP_NAMES = tuple(step.name for step in STEPS)


def one_line(cause: BaseException) -> str:
    """The first meaningful line of an error; dlt's ``PipelineStepFailed`` is unwrapped to the real cause.

    dlt's message starts ``Pipeline execution failed at `step=sync` with exception:`` and puts the cause
    on later lines, so its first line alone would say nothing about what went wrong.
    """
    prefix = ""
    inner = getattr(cause, "exception", None)
    if type(cause).__name__ == "PipelineStepFailed" and isinstance(inner, BaseException):
        prefix = f"dlt {getattr(cause, 'step', 'run')} step failed: "
        cause = inner
    return prefix + first_line(cause)


class StepFailed(RuntimeError):
    """A step raised; ``str()`` is the one-line cause, secrets scrubbed."""

    def __init__(self, step: str, cause: BaseException, secrets: Sequence[str]) -> None:
        super().__init__(redact(f"{step}: {one_line(cause)}", secrets))
        self.step = step


class PartsFailed(RuntimeError):
    """A step loaded what it could but some of its parts (countries) failed: raised after the last step."""


def parts_failure(records: Sequence[StepRecord]) -> tuple[str, PartsFailed] | None:
    """The step and the run's failure when a step reported failed parts: one line naming each and its cause."""
    failed = [(r.result.step, part, cause) for r in records for part, cause in r.result.failed_parts.items()]
    if not failed:
        return None
    names = ", ".join(part for _, part, _ in failed)
    causes = "; ".join(cause for _, _, cause in failed)
    return failed[0][0], PartsFailed(f"{names} failed (the other parts were published): {causes}")


def steps_named(names: Sequence[str]) -> list[Step]:
    unknown = [n for n in names if n not in STEP_NAMES]
    if unknown:
        raise ValueError(f"unknown step(s) {', '.join(unknown)}; steps are {', '.join(STEP_NAMES)}")
    return [s for s in STEPS if s.name in names]


def steps_in_group(group: str) -> list[Step]:
    return [s for s in STEPS if s.group == group]


@dataclass(frozen=True)
class Holding:
    """Who holds the warehouse's run lock during :func:`run_steps` (``core.run_lock``).

    The CLI: its run (the default). A DAG task: its DAG run, ``keep=True`` so the lease spans the run's tasks,
    waiting ``airflow.lock_timeout_s``.
    """

    holder: str
    keep: bool = False
    timeout_setting: str = "run.lock_timeout_s"


def cli_holding(ctx: RunContext) -> Holding:
    return Holding(f"run {ctx.run_id} (as of {ctx.as_of})")


def run_steps(
    ctx: RunContext, steps: Sequence[Step], holding: Holding | None = None, resources: Resources | None = None
) -> list[StepRecord]:
    """Run ``steps`` in order under the warehouse's run lock with the run's resources (built here when not
    given, closed after the last step); record each in ``ops.pipeline_runs``; stop at the first failure. A
    refused lock raises :class:`RunLocked` (one line naming the holder)."""
    records: list[StepRecord] = []
    secrets = ctx.settings.secrets.values()
    holding = holding or cli_holding(ctx)
    with ExitStack() as stack:
        resources = resources or stack.enter_context(Resources(ctx))
        try:  # fail before any source is called when the warehouse cannot be reached or is busy
            warehouse = ctx.warehouse
            stack.enter_context(
                run_lock(
                    warehouse,
                    holding.holder,
                    keep=holding.keep,
                    timeout_setting=holding.timeout_setting,
                    progress=ctx.progress,
                )
            )
            with warehouse.connect():
                pass
        except RunLocked:
            raise
        except Exception as exc:
            raise StepFailed("warehouse", exc, secrets) from exc
        for index, step in enumerate(steps, start=1):
            ctx.progress(f"[{index}/{len(steps)}] {step.name}")
            started = utcnow()
            try:
                result = call_step(step.function, ctx, resources)
                thresholds.check(step.checks, result, ctx.settings)
            except Exception as exc:
                failure = StepFailed(step.name, exc, secrets)
                records.append(
                    StepRecord(
                        ctx.run_id,
                        ctx.as_of,
                        ctx.warehouse.target,
                        getattr(exc, "result", None) or StepResult(step=step.name),  # a step's partial counts
                        "failed",
                        started,
                        utcnow(),
                        error=str(failure),
                    )
                )
                _record_quietly(ctx, records)
                raise failure from exc
            failed_parts = ", ".join(result.failed_parts)
            records.append(
                StepRecord(
                    ctx.run_id,
                    ctx.as_of,
                    ctx.warehouse.target,
                    result,
                    "failed" if failed_parts else "ok",
                    started,
                    utcnow(),
                    error=redact(f"{step.name}: {failed_parts} failed", secrets) if failed_parts else None,
                )
            )
        record_steps(ctx.warehouse, records)
    failure = parts_failure(records)
    if failure is not None:  # the parts that succeeded went all the way; the run still fails, loudly
        raise StepFailed(failure[0], failure[1], secrets)
    return records


def _record_quietly(ctx: RunContext, records: list[StepRecord]) -> None:
    """Metrics of a failed run are written when the warehouse is reachable; never mask the real error."""
    try:
        record_steps(ctx.warehouse, records)
    except Exception as exc:  # the warehouse itself may be what failed
        ctx.progress(f"could not record run metrics: {redact(one_line(exc), ctx.settings.secrets.values())}")
