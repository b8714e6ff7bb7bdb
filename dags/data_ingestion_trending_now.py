"""Airflow 3 DAG ``data_ingestion_trending_now``: the daily Trending Now job.

The task chain is ``trending_now.pipeline.STEPS``, the CLI's own step list, in its order: a dbt step
(one with a selection in ``core.dbt_runner.SELECTIONS``) becomes a Cosmos task group (one ``dbt build``,
a sensor per model and test: dags/dbt_groups.py), every other step a Python task calling the same
function as the CLI. A step added to STEPS appears here without an edit. Configuration comes from the
project config (``config/<APP_ENV>.yaml`` + ``TRENDING_NOW__...`` overrides); see docs/airflow.md.

No task reads another task's local disk: every step reads the warehouse or the shared remote (S3), so the
tasks of one run may land on different workers.

In a task's own process (Airflow's parsing context names the task) the file builds only that task's node
(:func:`task_of_this_process`): the DAG processor and ``airflow dags test`` get the whole DAG.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from itertools import pairwise
from typing import Any

_PARSE_STARTED = time.perf_counter()  # the parse profile (log_parse_profile); the stdlib is already loaded

# Airflow puts the dags folder on sys.path; direct imports (tests, bench) need it too.
_DAGS_DIR = os.path.dirname(os.path.abspath(__file__))
if _DAGS_DIR not in sys.path:
    sys.path.insert(0, _DAGS_DIR)

import pendulum  # noqa: E402
from airflow.sdk import DAG, Asset, Param, task  # noqa: E402
from callbacks import on_failure_callback  # noqa: E402
from dag_settings import DagOptions  # noqa: E402
from dbt_groups import dbt_selection, dbt_task_group, rendered_nodes, selected_nodes  # noqa: E402
from enrich_batch import EnrichTitlesOperator  # noqa: E402

from core.config import parse_settings  # noqa: E402
from trending_now.pipeline import (  # noqa: E402
    CHECK_FRESHNESS,
    ENRICH_TITLES,
    EXPORT_PARQUET,
    EXTRACT_RELEASES,
    STEPS,
    Step,
)

_IMPORTED = time.perf_counter()

DAG_ID = "data_ingestion_trending_now"
MART_ASSET = Asset("trending_now://marts/movies_tv_shows_enriched")

options = DagOptions(parse_settings())
TIMEZONE = options.timezone
# Task arguments a Python step needs beyond the defaults, by step name (a step without an entry needs none).
TASK_ARGS: dict[str, dict[str, Any]] = {
    ENRICH_TITLES.name: {"pool": options.llm_pool, "pool_slots": 1},  # bounds concurrent LLM work across runs
    EXPORT_PARQUET.name: {"outlets": [MART_ASSET]},
    # the countries that were extracted go on (a failed country fails the run through run_failed)
    CHECK_FRESHNESS.name: {"trigger_rule": "all_done_min_one_success"},
}
# The step that runs once per country: a mapped task over the run's countries (`countries`), each with its own
# retries; a failed country is named by its task instance (map index = the country code).
PER_COUNTRY_STEP = EXTRACT_RELEASES.name

DOC_MD = f"""
### Trending Now — daily ingestion

This week's streaming releases (JustWatch) and their critics' reviews are loaded raw with dlt, modelled
with dbt, enriched by the LLM (one structured call per new or changed title), published as
`marts.movies_tv_shows_enriched` (dbt model with contract and tests), checked by the Great Expectations
gate, exported to Parquet and versioned with DVC. Steps, in order: {", ".join(s.name for s in STEPS)}.

* **as-of day** = the run's logical date in {TIMEZONE} (`ds`); window = `run.days` days ending that day.
* **countries** = `run.countries` (or the `country` param); `{PER_COUNTRY_STEP}` is mapped, one task per country
  with its own retries; the countries that succeeded are published and a failed one fails the run.
* **warehouse** = `{options.target}` (config `warehouse.target`, env `APP_ENV`).
* **re-run a day**: clear the run (or `airflow dags test {DAG_ID} YYYY-MM-DD`); every step is idempotent.
* **dbt groups**: one `dbt build` per group (`dbt_producer_watcher`), one sensor task per model and test.
* **pool** `{options.llm_pool}` bounds concurrent LLM enrichment across runs.
* metrics of each Python step: `ops.pipeline_runs` (run id = the Airflow run id).
"""


# A step's counters (step_tasks.run_step) are its task's one XCom, ``return_value``: Airflow would infer
# ``multiple_outputs`` from the ``dict`` return type and push every counter again under its own key, an
# Execution API call each (nine per task) that no task reads (bench/bench_dag.py --scheduler).
STEP_XCOM = {"multiple_outputs": False}


def python_task(step: Step) -> Any:
    """An ``@task`` running the pipeline step ``step`` for this DAG run."""
    # enrich_titles defers to the triggerer while a Gemini batch runs (enrich.mode: batch; dags/enrich_batch.py)
    if step.name == EnrichTitlesOperator.STEP:
        return EnrichTitlesOperator(
            task_id=step.name,
            execution_timeout=options.timeout(step.name),
            **TASK_ARGS[step.name],
        )

    def run(**context: Any) -> dict[str, Any]:
        from step_tasks import run_step

        return run_step(step.name, context)

    run.__name__ = step.name
    run.__doc__ = f"Run the `{step.name}` step of trending_now.pipeline for the run's as-of day."
    # DuckDB takes one process per file: should a step be mapped, its instances run one at a time there
    one_at_a_time = {"max_active_tis_per_dagrun": 1} if options.target == "duckdb" else {}
    return task(
        task_id=step.name,
        execution_timeout=options.timeout(step.name),
        **STEP_XCOM,
        **one_at_a_time,
        **TASK_ARGS.get(step.name, {}),
    )(run)()


def countries_task() -> Any:
    """The run's countries (the ``country`` param, else ``run.countries``), validated before any request."""

    def countries(**context: Any) -> list[str]:
        from step_tasks import run_countries

        return run_countries(context)

    return task(task_id="countries", execution_timeout=options.timeout("countries"))(countries)()


def per_country_task(step: Step) -> Any:
    """``step`` mapped over the run's countries (Airflow dynamic task mapping): one task instance per country."""

    def run(country: str, **context: Any) -> dict[str, Any]:
        from airflow.sdk import get_current_context
        from step_tasks import run_step

        get_current_context()["country_code"] = country  # the instance's name (map_index_template)
        return run_step(step.name, context, countries=[country])

    run.__name__ = step.name
    run.__doc__ = f"Run the `{step.name}` step of trending_now.pipeline for one country of the run."
    return task(
        task_id=step.name,
        map_index_template="{{ country_code }}",
        **STEP_XCOM,
        execution_timeout=options.timeout(step.name),
        **TASK_ARGS.get(step.name, {}),
    )(run).expand(country=countries_task())


def report_task() -> Any:
    """The run report, written whether the steps passed or not (``all_done``); its location is the task's
    XCom and log line (the Task SDK gives a task no way to write the run's note)."""

    def run_report(**context: Any) -> str | None:
        from step_tasks import write_report

        return write_report(context)

    return _closing_task(run_report, "all_done")


def run_failed_task() -> Any:
    """Fails when any step failed, so the run ends failed although ``run_report`` (a leaf) succeeded."""

    def run_failed() -> None:
        raise RuntimeError("a step of this run failed (see its task); the run report was still written")

    return _closing_task(run_failed, "one_failed")


def _closing_task(function: Callable[..., Any], trigger_rule: str) -> Any:
    """A task after the steps, named after ``function``: run once (no retry), no failure callback."""
    return task(
        task_id=function.__name__,
        trigger_rule=trigger_rule,
        retries=0,
        on_failure_callback=None,
        execution_timeout=options.timeout(function.__name__),
    )(function)()


def owns(step: Step, task_id: str) -> bool:
    """Whether ``task_id`` is a task of the step's node (``step_nodes``): the step's task, the tasks of its dbt
    group, or for the per-country step its mapped task and the ``countries`` task it maps over (that task
    pushes the length the mapped task expands to, so Airflow needs its mapped dependant beside it)."""
    if dbt_selection(step):
        return task_id.startswith(f"{step.name}.")
    if step.name == PER_COUNTRY_STEP:
        return task_id in (step.name, "countries")
    return task_id == step.name


def step_nodes(only: str | None = None) -> list[Any]:
    """A Cosmos task group for each dbt step, a Python task for any other, in ``STEPS`` order.

    A dbt group leaves out the sensors of the models and seeds an earlier group already shows
    (``dbt_groups.dbt_task_group``); its ``dbt build`` is still the CLI's.

    ``only`` (a task id): just the node that holds that task (:func:`owns`). The groups before it are not
    built: the nodes they show come from their dbt selection alone (``dbt_groups.selected_nodes``, the same
    list ``rendered_nodes`` gives for the built group), so the node is built exactly as in the full DAG; a
    Python step's node reads none of them, so they are not computed for it.
    """
    nodes: list[Any] = []
    shown: list[str] = []
    wanted = None if only is None else next((step for step in STEPS if owns(step, only)), None)
    if only is not None and wanted is None:
        return nodes
    for step in STEPS:
        if wanted is not None and step is not wanted:
            if dbt_selection(step) and dbt_selection(wanted):  # only a later dbt group reads `shown`
                shown += selected_nodes(step, options, shown_earlier=shown)
            continue
        if step.name == PER_COUNTRY_STEP:
            nodes.append(per_country_task(step))
        elif not dbt_selection(step):
            nodes.append(python_task(step))
        else:
            group = dbt_task_group(step, options, shown_earlier=shown)
            shown += rendered_nodes(group)
            nodes.append(group)
        if wanted is not None:
            break
    return nodes


# The tasks after the steps, by task id.
CLOSING_TASKS: dict[str, Callable[[], Any]] = {"run_report": report_task, "run_failed": run_failed_task}


def task_of_this_process() -> str | None:
    """The task whose own process parses this file (Airflow's parsing context names it there), else None:
    the DAG processor, ``airflow dags test``, a test or a task id this DAG does not have get the whole DAG.

    Each task of a real scheduler (LocalExecutor, MWAA's Celery workers) runs in a process that parses the
    DAG file and then looks its task up by id; what else the file builds there is thrown away with the
    process. In that process the DAG holds just the task's node (:func:`step_nodes`), or the one closing
    task: the parse no longer renders the four Cosmos groups for every task (bench/bench_dag.py
    ``--scheduler``). ``tests/dags/test_dag_integrity.py`` holds every task of such a DAG equal to the full
    DAG's.
    """
    from airflow.sdk import get_parsing_context

    context = get_parsing_context()
    task_id = context.task_id
    if task_id is None or context.dag_id not in (None, DAG_ID):
        return None
    if task_id in CLOSING_TASKS or any(owns(step, task_id) for step in STEPS):
        return task_id
    return None


def build_tasks(dag: DAG, only: str | None) -> None:
    """The DAG's tasks: the chain of ``STEPS`` and the closing tasks, or only the node of the task ``only``."""
    if only in CLOSING_TASKS:
        CLOSING_TASKS[only]()
        return
    nodes = step_nodes(only)
    if only is not None:
        return
    for upstream, downstream in pairwise(nodes):
        upstream >> downstream
    failed = run_failed_task()
    nodes[-1] >> [report_task(), failed]
    nodes[[s.name for s in STEPS].index(PER_COUNTRY_STEP)] >> failed  # a failed country fails the run
    options.check_timeouts(dag.task_ids)  # a misspelt airflow.timeouts_min key fails the parse, naming it


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
            None,
            type=["null", "string"],
            description="JustWatch country code or comma-separated codes, e.g. US,GB (default run.countries)",
        ),
        "limit": Param(None, type=["null", "integer"], minimum=1, description="process at most N titles"),
    },
    tags=["trending-now", "elt", "dbt", "llm"],
    doc_md=DOC_MD,
) as dag:
    build_tasks(dag, task_of_this_process())


def log_parse_profile() -> None:
    """In a task's own process (Airflow's parsing context names the task), one log line with what parsing this
    file cost: its module imports, and the rest (building the DAG, the Cosmos render with the imports it
    makes). Read by bench/bench_dag.py; the DAG processor's parses log nothing."""
    from airflow.sdk import get_parsing_context

    if get_parsing_context().task_id is None:
        return
    import structlog

    structlog.get_logger(__name__).info(
        "DAG file parse profile",
        imports_ms=round((_IMPORTED - _PARSE_STARTED) * 1000),
        build_ms=round((time.perf_counter() - _IMPORTED) * 1000),
        tasks=len(dag.task_dict),
    )


log_parse_profile()
