"""Cosmos task groups for the dbt steps of the Trending Now DAG, in ``ExecutionMode.WATCHER``.

A dbt step of ``trending_now.pipeline.STEPS`` (one with a selection in :data:`core.dbt_runner.SELECTIONS`)
becomes one ``DbtTaskGroup``: a producer task runs **one** ``dbt build --select <the step's selection>``
(the CLI's command, dbt's own threads), and one sensor per model (or seed) reports that node's result
together with its data tests' (``dbt_watchers``), so the Airflow grid still shows every model. A sensor
fails when its model or a data test of it failed; its retry runs ``dbt`` for that model alone (Cosmos'
fallback, like ``ExecutionMode.LOCAL``), and the producer's own retry only skips (it never builds twice).
Measured in bench/bench_dag.py against the per-model ``ExecutionMode.LOCAL`` shape the DAG used before.

Every sensor of a group waits for the producer to finish (:func:`wait_for_the_build`) instead of polling
beside it: a run then never depends on which of them a scheduler (or ``airflow dags test``, which runs one
task at a time) picks first, DuckDB's one-writer rule holds, and no worker slot sits in a sensor while dbt
builds. Each sensor finds its node's result at its first poke, so they all start right after the producer,
side by side; dbt's order between them holds for their retries (``dbt_watchers``: a retry waits for the
sensors of its node's parents). Measured under a real scheduler in ``bench/bench_dag.py --scheduler``.

Warehouse credentials and the raw tables: :func:`prepare_warehouse` is a Cosmos interceptor, run in the
worker right before dbt starts (after the templated fields were rendered). It loads the full settings,
registers every secret with Airflow's masker, puts ``Warehouse.dbt_env()`` into the task process's
environment (never into the operator's templated ``env``, which Airflow renders and stores again after
execution), and creates the raw tables no load has made yet, exactly as ``core.dbt_runner.build`` does
before the CLI's ``dbt build``.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from dag_settings import DagOptions

from core.dbt_relations import DBT_ENV, profile_name, project_name
from core.dbt_runner import EXCLUDE_UNIT_TESTS, EXCLUSIONS, SELECTIONS
from trending_now.pipeline import Step

# Non-secret variables every dbt invocation gets (the templated, rendered ``env``). No dbt.log file: Cosmos
# runs dbt in a temporary copy of the project whose logs/ folder is deleted with the task, and writing every
# debug line there cost the producers' two dbt threads a contended file lock (the task log keeps dbt's lines).
STATIC_DBT_ENV = {**DBT_ENV, "DBT_LOG_LEVEL_FILE": "none"}
PRODUCER_TASK_ID = "dbt_producer_watcher"  # cosmos.constants.PRODUCER_WATCHER_TASK_ID
# The producer's retry only restores the node statuses and skips (Cosmos never builds twice): no wait.
SENSOR_TIMEOUT_S = 300
PRODUCER_ARGS = {"retries": 1, "retry_delay": timedelta(seconds=1), "retry_exponential_backoff": False}


def tune_cosmos_watcher() -> None:
    """Cut the producer's per-node bookkeeping (measured in bench/bench_dag.py; Cosmos 1.15 internals).

    For every dbt node the producer pushes XComs through the Airflow API: a status, the compiled SQL and one
    "dbt event" for each of NodeStart, NodeCompiling, NodeExecuting and NodeFinished; with
    ``enable_watcher_reliable_retry`` (Cosmos' default) each push also rewrites a growing Airflow Variable.
    On DuckDB, where a node takes milliseconds, that bookkeeping cost the staging group 4x its dbt time.
    Here: the dbt events of NodeFinished (and errors) only — the sensors log the last one anyway — and none
    for test nodes (:func:`skip_test_node_events`), and the XCom backup kept in memory, flushed to the
    Variable by the producer's failure/retry callback. A producer killed outright (OOM) then loses its
    backup: its sensors' retries run their models one by one, as ``ExecutionMode.LOCAL`` would.

    What a producer did around dbt that no task reads (profiled under a real scheduler,
    ``bench_dag.py --scheduler``):

    * **Debug events.** Cosmos' dbtRunner callback turns every dbt event into JSON and parses it back, in
      dbt's threads: 2,896 events in the staging group's build, 2,639 of them debug-level (SQL text,
      connections, cache). Its parser acts only on the node lifecycle and error events, on a node's terminal
      status, and logs the rest at their level, where debug lines are dropped: :func:`skip_debug_events`
      hands it only the events it acts on or shows.
    * **An XCom pushed twice.** Cosmos pushes a node's status (and a model's compiled SQL and its tests'
      aggregate) for each event that carries the node's terminal status, ``LogModelResult`` then
      ``NodeFinished``: a third of its pushes, each an Execution API call while a dbt thread waits.
      :func:`push_once` sends a key again only with a new value.
    * **dbt's start-up events.** Each producer pulled and pushed an XCom list of dbt's version lines (two
      API calls per line), and each sensor pulled it to log it at debug level (dropped): neither any more.
      The producer's own log keeps the lines.
    * **OpenLineage events.** After dbt, Cosmos reads the manifest and run results again to build lineage
      events that only the Airflow OpenLineage provider's listener reads: built only where that provider
      is installed (:func:`lineage_when_read`).

    ``tests/dags/test_dag_integrity.py`` fails if Cosmos renames what is set here.
    """
    from cosmos import settings as cosmos_settings
    from cosmos.dbt import runner as cosmos_runner
    from cosmos.operators import local as cosmos_local
    from cosmos.operators._watcher import aggregation
    from cosmos.operators._watcher import base as watcher_base

    cosmos_settings.enable_watcher_reliable_retry = False
    watcher_base._DBT_EVENT_ALLOWLIST = watcher_base._DBT_ERROR_EVENTS_TYPES | frozenset({"NodeFinished"})
    watcher_base._process_dbt_log_event = skip_test_node_events(watcher_base._process_dbt_log_event)
    cosmos_runner.get_runner = skip_debug_events(cosmos_runner.get_runner)
    watcher_base.safe_xcom_push = push_once(watcher_base.safe_xcom_push)
    aggregation.safe_xcom_push = push_once(aggregation.safe_xcom_push)
    watcher_base._store_startup_event_from_log = _no_startup_events
    watcher_base.BaseConsumerSensor._log_startup_events = _no_startup_events_read
    operator = cosmos_local.AbstractDbtLocalBase  # defines it for DbtLocalBaseOperator
    operator.calculate_openlineage_events_completes = lineage_when_read(
        operator.calculate_openlineage_events_completes
    )


def skip_test_node_events(
    process: Callable[[Any, dict[str, Any]], None],
) -> Callable[[Any, dict[str, Any]], None]:
    """Cosmos' per-node "dbt event" XCom, left out for test nodes (three in four nodes of this project).

    No task reads a test's event: a tested model's ``_build`` sensor (``dbt_watchers``) reads the aggregated
    ``<model>_tests_status`` XCom (still pushed) and logs the *model's* event; a failing test's message is in
    the producer's log. Each left-out push is one Airflow API call while dbt's thread waits. Wrapping twice is
    a no-op.
    """
    if getattr(process, "skips_test_nodes", False):
        return process

    def process_dbt_log_event(task_instance: Any, dbt_log: dict[str, Any]) -> None:
        node = (dbt_log.get("data") or {}).get("node_info") or {}
        if node.get("resource_type") == "test":
            return None
        return process(task_instance, dbt_log)

    process_dbt_log_event.skips_test_nodes = True  # type: ignore[attr-defined]
    return process_dbt_log_event


def _no_startup_events(task_instance: Any, log_line: dict[str, Any]) -> None:
    """Cosmos' ``_store_startup_event_from_log``, left out (:func:`tune_cosmos_watcher`)."""


def _no_startup_events_read(self: Any, ti: Any) -> None:
    """Cosmos' ``BaseConsumerSensor._log_startup_events``, left out (:func:`tune_cosmos_watcher`)."""


def dbt_event_needed(event: Any) -> bool:
    """Whether Cosmos' producer callback acts on a dbt event or shows it: not debug-level, a node lifecycle
    or error event it publishes, an upstream-failure skip it tracks, or an event carrying a node's terminal
    status."""
    from cosmos.operators._watcher import base as watcher_base
    from cosmos.operators._watcher.state import (
        DBT_UPSTREAM_FAILURE_SKIP_EVENT_NAMES,
        is_dbt_node_status_terminal,
    )

    info = event.info
    if info.level != "debug" or info.name in watcher_base._DBT_EVENT_ALLOWLIST:
        return True
    if info.name in DBT_UPSTREAM_FAILURE_SKIP_EVENT_NAMES:
        return True
    data = event.data
    return "node_info" in data.DESCRIPTOR.fields_by_name and is_dbt_node_status_terminal(
        data.node_info.node_status
    )


def skip_debug_events(get_runner: Callable[..., Any]) -> Callable[..., Any]:
    """Cosmos' ``get_runner`` whose callbacks only see the events :func:`dbt_event_needed` keeps. Wrapping
    twice is a no-op."""
    if getattr(get_runner, "skips_debug_events", False):
        return get_runner

    def only_needed(callback: Callable[[Any], None]) -> Callable[[Any], None]:
        def needed_events(event: Any) -> None:
            if dbt_event_needed(event):
                callback(event)

        return needed_events

    def runner(callbacks: list[Callable[[Any], None]] | None = None) -> Any:
        return get_runner(callbacks=[only_needed(c) for c in callbacks] if callbacks else callbacks)

    runner.skips_debug_events = True  # type: ignore[attr-defined]
    return runner


def push_once(push: Callable[..., None]) -> Callable[..., None]:
    """Cosmos' ``safe_xcom_push`` that does not send a key again with the value it already sent from this
    task instance (the last value per key is kept on the instance). Wrapping twice is a no-op."""
    if getattr(push, "pushes_once", False):
        return push

    def safe_xcom_push(task_instance: Any, key: str, value: Any) -> None:
        sent: dict[str, Any] | None = getattr(task_instance, "_trending_now_xcom_sent", None)
        if sent is None:
            sent = {}
            task_instance._trending_now_xcom_sent = sent  # as Cosmos keeps its backup buffer there
        if key in sent and sent[key] == value:
            return
        push(task_instance=task_instance, key=key, value=value)
        sent[key] = value

    safe_xcom_push.pushes_once = True  # type: ignore[attr-defined]
    return safe_xcom_push


def lineage_when_read(calculate: Callable[..., bool]) -> Callable[..., bool]:
    """Cosmos' ``calculate_openlineage_events_completes``, run only where the Airflow OpenLineage provider
    (the one reader of the events) is installed. Wrapping twice is a no-op."""
    import importlib.util

    if getattr(calculate, "when_read", False):
        return calculate

    def calculate_openlineage_events_completes(self: Any, *args: Any, **kwargs: Any) -> bool:
        if importlib.util.find_spec("airflow.providers.openlineage") is None:
            return False
        return calculate(self, *args, **kwargs)

    calculate_openlineage_events_completes.when_read = True  # type: ignore[attr-defined]
    return calculate_openlineage_events_completes


def read_manifest_once() -> None:
    """Read a local ``manifest.json`` once per process instead of once per task group (Cosmos 1.15 internals).

    Cosmos reads and parses the manifest for each ``DbtTaskGroup`` (four here) through Airflow's
    ``ObjectStoragePath``, whose read hook starts the lineage collector, which loads every plugin (Cosmos' own
    imports FastAPI): on a real scheduler every task's process parses the DAG file, and this was the largest
    part of that parse after the imports (bench/bench_dag.py ``--scheduler``). A local manifest (no scheme,
    or ``file://``) is now read once, its bytes kept per path and modification time, and each group still
    parses its own copy (orjson, in both locks); a remote manifest keeps Cosmos' own read.
    ``tests/dags/test_dag_integrity.py`` fails if Cosmos renames the method.
    """
    import orjson
    from cosmos.dbt.graph import DbtGraph

    original = DbtGraph._load_manifest_from_file
    if getattr(original, "reads_once", False):
        return
    read: dict[tuple[str, int], bytes] = {}

    def load_manifest(self: Any, manifest_path: Any) -> dict[str, Any]:
        name = str(manifest_path)
        if "://" in name and not name.startswith("file://"):
            return original(self, manifest_path)
        path = Path(name.removeprefix("file://"))
        key = (str(path), path.stat().st_mtime_ns)
        if key not in read:
            read.clear()
            read[key] = path.read_bytes()
        manifest = orjson.loads(read[key])
        if not isinstance(manifest, dict):  # Cosmos' own check, for its own message
            return original(self, manifest_path)
        return manifest

    load_manifest.reads_once = True  # type: ignore[attr-defined]
    DbtGraph._load_manifest_from_file = load_manifest  # type: ignore[method-assign]


def read_dbt_project_once() -> None:
    """Read ``dbt_project.yml``'s ``packages-install-path`` once per process instead of once per task group
    (Cosmos 1.15 internals).

    Cosmos' ``get_dbt_packages_subpath`` loads the whole ``dbt_project.yml`` with PyYAML's pure-Python
    loader for each ``DbtTaskGroup`` it renders from the manifest (four per DAG parse, ~60 ms each on a quiet
    machine), and every task process of a real scheduler parses the DAG file. The answer is kept per project
    folder and the file's modification time (a rewritten file is read again); Cosmos' other callers (the
    producer's temporary project copy) keep their own read. ``tests/dags/test_dag_integrity.py`` fails if
    Cosmos renames the function.
    """
    from cosmos.dbt import graph as cosmos_graph

    original = cosmos_graph.get_dbt_packages_subpath
    if getattr(original, "reads_once", False):
        return
    read: dict[tuple[str, int], str] = {}

    def get_dbt_packages_subpath(source_folder: Path) -> str:
        project_file = Path(source_folder) / "dbt_project.yml"  # cosmos.constants.DBT_PROJECT_FILENAME
        try:
            key = (str(project_file), project_file.stat().st_mtime_ns)
        except OSError:
            return original(source_folder)  # no file: Cosmos' default, its own way
        if key not in read:
            read[key] = original(source_folder)
        return read[key]

    get_dbt_packages_subpath.reads_once = True  # type: ignore[attr-defined]
    cosmos_graph.get_dbt_packages_subpath = get_dbt_packages_subpath  # type: ignore[assignment]


def dbt_selection(step: Step) -> list[str] | None:
    """The dbt selection a step builds, or None for a Python step."""
    select = SELECTIONS.get(step.name)
    return list(select) if select else None


def step_selection(step: Step) -> list[str]:
    """The dbt selection of a dbt step (ValueError for a Python step)."""
    select = dbt_selection(step)
    if not select:
        raise ValueError(f"{step.name} has no dbt selection in core.dbt_runner.SELECTIONS")
    return select


def group_render_config(
    step: Step, options: DagOptions, shown_earlier: Sequence[str] = (), load_method: Any = None
) -> Any:
    """The ``RenderConfig`` of the step's group: its selection, less its exclusions and, in watcher mode, the
    nodes an earlier group shows (``dbt_task_group``)."""
    watcher = options.dbt_execution_mode == "watcher"
    return render_config(
        cosmos_selectors(step_selection(step), options.dbt_project_dir),
        cosmos_selectors(
            [*dbt_exclusion(step), *(shown_earlier if watcher else [])], options.dbt_project_dir
        ),
        watcher,
        load_method,
    )


def prepare_warehouse(context: Any, operator: Any) -> None:
    """Cosmos interceptor: the DAG run's run lock, then one dbt at a time on a DuckDB file, dbt's warehouse
    environment (credentials masked, not rendered) and the raw tables."""
    from step_tasks import hold_duckdb_lock, hold_run_lock, load_task_settings

    from core.raw_tables import ensure_raw_tables
    from core.warehouse import Warehouse

    warehouse = Warehouse(load_task_settings())
    hold_run_lock(warehouse, context, operator.log.info)  # the DAG run's lease, before dbt writes anything
    hold_duckdb_lock(warehouse)  # a group's sensors run side by side: one dbt at a time on a DuckDB file
    os.environ.update(warehouse.dbt_env())  # the task's own process; Cosmos' append_env passes it to dbt
    created = ensure_raw_tables(warehouse)
    if created:
        operator.log.info("created empty raw table(s) no load has made yet: %s", ", ".join(created))
    # Cosmos ends every dbtRunner call with gc.collect(), which walks every object of the task process
    # (Airflow, dbt, the DAG's modules): 0.56 s per producer here. Frozen, the objects that exist before dbt
    # starts, dbt's modules included (Cosmos imports them next anyway), are left out of that walk and of the
    # collections during the build; the process ends with the task.
    import dbt.cli.main  # noqa: F401

    gc.freeze()


def cosmos_configs(options: DagOptions) -> dict[str, Any]:
    """ProjectConfig, ProfileConfig and ExecutionConfig shared by every dbt group."""
    from cosmos import ExecutionConfig, ExecutionMode, InvocationMode, ProfileConfig, ProjectConfig

    watcher = options.dbt_execution_mode == "watcher"
    return {
        "project_config": ProjectConfig(
            dbt_project_path=options.dbt_project_dir,
            manifest_path=options.dbt_manifest,
            project_name=project_name(options.dbt_project_dir),
            install_dbt_deps=False,
        ),
        "profile_config": ProfileConfig(
            profile_name=profile_name(options.dbt_project_dir),
            target_name=options.target,
            profiles_yml_filepath=options.dbt_profiles_yml,
        ),
        "execution_config": ExecutionConfig(
            execution_mode=ExecutionMode.WATCHER if watcher else ExecutionMode.LOCAL,
            # dbt runs in the task's own process through dbtRunner: no interpreter start-up per task.
            invocation_mode=InvocationMode.DBT_RUNNER,
            **({"setup_operator_args": dict(PRODUCER_ARGS)} if watcher else {}),
        ),
    }


def cosmos_selectors(selectors: Sequence[str], project_dir: Path) -> list[str]:
    """dbt selectors as Cosmos' manifest selector matches them: a versioned model's bare name (which dbt
    matches to every version) becomes each version's node name, ``<model>_v<v>`` (which dbt matches too)."""
    from core.dbt_relations import model_versions

    names: list[str] = []
    for selector in selectors:
        versions = model_versions(selector, project_dir) if selector.isidentifier() else ()
        names.extend([f"{selector}_v{v}" for v in versions] or [selector])
    return names


def dbt_exclusion(step: Step) -> list[str]:
    """What the step's ``dbt build`` leaves out, as the CLI's (:data:`core.dbt_runner.EXCLUSIONS`)."""
    return list(EXCLUSIONS.get(step.name, []))


def render_config(select: list[str], exclude: list[str], watcher: bool, load_method: Any = None) -> Any:
    """LOCAL: a task per model and one per model's tests. WATCHER: one sensor per model or seed that also
    reports the node's data tests when it has any (``dbt_watchers``), so no separate test tasks."""
    from cosmos import LoadMode, RenderConfig, TestBehavior
    from cosmos.constants import DbtResourceType

    config = RenderConfig(
        load_method=load_method or LoadMode.DBT_MANIFEST,
        select=list(select),
        exclude=list(exclude),
        test_behavior=TestBehavior.NONE if watcher else TestBehavior.AFTER_EACH,
        # LOCAL: a test spanning two models (relationships) needs its own task after both, or it may run in
        # the first model's test task before the other model exists (found by a scheduler run). WATCHER: dbt
        # orders it inside the one build and each tested parent's sensor waits for its result; a detached
        # test's sensor would wait forever (Cosmos 1.15 publishes no result under its key).
        should_detach_multiple_parents_tests=not watcher,
        emit_datasets=False,
    )
    if watcher:
        from dbt_watchers import converter

        convert = converter(config)
        config.node_converters = {DbtResourceType.MODEL: convert, DbtResourceType.SEED: convert}
    return config


def operator_args(options: DagOptions, group: str) -> dict[str, Any]:
    args: dict[str, Any] = {
        "env": dict(STATIC_DBT_ENV),
        "append_env": True,
        "interceptors": [prepare_warehouse],
        "install_deps": False,
        # Unit tests are not manifest nodes Cosmos renders, and its manifest selector rejects `test_type:`;
        # the exclude goes to the dbt command instead (CI runs the unit tests with `dbt test`).
        "exclude": " ".join(EXCLUDE_UNIT_TESTS),
        "emit_datasets": False,
        "execution_timeout": options.timeout(group),
    }
    if options.dbt_execution_mode == "watcher":
        from dbt_watchers import UPSTREAM_POKE_S

        # The producer has finished when the sensors start: one synchronous poke finds the result. A node
        # the build never reported (a manifest older than the project: run `make manifest`) fails its
        # sensor after SENSOR_TIMEOUT_S instead of polling until the task's execution_timeout. Rescheduled
        # between pokes (none on the way to success): a retry waiting for its upstream sensors' retries
        # (dbt_watchers) holds no worker slot they need.
        args.update(
            deferrable=False, mode="reschedule", poke_interval=UPSTREAM_POKE_S, timeout=SENSOR_TIMEOUT_S
        )
    return args


def wait_for_the_build(group: Any) -> None:
    """Put every sensor of the group right after the producer, with the trigger rule of Cosmos' gate task
    (``dbt_producer_watcher_done``, ``none_failed``), instead of after the sensors of its dbt parents.

    They start when the producer succeeded, or failed and was retried (its retry restores the node results
    and skips): each then reports its node at its first poke, side by side. When the producer could not run
    (an upstream step failed) every sensor is ``upstream_failed``. The dbt order Cosmos gave the sensors is
    kept for their retries, which run dbt for one node: ``upstream_sensors`` (dbt_watchers) lists the
    sensors of the node's parents, which a retry waits for. Measured under a real scheduler
    (bench/bench_dag.py ``--scheduler``): each level of sensors cost a scheduler loop and a worker start and
    DAG parse, and the gate task one idle scheduler loop (the scheduler finishes an EmptyOperator without
    queueing it, so the tasks after it waited for its next loop). The gate stays, a leaf of the group.
    """
    build = producer(group)
    gate = next(t for t in group.iter_tasks() if t.task_id.endswith(f".{PRODUCER_TASK_ID}_done"))
    sensors = [t for t in group.iter_tasks() if t not in (build, gate)]
    ids = {t.task_id for t in sensors}
    for task in sensors:
        upstream = sorted(task.upstream_task_ids & ids)
        for task_id in upstream:
            task.upstream_task_ids.discard(task_id)
            group.dag.get_task(task_id).downstream_task_ids.discard(task.task_id)
        task.upstream_sensors = tuple(upstream)
        build >> task
        task.trigger_rule = gate.trigger_rule


def share_partial_parse(group: Any) -> None:
    """One dbt partial-parse cache for every dbt group of the DAG instead of Cosmos' one per group.

    Cosmos copies the project into a temporary directory per task and seeds it with the group's cached
    ``partial_parse.msgpack``: with a cache per group, each group's first producer parsed the whole project
    (about 2.5 s on this project; measured in bench/bench_dag.py). The groups run one after the other in the
    same run with the same profile and variables, so the next group's producer reuses the previous one's
    parse (dbt still re-parses whatever changed; Cosmos writes the cache atomically).
    """
    from cosmos import settings as cosmos_settings

    shared = Path(cosmos_settings.cache_dir) / f"{group.dag.dag_id}__dbt_groups"
    for task in group.iter_tasks():
        if getattr(task, "cache_dir", None) is not None:
            task.cache_dir = shared


def rendered_nodes(group: Any) -> list[str]:
    """The models and seeds the group has a task for (their dbt names)."""
    return graph_nodes(group.dbt_graph)


def graph_nodes(graph: Any) -> list[str]:
    """The models and seeds of a Cosmos ``DbtGraph``'s selection (their dbt names)."""
    from cosmos.constants import DbtResourceType

    kinds = (DbtResourceType.MODEL, DbtResourceType.SEED)
    return sorted(n.resource_name for n in graph.filtered_nodes.values() if n.resource_type in kinds)


def selected_nodes(step: Step, options: DagOptions, shown_earlier: Sequence[str] = ()) -> list[str]:
    """What :func:`rendered_nodes` gives for ``dbt_task_group(step, options, shown_earlier)``, without
    building the group: Cosmos' own ``DbtGraph`` of the group's render config, loaded (the manifest's
    selection) as ``DbtTaskGroup`` loads it, and no task made from it.

    A task's process parses the DAG file to build its own task (``data_ingestion_trending_now``): a later
    group's task needs the nodes the groups before it show (its ``shown_earlier``), not their tasks.
    ``tests/dags/test_dag_integrity.py`` holds it equal to the full DAG's groups.
    """
    from cosmos.converter import override_configuration
    from cosmos.dbt.graph import DbtGraph

    read_manifest_once()
    read_dbt_project_once()
    render = group_render_config(step, options, shown_earlier)
    configs = cosmos_configs(options)
    project, execution = configs["project_config"], configs["execution_config"]
    override_configuration(project, render, execution, {})  # as DbtToAirflowConverter does before loading
    graph = DbtGraph(
        project=project,
        render_config=render,
        execution_config=execution,
        profile_config=configs["profile_config"],
    )
    graph.load(method=render.load_method, execution_mode=execution.execution_mode)
    return graph_nodes(graph)


def producer(group: Any) -> Any:
    """The group's producer task (the one ``dbt build``)."""
    return next(t for t in group.iter_tasks() if t.task_id.endswith(f".{PRODUCER_TASK_ID}"))


def dbt_task_group(step: Step, options: DagOptions, shown_earlier: Sequence[str] = (), **kwargs: Any) -> Any:
    """The Cosmos ``DbtTaskGroup`` of a dbt step: one ``dbt build``, a sensor per model (with its data tests).

    ``shown_earlier``: models and seeds an earlier group of the run has tasks for (:func:`rendered_nodes`).
    A step's ``dbt build`` selects its models' parents too (``+model``), so the staging group rebuilds the
    titles group's models, as the CLI's step does. In watcher mode the producer still runs exactly the CLI's
    command, and only those nodes' sensors are left out: each model and its tests appear once in a run's
    grid, under the group that builds them first (a failed rebuild fails the producer and the sensors of
    the models after it). In ``local`` mode every task runs its own dbt command, so nothing is left out.
    """
    from cosmos import DbtTaskGroup

    select = step_selection(step)
    watcher = options.dbt_execution_mode == "watcher"
    read_manifest_once()
    read_dbt_project_once()
    group = DbtTaskGroup(
        group_id=step.name,
        render_config=group_render_config(step, options, shown_earlier, kwargs.pop("load_method", None)),
        operator_args=operator_args(options, step.name),
        **cosmos_configs(options),
        **kwargs,
    )
    if watcher:
        tune_cosmos_watcher()
        wait_for_the_build(group)
        share_partial_parse(group)
        # The producer's command is the CLI's (core.dbt_runner.build): Cosmos sets its --exclude from
        # RenderConfig.exclude only, whose manifest selector rejects `test_type:unit`.
        producer(group).exclude = " ".join([*EXCLUDE_UNIT_TESTS, *dbt_exclusion(step)])
        producer(group).select = " ".join(select)  # the CLI's names (Cosmos' differ for a versioned model)
        # ...and its tests too: with TestBehavior.NONE Cosmos narrows the build to `--resource-type model seed
        # snapshot`; here the nodes' sensors report the data tests the one build runs (dbt_watchers).
        producer(group).dbt_cmd_flags = []
    return group
