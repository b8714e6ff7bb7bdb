"""The Airflow DAG's costs: parse time by Cosmos load mode, and a whole day under Airflow vs the CLI.

1. DAG parse time with ``LoadMode.DBT_MANIFEST`` (what the DAG uses) vs ``LoadMode.DBT_LS`` (Cosmos runs
   ``dbt ls`` per task group while parsing; its Airflow-Variable cache is disabled to measure a cold parse,
   the cost every changed project pays). Each parse runs in a fresh interpreter (imports included, as a
   DAG processor pays them), ``--repeat`` times; the median is reported.
2. Wall time of ``airflow dags test data_ingestion_trending_now <day>`` vs the CLI (``trending-now demo``) for
   the same day, both against the replay server on the recorded samples, each in its own project root (a
   copy of the dbt project with dbt's default target folder, as deployed; its own DuckDB) and each DAG run
   in its own migrated Airflow home: the DAG's dbt groups in Cosmos' ``ExecutionMode.WATCHER`` (what the
   DAG uses: one ``dbt build`` per group, one sensor per model that also reports its data tests), paired
   with the CLI ``--day-repeat`` times back to back (medians reported: the shared machine's load drifts),
   and once in ``ExecutionMode.LOCAL`` (one dbt invocation per model and per model's tests, the shape the
   DAG had before; ``airflow.dbt_execution_mode: local``).
3. The same day triggered in a real Airflow 3 (the local stack of ``tests/integration/local_stack.py``:
   api-server, scheduler, dag-processor, LocalExecutor, SQLite; every task in its own process, as on MWAA),
   paired with the CLI ``--day-repeat`` times: the run's time is Airflow's own (the run's ``queued_at`` at
   the trigger to its ``end_date``); starting the stack is not counted (on MWAA it is always up), nor the api-server's one-off
   first Execution API request (``LocalAirflow.warm_execution_api``). Where the
   time goes per task is read from the task instances' timestamps (queued, start, end) and the task logs
   (Airflow's ``Worker startup parse complete`` line, the DAG file's own parse profile line, the
   ``Pre Execute``/``Post Execute`` markers), for the median run.

Prints Markdown tables and writes them to bench/results/dag.md. ``--scheduler`` runs only the CLI/scheduler
pairing, replaces only its own section of bench/results/dag.md and ends with ``scheduler/CLI ratio: N.NN``.

    .venv/bin/python bench/bench_dag.py [--repeat 5] [--day-repeat 3] [--skip-runs] [--scheduler]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DBT_DIR = ROOT / "dbt_project"
DAG_ID = "data_ingestion_trending_now"
DAY = date(2026, 11, 20)
RESULTS = ROOT / "bench" / "results" / "dag.md"

sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _common import machine_header, write_result  # noqa: E402

# Builds the DAG's two Cosmos groups with the given load mode, in a fresh interpreter; prints seconds.
PARSE_SNIPPET = """
import time
started = time.perf_counter()
import sys
sys.path.insert(0, {dags!r})
from airflow.sdk import DAG  # before cosmos: importing cosmos first is a circular import in Cosmos 1.15
from cosmos import LoadMode
from dag_settings import DagOptions
from dbt_groups import dbt_selection, dbt_task_group
from core.config import parse_settings
from trending_now.pipeline import STEPS
options = DagOptions(parse_settings())
with DAG("bench_parse", schedule=None) as dag:
    for step in STEPS:
        if dbt_selection(step):
            dbt_task_group(step, options, load_method=LoadMode.{mode})
print(f"{{time.perf_counter() - started:.4f}} {{len(dag.tasks)}}")
"""

QUIET = {
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
    "AIRFLOW__COSMOS__ENABLE_CACHE_DBT_LS": "False",
    "SCARF_ANALYTICS": "false",
    "DO_NOT_TRACK": "1",
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
    "RUNTIME__DLTHUB_TELEMETRY": "false",
}


def base_env(airflow_home: Path, target_path: Path | None = None) -> dict[str, str]:
    """The environment of a bench subprocess; ``target_path`` points the settings' dbt target there (the
    parse runs), else each project uses its own dbt project's default target folder (the day runs)."""
    drop = ("GEMINI_API_KEY", "GOOGLE_API_KEY", "APP_ENV")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRENDING_NOW__") and k not in drop}
    env.update(QUIET)
    env.update(
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        AIRFLOW_HOME=str(airflow_home),
        AIRFLOW__COSMOS__CACHE_DIR=str(airflow_home / "cosmos-cache"),  # a fresh worker's: nothing cached
        AIRFLOW__CORE__DAGS_FOLDER=str(ROOT / "dags"),
    )
    if target_path is not None:
        env["TRENDING_NOW__DBT__TARGET_PATH"] = str(target_path)
    return env


def run(cmd: list[str], env: dict[str, str], cwd: Path | None = None, timeout: float = 1800) -> float:
    started = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(
            f"{' '.join(cmd[:4])} failed ({proc.returncode}):\n{(proc.stdout + proc.stderr)[-4000:]}"
        )
    return elapsed


def parse_times(mode: str, env: dict[str, str], repeat: int) -> tuple[float, int]:
    code = PARSE_SNIPPET.format(dags=str(ROOT / "dags"), mode=mode)
    seconds: list[float] = []
    tasks = 0
    for _ in range(repeat):
        proc = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=900, check=False
        )
        if proc.returncode != 0:
            raise SystemExit(f"parse with {mode} failed:\n{proc.stderr[-4000:]}")
        value, count = proc.stdout.strip().splitlines()[-1].split()
        seconds.append(float(value))
        tasks = int(count)
    return statistics.median(seconds), tasks


def project_root(tmp: Path, manifest: Path) -> Path:
    """A throw-away project root (config, DVC project, samples, a copy of the dbt project) so exports,
    reports and dbt artifacts stay out of the repo. The dbt project's target folder is dbt's default
    (``<project>/target``, as deployed): it holds the manifest Cosmos renders from, and the partial-parse
    cache the first dbt call of a run leaves there is the one the next calls (CLI steps or Cosmos producers)
    start from. No partial-parse cache is copied in: every run starts with a cold dbt parse."""
    from dvc.repo import Repo

    root = tmp / "project"
    shutil.copytree(ROOT / "config", root / "config")
    shutil.copytree(
        DBT_DIR, root / "dbt_project", ignore=shutil.ignore_patterns("target", "logs", "dbt_packages")
    )
    (root / "dbt_project" / "target").mkdir()
    shutil.copy2(manifest, root / "dbt_project" / "target" / "manifest.json")
    (root / "data").mkdir(parents=True)
    (root / "data" / "samples").symlink_to(ROOT / "data" / "samples")
    with contextlib.redirect_stdout(io.StringIO()):  # "Initialized DVC repository." is not part of the table
        Repo.init(str(root), no_scm=True).close()
    (root / ".dvc" / "config").write_text("[core]\n    remote = local\n", encoding="utf-8")
    return root


def project_env(root: Path) -> dict[str, str]:
    return {
        "TRENDING_NOW_ROOT": str(root),
        "APP_ENV": "dev",
        "TRENDING_NOW__WAREHOUSE__TARGET": "duckdb",
        "TRENDING_NOW__WAREHOUSE__DUCKDB_PATH": str(root / "warehouse" / "trending_now.duckdb"),
        "TRENDING_NOW__WAREHOUSE__PIPELINES_DIR": str(root / "warehouse" / ".dlt"),
        "TRENDING_NOW__REVIEWS__CACHE_DIR": str(root / "warehouse" / "http-cache"),
        "TRENDING_NOW__REVIEWS__PER_HOST_RPS": "50",  # every replayed "host" is 127.0.0.1
        "TRENDING_NOW__ENRICH__PROVIDER": "heuristic",
        "TRENDING_NOW__DBT__PROJECT_DIR": str(root / "dbt_project"),
        "TRENDING_NOW__DBT__PROFILES_DIR": str(root / "dbt_project"),
        "TRENDING_NOW__DBT__LOG_PATH": str(root / "dbt-logs"),
        "TRENDING_NOW__DVC__SITE_CACHE_DIR": str(root / "dvc-site-cache"),
    }


def fresh_airflow_home(tmp: Path, name: str) -> tuple[Path, dict[str, str]]:
    """A migrated Airflow home with the ``llm_pool`` pool (and its own Cosmos cache, as a fresh worker's)."""
    home = tmp / name
    home.mkdir(parents=True)
    env = base_env(home)
    for command in (("db", "migrate"), ("pools", "set", "llm_pool", "2", "LLM calls")):
        run([str(BIN / "airflow"), *command], env, cwd=home)
    return home, env


def cli_day(tmp: Path, env: dict[str, str], manifest: Path) -> float:
    """``trending-now demo`` for the day in a fresh project root (its own DuckDB, dbt target, DVC cache)."""
    root = project_root(tmp, manifest)
    return run(
        [str(BIN / "trending-now"), "demo", "--as-of", DAY.isoformat(), "--quiet"],
        {**env, **project_env(root)},
    )


def dag_day(tmp: Path, mode: str, manifest: Path) -> float:
    """``airflow dags test`` of the day in a fresh Airflow home and project root, against the replay server."""
    from core.replay import ReplayServer

    home, env = fresh_airflow_home(tmp, "airflow-home")
    root = project_root(tmp, manifest)
    with ReplayServer(ROOT / "data" / "samples") as server:
        replay = {
            f"TRENDING_NOW__{k.upper().replace('.', '__')}": v for k, v in server.settings_overrides().items()
        }
        af_env = {
            **env,
            **project_env(root),
            **replay,
            "TMDB_API_KEY": "replay",
            "GUARDIAN_API_KEY": "replay",
            "TRENDING_NOW__AIRFLOW__DBT_EXECUTION_MODE": mode,
        }
        return run([str(BIN / "airflow"), "dags", "test", DAG_ID, DAY.isoformat()], af_env, cwd=home)


def replay_env(server: Any) -> dict[str, str]:
    """The replay server's settings overrides as ``TRENDING_NOW__`` variables, with the replayed API keys."""
    overrides = {
        f"TRENDING_NOW__{k.upper().replace('.', '__')}": v for k, v in server.settings_overrides().items()
    }
    return {**overrides, "TMDB_API_KEY": "replay", "GUARDIAN_API_KEY": "replay"}


@dataclass
class SchedulerRun:
    """A day triggered in the local Airflow 3 stack: Airflow's own duration and what each task spent."""

    seconds: float
    tasks: list[TaskSpan] = field(default_factory=list)
    after_last_task_s: float = 0.0  # the last task's end to the run's end (the scheduler closing the run)


@dataclass
class TaskSpan:
    """One task instance's time, from its timestamps (queued/start/end) and its log (see ``task_span``)."""

    task_id: str
    kind: str
    scheduling_s: float  # ready (upstream done) -> queued, a wait for a free executor slot included
    queued_s: float  # queued -> started (executor picks it up, supervisor forks the task process)
    process_s: float  # started -> the task process begins its start-up (startup message, logging)
    startup_s: float  # the rest of the start-up before execute: DAG bundle, template context, rendering
    parse_s: float  # the task process parses the DAG file (Airflow's dag_file_parse_ms)
    imports_s: float  # of the parse: the DAG file's module imports (its own profile line)
    execute_s: float  # the operator's execute(): the step's work, the producer's dbt, a sensor's pokes
    finish_s: float  # after execute: XCom push, rendered fields, the final state call
    total_s: float  # queued -> end


PROFILE_EVENT = "DAG file parse profile"  # logged by dags/data_ingestion_trending_now.py in a task process


def _ts(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def _log_events(path: Path) -> list[dict[str, Any]]:
    import json

    events = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        with contextlib.suppress(ValueError):
            event = json.loads(line)
            if isinstance(event, dict) and "timestamp" in event:
                events.append(event)
    return events


def task_span(ti: dict[str, Any], ready: datetime, log: Path, kind: str) -> TaskSpan:
    """Split one task instance's time using its timestamps and its task log (the first attempt's)."""
    queued, start, end = _ts(ti.get("queued_when")), _ts(ti.get("start_date")), _ts(ti.get("end_date"))
    assert queued and start and end, f"{ti['task_id']} has no queued/start/end timestamps"
    events = _log_events(log) if log.exists() else []

    def first(name: str, after: datetime | None = None) -> tuple[datetime | None, dict[str, Any]]:
        for event in events:
            stamp = _ts(event["timestamp"])
            if event.get("event") == name and stamp and (after is None or stamp >= after):
                return stamp, event
        return None, {}

    pre, _ = first("::group::Pre Execute")
    parsed, parse_event = first("Worker startup parse complete")
    _, profile = first(PROFILE_EVENT)
    exec_start, _ = first("::endgroup::", parsed)
    exec_end, _ = first("::group::Post Execute", exec_start)
    parse_s = float(parse_event.get("dag_file_parse_ms", 0)) / 1000
    pre = pre or start
    exec_start = exec_start or parsed or start
    exec_end = exec_end or end
    return TaskSpan(
        task_id=ti["task_id"],
        kind=kind,
        scheduling_s=max((queued - ready).total_seconds(), 0.0),
        queued_s=(start - queued).total_seconds(),
        process_s=max((pre - start).total_seconds(), 0.0),
        startup_s=max((exec_start - pre).total_seconds() - parse_s, 0.0),
        parse_s=parse_s,
        imports_s=float(profile.get("imports_ms", 0)) / 1000,
        execute_s=(exec_end - exec_start).total_seconds(),
        finish_s=max((end - exec_end).total_seconds(), 0.0),
        total_s=(end - queued).total_seconds(),
    )


def task_kind(task: dict[str, Any]) -> str:
    operator = str(task.get("operator_name") or task.get("class_ref", {}).get("class_name") or "")
    if "Producer" in operator:
        return "dbt build"
    if "Sensor" in operator or "Watcher" in operator:
        return "sensor"
    return "gate" if task["task_id"].endswith("_done") else "python"


def _latest(first: datetime, ends: list[datetime | None]) -> datetime:
    """The latest of ``first`` and ``ends`` (None: not ended). A task is ready at its upstream tasks' latest
    end, the run's trigger for the first task."""
    return max([first, *[end for end in ends if end]])


def _upstream(tasks: dict[str, dict[str, Any]]) -> dict[str, list[str]]:
    """task id -> the ids of the tasks right before it (the API lists each task's downstream ones)."""
    upstream: dict[str, list[str]] = {task_id: [] for task_id in tasks}
    for task_id, task in tasks.items():
        for child in task.get("downstream_task_ids") or []:
            upstream.setdefault(child, []).append(task_id)
    return upstream


def run_profile(api: Any, run: dict[str, Any], logs: Path) -> SchedulerRun:
    """Each task's span, in the order the tasks were queued. A task is ready when its upstream tasks have
    ended (the run's trigger for the first); the wait for a free executor slot counts as scheduling."""
    tasks = {t["task_id"]: t for t in api.request("GET", f"/dags/{DAG_ID}/tasks")["tasks"]}
    upstream = _upstream(tasks)
    every = api.task_instances(DAG_ID, run["dag_run_id"])
    # the gates (EmptyOperators) and skipped tasks end without being queued: no worker, no span, but their
    # end is when the tasks after them became ready
    ends = {ti["task_id"]: _ts(ti.get("end_date")) for ti in every}
    tis = sorted((ti for ti in every if ti.get("queued_when")), key=lambda ti: ti["queued_when"])
    queued_at = _ts(run["queued_at"])
    assert queued_at is not None
    run_logs = logs / f"dag_id={DAG_ID}" / f"run_id={run['dag_run_id']}"
    spans = [
        task_span(
            ti,
            _latest(queued_at, [ends.get(u) for u in upstream.get(ti["task_id"], [])]),
            run_logs / f"task_id={ti['task_id']}" / "attempt=1.log",
            task_kind(tasks.get(ti["task_id"], ti)),
        )
        for ti in tis
    ]
    run_end, last = _ts(run["end_date"]), _latest(queued_at, [ends.get(ti["task_id"]) for ti in tis])
    assert run_end is not None
    return SchedulerRun(
        seconds=(run_end - queued_at).total_seconds(),
        tasks=spans,
        after_last_task_s=max((run_end - last).total_seconds(), 0.0),
    )


def scheduler_day(tmp: Path, manifest: Path) -> SchedulerRun:
    """The day triggered through the REST API of a local Airflow 3 stack started for it (not timed), in a
    fresh Airflow home and project root, against the replay server; the stack is stopped afterwards."""
    from core.replay import ReplayServer
    from tests.integration.local_stack import LocalAirflow

    root = project_root(tmp, manifest)
    home = tmp / "airflow-home"
    home.mkdir(parents=True)
    with ReplayServer(ROOT / "data" / "samples") as server:
        stack = LocalAirflow(
            home=home,
            target_path=root / "dbt_project" / "target",
            base_env={**base_env(home), **project_env(root), **replay_env(server)},
        )
        run([str(BIN / "airflow"), "db", "migrate"], stack.env(), cwd=home)
        try:
            stack.start()
            api = stack.wait_until_serving(DAG_ID)
            api.timeout_s = 300  # one API worker beside SQLite on a loaded machine: slow answers, not errors
            api.ensure_pool("llm_pool", 2, "LLM calls")
            if api.dag(DAG_ID)["is_paused"]:
                api.set_paused(DAG_ID, False)
            started = api.trigger(DAG_ID, datetime(DAY.year, DAY.month, DAY.day, tzinfo=UTC))
            done = api.wait_for_run(DAG_ID, started["dag_run_id"], 1800, alive=stack.dead_component)
            if done["state"] != "success":
                raise SystemExit(
                    f"the scheduler's run ended {done['state']}: {api.slowest(DAG_ID, done['dag_run_id'])}"
                    f" (logs under {home / 'logs'})"
                )
            return run_profile(api, done, home / "logs")
        finally:
            stack.stop()


def day_runs(
    tmp: Path, target: Path, repeat: int, dags_test: bool = True
) -> tuple[dict[str, list[float]], list[SchedulerRun]]:
    """Seconds of the CLI, of the DAG under ``airflow dags test`` in watcher mode (unless ``dags_test`` is
    off) and of the DAG triggered in the local Airflow stack, one after the other ``repeat`` times (the
    machine's load drifts: each set runs back to back); then the DAG in the old per-model LOCAL shape once."""
    manifest = target / "manifest.json"
    env = base_env(tmp)
    seconds: dict[str, list[float]] = {"cli": [], "watcher": [], "scheduler": [], "local": []}
    runs: list[SchedulerRun] = []
    for i in range(repeat):
        seconds["cli"].append(cli_day(tmp / f"cli-{i}", env, manifest))
        if dags_test:
            seconds["watcher"].append(dag_day(tmp / f"watcher-{i}", "watcher", manifest))
        runs.append(scheduler_day(tmp / f"scheduler-{i}", manifest))
        seconds["scheduler"].append(runs[-1].seconds)
        line = f"day {i + 1}/{repeat}: CLI {seconds['cli'][-1]:.1f} s"
        if dags_test:
            line += f", dags test {seconds['watcher'][-1]:.1f} s"
        print(f"{line}, scheduler {seconds['scheduler'][-1]:.1f} s", file=sys.stderr)
    if dags_test:
        seconds["local"].append(dag_day(tmp / "local", "local", manifest))
    return seconds, runs


def dag_tasks(env: dict[str, str], mode: str) -> int:
    """How many tasks the DAG has with the given dbt execution mode."""
    code = (
        f"import sys; sys.path.insert(0, {str(ROOT / 'dags')!r}); import data_ingestion_trending_now as m; "
    )
    code += "print(len(m.dag.tasks))"
    proc = subprocess.run(
        [sys.executable, "-c", code],
        env={**env, "TRENDING_NOW__AIRFLOW__DBT_EXECUTION_MODE": mode},
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return int(proc.stdout.strip().splitlines()[-1])


def _spread(values: list[float]) -> str:
    return ", ".join(f"{v:.1f}" for v in values) + " s"


PROFILE_COLUMNS = (
    ("scheduling_s", "scheduling (ready → queued)"),
    ("queued_s", "queued → started (executor, supervisor)"),
    ("process_s", "process start"),
    ("startup_s", "start-up besides the parse (bundle, context)"),
    ("parse_s", "DAG parse"),
    ("imports_s", "of which DAG-file imports"),
    ("execute_s", "execute (work / sensor pokes)"),
    ("finish_s", "after execute (XCom, state)"),
    ("total_s", "queued → end"),
)


def profile_table(run: SchedulerRun) -> str:
    """Where one triggered run's time went, per task and summed by kind of task."""
    head = "| task | kind | " + " | ".join(title for _, title in PROFILE_COLUMNS) + " |"
    rows = [head, "|" + "---|" * (len(PROFILE_COLUMNS) + 2)]
    for span in run.tasks:
        cells = " | ".join(f"{getattr(span, key):.2f}" for key, _ in PROFILE_COLUMNS)
        rows.append(f"| {span.task_id} | {span.kind} | {cells} |")
    kinds = sorted({span.kind for span in run.tasks})
    for kind in [*kinds, "all"]:
        spans = [s for s in run.tasks if kind in ("all", s.kind)]
        cells = " | ".join(f"**{sum(getattr(s, key) for s in spans):.1f}**" for key, _ in PROFILE_COLUMNS)
        rows.append(f"| **sum: {kind}** ({len(spans)} tasks) | | {cells} |")
    rows.append(
        f"\nRun {run.seconds:.1f} s (trigger → run end); after the last task the scheduler closed the run in "
        f"{run.after_last_task_s:.1f} s. Seconds; each task's columns add up to its queued → end except "
        "*of which DAG-file imports* (part of *DAG parse*); *scheduling* is the wait from the moment the task "
        "could run (its upstream done) to its queueing, a wait for a free executor slot included; tasks that ran "
        "side by side (a group's sensors) overlap, so the sums exceed the run's time."
    )
    return "\n".join(rows)


def scheduler_rows(seconds: dict[str, list[float]], repeat: int, task_count: int) -> list[str]:
    cli_s, scheduler_s = statistics.median(seconds["cli"]), statistics.median(seconds["scheduler"])
    return [
        f"| whole day {DAY}, `trending-now demo` (CLI, replay server, DuckDB; median of {repeat}: "
        f"{_spread(seconds['cli'])}) | {cli_s:.1f} s | 1.00× (baseline) |",
        f"| whole day {DAY} triggered in the local Airflow 3 stack (api-server, scheduler, dag-processor, "
        f"LocalExecutor: each task in its own process; {task_count} tasks; trigger → run end, median of "
        f"{repeat}: {_spread(seconds['scheduler'])}) | {scheduler_s:.1f} s | {scheduler_s / cli_s:.2f}× |",
    ]


def median_run(runs: list[SchedulerRun]) -> SchedulerRun:
    return sorted(runs, key=lambda r: r.seconds)[len(runs) // 2]


SCHEDULER_HEADING = "## Under a real scheduler"


def write_scheduler_section(table: str, profile: str) -> None:
    """Replace (or append) the scheduler section of bench/results/dag.md, with its own machine header."""
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else f"# DAG benchmark ({DAY})\n"
    text = text.split(f"\n{SCHEDULER_HEADING}")[0].rstrip() + "\n"
    section = [
        SCHEDULER_HEADING,
        "`python bench/bench_dag.py --scheduler`: the CLI and the triggered run, back to back, medians.",
        machine_header(),
        table,
        "Where the median run's time went (task instance timestamps and task logs):",
        profile,
        "The machine is shared by other jobs: compare the ratio, measured within this run.",
    ]
    RESULTS.write_text(text + "\n" + "\n\n".join(section) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="parses per load mode (median reported)")
    parser.add_argument("--day-repeat", type=int, default=3, help="CLI/DAG day pairs (medians reported)")
    parser.add_argument("--skip-runs", action="store_true", help="only the parse-time comparison")
    parser.add_argument(
        "--scheduler",
        action="store_true",
        help="only the CLI against the run triggered in the local Airflow 3 stack (with the per-task table)",
    )
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="bench-dag-") as tmp_name:
        tmp = Path(tmp_name)
        target = tmp / "dbt-target"
        (tmp / "parse-home").mkdir()
        env = base_env(tmp / "parse-home", target)
        run(
            [
                str(BIN / "dbt"),
                "parse",
                "--quiet",
                "--project-dir",
                str(DBT_DIR),
                "--profiles-dir",
                str(DBT_DIR),
            ],
            {**env, "DBT_TARGET_PATH": str(target), "DBT_LOG_PATH": str(tmp / "dbt-logs")},
        )
        if args.scheduler:
            seconds, runs = day_runs(tmp, target, args.day_repeat, dags_test=False)
            rows = scheduler_rows(seconds, args.day_repeat, dag_tasks(env, "watcher"))
            table = "\n".join(["| measurement | value | ratio |", "|---|---|---|", *rows])
            profile = profile_table(median_run(runs))
            write_scheduler_section(table, profile)
            ratio = statistics.median(seconds["scheduler"]) / statistics.median(seconds["cli"])
            print(f"{table}\n\n{profile}\n\nscheduler/CLI ratio: {ratio:.2f}")
            return 0
        manifest_s, manifest_tasks = parse_times("DBT_MANIFEST", env, args.repeat)
        ls_s, ls_tasks = parse_times("DBT_LS", env, args.repeat)
        rows = [
            "| measurement | value | ratio |",
            "|---|---|---|",
            f"| DAG parse, `LoadMode.DBT_MANIFEST` (median of {args.repeat}, fresh interpreter) "
            f"| {manifest_s:.2f} s ({manifest_tasks} dbt tasks) | 1.00× (baseline) |",
            f"| DAG parse, `LoadMode.DBT_LS`, cache off (median of {args.repeat}) "
            f"| {ls_s:.2f} s ({ls_tasks} dbt tasks) | {ls_s / manifest_s:.2f}× |",
        ]
        profile = ""
        if not args.skip_runs:
            seconds, runs = day_runs(tmp, target, args.day_repeat)
            cli_s, watcher_s, local_s = (statistics.median(seconds[k]) for k in ("cli", "watcher", "local"))
            watcher_tasks = dag_tasks(env, "watcher")
            rows += [
                scheduler_rows(seconds, args.day_repeat, watcher_tasks)[0],
                f"| whole day {DAY}, `airflow dags test`, dbt groups in `ExecutionMode.WATCHER` (the DAG, "
                f"{watcher_tasks} tasks; median of {args.day_repeat}: {_spread(seconds['watcher'])}) "
                f"| {watcher_s:.1f} s | {watcher_s / cli_s:.2f}× |",
                f"| whole day {DAY}, `airflow dags test`, dbt groups in `ExecutionMode.LOCAL` (one dbt run per "
                f"model and per model's tests; {dag_tasks(env, 'local')} tasks; once) | {local_s:.1f} s "
                f"| {local_s / cli_s:.2f}× |",
                scheduler_rows(seconds, args.day_repeat, watcher_tasks)[1],
            ]
            profile = profile_table(median_run(runs))
    table = "\n".join(rows)
    notes = (
        "Parse: the DAG's Cosmos task groups (one per dbt step) built in a fresh interpreter (imports included).\n"
        "Whole day: the recorded samples through the replay server into a temporary DuckDB, run one after "
        "the other.\nThe machine is shared by other jobs: compare ratios within one table."
    )
    if profile:
        notes += f"\n\nWhere the median triggered run's time went (task instance timestamps and task logs):\n\n{profile}"
    write_result("dag", f"DAG benchmark ({DAY})", table, notes, out=RESULTS)
    print(f"{table}\n\n{profile}" if profile else table)
    if profile:
        print(f"\nscheduler/CLI ratio: {statistics.median(seconds['scheduler']) / cli_s:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
