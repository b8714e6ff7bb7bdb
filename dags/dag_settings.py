"""Parse-time settings of the Trending Now DAG.

The scheduler parses DAG files every few seconds, so parsing must be cheap and must not call a secrets
store: :func:`parse_settings` merges ``config/base.yaml`` <- ``config/<APP_ENV>.yaml`` <-
``TRENDING_NOW__...`` exactly like :func:`trending_now.config.load_settings` but leaves the secrets empty.
Tasks load the full settings (with secrets) when they run.

Keys read from the ``airflow`` section (all optional; defaults in :data:`DEFAULTS`):
``llm_pool``, ``failure_webhook_url``, ``retries``, ``retry_delay_s``, ``max_retry_delay_s``,
``timeouts_min.<task>``, ``max_active_tasks``, ``timezone``. Cosmos reads the manifest from
``<dbt.target_path>/manifest.json`` (default ``dbt_project/target/manifest.json``, written by ``make manifest``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from trending_now.config import (
    APP_ENVS,
    PROJECT_ROOT,
    ConfigError,
    Settings,
    deep_merge,
    env_overrides,
    read_yaml,
)

DEFAULTS: dict[str, Any] = {
    "llm_pool": "llm_pool",
    "failure_webhook_url": None,
    "retries": 2,
    "retry_delay_s": 120,
    "max_retry_delay_s": 1800,
    "max_active_tasks": 8,
    "timezone": "UTC",
}
# Per-task execution timeouts in minutes (``airflow.timeouts_min.<task>`` overrides one).
TIMEOUTS_MIN: dict[str, int] = {
    "extract_releases": 30,
    "extract_reviews": 60,
    "prepare_raw_tables": 10,
    "dbt_staging_intermediate": 20,  # each Cosmos task (one model run, one test run)
    "enrich_titles": 120,
    "dbt_marts": 30,
    "validate_mart": 20,
    "export_parquet": 15,
    "snapshot_dvc": 15,
}


def parse_settings(environ: dict[str, str] | None = None) -> Settings:
    """Settings without secrets, for DAG parsing and callbacks."""
    environ = dict(os.environ) if environ is None else environ
    root = Path(environ.get("TRENDING_NOW_ROOT") or PROJECT_ROOT)
    env = (environ.get("APP_ENV") or "dev").lower()
    if env not in APP_ENVS:
        raise ConfigError(f"APP_ENV={env!r} is not one of {', '.join(APP_ENVS)}")
    config_dir = root / "config"
    data = deep_merge(read_yaml(config_dir / "base.yaml"), read_yaml(config_dir / f"{env}.yaml"))
    data = deep_merge(data, env_overrides(environ))
    return Settings(data=data, env=env, root=root)


@dataclass(frozen=True)
class DagOptions:
    """Everything the DAG file needs at parse time, resolved from the settings once."""

    settings: Settings

    def airflow(self, key: str) -> Any:
        return self.settings.get(f"airflow.{key}", DEFAULTS.get(key))

    @property
    def target(self) -> str:
        return str(self.settings.get("warehouse.target", "duckdb")).lower()

    @property
    def llm_pool(self) -> str:
        return str(self.airflow("llm_pool"))

    @property
    def retries(self) -> int:
        return int(self.airflow("retries"))

    @property
    def retry_delay(self) -> timedelta:
        return timedelta(seconds=float(self.airflow("retry_delay_s")))

    @property
    def max_retry_delay(self) -> timedelta:
        return timedelta(seconds=float(self.airflow("max_retry_delay_s")))

    @property
    def max_active_tasks(self) -> int:
        # DuckDB allows one writing process per file: Cosmos model tasks must not run side by side.
        return 1 if self.target == "duckdb" else int(self.airflow("max_active_tasks"))

    @property
    def timezone(self) -> str:
        return str(self.airflow("timezone"))

    def timeout(self, task: str) -> timedelta:
        minutes = self.settings.get(f"airflow.timeouts_min.{task}", TIMEOUTS_MIN[task])
        return timedelta(minutes=float(minutes))

    @property
    def dbt_project_dir(self) -> Path:
        return self.settings.path("dbt.project_dir")

    @property
    def dbt_profiles_yml(self) -> Path:
        return self.settings.path("dbt.profiles_dir") / "profiles.yml"

    @property
    def dbt_manifest(self) -> Path:
        """``<dbt.target_path>/manifest.json``, the same target folder ``trending_now.dbt`` writes to."""
        target = (
            self.settings.path("dbt.target_path")
            if self.settings.get("dbt.target_path")
            else (self.dbt_project_dir / "target")
        )
        return target / "manifest.json"
