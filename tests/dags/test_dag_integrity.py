"""DAG integrity: the file parses, the graph is the CLI's step list, every task is retried and reported.

The chain is built from ``trending_now.pipeline.STEPS``: a dbt step (a selection in
``core.dbt_runner.SELECTIONS``) is a Cosmos task group in ``ExecutionMode.WATCHER``, every other step a
Python task. The Cosmos tasks are compared with what dbt itself selects for each step's selection, so the
DAG and ``trending-now run`` build the same models.
"""

from __future__ import annotations

import ast
import json
import os
import time
from collections.abc import Iterable
from datetime import timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from core.dbt_runner import EXCLUDE_UNIT_TESTS, EXCLUSIONS, SELECTIONS
from tests.dags.conftest import DAG_ID, DAGS_DIR, DbtSelection
from trending_now.pipeline import STEP_NAMES

GROUPS = tuple(name for name in STEP_NAMES if name in SELECTIONS)
PYTHON_STEPS = tuple(name for name in STEP_NAMES if name not in SELECTIONS)
PRODUCER = "dbt_producer_watcher"


def _dag_bag(selection: DbtSelection) -> Any:
    """dags/ parsed with a DagBag (the scheduler's loader), Cosmos pointed at the fresh manifest."""
    from airflow.dag_processing.dagbag import DagBag

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TRENDING_NOW__DBT__TARGET_PATH", str(selection.manifest.parent))
        mp.delenv("APP_ENV", raising=False)
        return DagBag(dag_folder=str(DAGS_DIR), known_pools={"default_pool", "llm_pool"})


@pytest.fixture(scope="module")
def parsed(dbt_selection: DbtSelection, request: pytest.FixtureRequest) -> Any:
    """Parse dags/ once with a DagBag, as the DAG processor does (no task in the parsing context)."""
    started = time.perf_counter()
    bag = _dag_bag(dbt_selection)
    elapsed = time.perf_counter() - started
    message = (
        f"DagBag parse of dags/: {elapsed:.2f}s ({len(bag.dags)} DAG(s), {len(bag.import_errors)} error(s))"
    )
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if capture is not None:
        with capture.global_and_fixture_disabled():
            print(f"\n{message}")
    else:
        print(message)
    return bag


@pytest.fixture(scope="module")
def dag(parsed: Any) -> Any:
    assert parsed.import_errors == {}, parsed.import_errors
    assert DAG_ID in parsed.dags, sorted(parsed.dags)
    return parsed.dags[DAG_ID]


def _manifest(selection: DbtSelection) -> dict[str, Any]:
    return json.loads(selection.manifest.read_text(encoding="utf-8"))


def test_the_dags_folder_imports_without_errors(parsed: Any) -> None:
    assert parsed.import_errors == {}
    assert list(parsed.dags) == [DAG_ID]  # helper modules are not mistaken for DAG files


def test_schedule_and_run_limits(dag: Any) -> None:
    assert dag.max_active_runs == 1
    assert dag.catchup is False
    assert dag.timetable.expression in ("@daily", "0 0 * * *")
    assert dag.start_date is not None and dag.start_date.year == 2026
    assert dag.doc_md and "movies_tv_shows_enriched" in dag.doc_md
    assert {"trending-now", "dbt"} <= set(dag.tags)
    # DuckDB allows one writer: only a group's sensors overlap (they read XComs; dbt takes the task lock)
    assert dag.max_active_tasks == 8


def test_no_cycles(dag: Any) -> None:
    from airflow.utils.dag_cycle_tester import check_cycle

    check_cycle(dag)  # raises AirflowDagCycleException on a cycle
    assert len(dag.topological_sort()) == len(dag.tasks)


def _is_producer(task: Any) -> bool:
    return task.task_id.endswith((f".{PRODUCER}", f".{PRODUCER}_done"))


def test_every_task_retries_with_backoff_and_reports_failures(dag: Any) -> None:
    from callbacks import on_failure_callback

    tasks = [t for t in dag.tasks if not t.task_id.endswith(f".{PRODUCER}_done")]  # Cosmos' empty gate task
    handling = {t.task_id: _failure_handling(t, on_failure_callback) for t in tasks}
    assert {i: h for i, h in handling.items() if h != _expected_handling(dag.get_task(i))} == {}


def _failure_handling(task: Any, callback: Any) -> dict[str, Any]:
    """A task's timeout, and (but for the closing tasks) its failure report, owner and retries."""
    timeout = task.execution_timeout
    facts: dict[str, Any] = {"timeout": timeout is not None and timeout > timedelta(0)}
    if task.task_id in ("run_report", "run_failed"):
        return facts  # after the steps: nothing to retry; the steps' own failures were reported
    callbacks = task.on_failure_callback if isinstance(task.on_failure_callback, list) else [task.on_failure_callback]
    facts.update(reports=callback in callbacks, owner=task.owner)
    if not _is_producer(task):  # the producer's retry only restores the results and skips: no backoff
        facts.update(retries=task.retries, backoff=bool(task.retry_exponential_backoff), max_delay=task.max_retry_delay)
    return facts


def _expected_handling(task: Any) -> dict[str, Any]:
    if task.task_id in ("run_report", "run_failed"):
        return {"timeout": True}
    if _is_producer(task):
        return {"timeout": True, "reports": True, "owner": "data-engineering"}
    return {"timeout": True, "reports": True, "owner": "data-engineering", "retries": 2, "backoff": True,
            "max_delay": timedelta(minutes=30)}


def test_enrich_runs_in_the_llm_pool_and_nothing_else_does(dag: Any) -> None:
    assert dag.get_task("enrich_titles").pool == "llm_pool"
    assert [t.task_id for t in dag.tasks if t.pool == "llm_pool"] == ["enrich_titles"]


def _group_tasks(dag: Any, group: str) -> list[Any]:
    return [t for t in dag.tasks if t.task_id.startswith(f"{group}.")]


def _upstream_closure(dag: Any, task_id: str) -> set[str]:
    return set(dag.get_task(task_id).get_flat_relative_ids(upstream=True))


def _step_task_ids(dag: Any, step: str) -> set[str]:
    return {t.task_id for t in _group_tasks(dag, step)} if step in GROUPS else {step}


def test_the_chain_is_the_pipelines_step_list(dag: Any) -> None:
    """Every step of trending_now.pipeline.STEPS, each after all of the step before it; besides them only the
    run report and the task that fails the run when a step failed."""
    ids = {t.task_id for t in dag.tasks}
    assert set(PYTHON_STEPS) <= ids
    steps = set().union(*(_step_task_ids(dag, step) for step in STEP_NAMES))
    assert ids == steps | {"countries", "run_report", "run_failed"}  # no other DAG-only task
    for before, after in pairwise(STEP_NAMES):
        for task_id in _step_task_ids(dag, after):
            assert _step_task_ids(dag, before) <= _upstream_closure(dag, task_id), (before, task_id)


@pytest.mark.parametrize("group", GROUPS)
def test_each_dbt_group_builds_once_and_watches_every_node(dag: Any, group: str) -> None:
    """One producer (one `dbt build` of the step's selection); every sensor starts right after it, with its
    gate's trigger rule (a producer retry that skipped lets them report and retry), and nothing else: the
    dbt order between the sensors is their retries' (test_model_dependencies_follow_the_manifest)."""
    from cosmos.operators.watcher import DbtProducerWatcherOperator

    tasks = _group_tasks(dag, group)
    producers = [t for t in tasks if isinstance(t, DbtProducerWatcherOperator)]
    assert [p.task_id for p in producers] == [f"{group}.{PRODUCER}"]
    # the CLI's selection and exclusions
    assert (producers[0].select.split(), producers[0].exclude.split()) == (
        list(SELECTIONS[group]), [*EXCLUDE_UNIT_TESTS, *EXCLUSIONS.get(group, [])])
    assert not producers[0].dbt_cmd_flags  # no `--resource-type` narrowing: the data tests run in the build
    gate = dag.get_task(f"{group}.{PRODUCER}_done")
    assert gate.upstream_task_ids == {producers[0].task_id} and gate.trigger_rule == "none_failed"
    sensors = {t.task_id: _sensor_facts(t) for t in tasks if not _is_producer(t)}
    expected = {
        "upstream": {producers[0].task_id}, "trigger_rule": "none_failed", "deferrable": False, "mode": "reschedule"
    }
    assert sensors and {i: facts for i, facts in sensors.items() if facts != expected} == {}


def _sensor_facts(task: Any) -> dict[str, Any]:
    return {
        "upstream": task.upstream_task_ids,
        "trigger_rule": task.trigger_rule,
        "deferrable": task.deferrable,
        "mode": task.mode,
    }


def test_every_dbt_group_shares_one_partial_parse_cache(dag: Any) -> None:
    """A group's producer starts from the previous group's dbt parse (dbt_groups.share_partial_parse)."""
    dirs = {t.cache_dir for g in GROUPS for t in _group_tasks(dag, g) if getattr(t, "cache_dir", None)}
    assert len(dirs) == 1, dirs


def _rendered_nodes(dag: Any, group: str) -> dict[str, Any]:
    """unique_id -> the task of each model or seed (``<node>_run``/``_seed`` sensors, ``<node>_build`` for tested ones)."""
    nodes: dict[str, Any] = {}
    for task in _group_tasks(dag, group):
        name = task.task_id.split(".", 1)[1]
        if name.endswith(("_run", ".run")):
            nodes[f"model.trending_now.{name[:-4]}"] = task
        elif name.endswith(("_seed", ".seed")):
            nodes[f"seed.trending_now.{name[:-5]}"] = task
        elif name.endswith("_build"):
            nodes[task.model_unique_id] = task
    return nodes


@pytest.mark.parametrize("group", GROUPS)
def test_cosmos_renders_exactly_the_nodes_dbt_selects(
    dag: Any, dbt_selection: DbtSelection, group: str
) -> None:
    """Each group has a task for every model and seed dbt selects for its step, except those an earlier group
    already shows (its producer still builds them: its command is the CLI's, checked above)."""
    selected = dbt_selection.nodes[group]
    assert selected, f"dbt selected nothing for {group}"
    earlier = set().union(*(dbt_selection.nodes[g] for g in GROUPS[: GROUPS.index(group)]))
    assert set(_rendered_nodes(dag, group)) == set(selected) - earlier


def test_every_model_and_seed_has_one_task_per_run(dag: Any, dbt_selection: DbtSelection) -> None:
    """Across the groups, every model and seed any dbt step builds has exactly one run/seed task."""
    rendered = [node for group in GROUPS for node in _rendered_nodes(dag, group)]
    assert sorted(rendered) == sorted(set().union(*dbt_selection.nodes.values()))


@pytest.mark.parametrize("group", GROUPS)
def test_a_tested_node_is_reported_with_its_data_tests(
    dag: Any, dbt_selection: DbtSelection, group: str
) -> None:
    """A model or seed with data tests has one task, ``<node>_build``, that fails when a data test of it fails
    (dags/dbt_watchers.py); one without keeps Cosmos' own sensor. No separate test task, no unit test."""
    from dbt_watchers import WATCHERS

    manifest = _manifest(dbt_selection)
    unit_tests = set(manifest.get("unit_tests", {}))
    for unique_id, task in _rendered_nodes(dag, group).items():
        data_tests = [c for c in manifest["child_map"].get(unique_id, []) if c.startswith("test.")]
        tested = isinstance(task, tuple(WATCHERS.values()))
        assert tested == bool(data_tests), (unique_id, task.task_id, len(data_tests))
        assert task.task_id.endswith("_build") == tested, task.task_id
        assert "test_type:unit" in str(
            task.exclude
        )  # a retry's `dbt build --select <node>` runs no unit test
    assert not [t.task_id for t in _group_tasks(dag, group) if t.task_id.endswith((".test", "_test"))]
    assert not {t.task_id for t in dag.tasks} & {u.split(".")[-1] for u in unit_tests}


@pytest.mark.parametrize("group", GROUPS)
def test_model_dependencies_follow_the_manifest(dag: Any, dbt_selection: DbtSelection, group: str) -> None:
    """A sensor's retry (dbt for its node alone) waits for the sensors of exactly the node's parents in the
    group (dbt_watchers: the sensors themselves all start after the producer)."""
    manifest = _manifest(dbt_selection)
    rendered = _rendered_nodes(dag, group)
    for unique_id, run_task in rendered.items():
        parents = [p for p in manifest["parent_map"].get(unique_id, []) if p in rendered]
        assert set(run_task.upstream_sensors) == {rendered[p].task_id for p in parents}, unique_id
    assert any(task.upstream_sensors for task in rendered.values())


def test_dbt_tasks_carry_no_secret_in_their_templated_env(dag: Any) -> None:
    from dbt_groups import prepare_warehouse

    for group in GROUPS:
        for task in _group_tasks(dag, group):
            if not hasattr(task, "env"):
                continue
            assert not any("PASSWORD" in key for key in task.env or {}), task.task_id
            assert prepare_warehouse in task.interceptors, task.task_id
            assert task.profile_config.target_name == "duckdb"


def test_mart_asset_is_an_outlet_of_the_export(dag: Any) -> None:
    outlets = dag.get_task("export_parquet").outlets
    assert [o.uri for o in outlets] == ["trending_now://marts/movies_tv_shows_enriched"]


# What dags/dbt_groups.py tune_cosmos_watcher() overrides in Cosmos: (module, name, how Cosmos must read it so
# that the override takes effect). "global": a function of that module reads it by name at call time;
# "attribute": some module reads it as ``<module's last part>.<name>`` at call time. Either way no module may
# copy it with ``from <module> import <name>`` (a copy would keep Cosmos' own value). "imported": the module
# imports it by name from another (the copy overridden is that module's own) and a function of it reads it;
# "method": ``<class>.<method>``, defined by that class of the module and called as ``self.<method>``.
COSMOS_OVERRIDES = (
    ("cosmos.settings", "enable_watcher_reliable_retry", "attribute"),
    ("cosmos.operators._watcher.base", "_DBT_EVENT_ALLOWLIST", "global"),
    ("cosmos.operators._watcher.base", "_process_dbt_log_event", "global"),
    ("cosmos.operators._watcher.base", "_DBT_ERROR_EVENTS_TYPES", "defined"),  # read to build the allowlist
    ("cosmos.dbt.runner", "get_runner", "global"),
    ("cosmos.operators._watcher.base", "safe_xcom_push", "imported"),
    ("cosmos.operators._watcher.aggregation", "safe_xcom_push", "imported"),
    ("cosmos.operators._watcher.base", "_store_startup_event_from_log", "global"),
    ("cosmos.operators._watcher.base", "BaseConsumerSensor._log_startup_events", "method"),
    ("cosmos.operators.local", "AbstractDbtLocalBase.calculate_openlineage_events_completes", "method"),
)


def cosmos_override_problems(package_dir: Path) -> list[str]:
    """Why an override of :data:`COSMOS_OVERRIDES` would no longer work against the Cosmos sources under
    ``package_dir`` (the installed package: its files, never the module objects the DAG already patched)."""
    trees = {path: ast.parse(path.read_text(encoding="utf-8")) for path in sorted(package_dir.rglob("*.py"))}
    problems = []
    for module, name, read in COSMOS_OVERRIDES:
        tree = trees.get(package_dir.joinpath(*module.split(".")[1:]).with_suffix(".py"))
        if read in ("imported", "method"):
            problems += _copy_or_method_problems(module, name, read, tree, trees.values())
            continue
        if tree is None or not _defines(tree, name):
            problems.append(f"{module}.{name} is no longer defined")
            continue
        copies = [f"{p.relative_to(package_dir)}" for p, t in trees.items() if _imports_by_name(t, name)]
        if copies:
            problems.append(f"{module}.{name} is imported by name in {', '.join(copies)}: an override misses it")
        if not _read_at_call_time(module, name, read, tree, trees.values()):
            problems.append(f"{module}.{name} is no longer read by Cosmos at call time: overriding it does nothing")
    return problems


def _copy_or_method_problems(
    module: str, name: str, read: str, tree: ast.Module | None, trees: Iterable[ast.Module]
) -> list[str]:
    """The "imported" and "method" overrides of :data:`COSMOS_OVERRIDES` (see there)."""
    if read == "imported":
        if tree is None or not _imports_by_name(tree, name):
            return [f"{module} no longer imports {name} by name"]
        return [] if _loads_global(tree, name) else [f"{module} no longer reads {name}: overriding it does nothing"]
    owner, method = name.split(".")
    classes = [n for n in (tree.body if tree else []) if isinstance(n, ast.ClassDef) and n.name == owner]
    if not any(isinstance(n, ast.FunctionDef) and n.name == method for c in classes for n in c.body):
        return [f"{module}.{name} is no longer defined"]
    if not any(_loads_attribute(t, "self", method) for t in trees):
        return [f"{module}.{name} is no longer called: overriding it does nothing"]
    return []


def _defines(tree: ast.Module, name: str) -> bool:
    """``name`` is a function or an assigned name at the module's top level."""
    return any(
        (isinstance(node, ast.FunctionDef) and node.name == name)
        or (isinstance(node, ast.Assign) and any(getattr(t, "id", None) == name for t in node.targets))
        for node in tree.body
    )


def _imports_by_name(tree: ast.Module, name: str) -> bool:
    return any(
        isinstance(node, ast.ImportFrom) and any(a.name == name for a in node.names) for node in ast.walk(tree)
    )


def _read_at_call_time(module: str, name: str, read: str, tree: ast.Module, trees: Iterable[ast.Module]) -> bool:
    """"global": a function of the module (not ``name`` itself) loads ``name``; "attribute": some module loads
    ``<module's last part>.<name>``; "defined": nothing more to check."""
    if read == "global":
        return _loads_global(tree, name)
    if read == "attribute":
        return any(_loads_attribute(t, module.rsplit(".", 1)[-1], name) for t in trees)
    return True


def _loads_global(tree: ast.Module, name: str) -> bool:
    return any(
        isinstance(node, ast.Name) and node.id == name and isinstance(node.ctx, ast.Load)
        for function in ast.walk(tree)
        if isinstance(function, ast.FunctionDef) and function.name != name
        for node in ast.walk(function)
    )


def _loads_attribute(tree: ast.Module, owner: str, name: str) -> bool:
    return any(
        isinstance(node, ast.Attribute)
        and node.attr == name
        and isinstance(node.value, ast.Name)
        and node.value.id == owner
        for node in ast.walk(tree)
    )


def _installed_cosmos() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("cosmos")
    assert spec and spec.submodule_search_locations
    return Path(next(iter(spec.submodule_search_locations)))


def test_the_installed_cosmos_still_has_what_the_dag_overrides() -> None:
    """tune_cosmos_watcher() sets module attributes; setting one Cosmos renamed or stopped reading succeeds
    silently. Read the installed Cosmos' own files: each overridden name is still defined there, still read
    at call time, and never copied into another module."""
    problems = cosmos_override_problems(_installed_cosmos())
    assert not problems, "Cosmos changed under dbt_groups.tune_cosmos_watcher:\n" + "\n".join(problems)


def test_the_guard_lists_every_name_the_dag_overrides() -> None:
    """Each Cosmos attribute tune_cosmos_watcher() assigns is in :data:`COSMOS_OVERRIDES` (one added there
    without the guard would go unchecked), and the guard lists nothing it no longer assigns."""
    source = (DAGS_DIR / "dbt_groups.py").read_text(encoding="utf-8")
    tune = next(
        node for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.FunctionDef) and node.name == "tune_cosmos_watcher"
    )
    assigned = {
        target.attr
        for node in ast.walk(tune)
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Attribute)
    }
    assert assigned == {name.rsplit(".", 1)[-1] for _, name, read in COSMOS_OVERRIDES if read != "defined"}


def test_the_cosmos_guard_fails_when_cosmos_changes(tmp_path: Path) -> None:
    """The guard above against copies of the installed Cosmos with one change each."""
    import shutil

    cases = {
        "renamed": (
            "_DBT_EVENT_ALLOWLIST",
            "_DBT_EVENT_ALLOWED",
            "_DBT_EVENT_ALLOWLIST is no longer defined",
        ),
        "not read": (
            "if event_name not in _DBT_EVENT_ALLOWLIST:",
            "if event_name not in frozenset(_DBT_NODE_STATUS_EVENT_TYPES):",
            "_DBT_EVENT_ALLOWLIST is no longer read",
        ),
        "copied": (
            "import json\n",
            "import json\nfrom cosmos.settings import enable_watcher_reliable_retry\n",
            "enable_watcher_reliable_retry is imported by name in operators/_watcher/base.py",
        ),
    }
    for case, (old, new, problem) in cases.items():
        copy = shutil.copytree(
            _installed_cosmos(), tmp_path / case / "cosmos", ignore=shutil.ignore_patterns("*.pyc")
        )
        base = copy / "operators" / "_watcher" / "base.py"
        text = base.read_text(encoding="utf-8")
        assert old in text, f"{case}: the installed Cosmos no longer has {old!r} to change"
        base.write_text(text.replace(old, new), encoding="utf-8")
        found = cosmos_override_problems(copy)
        assert any(problem in line for line in found), (case, found)


def test_the_cosmos_watcher_tuning_applies(dag: Any) -> None:
    """Parsing the DAG ran tune_cosmos_watcher(): the parser calls the wrapper that skips test nodes."""
    from cosmos.operators._watcher import base as watcher_base

    assert getattr(watcher_base._process_dbt_log_event, "skips_test_nodes", False)


def test_the_manifest_is_read_once_per_process(dag: Any, tmp_path: Path) -> None:
    """dbt_groups.read_manifest_once replaces Cosmos' per-group read (fail loudly if Cosmos renamed it); each
    call still gets its own parsed copy, and a rewritten manifest is read again."""
    from cosmos.dbt.graph import DbtGraph

    load = DbtGraph._load_manifest_from_file
    assert getattr(load, "reads_once", False)
    manifest = tmp_path / "manifest.json"
    manifest.write_text('{"nodes": {"a": {}}}', encoding="utf-8")
    first, second = load(None, manifest), load(None, f"file://{manifest}")
    assert first == second == {"nodes": {"a": {}}} and first is not second
    first["nodes"].clear()
    assert load(None, manifest) == {"nodes": {"a": {}}}
    manifest.write_text('{"nodes": {}}', encoding="utf-8")
    os.utime(manifest, ns=(1, 1))
    assert load(None, manifest) == {"nodes": {}}


def test_the_dbt_project_file_is_read_once_per_process(dag: Any, tmp_path: Path) -> None:
    """dbt_groups.read_dbt_project_once replaces the packages-path read Cosmos' graph makes per group (fail
    loudly if Cosmos renamed it); the answer is Cosmos' own, and a rewritten dbt_project.yml is read again."""
    from cosmos.dbt import graph as cosmos_graph

    subpath = cosmos_graph.get_dbt_packages_subpath
    assert getattr(subpath, "reads_once", False)
    project_file = tmp_path / "dbt_project.yml"
    project_file.write_text("name: p\npackages-install-path: vendored\n", encoding="utf-8")
    assert subpath(tmp_path) == subpath(tmp_path) == "vendored"
    project_file.write_text("name: p\n", encoding="utf-8")
    os.utime(project_file, ns=(1, 1))
    assert subpath(tmp_path) == "dbt_packages"
    assert subpath(tmp_path / "missing") == "dbt_packages"


def test_test_nodes_push_no_dbt_event_and_models_still_do() -> None:
    """dbt_groups.skip_test_node_events: a test node's event is dropped, any other node's passes through,
    and wrapping twice wraps once."""
    from dbt_groups import skip_test_node_events

    seen: list[str] = []

    def process(task_instance: Any, dbt_log: dict[str, Any]) -> None:
        node = (dbt_log.get("data") or {}).get("node_info") or {}
        seen.append(node.get("unique_id") or dbt_log["info"]["name"])

    wrapped = skip_test_node_events(process)
    assert skip_test_node_events(wrapped) is wrapped
    for kind, uid in (("test", "test.trending_now.not_null_x"), ("model", "model.trending_now.x")):
        wrapped(
            None,
            {
                "info": {"name": "NodeFinished"},
                "data": {"node_info": {"resource_type": kind, "unique_id": uid}},
            },
        )
    wrapped(None, {"info": {"name": "MainReportVersion"}, "data": {}})  # no node: passes through
    assert seen == ["model.trending_now.x", "MainReportVersion"]


def test_the_report_is_written_whatever_happened_and_a_failed_step_fails_the_run(dag: Any) -> None:
    """run_report runs after the last step even when a step failed (all_done); run_failed, the other leaf,
    fails the run in that case (one_failed also fires on upstream_failed), so the report never turns a
    failed run green; it sends no second failure webhook."""
    last = _step_task_ids(dag, STEP_NAMES[-1])
    report, failed = dag.get_task("run_report"), dag.get_task("run_failed")
    assert str(report.trigger_rule) in ("all_done", "TriggerRule.ALL_DONE")
    assert str(failed.trigger_rule) in ("one_failed", "TriggerRule.ONE_FAILED")
    assert report.upstream_task_ids & last and failed.upstream_task_ids & last
    assert not failed.on_failure_callback and {t.task_id for t in dag.leaves} == {"run_report", "run_failed"}


def test_releases_are_extracted_per_country_as_mapped_tasks(dag: Any) -> None:
    """extract_releases is mapped over the run's countries (the `countries` task), each country its own task
    instance with its own retries; the next step runs when every country is done and one succeeded, and a
    failed country fails the run (run_failed waits on the mapped task directly)."""
    extract = dag.get_task("extract_releases")
    assert type(extract).__name__.endswith("MappedOperator") and extract.upstream_task_ids == {"countries"}
    assert extract.retries == 2
    assert str(dag.get_task("check_freshness").trigger_rule) in (
        "all_done_min_one_success", "TriggerRule.ALL_DONE_MIN_ONE_SUCCESS")
    assert "extract_releases" in dag.get_task("run_failed").upstream_task_ids


def test_the_producer_callbacks_see_only_the_events_cosmos_acts_on_or_shows() -> None:
    """dbt_groups.skip_debug_events: a debug-level event reaches Cosmos' callback only when Cosmos publishes
    it (NodeFinished, an error), tracks it (an upstream-failure skip) or it carries a node's terminal status;
    every info-level line does. Real dbt events, and wrapping twice wraps once."""
    from dbt.adapters.events.types import SQLQuery
    from dbt.events.types import LogStartLine, NodeFinished
    from dbt_common.events.base_types import msg_from_base_event
    from dbt_groups import dbt_event_needed, skip_debug_events

    running = {"unique_id": "model.trending_now.x", "node_status": "started"}
    finished = {"unique_id": "model.trending_now.x", "node_status": "success"}

    def query(node: dict[str, str]) -> Any:
        return msg_from_base_event(SQLQuery(conn_name="c", sql="select 1", node_info=node))

    assert query(running).info.level == "debug" and not dbt_event_needed(query(running))
    assert dbt_event_needed(query(finished))
    assert dbt_event_needed(msg_from_base_event(NodeFinished(node_info=finished)))
    assert dbt_event_needed(msg_from_base_event(LogStartLine(description="x", index=1, total=1, node_info=running)))

    made: list[Any] = []
    get_runner = skip_debug_events(lambda callbacks=None: made.append(callbacks) or callbacks)
    assert skip_debug_events(get_runner) is get_runner
    seen: list[str] = []
    (callback,) = get_runner(callbacks=[lambda e: seen.append(e.info.name)])
    callback(query(running))
    callback(msg_from_base_event(NodeFinished(node_info=finished)))
    assert seen == ["NodeFinished"]
    assert get_runner() is None  # no callbacks: Cosmos' own runner


def test_an_xcom_is_pushed_again_only_with_a_new_value() -> None:
    """dbt_groups.push_once: Cosmos pushes a node's status once per event carrying it; the second push with
    the same value is not sent, a changed value is, and each task instance keeps its own record."""
    from dbt_groups import push_once

    sent: list[tuple[str, str, Any]] = []

    class TaskInstance:
        def __init__(self, name: str) -> None:
            self.name = name

    push = push_once(lambda task_instance, key, value: sent.append((task_instance.name, key, value)))
    assert push_once(push) is push
    first, second = TaskInstance("a"), TaskInstance("b")
    for ti, key, value in [(first, "k", {"status": "success"}), (first, "k", {"status": "success"}),
                           (first, "k", {"status": "error"}), (second, "k", {"status": "success"})]:
        push(task_instance=ti, key=key, value=value)
    assert sent == [("a", "k", {"status": "success"}), ("a", "k", {"status": "error"}),
                    ("b", "k", {"status": "success"})]


def test_lineage_events_are_built_only_where_the_openlineage_provider_reads_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """dbt_groups.lineage_when_read: without apache-airflow-providers-openlineage Cosmos' lineage parse is
    skipped (False: no processor), with it Cosmos' own runs."""
    import importlib.util

    from dbt_groups import lineage_when_read

    calls: list[Any] = []
    calculate = lineage_when_read(lambda self, *args: calls.append(args) or True)
    assert lineage_when_read(calculate) is calculate
    real_find_spec = importlib.util.find_spec

    def find_spec(name: str, *args: Any) -> Any:
        if name == "airflow.providers.openlineage":
            return installed
        return real_find_spec(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    installed = None
    assert calculate(None, "env") is False and calls == []
    installed = object()
    assert calculate(None, "env") is True and calls == [("env",)]


def test_a_steps_counters_are_its_tasks_one_xcom(dag: Any) -> None:
    """A Python step's task pushes its counters as one ``return_value`` XCom, not once more per counter (Airflow
    infers ``multiple_outputs`` from a ``dict`` return type: nine more Execution API calls per task)."""
    for name in PYTHON_STEPS:
        task = dag.get_task(name)
        outputs = getattr(task, "multiple_outputs", None)
        if outputs is None:  # a mapped task keeps it among its partial arguments
            outputs = task.partial_kwargs.get("multiple_outputs")
        assert outputs is False, name


def _task_facts(task: Any, among: set[str]) -> dict[str, Any]:
    """What a task's process runs: the serialized task (its arguments, type, trigger rule, retries...), its
    relatives among ``among``, the sensors a retry waits for, and its Cosmos group's selection."""
    from airflow.serialization.serialized_objects import OperatorSerialization

    serialized = OperatorSerialization.serialize_operator(task)
    serialized.pop("downstream_task_ids", None)
    graph = getattr(task.task_group, "dbt_graph", None)
    return {
        **serialized,
        "upstream": task.upstream_task_ids & among,
        "downstream": task.downstream_task_ids & among,
        "upstream_sensors": getattr(task, "upstream_sensors", None),
        "producer_task_id": getattr(task, "producer_task_id", None),
        "cache_dir": getattr(task, "cache_dir", None),
        "pool": task.pool,
        "outlets": task.outlets,
        "group_select": graph and graph.render_config.select,
        "group_exclude": graph and graph.render_config.exclude,
        "group_nodes": graph and sorted(graph.filtered_nodes),
    }


def test_a_task_process_builds_just_its_task_as_the_full_dag_does(dag: Any, dbt_selection: DbtSelection) -> None:
    """In a task's own process (Airflow's parsing context names the task) the DAG file builds only that task's
    node: the step's task, its dbt group, ``countries`` with the mapped extract it feeds, or the closing task.
    Each of its tasks equals the full DAG's, a later group's exclusions included (the nodes the groups before
    it show, taken from their dbt selection without building them: dbt_groups.selected_nodes)."""
    pending = set(dag.task_ids)
    while pending:
        task_id = min(pending)
        bag = _task_process_bag(dbt_selection, task_id)
        assert bag.import_errors == {}, bag.import_errors
        part = bag.dags[DAG_ID]
        among = set(part.task_ids)
        assert task_id in among and among <= set(dag.task_ids), (task_id, among)
        node = f"{task_id.split('.')[0]}." if "." in task_id else None
        if node:  # a dbt group: all of it and nothing else
            assert among == {t for t in dag.task_ids if t.startswith(node)}, task_id
        else:
            assert len(among) <= 2 and not any("." in t for t in among), among
        for other in among:
            assert _task_facts(part.get_task(other), among) == _task_facts(dag.get_task(other), among), other
        pending -= among
    assert set(_dag_bag_tasks(dbt_selection, "extract_releases")) == {"countries", "extract_releases"}


def _task_process_bag(selection: DbtSelection, task_id: str) -> Any:
    """dags/ parsed as the task runner parses it in the task's process: Airflow's parsing context names the DAG
    and the task (the variables the runner's ``_airflow_parsing_context_manager`` sets; set here through
    monkeypatch, since that manager leaves them set in the process)."""
    from airflow.sdk.definitions.context import (
        _AIRFLOW_PARSING_CONTEXT_DAG_ID,
        _AIRFLOW_PARSING_CONTEXT_TASK_ID,
    )

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(_AIRFLOW_PARSING_CONTEXT_DAG_ID, DAG_ID)
        mp.setenv(_AIRFLOW_PARSING_CONTEXT_TASK_ID, task_id)
        return _dag_bag(selection)


def _dag_bag_tasks(selection: DbtSelection, task_id: str) -> list[str]:
    return list(_task_process_bag(selection, task_id).dags[DAG_ID].task_ids)


def test_the_dag_processor_and_an_unknown_task_get_the_full_dag(dag: Any, dbt_selection: DbtSelection) -> None:
    """No task in the parsing context (the DAG processor, ``airflow dags test``), another DAG's or a task id
    this DAG does not have: the whole DAG."""
    assert set(_dag_bag_tasks(dbt_selection, "no_such_task")) == set(dag.task_ids)
