"""Airflow local settings of Trending Now: dbt imported once in the process that forks the task processes.

Airflow imports ``airflow_local_settings`` when any of its processes starts (``airflow.settings.initialize``
puts the plugins folder on ``sys.path``, then ``import_local_settings``). This file sits at the root of the
plugins folder: MWAA unpacks ``plugins.zip`` into its plugins folder (scripts/mwaa_wheelhouse.py puts the
file in the zip), the local stack of tests/integration/local_stack.py points ``[core] plugins_folder`` here.

Every task runs in a process forked from the one that took it (a LocalExecutor worker forked from the
scheduler, a Celery worker's pool process on MWAA), and every task that runs dbt (a group's producer,
``check_freshness``, a sensor's retry) imported dbt and the warehouse's adapter again: ~1.5 s each on a quiet
machine, which the CLI's one process pays once (bench/bench_dag.py ``--scheduler``). In the processes that
fork tasks (:func:`forks_tasks`) they are imported here, before any fork, and frozen out of the garbage
collector (``gc.freeze``: the forks share those pages instead of copying them when a collection walks them).
Every other Airflow process (the DAG processor, the api-server, the triggerer, the CLI, the tests) imports
nothing more.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

# Airflow copies every public name of this module into ``airflow.settings`` (and takes cluster policies from
# them): none here.
__all__: list[str] = []

# dbt's runner (Cosmos' producer and core.dbt_runner use dbtRunner) and the adapters of the warehouses
# (core.settings_schema: DuckDB in dev, Redshift in staging/prod; dbt-redshift builds on dbt-postgres).
PRELOAD = ("dbt.cli.main", "dbt.adapters.duckdb", "dbt.adapters.postgres", "dbt.adapters.redshift")


def forks_tasks(argv: Sequence[str], executor: str) -> bool:
    """Whether this Airflow process forks task processes: a Celery worker (MWAA), or the scheduler when its
    executor is the LocalExecutor (the local stack; MWAA's schedulers hand tasks to Celery)."""
    command = [arg for arg in argv[1:] if not arg.startswith("-")][:2]
    if command == ["celery", "worker"]:
        return True
    return command[:1] == ["scheduler"] and "LocalExecutor" in executor


def preload(modules: Sequence[str] = PRELOAD) -> list[str]:
    """Import ``modules`` (those installed), then freeze every object so far out of the garbage collector;
    returns the ones imported."""
    import gc
    import importlib

    loaded = []
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError:  # an adapter this installation does not have
            continue
        loaded.append(name)
    gc.freeze()
    return loaded


def _executor() -> str:
    from airflow.configuration import conf

    return str(conf.get("core", "executor", fallback=""))


if forks_tasks(sys.argv, _executor()):
    preload()
