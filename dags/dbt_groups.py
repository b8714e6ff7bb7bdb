"""Cosmos configuration for the two dbt task groups of the Trending Now DAG.

The DAG is rendered from ``dbt_project/target/manifest.json`` (``LoadMode.DBT_MANIFEST``: no dbt process at
parse time; ``make manifest`` writes it). Every model becomes a run task followed by its test task.

The groups use the CLI's selections, :data:`trending_now.dbt.SELECT_BEFORE_ENRICH` and ``SELECT_MARTS``
(graph selectors, which Cosmos resolves on the manifest itself); ``tests/dags/test_dag_integrity.py``
checks that Cosmos renders exactly the nodes ``dbt ls`` selects for them.

Warehouse credentials: the DAG file puts only non-secret dbt environment values in the operators' ``env``
(a templated field, visible under "Rendered Template" in the UI). :func:`inject_warehouse_env` is a Cosmos
interceptor that runs in the worker right before dbt starts, after the templated fields were rendered and
stored: it loads the full settings (secrets from ``.env`` or AWS Secrets Manager), adds
``Warehouse.dbt_env()`` (for Redshift/PostgreSQL this includes the password) to the operator's env and
registers the secret values with Airflow's log masker, so they show as ``***`` in task logs.
"""

from __future__ import annotations

from typing import Any

from dag_settings import DagOptions

from trending_now.dbt import EXCLUDE_UNIT_TESTS, SELECT_BEFORE_ENRICH, SELECT_MARTS

__all__ = [
    "SELECT_BEFORE_ENRICH",
    "SELECT_MARTS",
    "dbt_task_group",
    "inject_warehouse_env",
    "prepare_raw_tables",
]
PROFILE_NAME = "trending_now"
# Non-secret variables every dbt invocation gets.
STATIC_DBT_ENV = {"DBT_SEND_ANONYMOUS_USAGE_STATS": "False", "DO_NOT_TRACK": "1"}
_SECRET_ENV_MARKERS = ("PASSWORD", "SECRET", "TOKEN", "KEY")


def inject_warehouse_env(context: Any, operator: Any) -> None:
    """Cosmos interceptor: the warehouse's dbt env (with credentials), resolved at run time and masked."""
    from airflow.sdk.log import mask_secret

    from trending_now.config import load_settings
    from trending_now.warehouse import Warehouse

    settings = load_settings()
    dbt_env = Warehouse(settings).dbt_env()
    secret_values = [
        value
        for name, value in dbt_env.items()
        if value and any(marker in name.upper() for marker in _SECRET_ENV_MARKERS)
    ]
    for value in [*secret_values, *settings.secrets.values()]:
        mask_secret(value)
    operator.env = {**(operator.env or {}), **dbt_env}


def prepare_raw_tables() -> list[str]:
    """Create the raw tables no load has made yet (a fresh warehouse, a first run before any enrichment).

    ``trending_now.dbt.build`` does this before each dbt invocation of the CLI; in the DAG it is one task
    ahead of the first dbt group, so every ``source()`` of both groups exists.
    """
    from trending_now.config import load_settings
    from trending_now.raw_tables import ensure_raw_tables
    from trending_now.warehouse import Warehouse

    return ensure_raw_tables(Warehouse(load_settings()))


def cosmos_configs(options: DagOptions) -> dict[str, Any]:
    """ProjectConfig, ProfileConfig and ExecutionConfig shared by both groups."""
    from cosmos import ExecutionConfig, ExecutionMode, InvocationMode, ProfileConfig, ProjectConfig

    return {
        "project_config": ProjectConfig(
            dbt_project_path=options.dbt_project_dir,
            manifest_path=options.dbt_manifest,
            project_name=PROFILE_NAME,
            install_dbt_deps=False,
        ),
        "profile_config": ProfileConfig(
            profile_name=PROFILE_NAME,
            target_name=options.target,
            profiles_yml_filepath=options.dbt_profiles_yml,
        ),
        "execution_config": ExecutionConfig(
            execution_mode=ExecutionMode.LOCAL,
            # dbt runs in the task's own process through dbtRunner: no interpreter start-up per task.
            invocation_mode=InvocationMode.DBT_RUNNER,
        ),
    }


def render_config(select: list[str], load_method: Any = None) -> Any:
    from cosmos import LoadMode, RenderConfig, TestBehavior

    return RenderConfig(
        load_method=load_method or LoadMode.DBT_MANIFEST,
        select=list(select),
        test_behavior=TestBehavior.AFTER_EACH,
        # A test spanning two models (relationships) gets its own task after both; otherwise it runs in
        # the first model's test task, maybe before the other model exists (found by the scheduler run
        # in tests/integration; `airflow dags test` happened to pick a working order).
        should_detach_multiple_parents_tests=True,
        emit_datasets=False,
    )


def operator_args(options: DagOptions, group: str) -> dict[str, Any]:
    return {
        "env": dict(STATIC_DBT_ENV),
        "append_env": True,
        "interceptors": [inject_warehouse_env],
        "install_deps": False,
        # Cosmos renders no unit-test tasks from the manifest (they are not manifest "nodes") and its manifest
        # selector rejects `test_type:`; the excludes go to each dbt command instead, so a model's test task
        # runs its data tests only (CI runs the unit tests with `dbt test`).
        "exclude": " ".join(EXCLUDE_UNIT_TESTS),
        "emit_datasets": False,
        "execution_timeout": options.timeout(group),
    }


def dbt_task_group(group_id: str, select: list[str], options: DagOptions, **kwargs: Any) -> Any:
    """A Cosmos ``DbtTaskGroup`` running ``select`` with tests after each model."""
    from cosmos import DbtTaskGroup

    return DbtTaskGroup(
        group_id=group_id,
        render_config=render_config(select, kwargs.pop("load_method", None)),
        operator_args=operator_args(options, group_id),
        **cosmos_configs(options),
        **kwargs,
    )
