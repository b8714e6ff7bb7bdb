"""``airflow dags test data_ingestion_trending_now 2026-11-20`` end to end, against the replay server.

One run of the whole DAG (real Airflow in a subprocess, SQLite metadata DB, Cosmos rendering every model, the
real clients against the replay server started here, a temporary DuckDB) is compared with the CLI's demo run
for the same day (same code, no Airflow) into another temporary DuckDB; both run at the same time.
Meanwhile the DAG's task sequence runs once more with every task in its own fresh checkout (own working
dir, dlt pipelines dir, dbt target, DVC cache), as separate MWAA workers would, sharing only one DuckDB and one
DVC remote: it must give the CLI's mart and export, and a snapshot of exactly the exported bytes.
A second ``dags test`` with an unwritable warehouse folder checks that a failing task calls the failure
callback, which posts to a real webhook receiver.

This module is ``make test``'s one end-to-end DAG run (tests/integration is CD's, against a deployed Airflow).
No wall-clock limit is asserted; the subprocess limits (1500 s) are a safety net far above the ~2-4 min a run
takes on 2 shared cores, and a failure names the failing task from the log.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from core.config import PROJECT_ROOT
from core.dbt_runner import SELECTIONS
from tests.conftest import DEMO_AS_OF
from tests.dags.conftest import BIN, DAG_ID, DAGS_DIR, DBT_DIR, AirflowHome, clean_environ
from tests.dags.webhook_receiver import WebhookReceiver
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
    cli_root: Path
    separate: dict[str, Any]  # the DAG's tasks, each on its own fresh worker
    separate_remote: Path

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


def _unfinished_tasks(log: Path) -> list[str]:
    """Tasks ``airflow dags test`` started and never ended: what a run that hit its limit was stuck in."""
    text = log.read_text(encoding="utf-8", errors="replace")
    started = re.findall(r"\[DAG TEST\] starting task_id=(\S+)", text)
    ended = re.findall(r"\[DAG TEST\] end task task_id=(\S+)", text)
    return [task for task in dict.fromkeys(started) if started.count(task) > ended.count(task)]


def _failure_excerpt(log: Path, limit: int = 6000) -> str:
    """The error lines of a task log, else its tail."""
    lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    errors = [line[:400] for line in lines if "[error" in line or "Error" in line or "FAILED" in line]
    return "\n".join(errors)[-limit:] or "\n".join(lines)[-limit:]


# ---- the DAG's tasks as separate workers run them ------------------------------------------------------
# One task of the DAG in a fresh process: what dags/data_ingestion_trending_now.py runs for a Python step
# (a dbt step runs the same `dbt build --select <core.dbt_runner.SELECTIONS[step]>` as the Cosmos producer).
TASK = """
import json, sys
from datetime import UTC, datetime
sys.path.insert(0, sys.argv[2])
from step_tasks import run_step
context = {"run_id": "manual__separate_workers", "logical_date": datetime(2026, 11, 20, tzinfo=UTC), "params": {}}
print(json.dumps(run_step(sys.argv[1], context)))
"""


def _parquet_without_timestamps(path: Path) -> Any:
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    return table.drop([c for c in table.column_names if "timestamp" in c or c.endswith("_at")])


def run_on_separate_workers(tmp: Path, replay: dict[str, str]) -> Path:
    """Each task of the DAG in its own fresh checkout (own working dir, dlt pipelines dir, dbt target, DVC cache),
    as on MWAA's workers: only the warehouse and the remote (under the returned folder) are shared."""
    from trending_now.pipeline import STEPS

    shared = tmp / "shared"
    for index, step in enumerate(STEPS):
        worker = tmp / f"worker-{index}-{step.name}"
        root = project_root(worker)
        env = {
            **clean_environ(),
            **run_env(root, **replay),
            "TRENDING_NOW__WAREHOUSE__DUCKDB_PATH": str(shared / "trending_now.duckdb"),
            "TRENDING_NOW__DVC__LOCAL_REMOTE_PATH": str(shared / "dvc-remote"),
            "TRENDING_NOW__DBT__TARGET_PATH": str(worker / "dbt-target"),
            "TMDB_API_KEY": "replay",
            "GUARDIAN_API_KEY": "replay",
        }
        try:
            proc = subprocess.run(
                [sys.executable, "-c", TASK, step.name, str(DAGS_DIR)],
                env=env,
                cwd=root,
                capture_output=True,
                text=True,
                timeout=900,  # a safety net far above the seconds a task takes
                check=False,
            )
        except subprocess.TimeoutExpired:
            pytest.fail(f"{step.name} on its own worker still running after 900 s")
        if proc.returncode != 0:
            pytest.fail(f"{step.name} on its own worker exited {proc.returncode}:\n{proc.stderr[-3000:]}")
    return shared


@pytest.fixture(scope="module")
def dag_run(airflow_home: AirflowHome) -> Iterator[DagRun]:
    from core.replay import ReplayServer

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
                # meanwhile (a third of the CPU it would take after), the same tasks on separate workers
                try:
                    shared = run_on_separate_workers(tmp / "separate", replay)
                except BaseException:
                    for proc in (airflow, cli):
                        proc.kill()
                        proc.wait()
                    raise
                airflow_rc = _wait(airflow, 1500)
                misses = list(server.misses)
            cli_rc = _wait(cli, 1500)
        if cli_rc != 0:
            pytest.fail(f"trending-now demo exited {cli_rc}:\n{_failure_excerpt(cli_log)}")
        output = airflow_log.read_text(encoding="utf-8", errors="replace")
        if airflow_rc != 0 or "state=success" not in output:
            kept = Path(tempfile.mkdtemp(prefix="tn-dag-e2e-log-")) / airflow_log.name
            shutil.copy(airflow_log, kept)
            stuck = (
                f"; killed at its limit while running {_unfinished_tasks(airflow_log)}"
                if airflow_rc == -9
                else ""
            )
            pytest.fail(
                f"airflow dags test exited {airflow_rc}{stuck} (log kept at {kept}):\n{_failure_excerpt(airflow_log)}"
            )
        run = DagRun(
            returncode=airflow_rc,
            log=airflow_log,
            airflow=read_warehouse(airflow_root / "warehouse" / "trending_now.duckdb"),
            cli=read_warehouse(cli_root / "warehouse" / "trending_now.duckdb"),
            replay_misses=misses,
            cli_root=cli_root,
            separate=read_warehouse(shared / "trending_now.duckdb"),
            separate_remote=shared / "dvc-remote",
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
                # /proc does not take new folders: the DuckDB file's run lock cannot be created, the first
                # step fails before it calls any source
                TRENDING_NOW__WAREHOUSE__DUCKDB_PATH="/proc/trending-now-unwritable/trending_now.duckdb",
                TRENDING_NOW__AIRFLOW__RETRIES="0",
                TRENDING_NOW__AIRFLOW__FAILURE_WEBHOOK_URL=hook.url,
            ),
        )
    assert proc.returncode != 0, proc.stdout[-3000:]
    assert len(hook.posts) == 1, (hook.posts, proc.stdout[-3000:], proc.stderr[-3000:])
    path, body = hook.posts[0]
    fields = ("event", "dag_id", "task_id", "try_number", "max_tries")
    assert (path, {f: body[f] for f in fields}) == ("/hooks/airflow", {
        "event": "task_failed", "dag_id": DAG_ID, "task_id": "extract_releases", "try_number": 1, "max_tries": 0})
    assert body["run_id"].startswith("manual__")
    assert body["logical_date"].startswith(DEMO_AS_OF.isoformat())
    assert "trending-now-unwritable" in body["error"]
    assert not (root / "warehouse" / "trending_now.duckdb").exists()  # nothing downstream ran


def test_the_dags_tasks_on_separate_workers_give_the_clis_mart_export_and_snapshot(dag_run: DagRun) -> None:
    """Each task in its own fresh checkout, only the warehouse and the remote shared: the CLI's mart and
    export, and the snapshot holds exactly the exported bytes."""
    from publish.export import export_path
    from publish.snapshot import Pointer, pointer_name

    separate, remote = dag_run.separate, dag_run.separate_remote
    stable = [c for c in separate["mart"].columns if "timestamp" not in c and not c.endswith("_at")]
    assert len(separate["mart"]) == len(dag_run.cli["mart"]) > 0
    assert separate["mart"][stable].equals(dag_run.cli["mart"][stable])

    name = export_path(Path(), DEMO_AS_OF).name
    staged = remote / "exports" / name
    pointer = Pointer.parse((remote / "manifests" / pointer_name(DEMO_AS_OF)).read_text(), "manifest")
    assert pointer.md5 == (remote / "exports" / f"{name}.md5").read_text()  # the snapshot took the export
    assert (remote / "files" / "md5" / pointer.md5[:2] / pointer.md5[2:]).read_bytes() == staged.read_bytes()
    cli_export = dag_run.cli_root / "data" / "exports" / name
    assert _parquet_without_timestamps(staged).equals(_parquet_without_timestamps(cli_export))
