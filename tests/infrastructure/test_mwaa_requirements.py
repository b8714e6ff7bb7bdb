"""requirements-mwaa.txt: what Terraform uploads to MWAA, installable there, runtime only.

The DAG parse under that lock's Airflow is `make mwaa-check` (ci.yml, job mwaa): it needs its own venv.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "requirements-mwaa.txt"
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


def test_mwaa_does_not_add_the_full_airflow_constraints() -> None:
    """MWAA installs a requirements file that has no constraint statement with all of Airflow's
    constraints, which pin protobuf 4 (dbt-core 1.11 needs 6): the install would fail. MWAA looks for
    ``-c ``/``--constraint `` on any line (a comment counts); the uv header carries the one we used."""
    text = LOCK.read_text(encoding="utf-8")
    assert any(re.search(r"-c |--constraint ", line) for line in text.splitlines())
    assert f"--constraint {CONSTRAINTS.relative_to(ROOT)}" in text


@pytest.mark.parametrize("path", ["infrastructure/variables.tf"])
def test_terraform_uploads_this_lock(path: str) -> None:
    text = (ROOT / path).read_text(encoding="utf-8")
    block = text.split('variable "mwaa_requirements_file"', 1)[1].split("\n}\n", 1)[0]
    assert re.search(r'default\s*=\s*"\.\./requirements-mwaa\.txt"', block)
    for tfvars in (ROOT / "infrastructure" / "environments").glob("*.tfvars"):
        assert "mwaa_requirements_file" not in tfvars.read_text(encoding="utf-8"), tfvars.name
