"""Fixtures for the DAG tests: a fresh dbt manifest, an isolated AIRFLOW_HOME, Airflow subprocess helpers."""

from __future__ import annotations

import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from core.config import PROJECT_ROOT
from core.dbt_runner import EXCLUDE_UNIT_TESTS, EXCLUSIONS, SELECTIONS
from tests.conftest import shared_across_workers

DAGS_DIR = PROJECT_ROOT / "dags"
PLUGINS_DIR = PROJECT_ROOT / "plugins"  # Airflow's plugins folder (MWAA: plugins.zip)
DBT_DIR = PROJECT_ROOT / "dbt_project"
BIN = Path(sys.executable).parent
DAG_ID = "data_ingestion_trending_now"

# Airflow reads AIRFLOW_HOME once, when it is first imported: give this test session its own.
if "airflow" not in sys.modules and not os.environ.get("TN_TEST_KEEP_AIRFLOW_HOME"):
    _home = tempfile.mkdtemp(prefix="tn-airflow-parse-")
    os.environ["AIRFLOW_HOME"] = _home
    atexit.register(shutil.rmtree, _home, True)
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__COSMOS__ENABLE_TELEMETRY", "False")
if str(DAGS_DIR) not in sys.path:
    sys.path.insert(0, str(DAGS_DIR))

_QUIET_ENV = {
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
    "SCARF_ANALYTICS": "false",
    "DO_NOT_TRACK": "1",
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
    "RUNTIME__DLTHUB_TELEMETRY": "false",
}


def clean_environ() -> dict[str, str]:
    """The process environment without project overrides or real secrets (like the autouse fixture)."""
    drop = ("GEMINI_API_KEY", "GOOGLE_API_KEY", "APP_ENV", "TMDB_API_KEY", "GUARDIAN_API_KEY")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRENDING_NOW__") and k not in drop}
    env.update(_QUIET_ENV)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


@dataclass(frozen=True)
class DbtSelection:
    manifest: Path
    # dbt step name -> unique ids of the models and seeds dbt selects for its selection (core.dbt_runner.SELECTIONS)
    nodes: dict[str, frozenset[str]]


def _dbt_ls(select: list[str], exclude: list[str], target_path: Path) -> frozenset[str]:
    cmd = [
        str(BIN / "dbt"),
        "--quiet",
        "ls",
        "--project-dir",
        str(DBT_DIR),
        "--profiles-dir",
        str(DBT_DIR),
        "--select",
        *select,
        "--exclude",
        *EXCLUDE_UNIT_TESTS,
        *exclude,
        "--resource-type",
        "model",
        "--resource-type",
        "seed",
        "--output",
        "json",
        "--output-keys",
        "unique_id",
    ]
    env = {**clean_environ(), "DBT_TARGET_PATH": str(target_path), "DBT_LOG_PATH": str(target_path / "logs")}
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, check=False)
    if proc.returncode != 0:
        pytest.fail(f"dbt ls failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return frozenset(
        json.loads(line)["unique_id"] for line in proc.stdout.splitlines() if line.strip().startswith("{")
    )


def _write_selection(folder: Path) -> None:
    """``dbt ls`` of every dbt step's selection into ``folder``: target/manifest.json and nodes.json."""
    target = folder / "target"
    nodes = {step: sorted(_dbt_ls(list(sel), EXCLUSIONS.get(step, []), target)) for step, sel in SELECTIONS.items()}
    assert (target / "manifest.json").exists(), "dbt ls wrote no manifest.json"
    (folder / "nodes.json").write_text(json.dumps(nodes), encoding="utf-8")


@pytest.fixture(scope="session")
def dbt_selection(tmp_path_factory: pytest.TempPathFactory) -> DbtSelection:
    """``dbt ls`` of every dbt step's selection, with the fresh manifest.json it writes: once per session,
    shared by every xdist worker (each gets its own copy of the target folder)."""
    if not (DBT_DIR / "dbt_project.yml").exists():
        pytest.skip("dbt_project/ is not there yet")
    folder = shared_across_workers(tmp_path_factory, "dbt-selection", _write_selection)
    nodes = json.loads((folder / "nodes.json").read_text(encoding="utf-8"))
    # this worker's own copy: the DAG runs write their dbt artifacts next to the manifest they read
    target = shutil.copytree(folder / "target", tmp_path_factory.mktemp("dbt-target"), dirs_exist_ok=True)
    return DbtSelection(
        manifest=Path(target) / "manifest.json",
        nodes={step: frozenset(ids) for step, ids in nodes.items()},
    )


@dataclass(frozen=True)
class AirflowHome:
    path: Path
    manifest: Path

    def env(self, **overrides: str) -> dict[str, str]:
        """Environment for an ``airflow`` subprocess: this home, the repo's dags/, the fresh manifest."""
        env = clean_environ()
        env.update(
            AIRFLOW_HOME=str(self.path),
            AIRFLOW__CORE__DAGS_FOLDER=str(DAGS_DIR),
            AIRFLOW__LOGGING__BASE_LOG_FOLDER=str(self.path / "logs"),
            TRENDING_NOW__DBT__TARGET_PATH=str(self.manifest.parent),
        )
        env.update(overrides)
        return env

    def run(self, *args: str, timeout: float = 900, **overrides: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BIN / "airflow"), *args],
            env=self.env(**overrides),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            cwd=str(self.path),
        )


@pytest.fixture(scope="session")
def airflow_home(dbt_selection: DbtSelection) -> Iterator[AirflowHome]:
    """A migrated SQLite metadata DB with the ``llm_pool`` pool, as ``make airflow`` users set it up.

    A private temp dir, not ``tmp_path_factory``: concurrent pytest sessions of the same user prune each
    other's numbered base temp dirs, and these runs take minutes.
    """
    with tempfile.TemporaryDirectory(prefix="tn-airflow-home-") as path:
        home = AirflowHome(Path(path), dbt_selection.manifest)
        for args in (("db", "migrate"), ("pools", "set", "llm_pool", "2", "LLM calls")):
            proc = home.run(*args, timeout=300)
            if proc.returncode != 0:
                pytest.fail(f"airflow {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        yield home


@pytest.fixture
def dotenv_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[dict[str, str]], Path]:
    """``dotenv_project({"NAME": "value"})``: a project root whose ``.env`` holds these secrets, and only there
    (not in the process environment); ``TRENDING_NOW_ROOT`` points at it."""

    def make(secrets: dict[str, str]) -> Path:
        root = tmp_path / "project"
        shutil.copytree(PROJECT_ROOT / "config", root / "config")
        (root / ".env").write_text("".join(f"{name}={value}\n" for name, value in secrets.items()))
        monkeypatch.setenv("TRENDING_NOW_ROOT", str(root))
        for name in secrets:
            monkeypatch.delenv(name, raising=False)
        return root

    return make
