"""The DAG in a running Airflow: triggered through the REST API, then its mart, Parquet export and snapshot.

``-m smoke`` selects the read-only checks (safe in production: nothing is triggered): the DAG is registered
and not paused, no import errors, the last finished run succeeded, the mart has rows. The other tests
trigger a run (see conftest.py for the environment variables) and check what it published, its run
report on S3 and its task logs (no ERROR line).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from core.config import PROJECT_ROOT, Settings
from core.dbt_runner import SELECTIONS
from core.files import file_digest
from core.mart_schema import MART_ARROW_SCHEMA, MART_TABLE
from core.warehouse import Warehouse
from publish.snapshot import list_snapshots, pointer_name, restore_snapshot
from reporting.run_report import report_key, report_path, s3_location
from tests.dags.conftest import DAG_ID
from tests.integration.conftest import TEST_TIMEOUT_S, FinishedRun, Target
from trending_now.pipeline import STEP_NAMES

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(TEST_TIMEOUT_S)]

PYTHON_STEPS = [name for name in STEP_NAMES if name not in SELECTIONS]  # each records a row in ops
# in the recorded samples of 2026-11-20: One Battle After Another; Stranger Things
KNOWN_LOCAL_IDS = {"tm1540902", "ts38227"}


def mart_ids(settings: Settings) -> list[str]:
    return [str(r["id"]) for r in Warehouse(settings).fetch_all(f"select id from {MART_TABLE} order by id")]


def step_rows(settings: Settings, ops_run_id: str) -> list[dict[str, Any]]:
    rows = Warehouse(settings).fetch_all(
        "select step, status, as_of, details from ops.pipeline_runs where run_id = ? order by started_at",
        [ops_run_id],
    )
    for row in rows:
        row["details"] = json.loads(row["details"]) if row.get("details") else {}
    return rows


# ---- a triggered run -----------------------------------------------------------------------------------
def test_every_task_of_the_triggered_run_succeeded(triggered_run: FinishedRun) -> None:
    states = {ti["task_id"]: ti["state"] for ti in triggered_run.task_instances}
    assert set(PYTHON_STEPS) <= set(states)
    assert any(task.startswith("dbt_marts.") for task in states), sorted(states)
    # run_failed (trigger rule one_failed) fails the run only when a step failed: a good run skips it
    assert {task: s for task, s in states.items() if s != "success"} == {"run_failed": "skipped"}
    assert triggered_run.run["state"] == "success"


def test_each_python_task_recorded_its_step_under_the_run_id(
    target: Target, triggered_run: FinishedRun
) -> None:
    rows = step_rows(target.settings, triggered_run.ops_run_id)
    assert [r["step"] for r in rows] == PYTHON_STEPS
    assert {r["status"] for r in rows} == {"ok"}
    assert {r["as_of"] for r in rows} == {triggered_run.as_of}


def test_the_mart_has_one_row_per_title(target: Target, triggered_run: FinishedRun) -> None:
    ids = mart_ids(target.settings)
    assert ids and len(ids) == len(set(ids))
    if target.is_local:
        assert set(ids) >= KNOWN_LOCAL_IDS


@pytest.fixture(scope="module")
def restored_export(target: Target, triggered_run: FinishedRun) -> Iterator[Path]:
    """The day's Parquet export as a fresh machine gets it: restored from the DVC remote's manifest."""
    settings = target.dvc_settings
    with tempfile.TemporaryDirectory(prefix="tn-it-restore-") as tmp:
        root = Path(tmp)
        (root / ".dvc").mkdir()
        shutil.copy(PROJECT_ROOT / ".dvc" / "config", root / ".dvc" / "config")
        if settings.get("dvc.remote", "local") == "local":  # the stack's remote, wherever the root is
            settings = settings.with_overrides(
                {"dvc.local_remote_path": str(settings.path("dvc.local_remote_path"))}
            )
        scratch = Settings(data=settings.data, env=settings.env, secrets=settings.secrets, root=root)
        yield restore_snapshot(scratch, triggered_run.as_of)


def test_the_parquet_export_holds_the_mart(
    target: Target, triggered_run: FinishedRun, restored_export: Path
) -> None:
    export = next(
        r for r in step_rows(target.settings, triggered_run.ops_run_id) if r["step"] == "export_parquet"
    )
    table = pq.read_table(restored_export)
    assert table.schema.equals(MART_ARROW_SCHEMA, check_metadata=False)
    assert table.column("id").to_pylist() == mart_ids(target.settings)
    assert file_digest(restored_export) == export["details"]["md5"]
    if target.is_local:  # the file the task wrote is the one DVC restored
        written = target.settings.path("export.dir") / restored_export.name
        assert file_digest(written) == export["details"]["md5"]


def test_the_snapshot_of_the_day_is_on_the_remote(target: Target, triggered_run: FinishedRun) -> None:
    export = next(
        r for r in step_rows(target.settings, triggered_run.ops_run_id) if r["step"] == "export_parquet"
    )
    days = {s.date: s for s in list_snapshots(target.dvc_settings)}
    assert triggered_run.as_of in days, sorted(days)
    snap = days[triggered_run.as_of]
    assert snap.pushed
    assert "remote" in snap.manifest
    assert snap.md5 == export["details"]["md5"]
    assert f"{snap.file}.dvc" == pointer_name(triggered_run.as_of)


def test_the_run_report_was_uploaded(target: Target, triggered_run: FinishedRun) -> None:
    """The run report of the run is next to the DVC data on S3 (or in the report folder when reports stay local)."""
    location = s3_location(target.settings)
    if location is None:
        assert report_path(target.settings, triggered_run.ops_run_id).is_file()
        return
    import boto3

    bucket, prefix = location
    client = boto3.client(
        "s3",
        region_name=str(target.settings.require("aws.region")),
        endpoint_url=target.settings.get("aws.endpoint_url") or None,
    )
    head = client.head_object(
        Bucket=bucket, Key=report_key(prefix, triggered_run.as_of, triggered_run.ops_run_id)
    )
    assert head["ContentLength"] > 0
    assert head["ContentType"].startswith("text/html")


def _error_lines(lines: list[Any]) -> list[str]:
    """The lines of a task log that report an error: a record at level error or critical, or an ``ERROR`` /
    ``Traceback`` line the task wrote to stderr (Airflow 3 records every stderr line at level error under the
    logger ``task.stderr``: the pipeline's progress lines go there)."""
    found = []
    for line in lines:
        record = line if isinstance(line, dict) else {"event": str(line)}
        event = str(record.get("event", ""))
        if record.get("logger") == "task.stderr" or not isinstance(line, dict):
            bad = "ERROR" in event or event.startswith("Traceback")
        else:
            bad = str(record.get("level", "")).lower() in ("error", "critical")
        if bad:
            found.append(event[:300])
    return found


def test_no_task_logged_an_error(target: Target, triggered_run: FinishedRun) -> None:
    errors = {}
    for ti in triggered_run.task_instances:
        if not ti.get("try_number") or ti.get("state") == "skipped":
            continue
        lines = target.api.task_log(
            DAG_ID,
            triggered_run.run["dag_run_id"],
            ti["task_id"],
            int(ti["try_number"]),
            int(ti.get("map_index", -1)),
        )
        if _error_lines(lines):
            errors[ti["task_id"]] = _error_lines(lines)[:3]
    assert errors == {}


# ---- smoke: read-only; last, so that with -m integration the last finished run is the triggered one ----
@pytest.mark.smoke
def test_the_dag_is_registered_and_not_paused(target: Target) -> None:
    dag = target.api.dag(DAG_ID)
    assert dag["dag_id"] == DAG_ID
    assert dag["is_paused"] is False, f"{DAG_ID} is paused on {target.name}"
    assert dag["is_stale"] is False, f"{DAG_ID} is stale on {target.name}: its file is no longer parsed"


@pytest.mark.smoke
def test_no_dag_file_has_import_errors(target: Target) -> None:
    errors = target.api.import_errors()
    assert errors == [], [(e.get("filename"), str(e.get("stack_trace", ""))[-500:]) for e in errors]


@pytest.mark.smoke
def test_the_last_finished_run_succeeded(target: Target) -> None:
    runs = target.api.dag_runs(DAG_ID, limit=1, state=["success", "failed"])
    assert runs, f"{DAG_ID} has no finished run on {target.name}"
    last = runs[0]
    assert last["state"] == "success", f"last finished run {last['dag_run_id']} is {last['state']}"


@pytest.mark.smoke
def test_the_mart_has_rows(target: Target) -> None:
    rows = Warehouse(target.settings).fetch_all(f"select count(*) as n from {MART_TABLE}")
    assert int(rows[0]["n"]) > 0
