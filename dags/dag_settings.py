"""Parse-time options of the Trending Now DAG, read from the project settings once.

The scheduler parses DAG files every few seconds, so parsing must be cheap and must not call a secrets
store: the options come from :func:`core.config.parse_settings` (the one settings loader, without
secrets). Tasks load the full settings (with secrets) when they run.

Keys read from the ``airflow`` section (defaults in ``config/base.yaml``): ``llm_pool``, ``retries``,
``retry_delay_s``, ``max_retry_delay_s``, ``timeouts_min.<task>``, ``max_active_tasks``, ``timezone``.
Cosmos reads the manifest from ``<dbt.target_path>/manifest.json`` (default ``dbt_project/target/manifest.json``,
written by ``make manifest``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from core.config import Settings

# Per-task execution timeouts in minutes when ``airflow.timeouts_min.<task>`` does not set one; a step
# without an entry gets DEFAULT_TIMEOUT_MIN (a new step needs no edit here).
DEFAULT_TIMEOUT_MIN = 30
TIMEOUTS_MIN: dict[str, int] = {
    "extract_releases": 30,
    "extract_reviews": 60,
    "enrich_titles": 120,
    "validate_mart": 20,
    "export_parquet": 15,
    "snapshot_dvc": 15,
}


@dataclass(frozen=True)
class DagOptions:
    """Everything the DAG file needs at parse time, resolved from the settings once."""

    settings: Settings

    def airflow(self, key: str) -> Any:
        return self.settings.require(f"airflow.{key}")

    @property
    def target(self) -> str:
        return str(self.settings.require("warehouse.target")).lower()

    @property
    def llm_pool(self) -> str:
        return str(self.airflow("llm_pool"))

    @property
    def retries(self) -> int:
        return int(self.settings.require("airflow.retries"))

    @property
    def retry_delay(self) -> timedelta:
        return timedelta(seconds=float(self.airflow("retry_delay_s")))

    @property
    def max_retry_delay(self) -> timedelta:
        return timedelta(seconds=float(self.airflow("max_retry_delay_s")))

    @property
    def max_active_tasks(self) -> int:
        """Tasks of a run at once, on every warehouse. On DuckDB (one process per file) the tasks that open
        the file never overlap anyway: the steps and the dbt producers run one after the other (the chain),
        the only tasks that run side by side are a dbt group's sensors, which read XComs, and any of them
        that runs dbt (a retry), like the run report, first takes the file's task lock
        (``step_tasks.hold_duckdb_lock``)."""
        return int(self.airflow("max_active_tasks"))

    @property
    def dbt_execution_mode(self) -> str:
        """``watcher`` (one ``dbt build`` per group, a sensor per node) or ``local`` (one dbt run per node).

        ``local`` is the fallback should Cosmos' watcher mode (experimental) misbehave, and the baseline of
        bench/bench_dag.py.
        """
        mode = str(self.settings.get("airflow.dbt_execution_mode")).lower()
        if mode not in ("watcher", "local"):
            raise ValueError(f"airflow.dbt_execution_mode={mode!r} is not 'watcher' or 'local'")
        return mode

    @property
    def timezone(self) -> str:
        return str(self.airflow("timezone"))

    def timeout(self, task: str) -> timedelta:
        minutes = self.settings.get(
            f"airflow.timeouts_min.{task}", TIMEOUTS_MIN.get(task, DEFAULT_TIMEOUT_MIN)
        )
        return timedelta(minutes=float(minutes))

    @property
    def dbt_project_dir(self) -> Path:
        return self.settings.path("dbt.project_dir")

    @property
    def dbt_profiles_yml(self) -> Path:
        return self.settings.path("dbt.profiles_dir") / "profiles.yml"

    @property
    def dbt_manifest(self) -> Path:
        """``<dbt.target_path>/manifest.json``, the same target folder ``core.dbt_runner`` writes to."""
        target = (
            self.settings.path("dbt.target_path")
            if self.settings.get("dbt.target_path")
            else (self.dbt_project_dir / "target")
        )
        return target / "manifest.json"
