"""The README's layout table and docs/architecture.md describe the folders that are there."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from mwaa_bundle import project_packages  # noqa: E402


def _first_column(markdown: str, header: str) -> set[str]:
    """The backticked folder names in the first column of the table under ``header``."""
    table = markdown.split(header, 1)[1].split("\n\n", 1)[0]
    names: set[str] = set()
    for row in table.splitlines()[2:]:
        first = row.split("|")[1]
        names |= {name.split("/")[0] for name in re.findall(r"`([^`]+)`", first)}
    return names


def _top_level_folders() -> set[str]:
    listed = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return {path.split("/")[0] for path in listed.splitlines() if "/" in path and not path.startswith(".")}


def test_the_readme_layout_table_names_every_folder_and_no_other() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert _first_column(readme, "| folder | what |") == _top_level_folders()


def test_the_architecture_rules_name_every_package() -> None:
    rules = _first_column((ROOT / "docs" / "architecture.md").read_text(encoding="utf-8"), "| package | may import |")
    assert rules == {*project_packages(), "dags"}


def test_the_import_layers_name_every_package() -> None:
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
    layered = {name.strip() for layer in config["contracts"][0]["layers"] for name in layer.split("|")}
    assert set(config["root_packages"]) == layered == {*project_packages(), "dags"}
