"""Run pipeline steps inside Airflow tasks: the same ``trending_now.pipeline`` functions the CLI runs.

A task builds its :class:`~core.context.RunContext` with the composition root's one builder
(``trending_now.compose.run_context``, as the CLI does): ``as_of`` is the run's logical date in the DAG's
timezone (``airflow.timezone``: the one clock, :func:`trending_now.compose.run_day`), the window and countries
come from the project config (or the run's params; a mapped extract task gets its one country), and ``run_id``
is derived from Airflow's run id, so every task of one DAG run writes its rows of ``ops.pipeline_runs`` under
the same id.

The run lock (``core.run_lock``): the DAG run is one holder, ``dag run <run id>`` (:func:`lock_holder`). Every
task that writes takes the lease as that holder (re-entrant) and keeps it when it ends, so no deploy or CLI
run slips in between two tasks of the run; ``run_report``, which runs whatever happened, releases it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

RUN_ID_MAX = 64  # ops.pipeline_runs.run_id is varchar(64)
_UNSAFE = re.compile(r"[^A-Za-z0-9_.:+-]")


def run_id_for(airflow_run_id: str) -> str:
    """``scheduled__2026-11-20T00:00:00+00:00`` is kept as is; longer ids are cut and suffixed with a hash."""
    clean = _UNSAFE.sub("_", airflow_run_id)
    if len(clean) <= RUN_ID_MAX:
        return clean
    digest = hashlib.sha1(airflow_run_id.encode("utf-8"), usedforsecurity=False).hexdigest()[:12]
    return f"{clean[: RUN_ID_MAX - 13]}-{digest}"


def run_id_of(airflow_context: Mapping[str, Any]) -> str:
    """The project's run id of the Airflow run a task belongs to."""
    dag_run = airflow_context.get("dag_run")
    return run_id_for(str(airflow_context.get("run_id") or getattr(dag_run, "run_id", "")))


def run_moment(airflow_context: Mapping[str, Any]) -> datetime:
    """The moment the run stands for: its logical date; manual runs without one use ``run_after``."""
    moment = airflow_context.get("logical_date") or getattr(airflow_context.get("dag_run"), "run_after", None)
    if moment is None:
        raise ValueError("the DAG run has neither a logical date nor a run_after time")
    return moment


def _param(params: Mapping[str, Any] | None, name: str) -> Any:
    value = (params or {}).get(name)
    return None if value in (None, "") else value


def loaded_secrets(settings: Any) -> list[str]:
    """Every secret value the settings loaded, plus secret-named variables of the process environment."""
    import os

    from core.config import SECRET_NAMES

    from_env = [os.environ.get(name) or "" for name in SECRET_NAMES]
    return sorted({v for v in [*settings.secrets.values(), *from_env] if len(v) >= 4})


def mask_secrets(settings: Any) -> list[str]:
    """Register every loaded secret with Airflow's masker (``***`` in task logs, task and supervisor)."""
    try:  # Airflow >= 3.1: masks in the task process and tells the supervisor
        from airflow.sdk.log import mask_secret
    except ImportError:  # Airflow 3.0 (MWAA)
        from airflow.sdk.execution_time.secrets_masker import mask_secret

    values = loaded_secrets(settings)
    for value in values:
        mask_secret(value)
    return values


_HELD_LOCKS: dict[str, Any] = {}  # lock file -> its open handle, held until this task's process ends


def hold_duckdb_lock(warehouse: Any) -> None:
    """On DuckDB, wait for the file's task lock and hold it until this task's process ends.

    DuckDB lets one process open a file (to write, or at all while another writes). A dbt group's sensors
    run side by side (``DagOptions.max_active_tasks``) because their first try only reads XComs; a sensor
    whose retry runs dbt for its node, a per-model ``local``-mode task, and the run report (which may start
    while a failed group's other sensors still retry) take this lock first, so they open the file one at a
    time. Other warehouses take nothing. The lock sits beside the DuckDB file (the tasks of a DuckDB run
    share that machine's disk by nature). A process that holds it already (``airflow dags test`` runs every
    task in one process) takes it once.
    """
    if warehouse.target != "duckdb":
        return
    import fcntl

    path = warehouse.duckdb_path.with_name(f"{warehouse.duckdb_path.name}.tasks.lock")
    if str(path) in _HELD_LOCKS:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+")  # noqa: SIM115 (held until the process exits)
    fcntl.flock(handle, fcntl.LOCK_EX)
    _HELD_LOCKS[str(path)] = handle


def load_task_settings() -> Any:
    """The full settings (secrets from ``.env`` or AWS Secrets Manager), their secrets masked at once."""
    from core.config import load_settings

    settings = load_settings()
    mask_secrets(settings)
    return settings


def run_countries(airflow_context: Mapping[str, Any]) -> list[str]:
    """The run's countries: the ``country`` param (one code or a comma-separated list), else
    ``run.countries``; validated (an unknown code fails this task with one line, before any request)."""
    from core.config import parse_settings
    from core.countries import configured_countries, parse_countries

    countries = _param(airflow_context.get("params"), "country")
    if countries is not None:
        return list(parse_countries(countries, where="the country param"))
    return list(configured_countries(parse_settings()))


def build_context(airflow_context: Mapping[str, Any], countries: Sequence[str] | None = None) -> Any:
    """A RunContext for this Airflow run, with the full settings (secrets included and masked), made by the
    composition root's one builder; ``as_of`` is :func:`run_moment`'s day by its one clock.

    ``countries`` (a mapped extract task's one country) overrides the run's: the ``country`` param, else
    ``run.countries``.
    """
    from trending_now.compose import run_context

    params = airflow_context.get("params")
    limit = _param(params, "limit")
    return run_context(
        load_task_settings(),
        moment=run_moment(airflow_context),
        days=_param(params, "days"),
        countries=countries if countries is not None else _param(params, "country"),
        limit=int(limit) if limit is not None else None,
        run_id=run_id_of(airflow_context),
    )


def lock_holder(run_id: str) -> str:
    """The run lock's holder for every task of one DAG run (``run_id`` as :func:`run_id_for` gives it)."""
    return f"dag run {run_id}"


def dag_holding(run_id: str) -> Any:
    """How a task holds the run lock: as its DAG run, kept after the task, waiting ``airflow.lock_timeout_s``."""
    from trending_now.pipeline import Holding

    return Holding(lock_holder(run_id), keep=True, timeout_setting="airflow.lock_timeout_s")


_HELD: list[Any] = []  # the leases this task process holds (their heartbeat renews them until it ends)


def end_earlier_holds() -> None:
    """A worker runs one task per process; where one process runs the tasks in turn (``airflow dags test``), a
    task starts by ending what the one before it held (kept: the DAG run's lease stays)."""
    from contextlib import suppress

    from core.run_lock import LeaseLost

    while _HELD:
        with suppress(LeaseLost):
            _HELD.pop().release()


def hold_run_lock(warehouse: Any, airflow_context: Mapping[str, Any], progress: Any) -> None:
    """Take the DAG run's lease for a task that writes outside :func:`run_step` (a Cosmos dbt producer):
    kept, and renewed until the task's process ends."""
    from core.run_lock import RunLock

    end_earlier_holds()
    holding = dag_holding(run_id_of(airflow_context))
    lock = RunLock(
        warehouse, holding.holder, keep=True, timeout_setting=holding.timeout_setting, progress=progress
    )
    lock.acquire()
    _HELD.append(lock)


def run_step(
    step_name: str, airflow_context: Mapping[str, Any], countries: Sequence[str] | None = None
) -> dict[str, Any]:
    """Run one named step under the run lock (held by the DAG run); returns its counters (pushed to XCom)."""
    import gc

    from trending_now.pipeline import run_steps, steps_named

    # A task's process holds Airflow, the parsed DAG and its Cosmos groups besides the step's own objects; the
    # step's garbage collections (dlt, dbt's parse, Great Expectations allocate a lot) walked them all, which
    # the CLI's process does not carry. Frozen, what exists now is left out of those walks (as
    # dbt_groups.prepare_warehouse does for a producer); the process ends with the task.
    gc.freeze()
    end_earlier_holds()
    ctx = build_context(airflow_context, countries)
    ctx.progress(
        f"run {ctx.run_id} as of {ctx.as_of} ({ctx.days} days, {','.join(ctx.country_codes)}, "
        f"{ctx.warehouse.target})"
    )
    records = run_steps(ctx, steps_named([step_name]), dag_holding(ctx.run_id))
    result = records[-1].result
    return {
        "run_id": ctx.run_id,
        "as_of": ctx.as_of.isoformat(),
        "step": result.step,
        "rows_in": result.rows_in,
        "rows_out": result.rows_out,
        "quarantined": result.quarantined,
        "llm_calls": result.llm.calls,
        "cost_usd": result.llm.cost_usd,
        "duration_s": records[-1].duration_s,
    }


def prepare_enrichment_batches(airflow_context: Mapping[str, Any]) -> tuple[list[str], float, float]:
    """``enrich.mode: batch``: re-attach to the open Gemini batches or submit this run's, under the run lock;
    returns the batch names to wait for ([] in sync mode or when nothing is pending), the poll interval and
    the longest wait (dags/enrich_batch.py)."""
    from core.run_lock import run_lock
    from enrich.batch import prepare_batches
    from trending_now.compose import call_step

    end_earlier_holds()
    ctx = build_context(airflow_context)
    holding = dag_holding(ctx.run_id)  # the DAG run's lease, kept as every writing task keeps it
    with run_lock(
        ctx.warehouse,
        holding.holder,
        keep=holding.keep,
        timeout_setting=holding.timeout_setting,
        progress=ctx.progress,
    ):
        names = call_step(prepare_batches, ctx)  # the batch client: the composition root's, closed after
    batch = ctx.settings.typed.enrich.batch
    return names, batch.poll_interval_s, batch.max_wait_s


def write_report(airflow_context: Mapping[str, Any]) -> str | None:
    """Write the run report (``data/reports/run-<run_id>.html``) and upload it next to the DVC data in
    staging/prod; returns where it is (the S3 URI when uploaded) for the task's XCom and log. Then the DAG run
    releases the run lock its tasks kept."""
    end_earlier_holds()
    ctx = build_context(airflow_context)
    try:
        return _write_report(ctx)
    finally:
        release_run_lock(ctx)


def release_run_lock(ctx: Any) -> None:
    """End the lease the run's tasks kept (a lock that cannot be reached expires on its own)."""
    from core.redact import redact
    from core.run_lock import release

    try:
        if release(ctx.warehouse, lock_holder(ctx.run_id)):
            ctx.progress(f"released the warehouse's run lock of {lock_holder(ctx.run_id)}")
    except Exception as exc:  # the lease then ends run.lock_lease_s after the run's last task
        ctx.progress(f"could not release the run lock: {redact(str(exc), ctx.settings.secrets.values())}")


def _write_report(ctx: Any) -> str | None:
    from core.redact import redact
    from reporting.run_report import report_run

    if ctx.warehouse.target == "duckdb" and not ctx.warehouse.duckdb_path.exists():
        ctx.progress("no run report: the warehouse was never written (the run failed before its first load)")
        return None
    hold_duckdb_lock(ctx.warehouse)
    try:
        path, uri = report_run(ctx.warehouse, ctx.settings, ctx.run_id, ctx.as_of)
    except Exception as exc:  # a report never fails the run nor hides its real failure
        ctx.progress(f"could not write the run report: {redact(str(exc), ctx.settings.secrets.values())}")
        return None
    where = uri or str(path)
    ctx.progress(f"Run report: {where}")
    return where
