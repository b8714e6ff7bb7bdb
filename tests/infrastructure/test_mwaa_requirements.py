"""requirements-mwaa.txt: what MWAA installs (from plugins.zip, scripts/mwaa_wheelhouse.py), runtime
only, on the Airflow, Cosmos and dbt the development lock (requirements.txt) tests.

The install from the wheelhouse alone and the DAG parse under that lock is `make mwaa-check` (ci.yml,
job mwaa): it needs its own venv and the wheels.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "requirements-mwaa.txt"
DEV_LOCK = ROOT / "requirements.txt"
SOURCE = ROOT / "requirements-mwaa.in"
CONSTRAINTS = ROOT / "infrastructure" / "modules" / "mwaa" / "essential-constraints.txt"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==(\S+)", re.M)
DEV_TOOLS = {
    "pytest", "pytest-timeout", "pytest-xdist", "moto", "checkov", "ruff", "sqlfluff",
    "sqlfluff-templater-dbt", "check-jsonschema", "zizmor", "dbt-duckdb", "duckdb",
}  # fmt: skip


def _name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins(path: Path) -> dict[str, str]:
    return {_name(name): version for name, version in PIN.findall(path.read_text(encoding="utf-8"))}


def test_the_lock_pins_the_airflow_mwaa_runs() -> None:
    enforced = _pins(CONSTRAINTS)
    assert re.fullmatch(r"3\.\d+\.\d+", enforced["apache-airflow"])
    assert _pins(LOCK)["apache-airflow"] == enforced["apache-airflow"]


def test_the_lock_agrees_with_every_pin_mwaa_enforces() -> None:
    lock = _pins(LOCK)
    conflicts = {
        name: (version, lock[name])
        for name, version in _pins(CONSTRAINTS).items()
        if lock.get(name, version) != version
    }
    assert conflicts == {}, "MWAA would refuse these (enforced, locked); run `make lock-mwaa`"


def test_the_lock_holds_runtime_dependencies_only() -> None:
    assert DEV_TOOLS.isdisjoint(_pins(LOCK)), sorted(DEV_TOOLS & set(_pins(LOCK)))


def test_every_direct_dependency_is_locked() -> None:
    direct = {
        _name(re.split(r"[\[<>=!~ ;#]", line, maxsplit=1)[0])
        for line in SOURCE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith(("#", "-"))
    }
    assert {"apache-airflow", "astronomer-cosmos", "dbt-core", "dbt-redshift", "dlt"} <= direct
    assert direct - set(_pins(LOCK)) == set(), "requirements-mwaa.in changed: run `make lock-mwaa`"
    assert re.search(r"^dbt-core==1\.11\.", LOCK.read_text(encoding="utf-8"), re.M)


def test_both_locks_run_one_airflow_cosmos_and_dbt() -> None:
    """Development, tests and MWAA on the same Airflow, Cosmos, dbt-core and adapters (`make lock`
    then `make lock-mwaa`: the development lock constrains MWAA's)."""
    dev, mwaa = _pins(DEV_LOCK), _pins(LOCK)
    named = {
        "apache-airflow",
        "apache-airflow-core",
        "apache-airflow-task-sdk",
        "astronomer-cosmos",
        "dbt-core",
    }
    adapters = {
        name for name in mwaa if name.startswith("dbt-")
    }  # dbt-adapters, dbt-redshift, dbt-postgres...
    assert {"dbt-adapters", "dbt-redshift"} <= adapters
    missing = sorted((named | adapters) - set(dev))
    assert missing == [], f"the development lock does not test these MWAA pins: {missing}"
    disagree = {name: (dev[name], mwaa[name]) for name in sorted(named | adapters) if dev[name] != mwaa[name]}
    assert disagree == {}, "(requirements.txt, requirements-mwaa.txt): run `make lock` then `make lock-mwaa`"


def test_every_package_both_locks_hold_has_one_version() -> None:
    dev, mwaa = _pins(DEV_LOCK), _pins(LOCK)
    disagree = {
        name: (dev[name], mwaa[name]) for name in sorted(set(dev) & set(mwaa)) if dev[name] != mwaa[name]
    }
    assert disagree == {}, "(requirements.txt, requirements-mwaa.txt): run `make lock` then `make lock-mwaa`"


def test_the_development_lock_pins_mwaa_s_airflow_and_core_pins() -> None:
    dev, enforced = _pins(DEV_LOCK), _pins(CONSTRAINTS)
    conflicts = {
        name: (version, dev[name]) for name, version in enforced.items() if dev.get(name, version) != version
    }
    assert conflicts == {}, "(MWAA enforces, requirements.txt has): run `make lock`"
    assert dev["apache-airflow"] == enforced["apache-airflow"]


@pytest.mark.parametrize(
    ("variable", "default"),
    [
        ("mwaa_requirements_file", "../build/mwaa/requirements.txt"),
        ("mwaa_plugins_file", "../build/mwaa/plugins.zip"),
    ],
)
def test_terraform_uploads_the_wheelhouse_and_its_requirements(variable: str, default: str) -> None:
    """What `make mwaa-wheelhouse` writes (scripts/mwaa_wheelhouse.py OUT) is what Terraform uploads."""
    text = (ROOT / "infrastructure" / "variables.tf").read_text(encoding="utf-8")
    block = text.split(f'variable "{variable}"', 1)[1].split("\n}\n", 1)[0]
    assert re.search(rf'default\s*=\s*"{re.escape(default)}"', block)
    assert (ROOT / "infrastructure" / default).resolve().parent == ROOT / "build" / "mwaa"
    for tfvars in (ROOT / "infrastructure" / "environments").glob("*.tfvars"):
        assert variable not in tfvars.read_text(encoding="utf-8"), tfvars.name
