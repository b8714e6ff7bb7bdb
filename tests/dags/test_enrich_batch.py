"""The DAG's ``enrich_titles`` task in batch mode: submit, defer to the trigger, resume and harvest.

The operator and the trigger run as Airflow runs them (``execute`` raises ``TaskDeferred``; the trigger is
serialised, re-imported from its class path and run in an event loop; ``execute_complete`` resumes),
with the real google-genai SDK (sync and async clients) against the local Gemini fake.
"""

from __future__ import annotations

import asyncio
import importlib
import os
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from core.config import load_settings
from core.warehouse import Warehouse
from tests.enrich.conftest import input_row, seed_inputs
from tests.fakes.gemini_server import FakeGemini


@pytest.fixture(autouse=True)
def _restore_environ() -> Any:
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture
def batch_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    with FakeGemini() as fake:
        env = {
            "APP_ENV": "dev",
            "GEMINI_API_KEY": "test-key-not-real",
            "TRENDING_NOW__ENRICH__PROVIDER": "gemini",
            "TRENDING_NOW__ENRICH__MODE": "batch",
            "TRENDING_NOW__ENRICH__BASE_URL": fake.base_url,
            "TRENDING_NOW__ENRICH__BATCH__POLL_INTERVAL_S": "0",
            "TRENDING_NOW__WAREHOUSE__TARGET": "duckdb",
            "TRENDING_NOW__WAREHOUSE__DUCKDB_PATH": str(tmp_path / "w.duckdb"),
            "TRENDING_NOW__WAREHOUSE__PIPELINES_DIR": str(tmp_path / ".dlt"),
            "TRENDING_NOW__DVC__LOCAL_REMOTE_PATH": str(tmp_path / "remote"),
        }
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        settings = load_settings()
        seed_inputs(settings, [input_row(i) for i in range(4)])
        yield fake, settings


def airflow_context(run_id: str = "scheduled__2026-11-20T00:00:00+00:00") -> dict[str, Any]:
    return {
        "run_id": run_id,
        "logical_date": datetime(2026, 11, 20, tzinfo=UTC),
        "dag_run": SimpleNamespace(run_after=None, run_id=run_id),
        "params": {},
    }


def run_trigger(trigger: Any) -> dict[str, Any]:
    classpath, kwargs = trigger.serialize()
    module, name = classpath.rsplit(".", 1)
    revived = getattr(importlib.import_module(module), name)(**kwargs)  # as the triggerer rebuilds it

    async def first_event() -> Any:
        async for event in revived.run():
            return event.payload
        return None

    return asyncio.run(first_event())


def test_the_task_defers_while_the_batch_runs_then_harvests_it(batch_env: Any) -> None:
    from airflow.sdk.exceptions import TaskDeferred
    from enrich_batch import EnrichTitlesOperator

    fake, settings = batch_env
    operator = EnrichTitlesOperator(task_id="enrich_titles")
    with pytest.raises(TaskDeferred) as deferred:
        operator.execute(airflow_context())
    assert fake.batch.created == ["batches/fakebatch00001"]
    assert deferred.value.method_name == "execute_complete"
    assert deferred.value.trigger.serialize()[1] == {
        "names": ["batches/fakebatch00001"],
        "poll_interval_s": 0.0,
    }

    with pytest.raises(TaskDeferred):  # a retry of the task re-attaches: no second batch
        operator.execute(airflow_context())
    assert len(fake.batch.created) == 1

    event = run_trigger(deferred.value.trigger)
    assert event == {"status": "done", "states": {"batches/fakebatch00001": "SUCCEEDED"}}
    assert fake.batch.gets >= 2  # the trigger polled until the batch ended

    result = operator.execute_complete(airflow_context(), event)
    check_harvested(result, fake, settings)


def check_harvested(result: dict[str, Any], fake: Any, settings: Any) -> None:
    """The completed task harvested the one batch: four rows ok, the step recorded once."""
    assert (result["rows_out"], result["step"]) == (4, "enrich_titles")
    assert len(fake.batch.created) == 1
    rows = Warehouse(settings).fetch_all("select status from raw_enrichment.title_enrichments")
    assert [r["status"] for r in rows] == ["ok"] * 4
    recorded = Warehouse(settings).fetch_all("select step, status from ops.pipeline_runs")
    assert recorded == [{"step": "enrich_titles", "status": "ok"}]


def test_the_trigger_reports_a_refused_key_in_one_event(batch_env: Any) -> None:
    from enrich_batch import GeminiBatchTrigger

    fake, _ = batch_env
    fake.revoked_keys.add("test-key-not-real")
    event = run_trigger(GeminiBatchTrigger(["batches/fakebatch00001"], 0))
    assert event["status"] == "error" and "API key" in event["message"]


def test_sync_mode_runs_the_step_without_deferring(batch_env: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from enrich_batch import EnrichTitlesOperator

    fake, _ = batch_env
    monkeypatch.setenv("TRENDING_NOW__ENRICH__MODE", "sync")
    result = EnrichTitlesOperator(task_id="enrich_titles").execute(airflow_context())
    assert result["rows_out"] == 4 and fake.batch.created == []


def test_the_dags_enrich_task_is_the_deferrable_operator_in_the_llm_pool() -> None:
    from data_ingestion_trending_now import dag
    from enrich_batch import EnrichTitlesOperator

    task = dag.get_task("enrich_titles")
    assert isinstance(task, EnrichTitlesOperator) and task.pool == "llm_pool"
    assert task.retries == 2 and task.execution_timeout is not None


ENRICH_ONLY_DAG = """
import sys
sys.path.insert(0, {dags!r})
import pendulum
from airflow.sdk import DAG
from enrich_batch import EnrichTitlesOperator

with DAG(dag_id="enrich_only", schedule=None, start_date=pendulum.datetime(2026, 11, 1, tz="UTC"), catchup=False):
    EnrichTitlesOperator(task_id="enrich_titles")
"""


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_real_airflow_defers_the_task_runs_the_trigger_and_resumes_it(batch_env: Any, tmp_path: Path) -> None:
    """``airflow dags test`` (a subprocess, SQLite metadata DB) runs the deferral for real: TaskDeferred, the
    trigger rebuilt from its serialised form and run to its event, then ``execute_complete``."""
    import subprocess

    from tests.dags.conftest import BIN, DAGS_DIR, clean_environ

    fake, settings = batch_env
    dags, home = tmp_path / "dags", tmp_path / "airflow-home"
    dags.mkdir()
    (dags / "enrich_only.py").write_text(ENRICH_ONLY_DAG.format(dags=str(DAGS_DIR)), encoding="utf-8")
    env = clean_environ() | {k: v for k, v in os.environ.items() if k.startswith("TRENDING_NOW__")}
    env |= {
        "APP_ENV": "dev",
        "GEMINI_API_KEY": "test-key-not-real",
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    }

    def airflow(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BIN / "airflow"), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
            cwd=str(tmp_path),
        )

    migrated = airflow("db", "migrate")
    assert migrated.returncode == 0, migrated.stderr[-3000:]
    proc = airflow("dags", "test", "enrich_only", "2026-11-20")
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-5000:]
    assert fake.batch.created == ["batches/fakebatch00001"]  # submitted once, then waited for in the trigger
    assert fake.batch.gets >= 3  # the trigger's polls, then the resumed task's harvest
    rows = Warehouse(settings).fetch_all("select status from raw_enrichment.title_enrichments")
    assert [r["status"] for r in rows] == ["ok"] * 4
