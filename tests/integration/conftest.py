"""Integration tests against a running Airflow: a deployed environment, or a local stack started here.

Deployed (staging/prod, as CD runs them): ``TRENDING_NOW_AIRFLOW_URL`` plus ``TRENDING_NOW_AIRFLOW_TOKEN``
or ``TRENDING_NOW_AIRFLOW_USER``/``TRENDING_NOW_AIRFLOW_PASSWORD``; ``APP_ENV`` selects the project settings
(warehouse, DVC remote, secrets) the checks read with. Optional: ``TRENDING_NOW_IT_LOGICAL_DATE``
(``YYYY-MM-DD``; default: a manual run "now"), ``TRENDING_NOW_IT_CONF`` (JSON run params, e.g.
``{"limit": 20}``), ``TRENDING_NOW_IT_TIMEOUT_S`` (default 3600), ``TRENDING_NOW_IT_POLL_S`` (default 15).

These are CD's tests (``-m integration`` / ``-m smoke``): without ``TRENDING_NOW_AIRFLOW_URL`` nothing here is
collected, so ``make test`` does not run them (its one end-to-end DAG run is tests/dags/test_dag_end_to_end.py,
``airflow dags test``, which covers the same ground in a fraction of the time).

Local, on request (``TRENDING_NOW_IT_LOCAL=1``, no URL): a real Airflow 3 (api-server, scheduler,
dag-processor; SQLite, LocalExecutor) on a free port of 127.0.0.1 runs the DAG for 2026-11-20 against the
replay server into a throw-away project root with a temporary DuckDB. Its wall-clock limit
(``TRENDING_NOW_IT_TIMEOUT_S``, default 1800 s) is a safety net with a wide margin, not a speed check; when
it is hit, the failure names the tasks still running and the slowest ones.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from core.config import PROJECT_ROOT, Settings, load_settings
from tests.conftest import DEMO_AS_OF
from tests.dags.conftest import BIN, DAG_ID, DAGS_DIR, DBT_DIR, clean_environ
from tests.integration.airflow_api import AirflowApi, AirflowApiError, Credentials

# Read once, before the autouse fixture of tests/conftest.py strips APP_ENV and TRENDING_NOW__ overrides.
ENVIRON = dict(os.environ)
AIRFLOW_URL = ENVIRON.get("TRENDING_NOW_AIRFLOW_URL", "").strip()
LOCAL_REQUESTED = ENVIRON.get("TRENDING_NOW_IT_LOCAL", "").strip().lower() in ("1", "true", "yes")
# Not collected at all by `make test` (no skips to explain): only for a deployed environment, or on request.
collect_ignore_glob = [] if AIRFLOW_URL or LOCAL_REQUESTED else ["test_*.py"]
LOCAL_TIMEOUT_S = 1800.0
RUN_TIMEOUT_S = float(ENVIRON.get("TRENDING_NOW_IT_TIMEOUT_S") or (3600 if AIRFLOW_URL else LOCAL_TIMEOUT_S))
POLL_S = float(ENVIRON.get("TRENDING_NOW_IT_POLL_S") or 15)  # how often a triggered run's state is read
# pytest-timeout for each test, fixture set-up included: the local stack's start plus the run
TEST_TIMEOUT_S = int(RUN_TIMEOUT_S + 600)


@dataclass
class Target:
    """The Airflow under test and the settings its pipeline writes with."""

    name: str  # "local" or the APP_ENV of the deployed environment
    api: AirflowApi
    settings: Settings  # warehouse the DAG writes (mart, ops.pipeline_runs)
    dvc_settings: Settings  # a DVC project whose remote is the environment's (snapshots, restores)
    local_run: dict[str, Any] | None = None  # the run the local stack was started for
    task_logs: Path | None = None
    diagnostics: list[str] = field(default_factory=list)

    @property
    def is_local(self) -> bool:
        return self.name == "local"


@dataclass(frozen=True)
class FinishedRun:
    run: dict[str, Any]
    task_instances: list[dict[str, Any]]
    as_of: date
    ops_run_id: str  # the id its tasks wrote to ops.pipeline_runs


def _dag_helpers() -> Any:
    import step_tasks  # dags/ is on sys.path (tests/dags/conftest.py)

    return step_tasks


def _parse_ts(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def finished_run(target: Target, run: dict[str, Any]) -> FinishedRun:
    """The run with its task instances; fails the session with the failed tasks' logs unless it succeeded."""
    helpers = _dag_helpers()
    tis = target.api.task_instances(DAG_ID, run["dag_run_id"])
    if run["state"] != "success":
        bad = [f"{ti['task_id']}={ti['state']}" for ti in tis if ti.get("state") != "success"]
        pytest.fail(
            f"DAG run {run['dag_run_id']} ended {run['state']} on {target.name}; tasks not successful: "
            f"{', '.join(bad) or 'none'}\n{failed_task_logs(target, run['dag_run_id'], tis)}"
        )
    from trending_now.compose import run_day

    moment = helpers.run_moment(
        {"logical_date": _parse_ts(run.get("logical_date")), "dag_run": SimpleNamespace(run_after=_parse_ts(run.get("run_after")))}
    )
    as_of = run_day(target.settings, moment)
    return FinishedRun(
        run=run, task_instances=tis, as_of=as_of, ops_run_id=helpers.run_id_for(run["dag_run_id"])
    )


def failed_task_logs(target: Target, run_id: str, tis: list[dict[str, Any]], limit: int = 2500) -> str:
    if target.task_logs is None:
        return ""
    out = []
    failed = {ti["task_id"] for ti in tis if ti.get("state") in ("failed", "upstream_failed", None)}
    for task_id in sorted(failed):
        for log in sorted(target.task_logs.glob(f"dag_id={DAG_ID}/run_id={run_id}/task_id={task_id}/*.log")):
            out.append(f"--- {log.name} of {task_id}:\n{log.read_text(errors='replace')[-limit:]}")
    return "\n".join(out)


def task_time_summary(tis: list[dict[str, Any]]) -> str:
    """How much of a run the tasks themselves took (the rest is scheduling and start-up)."""
    spans = [
        (_parse_ts(ti.get("start_date")), _parse_ts(ti.get("end_date")))
        for ti in tis
        if ti.get("start_date") and ti.get("end_date")
    ]
    busy = sum((end - start).total_seconds() for start, end in spans if start and end)
    return f"{len(tis)} tasks, {busy:.0f} s inside tasks"


# ---- deployed ----------------------------------------------------------------------------------------
def _deployed_target(tmp: Path) -> Target:
    token = ENVIRON.get("TRENDING_NOW_AIRFLOW_TOKEN", "").strip() or None
    user = ENVIRON.get("TRENDING_NOW_AIRFLOW_USER", "").strip() or None
    password = ENVIRON.get("TRENDING_NOW_AIRFLOW_PASSWORD") or None
    if not token and not (user and password):
        pytest.skip(
            "TRENDING_NOW_AIRFLOW_URL is set but neither TRENDING_NOW_AIRFLOW_TOKEN nor "
            "TRENDING_NOW_AIRFLOW_USER/TRENDING_NOW_AIRFLOW_PASSWORD is"
        )
    api = AirflowApi(AIRFLOW_URL, Credentials(username=user, password=password, token=token))
    settings = load_settings(ENVIRON.get("APP_ENV") or "dev", environ=ENVIRON)
    # A scratch DVC project with the repo's .dvc/config: restores land here, never in the checkout.
    (tmp / ".dvc").mkdir(parents=True)
    shutil.copy(PROJECT_ROOT / ".dvc" / "config", tmp / ".dvc" / "config")
    dvc_settings = Settings(data=settings.data, env=settings.env, secrets=settings.secrets, root=tmp)
    return Target(name=settings.env, api=api, settings=settings, dvc_settings=dvc_settings)


# ---- local -------------------------------------------------------------------------------------------
def _local_prerequisites() -> str | None:
    """Why the local stack cannot be started here, if it cannot."""
    for path, what in (
        (BIN / "airflow", "the airflow executable"),
        (BIN / "dbt", "the dbt executable"),
        (DAGS_DIR / f"{DAG_ID}.py", "the DAG file"),
        (DBT_DIR / "dbt_project.yml", "the dbt project"),
        (PROJECT_ROOT / "data" / "samples", "the recorded samples"),
        (PROJECT_ROOT / ".dvc" / "config", "the DVC project config"),
    ):
        if not path.exists():
            return f"{what} ({path}) is missing"
    return None


@pytest.fixture(scope="session")
def target() -> Iterator[Target]:
    with tempfile.TemporaryDirectory(prefix="tn-integration-") as tmp_name:
        tmp = Path(tmp_name)
        if AIRFLOW_URL:
            yield _deployed_target(tmp / "dvc-project")
            return
        reason = _local_prerequisites()
        if reason:
            pytest.skip(
                f"no deployed environment (TRENDING_NOW_AIRFLOW_URL is not set) and the local Airflow "
                f"stack cannot be started: {reason}"
            )
        yield from _local_target(tmp)


def _local_target(tmp: Path) -> Iterator[Target]:
    from core.replay import ReplayServer
    from tests.dags.test_dag_end_to_end import project_root, run_env
    from tests.integration.local_stack import LocalAirflow, LocalStackError

    root = project_root(tmp)
    with ReplayServer(PROJECT_ROOT / "data" / "samples") as server:
        replay = {
            f"TRENDING_NOW__{key.upper().replace('.', '__')}": value
            for key, value in server.settings_overrides().items()
        }
        project_env = {
            **run_env(root, **replay),
            "TMDB_API_KEY": "replay",
            "GUARDIAN_API_KEY": "replay",
            # fail fast: the retry policy is checked by tests/dags
            "TRENDING_NOW__AIRFLOW__RETRIES": "0",
        }
        stack = LocalAirflow(
            home=tmp / "airflow-home",
            target_path=tmp / "dbt-target",
            base_env={**clean_environ(), **project_env},
        )
        settings = load_settings("dev", root=root, environ=stack.env())
        target = Target(
            name="local",
            api=stack.api(),
            settings=settings,
            dvc_settings=settings,
            task_logs=stack.home / "logs",
        )
        try:
            try:
                clock = time.monotonic()
                stack.prepare()
                target.diagnostics.append(f"db migrate + dbt parse {time.monotonic() - clock:.0f} s")
                clock = time.monotonic()
                stack.start()
                api = stack.wait_until_serving(DAG_ID)
                target.diagnostics.append(f"components serving the DAG {time.monotonic() - clock:.0f} s")
                api.ensure_pool(str(settings.get("airflow.llm_pool", "llm_pool")), 2, "LLM calls")
                if api.dag(DAG_ID)["is_paused"]:
                    api.set_paused(DAG_ID, False)
                logical = datetime(DEMO_AS_OF.year, DEMO_AS_OF.month, DEMO_AS_OF.day, tzinfo=UTC)
                clock = time.monotonic()
                run = api.trigger(DAG_ID, logical)
                target.local_run = api.wait_for_run(
                    DAG_ID, run["dag_run_id"], RUN_TIMEOUT_S, alive=stack.dead_component
                )
                target.diagnostics.append(f"DAG run {time.monotonic() - clock:.0f} s")
                target.diagnostics.append(task_time_summary(api.task_instances(DAG_ID, run["dag_run_id"])))
                print("local Airflow stack: " + "; ".join(target.diagnostics))
            except (LocalStackError, AirflowApiError) as exc:
                pytest.fail(f"local Airflow stack: {exc}")
            yield target
        finally:
            stack.stop()  # every component with its process group, whatever happened above


# ---- the run the tests check -----------------------------------------------------------------------------
@pytest.fixture(scope="session")
def triggered_run(target: Target) -> FinishedRun:
    """Local: the run the stack was started for. Deployed: a new run, triggered here and waited for."""
    if target.local_run is not None:
        return finished_run(target, target.local_run)
    day = ENVIRON.get("TRENDING_NOW_IT_LOGICAL_DATE", "").strip()
    logical = datetime.fromisoformat(day).replace(tzinfo=UTC) if day else None
    conf = json.loads(ENVIRON.get("TRENDING_NOW_IT_CONF") or "{}")
    dag = target.api.dag(DAG_ID)
    if dag["is_paused"]:
        pytest.fail(f"{DAG_ID} is paused on {target.name}: a triggered run would never start")
    run = target.api.trigger(DAG_ID, logical, conf)
    done = target.api.wait_for_run(DAG_ID, run["dag_run_id"], RUN_TIMEOUT_S, poll_s=POLL_S)
    return finished_run(target, done)
