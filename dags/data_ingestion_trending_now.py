"""Airflow 3 DAG ``data_ingestion_trending_now``: the daily Trending Now job.

extract_releases -> extract_reviews -> dbt_staging_intermediate (Cosmos) -> enrich_titles (llm_pool)
-> dbt_marts (Cosmos, tests after each model) -> validate_mart -> export_parquet -> snapshot_dvc

The Python steps call the same ``trending_now.pipeline`` functions as the ``trending-now`` CLI; the dbt
layers are rendered model by model by astronomer-cosmos from the dbt manifest. Configuration comes from
the project config (``config/<APP_ENV>.yaml`` + ``TRENDING_NOW__...`` overrides); see docs/airflow.md.
"""

from __future__ import annotations

import os
import sys
from typing import Any

# Airflow puts the dags folder on sys.path; direct imports (tests, bench) need it too.
_DAGS_DIR = os.path.dirname(os.path.abspath(__file__))
if _DAGS_DIR not in sys.path:
    sys.path.insert(0, _DAGS_DIR)

import pendulum  # noqa: E402
from airflow.sdk import DAG, Asset, Param, task  # noqa: E402
from callbacks import on_failure_callback  # noqa: E402
from dag_settings import DagOptions, parse_settings  # noqa: E402
from dbt_groups import SELECT_BEFORE_ENRICH, SELECT_MARTS, dbt_task_group  # noqa: E402

DAG_ID = "data_ingestion_trending_now"
MART_ASSET = Asset("trending_now://marts/movies_tv_shows_enriched")

options = DagOptions(parse_settings())
TIMEZONE = options.timezone

DOC_MD = f"""
### Trending Now — daily ingestion

This week's streaming releases (JustWatch) and their critics' reviews are loaded raw with dlt, modelled
with dbt (staging → intermediate), enriched by the LLM (one structured call per new or changed title),
published as `marts.movies_tv_shows_enriched` (dbt model with contract and tests), checked by the
Great Expectations gate, exported to Parquet and versioned with DVC.

* **as-of day** = the run's logical date in {TIMEZONE} (`ds`); window = `run.days` days ending that day.
* **warehouse** = `{options.target}` (config `warehouse.target`, env `APP_ENV`).
* **re-run a day**: clear the run (or `airflow dags test {DAG_ID} YYYY-MM-DD`); every step is idempotent.
* **pool** `{options.llm_pool}` bounds concurrent LLM enrichment across runs.
* metrics of each step: `ops.pipeline_runs` (run id = the Airflow run id).
"""


def _step(name: str, **task_kwargs: Any) -> Any:
    """An ``@task`` running the pipeline step ``name`` for this DAG run."""

    def run(**context: Any) -> dict[str, Any]:
        from step_tasks import run_step

        return run_step(name, context, TIMEZONE)

    run.__name__ = name
    run.__doc__ = f"Run the `{name}` step of trending_now.pipeline for the run's as-of day."
    return task(task_id=name, execution_timeout=options.timeout(name), **task_kwargs)(run)


with DAG(
    dag_id=DAG_ID,
    description="JustWatch new releases + reviews -> dbt -> LLM enrichment -> movies_tv_shows_enriched",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 11, 1, tz=TIMEZONE),
    catchup=False,
    max_active_runs=1,
    max_active_tasks=options.max_active_tasks,
    dagrun_timeout=pendulum.duration(hours=6),
    default_args={
        "owner": "data-engineering",
        "retries": options.retries,
        "retry_delay": options.retry_delay,
        "retry_exponential_backoff": True,
        "max_retry_delay": options.max_retry_delay,
        "on_failure_callback": on_failure_callback,
    },
    params={
        "days": Param(
            None, type=["null", "integer"], minimum=1, description="window length (default run.days)"
        ),
        "country": Param(
            None, type=["null", "string"], description="JustWatch country (default run.country)"
        ),
        "limit": Param(None, type=["null", "integer"], minimum=1, description="process at most N titles"),
    },
    tags=["trending-now", "elt", "dbt", "llm"],
    doc_md=DOC_MD,
) as dag:
    extract_releases = _step("extract_releases")()
    extract_reviews = _step("extract_reviews")()

    @task(task_id="prepare_raw_tables", execution_timeout=options.timeout("prepare_raw_tables"))
    def prepare_raw_tables() -> list[str]:
        """Create empty the raw tables dbt reads that no load has made yet (idempotent)."""
        from dbt_groups import prepare_raw_tables as ensure

        return ensure()

    raw_tables = prepare_raw_tables()
    dbt_staging_intermediate = dbt_task_group("dbt_staging_intermediate", SELECT_BEFORE_ENRICH, options)
    enrich_titles = _step("enrich_titles", pool=options.llm_pool, pool_slots=1)()
    dbt_marts = dbt_task_group("dbt_marts", SELECT_MARTS, options)
    validate_mart = _step("validate_mart")()
    export_parquet = _step("export_parquet", outlets=[MART_ASSET])()
    snapshot_dvc = _step("snapshot_dvc")()

    (
        extract_releases
        >> extract_reviews
        >> raw_tables
        >> dbt_staging_intermediate
        >> enrich_titles
        >> dbt_marts
        >> validate_mart
        >> export_parquet
        >> snapshot_dvc
    )
