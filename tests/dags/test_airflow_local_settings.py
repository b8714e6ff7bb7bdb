"""plugins/airflow_local_settings.py: dbt imported once in the Airflow processes that fork task processes."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from typing import Any

import pytest

from tests.dags.conftest import PLUGINS_DIR, clean_environ


def _local_settings() -> Any:
    spec = importlib.util.spec_from_file_location(
        "tn_local_settings", PLUGINS_DIR / "airflow_local_settings.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # this process is no scheduler: it preloads nothing
    return module


@pytest.mark.parametrize(
    ("argv", "executor", "forks"),
    [
        (["airflow", "scheduler"], "LocalExecutor", True),
        (
            ["/usr/bin/airflow", "scheduler", "--num-runs", "1"],
            "airflow.executors.local_executor.LocalExecutor",
            True,
        ),
        (["airflow", "celery", "worker"], "CeleryExecutor", True),  # MWAA's workers
        (["airflow", "scheduler"], "CeleryExecutor", False),  # MWAA's schedulers hand tasks to Celery
        (["airflow", "dag-processor"], "LocalExecutor", False),
        (["airflow", "api-server"], "LocalExecutor", False),
        (["airflow", "triggerer"], "LocalExecutor", False),
        (["airflow", "dags", "test", "data_ingestion_trending_now"], "LocalExecutor", False),
        (["airflow", "celery", "flower"], "CeleryExecutor", False),
        (["pytest"], "LocalExecutor", False),
    ],
)
def test_only_the_processes_that_fork_tasks_preload(argv: list[str], executor: str, forks: bool) -> None:
    assert _local_settings().forks_tasks(argv, executor) is forks


def test_airflow_imports_it_from_the_plugins_folder_and_a_scheduler_preloads_dbt() -> None:
    """What the local stack's scheduler (and an MWAA worker) does at start: Airflow puts the plugins folder on
    ``sys.path`` and imports ``airflow_local_settings``, which imports dbt; no public name leaks into
    ``airflow.settings``."""
    probe = (
        "import sys; sys.argv = ['airflow', 'scheduler']; import airflow.settings as s; "
        "print('dbt.cli.main' in sys.modules, sys.modules['airflow_local_settings'].__file__, hasattr(s, 'preload'))"
    )
    env = {
        **clean_environ(),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(PLUGINS_DIR),
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
    }
    proc = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.split()[-3:] == ["True", str(PLUGINS_DIR / "airflow_local_settings.py"), "False"]
