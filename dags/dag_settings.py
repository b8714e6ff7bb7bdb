"""Parse-time options of the Trending Now DAG, read from the project settings once.

The scheduler parses DAG files every few seconds, so parsing must be cheap and must not call a secrets
store: the options come from :func:`core.config.parse_settings` (the one settings loader, without
secrets). Tasks load the full settings (with secrets) when they run.

Keys read from the ``airflow`` section (``core.settings_schema.AirflowSection``; every default in
``config/base.yaml``): ``llm_pool``, ``retries``, ``retry_delay_s``, ``max_retry_delay_s``, ``timeout_min``,
``timeouts_min.<task>``, ``max_active_tasks``, ``timezone``, ``dbt_execution_mode``.
Cosmos reads the manifest from ``<dbt.target_path>/manifest.json`` (default ``dbt_project/target/manifest.json``,
written by ``make manifest``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from core.config import ConfigError, Settings
from core.dbt_relations import dbt_folder
from core.settings_schema import AirflowSection


@dataclass(frozen=True)
class DagOptions:
    """Everything the DAG file needs at parse time, resolved from the settings once."""

    settings: Settings

    @property
    def airflow(self) -> AirflowSection:
        return self.settings.typed.airflow

    @property
    def target(self) -> str:
        return self.settings.typed.warehouse.target

    @property
    def llm_pool(self) -> str:
        return self.airflow.llm_pool

    @property
    def retries(self) -> int:
        return self.airflow.retries

    @property
    def retry_delay(self) -> timedelta:
        return timedelta(seconds=self.airflow.retry_delay_s)

    @property
    def max_retry_delay(self) -> timedelta:
        return timedelta(seconds=self.airflow.max_retry_delay_s)

    @property
    def max_active_tasks(self) -> int:
        """Tasks of a run at once, on every warehouse. On DuckDB (one process per file) the tasks that open
        the file never overlap anyway: the steps and the dbt producers run one after the other (the chain),
        the only tasks that run side by side are a dbt group's sensors, which read XComs, and any of them
        that runs dbt (a retry), like the run report, first takes the file's task lock
        (``step_tasks.hold_duckdb_lock``)."""
        return self.airflow.max_active_tasks

    @property
    def dbt_execution_mode(self) -> str:
        """``watcher`` (one ``dbt build`` per group, a sensor per node) or ``local`` (one dbt run per node).

        ``local`` is the fallback should Cosmos' watcher mode (experimental) misbehave, and the baseline of
        bench/bench_dag.py.
        """
        return self.airflow.dbt_execution_mode

    @property
    def timezone(self) -> str:
        return self.airflow.timezone

    def check_timeouts(self, task_ids: Iterable[str]) -> None:
        """Refuse an ``airflow.timeouts_min`` key that names no task of the DAG (a dbt group by its name)."""
        known = {task_id.split(".")[0] for task_id in task_ids}
        unknown = sorted(set(self.airflow.timeouts_min) - known)
        if unknown:
            raise ConfigError(
                f"settings: airflow.timeouts_min: no task {', '.join(unknown)} in the DAG "
                f"(tasks: {', '.join(sorted(known))})"
            )

    def timeout(self, task: str) -> timedelta:
        """``airflow.timeouts_min.<task>``, else ``airflow.timeout_min`` (a new step needs no entry)."""
        return timedelta(minutes=self.airflow.timeouts_min.get(task, self.airflow.timeout_min))

    @property
    def dbt_project_dir(self) -> Path:
        return self.settings.path("dbt.project_dir")

    @property
    def dbt_profiles_yml(self) -> Path:
        return self.settings.path("dbt.profiles_dir") / "profiles.yml"

    @property
    def dbt_manifest(self) -> Path:
        """``<dbt.target_path>/manifest.json``, the same target folder ``core.dbt_runner`` writes to."""
        return dbt_folder(self.settings, "target") / "manifest.json"
