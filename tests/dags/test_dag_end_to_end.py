"""``airflow dags test data_ingestion_trending_now 2026-11-20`` end to end, against the replay server.

One run of the whole DAG (real Airflow in a subprocess, SQLite metadata DB, Cosmos rendering every model, the
real clients against the replay server started here, a temporary DuckDB) is compared with the CLI's demo run
for the same day (same code, no Airflow) into another temporary DuckDB; both run at the same time.
A second ``dags test`` with an unwritable warehouse folder checks that a failing task calls the failure
callback, which posts to a real webhook receiver.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import DEMO_AS_OF
from tests.dags.conftest import BIN, DAG_ID, DBT_DIR, AirflowHome, clean_environ
from tests.dags.webhook_receiver import WebhookReceiver
from trending_now.config import PROJECT_ROOT
from trending_now.dbt import SELECTIONS
from trending_now.pipeline import STEP_NAMES

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

MART = "marts.movies_tv_shows_enriched"
# The Python tasks record their step in ops.pipeline_runs (the dbt groups are Cosmos tasks).
DAG_STEPS = [name for name in STEP_NAMES if name not in SELECTIONS]
# One Battle After Another; Stranger Things (listed as a show and through its season 5)
KNOWN_IDS = {"tm1540902", "ts38227"}


def project_root(tmp: Path) -> Path:
    """A throw-away project root: the repo's config, a DVC project, the samples (read-only, symlinked)."""
    from dvc.repo import Repo

    root = tmp / "project"
    shutil.copytree(PROJECT_ROOT / "config", root / "config")
    (root / "data").mkdir(parents=True)
    (root / "data" / "samples").symlink_to(PROJECT_ROOT / "data" / "samples")
    Repo.init(str(root), no_scm=True).close()
    (root / ".dvc" / "config").write_text("[core]\n    remote = local\n", encoding="utf-8")
    return root


def run_env(root: Path, **overrides: str) -> dict[str, str]:
    """Project overrides shared by the Airflow run and the CLI run: everything under ``root``."""
    return {
        "TRENDING_NOW_ROOT": str(root),
        "APP_ENV": "dev",
        "TRENDING_NOW__WAREHOUSE__TARGET": "duckdb",
        "TRENDING_NOW__WAREHOUSE__DUCKDB_PATH": str(root / "warehouse" / "trending_now.duckdb"),
        "TRENDING_NOW__WAREHOUSE__PIPELINES_DIR": str(root / "warehouse" / ".dlt"),
        "TRENDING_NOW__REVIEWS__CACHE_DIR": str(root / "warehouse" / "http-cache"),
        # every "host" of the replay server is 127.0.0.1: the per-host politeness limit only slows the test
        "TRENDING_NOW__REVIEWS__PER_HOST_RPS": "50",
        "TRENDING_NOW__ENRICH__PROVIDER": "heuristic",
        "TRENDING_NOW__DBT__PROJECT_DIR": str(DBT_DIR),
        "TRENDING_NOW__DBT__PROFILES_DIR": str(DBT_DIR),
        "TRENDING_NOW__DBT__LOG_PATH": str(root / "dbt-logs"),
        "TRENDING_NOW__DVC__SITE_CACHE_DIR": str(root / "dvc-site-cache"),
        **overrides,
    }


def read_warehouse(path: Path) -> dict[str, Any]:
    import duckdb

    with duckdb.connect(str(path), read_only=True) as conn:
        mart = conn.execute(f"select * from {MART} order by id").fetchdf()
        runs = conn.execute(
            "select run_id, step, status, as_of, error from ops.pipeline_runs order by started_at"
        ).fetchall()
    return {"mart": mart, "runs": runs}


@dataclass
class DagRun:
    returncode: int
    log: Path
    airflow: dict[str, Any]
    cli: dict[str, Any]
    replay_misses: list[str]

    @property
    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


def _wait(proc: subprocess.Popen[Any], timeout: float) -> int:
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return -9


def _failure_excerpt(log: Path, limit: int = 6000) -> str:
    """The error lines of a task log, else its tail."""
    lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    errors = [line[:400] for line in lines if "[error" in line or "Error" in line or "FAILED" in line]
    return "\n".join(errors)[-limit:] or "\n".join(lines)[-limit:]


@pytest.fixture(scope="module")
def dag_run(airflow_home: AirflowHome) -> Iterator[DagRun]:
    from trending_now.replay import ReplayServer

    with tempfile.TemporaryDirectory(prefix="tn-dag-e2e-") as tmp_name:
        tmp = Path(tmp_name)
        airflow_root, cli_root = project_root(tmp / "airflow"), project_root(tmp / "cli")
        cli_log, airflow_log = tmp / "trending-now-demo.log", tmp / "airflow-dags-test.log"
        cli_env = {
            **clean_environ(),
            **run_env(cli_root, TRENDING_NOW__DBT__TARGET_PATH=str(tmp / "cli-target")),
        }
        with open(cli_log, "w") as cli_out, open(airflow_log, "w") as airflow_out:
            cli = subprocess.Popen(
                [str(BIN / "trending-now"), "demo", "--as-of", DEMO_AS_OF.isoformat()],
                env=cli_env,
                stdout=cli_out,
                stderr=subprocess.STDOUT,
            )
            with ReplayServer(PROJECT_ROOT / "data" / "samples") as server:
                replay = {
                    f"TRENDING_NOW__{key.upper().replace('.', '__')}": value
                    for key, value in server.settings_overrides().items()
                }
                env = airflow_home.env(
                    **run_env(airflow_root, **replay),
                    TMDB_API_KEY="replay",
                    GUARDIAN_API_KEY="replay",
                    # fail fast: retries and their backoff are checked by the integrity test
                    TRENDING_NOW__AIRFLOW__RETRIES="0",
                    TRENDING_NOW__DBT__TARGET_PATH=str(airflow_home.manifest.parent),
                )
                airflow = subprocess.Popen(
                    [str(BIN / "airflow"), "dags", "test", DAG_ID, DEMO_AS_OF.isoformat()],
                    env=env,
                    cwd=str(airflow_home.path),
                    stdout=airflow_out,
                    stderr=subprocess.STDOUT,
                )
                airflow_rc = _wait(airflow, 1500)
                misses = list(server.misses)
            cli_rc = _wait(cli, 1500)
        if cli_rc != 0:
            pytest.fail(f"trending-now demo exited {cli_rc}:\n{_failure_excerpt(cli_log)}")
        output = airflow_log.read_text(encoding="utf-8", errors="replace")
        if airflow_rc != 0 or "state=success" not in output:
            kept = Path(tempfile.mkdtemp(prefix="tn-dag-e2e-log-")) / airflow_log.name
            shutil.copy(airflow_log, kept)
            pytest.fail(
                f"airflow dags test exited {airflow_rc} (log kept at {kept}):\n{_failure_excerpt(airflow_log)}"
            )
        run = DagRun(
            returncode=airflow_rc,
            log=airflow_log,
            airflow=read_warehouse(airflow_root / "warehouse" / "trending_now.duckdb"),
            cli=read_warehouse(cli_root / "warehouse" / "trending_now.duckdb"),
            replay_misses=misses,
        )
        yield run


def test_every_task_succeeded(dag_run: DagRun) -> None:
    out = dag_run.output
    assert dag_run.returncode == 0
    assert "DagRun Finished" in out and "state=success" in out
    assert "new_state=failed" not in out


def test_the_mart_matches_the_cli_run_for_the_same_day(dag_run: DagRun) -> None:
    airflow_mart, cli_mart = dag_run.airflow["mart"], dag_run.cli["mart"]
    assert len(airflow_mart) > 0
    assert len(airflow_mart) == len(cli_mart)
    assert list(airflow_mart.columns) == list(cli_mart.columns)
    assert list(airflow_mart["id"]) == list(cli_mart["id"])
    assert set(airflow_mart["id"]) >= KNOWN_IDS
    stable = [c for c in airflow_mart.columns if "timestamp" not in c and not c.endswith("_at")]
    assert airflow_mart[stable].equals(cli_mart[stable])


def test_each_python_task_recorded_its_step_under_the_airflow_run_id(dag_run: DagRun) -> None:
    runs = dag_run.airflow["runs"]
    assert [r[1] for r in runs] == DAG_STEPS
    assert {r[2] for r in runs} == {"ok"}
    run_ids = {r[0] for r in runs}
    assert len(run_ids) == 1 and next(iter(run_ids)).startswith("manual__")
    assert {r[3] for r in runs} == {DEMO_AS_OF}


def test_the_replay_server_answered_every_justwatch_request(dag_run: DagRun) -> None:
    assert not [m for m in dag_run.replay_misses if "/justwatch/" in m]


def test_a_failing_task_calls_the_failure_webhook(airflow_home: AirflowHome, tmp_path: Path) -> None:
    root = project_root(tmp_path)
    with WebhookReceiver() as hook:
        proc = airflow_home.run(
            "dags",
            "test",
            DAG_ID,
            DEMO_AS_OF.isoformat(),
            timeout=600,
            **run_env(
                root,
                # /proc does not take new folders: the run lock cannot be created, the first step fails
                TRENDING_NOW__WAREHOUSE__PIPELINES_DIR="/proc/trending-now-unwritable",
                TRENDING_NOW__AIRFLOW__RETRIES="0",
                TRENDING_NOW__AIRFLOW__FAILURE_WEBHOOK_URL=hook.url,
            ),
        )
    assert proc.returncode != 0, proc.stdout[-3000:]
    assert len(hook.posts) == 1, (hook.posts, proc.stdout[-3000:], proc.stderr[-3000:])
    path, body = hook.posts[0]
    assert path == "/hooks/airflow"
    assert body["event"] == "task_failed"
    assert (body["dag_id"], body["task_id"]) == (DAG_ID, "extract_releases")
    assert body["run_id"].startswith("manual__")
    assert body["logical_date"].startswith(DEMO_AS_OF.isoformat())
    assert (body["try_number"], body["max_tries"]) == (1, 0)
    assert "trending-now-unwritable" in body["error"]
    assert not (root / "warehouse" / "trending_now.duckdb").exists()  # nothing downstream ran
