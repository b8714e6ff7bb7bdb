"""Parse the DAG the way Amazon MWAA will: under the Airflow of requirements-mwaa.txt.

Run it through ``make mwaa-check``, which installs MWAA's requirements file into a venv with the index
unreachable, from a wheelhouse of the same pins (scripts/mwaa_wheelhouse.py), runs this script with that
venv's interpreter and exports the telemetry opt-outs (dbt, dlt, Cosmos, Scarf). It

1. checks that the installed Airflow is the one MWAA runs (the ``apache-airflow`` pin of
   infrastructure/modules/mwaa/essential-constraints.txt);
2. writes a fresh dbt manifest with that venv's dbt (``dbt parse --target redshift``, offline: the
   profile's defaults need no warehouse);
3. loads dags/ with Airflow's DagBag, as the MWAA scheduler does, with APP_ENV=staging;
4. fails unless there are 0 import errors, the DAG is there and Cosmos rendered its dbt groups;
5. imports every module of the project and every third-party module its code imports, also inside
   functions (what the tasks import when they run), so a runtime dependency missing from
   requirements-mwaa.in fails here and not on a worker.

Everything it writes goes to a temporary directory. Exit 0 when the DAG parses, 1 otherwise.
"""

from __future__ import annotations

import ast
import importlib
import os
import re
import subprocess
import sys
import tempfile
from importlib.metadata import version
from pathlib import Path

from mwaa_bundle import project_packages  # scripts/ is on sys.path: this file runs as a script

ROOT = Path(__file__).resolve().parents[1]
DAGS_DIR = ROOT / "dags"
DBT_DIR = ROOT / "dbt_project"
CONSTRAINTS = ROOT / "infrastructure" / "modules" / "mwaa" / "essential-constraints.txt"
PACKAGES = project_packages()
DAG_ID = "data_ingestion_trending_now"
# Imported by the code but not installed on MWAA, with the reason.
NOT_ON_MWAA = {
    "duckdb": "the warehouse of the dev target only (staging and prod use Redshift)",
    "httpx2": "optional: the Gemini provider imports it under try/except ImportError",
}


def mwaa_airflow_version(constraints: Path = CONSTRAINTS) -> str:
    """The Airflow version MWAA runs: the apache-airflow pin MWAA enforces."""
    match = re.search(r"^apache-airflow==(\S+)$", constraints.read_text(encoding="utf-8"), re.M)
    if not match:
        raise SystemExit(f"{constraints}: no apache-airflow==<version> line")
    return match.group(1)


def write_manifest(target_path: Path) -> Path:
    """``dbt parse --target redshift`` with this interpreter's dbt; returns manifest.json."""
    dbt = Path(sys.executable).parent / "dbt"
    subprocess.run(
        [
            str(dbt), "--quiet", "parse", "--target", "redshift",
            "--project-dir", str(DBT_DIR), "--profiles-dir", str(DBT_DIR),
            "--target-path", str(target_path), "--log-path", str(target_path / "logs"),
        ],
        check=True,
        timeout=600,
    )  # fmt: skip
    return target_path / "manifest.json"


def _dagbag_class() -> type:
    # Airflow is imported only after main() has set AIRFLOW_HOME (it reads its config on import).
    try:  # Airflow >= 3.1
        from airflow.dag_processing.dagbag import DagBag  # noqa: PLC0415 - after AIRFLOW_HOME is set
    except ImportError:  # Airflow 3.0 (MWAA)
        from airflow.models.dagbag import DagBag  # noqa: PLC0415 - after AIRFLOW_HOME is set
    return DagBag


def parse_dags() -> list[str]:
    """Problems found parsing dags/ (empty when the DAG and its Cosmos groups are there)."""
    bag = _dagbag_class()(dag_folder=str(DAGS_DIR))  # examples: AIRFLOW__CORE__LOAD_EXAMPLES=False (main)
    problems = [f"import error in {path}: {error}" for path, error in bag.import_errors.items()]
    dag = bag.dags.get(DAG_ID)
    if dag is None:
        return [*problems, f"DAG {DAG_ID!r} not found (DAGs: {sorted(bag.dags)})"]
    cosmos: dict[str, int] = {}
    for task in dag.tasks:  # the tasks Cosmos rendered from the manifest, per task group
        if type(task).__module__.startswith("cosmos."):
            group = task.task_id.split(".")[0] if "." in task.task_id else "(no group)"
            cosmos[group] = cosmos.get(group, 0) + 1
    for group, count in sorted(cosmos.items()):
        print(f"  {group}: {count} Cosmos task(s)")
    if not cosmos:
        problems.append("Cosmos rendered no dbt task")
    print(f"  {DAG_ID}: {len(dag.task_ids)} task(s), {len(bag.import_errors)} import error(s)")
    from airflow import plugins_manager  # noqa: PLC0415 - after AIRFLOW_HOME is set

    for name, error in getattr(plugins_manager, "import_errors", {}).items():
        # not a parse failure (e.g. Cosmos' UI plugin needs Airflow >= 3.1), but MWAA shows it
        print(f"  warning: plugin {name} does not load: {str(error).splitlines()[-1]}")
    return problems


def _project_modules() -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if path.name == "__main__.py":  # runs the CLI when imported
                continue
            parts = path.relative_to(ROOT).with_suffix("").parts
            modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    for path in sorted(DAGS_DIR.glob("*.py")):
        modules[path.stem] = path
    return modules


def _imported_names(path: Path) -> set[str]:
    """Every absolute module name ``path`` imports."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def _third_party(modules: dict[str, Path]) -> set[str]:
    """The modules the project imports that are neither its own, the standard library, nor left off MWAA."""
    skip = {name.split(".")[0] for name in modules} | set(sys.stdlib_module_names) | {"__future__"}
    skip |= set(NOT_ON_MWAA)
    imported = set().union(*(_imported_names(path) for path in modules.values()))
    return {name for name in imported if name.split(".")[0] not in skip}


def _import_problem(name: str) -> str | None:
    try:
        importlib.import_module(name)
    except Exception as exc:  # any failure to import is the finding
        return f"cannot import {name}: {type(exc).__name__}: {exc}"
    return None


def check_imports() -> list[str]:
    """Import each project module and each third-party module the code imports anywhere."""
    modules = _project_modules()
    third_party = _third_party(modules)
    found = (_import_problem(name) for name in [*sorted(modules), *sorted(third_party)])
    problems = [problem for problem in found if problem]
    print(f"  imports: {len(modules)} project module(s), {len(third_party)} third-party module(s)")
    return problems


def main() -> int:
    expected = mwaa_airflow_version()
    installed = {name: version(name) for name in ("apache-airflow", "astronomer-cosmos", "dbt-core")}
    print(
        "mwaa-check: "
        + ", ".join(f"{k} {v}" for k, v in installed.items())
        + f", Python {sys.version.split()[0]}"
    )
    if installed["apache-airflow"] != expected:
        print(
            f"mwaa-check: Airflow {installed['apache-airflow']} installed, MWAA runs {expected}",
            file=sys.stderr,
        )
        return 1
    with tempfile.TemporaryDirectory(prefix="tn-mwaa-check-") as tmp:
        work = Path(tmp)
        manifest = write_manifest(work / "target")
        os.environ.update(
            {
                "AIRFLOW_HOME": str(work / "airflow"),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "APP_ENV": "staging",
                "TRENDING_NOW__DBT__TARGET_PATH": str(manifest.parent),
            }
        )
        sys.path.insert(0, str(DAGS_DIR))  # MWAA puts the DAGs folder on sys.path
        sys.path.insert(0, str(ROOT))  # the packages CD syncs next to the DAGs
        problems = parse_dags() + check_imports()
    for line in problems:
        print(f"mwaa-check: {line}", file=sys.stderr)
    if problems:
        return 1
    print(f"mwaa-check: the DAG parses under Airflow {expected} with 0 import errors")
    return 0


if __name__ == "__main__":
    sys.exit(main())
