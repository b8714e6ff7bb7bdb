"""How a task turns an Airflow run into a RunContext: the as-of day, the shared run id, the params."""

from __future__ import annotations

import gc
import logging
import os
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from core.config import ConfigError


@pytest.fixture(autouse=True)
def _restore_environ() -> Any:
    """The interceptor writes dbt's variables into the process environment (as a task process does)."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture(autouse=True)
def _end_held_leases() -> Any:
    """A task process's held leases end with the process; here, with the test."""
    yield
    from step_tasks import end_earlier_holds

    end_earlier_holds()


def test_run_id_keeps_airflow_ids_and_bounds_long_ones() -> None:
    from step_tasks import RUN_ID_MAX, run_id_for

    assert run_id_for("scheduled__2026-11-20T00:00:00+00:00") == "scheduled__2026-11-20T00:00:00+00:00"
    long_a, long_b = "manual__" + "x" * 200 + "a", "manual__" + "x" * 200 + "b"
    assert len(run_id_for(long_a)) == RUN_ID_MAX
    assert run_id_for(long_a) != run_id_for(long_b)
    assert run_id_for(long_a) == run_id_for(long_a)
    assert run_id_for("manual run/2026 11 20") == "manual_run_2026_11_20"


def test_as_of_is_the_logical_day_in_the_dag_timezone(make_settings: Callable[..., Any]) -> None:
    """One clock for the CLI and the DAG: the moment's day in airflow.timezone (trending_now.compose.run_day)."""
    from step_tasks import run_moment

    from trending_now.compose import run_day

    midnight_utc = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)
    utc, new_york = make_settings({"airflow.timezone": "UTC"}), make_settings({"airflow.timezone": "America/New_York"})
    assert run_day(utc, run_moment({"logical_date": midnight_utc})) == date(2026, 11, 20)
    assert run_day(new_york, run_moment({"logical_date": midnight_utc})) == date(2026, 11, 19)
    manual = {"logical_date": None, "dag_run": SimpleNamespace(run_after=datetime(2026, 11, 21, 9, 30, tzinfo=UTC))}
    assert run_day(utc, run_moment(manual)) == date(2026, 11, 21)
    with pytest.raises(ValueError, match="neither a logical date"):
        run_moment({"logical_date": None})


def test_build_context_uses_config_then_params(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    from step_tasks import build_context

    monkeypatch.setenv("TRENDING_NOW__RUN__DAYS", "5")
    monkeypatch.setenv("TRENDING_NOW__WAREHOUSE__DUCKDB_PATH", str(tmp_path / "w.duckdb"))
    monkeypatch.setenv("TMDB_API_KEY", "replay")
    airflow_context = {
        "run_id": "scheduled__2026-11-20T00:00:00+00:00",
        "logical_date": datetime(2026, 11, 20, tzinfo=UTC),
        "dag_run": SimpleNamespace(run_after=None, run_id="scheduled__2026-11-20T00:00:00+00:00"),
        "params": {"days": None, "country": "gb", "limit": 3},
    }
    ctx = build_context(airflow_context)
    assert (ctx.as_of, ctx.days, ctx.country_codes, ctx.limit) == (date(2026, 11, 20), 5, ("GB",), 3)
    assert ctx.run_id == "scheduled__2026-11-20T00:00:00+00:00"
    assert ctx.warehouse.duckdb_path == tmp_path / "w.duckdb"
    assert ctx.settings.secrets.get("TMDB_API_KEY") == "replay"


def test_parse_settings_never_reads_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    from dag_settings import DagOptions

    from core.config import parse_settings

    # staging reads secrets from AWS Secrets Manager; parsing the DAG must not call it.
    monkeypatch.setenv("APP_ENV", "staging")
    settings = parse_settings()
    assert settings.env == "staging" and settings.secrets.names() == []
    options = DagOptions(settings)
    assert options.target == "redshift"
    assert options.max_active_tasks == 8
    monkeypatch.setenv("TRENDING_NOW__AIRFLOW__TIMEOUTS_MIN__ENRICH_TITLES", "5")
    assert DagOptions(parse_settings()).timeout("enrich_titles").total_seconds() == 300
    assert DagOptions(parse_settings()).timeout("a_step_added_later").total_seconds() == 30 * 60
    steps = list(options.airflow.timeouts_min)
    grouped = DagOptions(parse_settings().with_overrides({"airflow.timeouts_min.dbt_marts": 9}))
    grouped.check_timeouts([*steps, "dbt_marts.mart_x"])  # a dbt group's tasks go by the group's name
    with pytest.raises(ConfigError, match=r"^settings: airflow.timeouts_min: no task enrich_title in the DAG"):
        DagOptions(parse_settings().with_overrides({"airflow.timeouts_min.enrich_title": 5})).check_timeouts(steps)


def _masked(text: str) -> str:
    from airflow.sdk._shared.secrets_masker.secrets_masker import redact

    return redact(text)


def test_python_tasks_mask_every_secret_the_settings_loaded(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, dotenv_project: Callable[[dict[str, str]], Path]
) -> None:
    """Secrets from .env (not in os.environ) are registered with Airflow's masker when a task loads them."""
    from step_tasks import build_context

    dotenv_project({"GEMINI_API_KEY": "gemini-from-dotenv-0815", "PGPASSWORD": "pg-from-dotenv-0815"})
    monkeypatch.setenv("TRENDING_NOW__WAREHOUSE__DUCKDB_PATH", str(tmp_path / "w.duckdb"))
    airflow_context = {
        "run_id": "manual__x",
        "logical_date": datetime(2026, 11, 20, tzinfo=UTC),
        "params": {},
    }
    ctx = build_context(airflow_context)
    assert ctx.settings.secrets.get("GEMINI_API_KEY") == "gemini-from-dotenv-0815"
    assert _masked("key gemini-from-dotenv-0815 and pg-from-dotenv-0815") == "key *** and ***"


def test_dbt_credentials_reach_dbt_through_the_process_env_masked_never_the_templated_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from dbt_groups import STATIC_DBT_ENV, prepare_warehouse

    monkeypatch.setenv("TRENDING_NOW__WAREHOUSE__DUCKDB_PATH", str(tmp_path / "w.duckdb"))
    monkeypatch.setenv("PGHOST", "db.internal")
    monkeypatch.setenv("PGPASSWORD", "pg-password-4711")
    operator = SimpleNamespace(env=dict(STATIC_DBT_ENV), log=logging.getLogger("test"))
    try:
        prepare_warehouse({}, operator)
        # what exists before dbt starts is left out of Cosmos' gc.collect() after the dbtRunner call
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
    assert operator.env == STATIC_DBT_ENV  # the templated field, rendered and stored by Airflow, is unchanged
    assert os.environ["TRENDING_NOW_DUCKDB_PATH"] == str(tmp_path / "w.duckdb")
    assert _masked("connecting with pg-password-4711") == "connecting with ***"
    assert _masked("host db.internal") == "host db.internal"
    # the raw tables dbt reads exist before dbt starts, as core.dbt_runner.build makes them for the CLI
    import duckdb

    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as conn:
        schemas = {
            r[0]
            for r in conn.execute("select distinct table_schema from information_schema.tables").fetchall()
        }
    assert {"raw_justwatch", "raw_reviews"} <= schemas


def test_no_password_in_rendered_template_fields_before_or_after_execution(
    monkeypatch: pytest.MonkeyPatch, dbt_selection: Any
) -> None:
    """The postgres DAG's dbt producer: render its templates, run the interceptor, render again (Airflow 3
    re-renders after execution for Cosmos): the password never appears in a templated field."""
    import importlib

    monkeypatch.setenv("TRENDING_NOW__DBT__TARGET_PATH", str(dbt_selection.manifest.parent))
    monkeypatch.setenv("TRENDING_NOW__WAREHOUSE__TARGET", "postgres")
    monkeypatch.setenv("PGPASSWORD", "pg-password-rendered-4711")
    monkeypatch.setattr("core.raw_tables.ensure_raw_tables", lambda warehouse: [])  # no server here
    import data_ingestion_trending_now as module
    import step_tasks

    monkeypatch.setattr(step_tasks, "hold_run_lock", lambda *args: None)  # no server here

    dag = importlib.reload(module).dag
    producer = dag.get_task("dbt_marts.dbt_producer_watcher")
    assert producer.profile_config.target_name == "postgres"

    def rendered() -> str:
        return repr({field: getattr(producer, field, None) for field in producer.template_fields})

    before = rendered()
    producer.interceptors[0]({}, producer)
    after = rendered()
    assert os.environ["PGPASSWORD"] == "pg-password-rendered-4711"  # dbt gets it from the process env
    assert "pg-password-rendered-4711" not in before and "pg-password-rendered-4711" not in after


def test_a_dag_run_holds_the_run_lock_from_its_first_writing_task_to_its_report(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The dbt producer's interceptor and every Python task take the lease as the DAG run and keep it, so a
    deploy cannot slip in between two tasks; ``run_report`` releases it."""
    import step_tasks
    from dbt_groups import STATIC_DBT_ENV, prepare_warehouse

    from core.config import load_settings
    from core.run_lock import RunLocked, run_lock
    from core.warehouse import Warehouse
    from trending_now.pipeline import run_steps

    monkeypatch.setenv("TRENDING_NOW__WAREHOUSE__DUCKDB_PATH", str(tmp_path / "w.duckdb"))
    monkeypatch.setenv("TRENDING_NOW__QUALITY__REPORT_DIR", str(tmp_path / "reports"))
    airflow_context = {
        "run_id": "manual__lock",
        "logical_date": datetime(2026, 11, 20, tzinfo=UTC),
        "params": {},
    }
    warehouse = Warehouse(load_settings())

    def deploy_is_refused() -> None:
        with (
            pytest.raises(RunLocked, match=r"\(dag run manual__lock, pid "),
            run_lock(warehouse, "deploy", timeout_s=0),
        ):
            pytest.fail("the deploy took the warehouse in the middle of a DAG run")

    operator = SimpleNamespace(env=dict(STATIC_DBT_ENV), log=logging.getLogger("test"))
    try:
        prepare_warehouse(airflow_context, operator)  # a dbt producer: the lease, before dbt writes
    finally:
        gc.unfreeze()
    deploy_is_refused()
    step_tasks.end_earlier_holds()  # the producer's process ends: its lease is kept
    deploy_is_refused()

    ctx = step_tasks.build_context(airflow_context)
    run_steps(ctx, [], step_tasks.dag_holding(ctx.run_id))  # a Python task of the same run goes on ...
    deploy_is_refused()  # ... and keeps it too
    step_tasks.write_report(airflow_context)  # the run's last task
    with run_lock(warehouse, "deploy", timeout_s=0):
        pass


def test_duckdb_tasks_take_the_file_lock_and_other_warehouses_none(tmp_path: Path) -> None:
    """step_tasks.hold_duckdb_lock: held by this process until it ends, so another process cannot take it."""
    import subprocess
    import sys

    import step_tasks

    duckdb = SimpleNamespace(target="duckdb", duckdb_path=tmp_path / "w" / "trending_now.duckdb")
    held = dict(step_tasks._HELD_LOCKS)
    try:
        step_tasks.hold_duckdb_lock(SimpleNamespace(target="postgres", duckdb_path=duckdb.duckdb_path))
        assert held == step_tasks._HELD_LOCKS and not duckdb.duckdb_path.parent.exists()
        step_tasks.hold_duckdb_lock(duckdb)
        step_tasks.hold_duckdb_lock(duckdb)  # held already by this process (dags test): no deadlock
        lock = tmp_path / "w" / "trending_now.duckdb.tasks.lock"
        probe = (
            "import fcntl, sys\n"
            f"handle = open({str(lock)!r}, 'a+')\n"
            "try:\n    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)\n"
            "except BlockingIOError:\n    sys.exit(3)\n"
        )
        assert subprocess.run([sys.executable, "-c", probe], check=False, timeout=60).returncode == 3
    finally:
        for name in set(step_tasks._HELD_LOCKS) - set(held):
            step_tasks._HELD_LOCKS.pop(name).close()
