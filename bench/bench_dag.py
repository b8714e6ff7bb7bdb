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

Prints a Markdown table and writes it to bench/results/dag.md.

    .venv/bin/python bench/bench_dag.py [--repeat 5] [--day-repeat 3] [--skip-runs]
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
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DBT_DIR = ROOT / "dbt_project"
DAG_ID = "data_ingestion_trending_now"
DAY = date(2026, 11, 20)
RESULTS = ROOT / "bench" / "results" / "dag.md"

sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _common import write_result  # noqa: E402

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
    from trending_now.replay import ReplayServer

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


def day_runs(tmp: Path, target: Path, repeat: int) -> dict[str, list[float]]:
    """Seconds of the CLI and of the DAG in watcher mode, alternated ``repeat`` times (the machine's load drifts:
    each pair runs back to back), and of the DAG in the old per-model LOCAL shape once."""
    manifest = target / "manifest.json"
    env = base_env(tmp)
    seconds: dict[str, list[float]] = {"cli": [], "watcher": [], "local": []}
    for i in range(repeat):
        seconds["cli"].append(cli_day(tmp / f"cli-{i}", env, manifest))
        seconds["watcher"].append(dag_day(tmp / f"watcher-{i}", "watcher", manifest))
        print(
            f"day {i + 1}/{repeat}: CLI {seconds['cli'][-1]:.1f} s, DAG {seconds['watcher'][-1]:.1f} s",
            file=sys.stderr,
        )
    seconds["local"].append(dag_day(tmp / "local", "local", manifest))
    return seconds


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="parses per load mode (median reported)")
    parser.add_argument("--day-repeat", type=int, default=3, help="CLI/DAG day pairs (medians reported)")
    parser.add_argument("--skip-runs", action="store_true", help="only the parse-time comparison")
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
        if not args.skip_runs:
            seconds = day_runs(tmp, target, args.day_repeat)
            cli_s, watcher_s, local_s = (statistics.median(seconds[k]) for k in ("cli", "watcher", "local"))
            rows += [
                f"| whole day {DAY}, `trending-now demo` (CLI, replay server, DuckDB; median of {args.day_repeat}: "
                f"{_spread(seconds['cli'])}) | {cli_s:.1f} s | 1.00× (baseline) |",
                f"| whole day {DAY}, `airflow dags test`, dbt groups in `ExecutionMode.WATCHER` (the DAG, "
                f"{dag_tasks(env, 'watcher')} tasks; median of {args.day_repeat}: {_spread(seconds['watcher'])}) "
                f"| {watcher_s:.1f} s | {watcher_s / cli_s:.2f}× |",
                f"| whole day {DAY}, `airflow dags test`, dbt groups in `ExecutionMode.LOCAL` (one dbt run per "
                f"model and per model's tests; {dag_tasks(env, 'local')} tasks; once) | {local_s:.1f} s "
                f"| {local_s / cli_s:.2f}× |",
            ]
    table = "\n".join(rows)
    notes = (
        "Parse: the DAG's Cosmos task groups (one per dbt step) built in a fresh interpreter (imports included).\n"
        "Whole day: the recorded samples through the replay server into a temporary DuckDB, run one after "
        "the other.\nThe machine is shared by other jobs: compare ratios within one table."
    )
    write_result("dag", f"DAG benchmark ({DAY})", table, notes, out=RESULTS)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
