"""Lay out the folder that CD syncs to MWAA's ``<bucket>/dags/``: the DAG files, the project's packages,
config, the dbt project with its manifest, and the DVC project.

The package list is pyproject.toml's (``[tool.setuptools.packages.find] include``), the one owner of which
folders are the project's code; ``scripts/mwaa_check.py`` imports the same list.

    python scripts/mwaa_bundle.py <empty-or-new-dir>
    python scripts/mwaa_bundle.py --packages     # the package list (``make lint`` formats these)
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IGNORE_CODE = shutil.ignore_patterns("__pycache__", "*.pyc")
IGNORE_DBT = shutil.ignore_patterns("target", "logs", ".user.yml", "dbt_packages")


def project_packages(root: Path = ROOT) -> tuple[str, ...]:
    """The top-level packages pyproject.toml installs (``include = ["core*", ...]`` -> ``core``)."""
    pyproject = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    return tuple(pattern.rstrip("*").rstrip(".") for pattern in patterns)


def build_bundle(out: Path, root: Path = ROOT) -> list[str]:
    """Copy everything MWAA needs under ``out``; returns the top-level entries written."""
    out.mkdir(parents=True, exist_ok=True)
    shutil.copytree(root / "dags", out, ignore=IGNORE_CODE, dirs_exist_ok=True)  # dags/ is the bundle's top
    skipped = [*project_packages(root), "config", "dbt_project"]
    for name in [*project_packages(root), "config"]:
        shutil.copytree(root / name, out / name, ignore=IGNORE_CODE, dirs_exist_ok=True)
    shutil.copytree(root / "dbt_project", out / "dbt_project", ignore=IGNORE_DBT, dirs_exist_ok=True)
    manifest = root / "dbt_project" / "target" / "manifest.json"
    if not manifest.is_file():
        raise SystemExit(f"{manifest} is missing: run `make manifest` first")
    (out / "dbt_project" / "target").mkdir(exist_ok=True)
    shutil.copy2(manifest, out / "dbt_project" / "target" / "manifest.json")
    # the DVC project: snapshot_dvc runs `dvc add/push` from the project root (the bundle)
    shutil.copytree(
        root / ".dvc", out / ".dvc", ignore=shutil.ignore_patterns("tmp", "cache"), dirs_exist_ok=True
    )
    shutil.copy2(root / ".dvcignore", out / ".dvcignore")
    # Only the top of the bundle holds DAG files: the scheduler skips the rest (glob syntax, Airflow 3).
    ignore = out / ".airflowignore"
    kept = ignore.read_text(encoding="utf-8").splitlines() if ignore.exists() else []
    ignore.write_text(
        "".join(f"{line}\n" for line in [*kept, *(f"{name}/" for name in skipped)]), encoding="utf-8"
    )
    return sorted(entry.name for entry in out.iterdir())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, nargs="?", help="the folder to fill (created when missing)")
    parser.add_argument("--packages", action="store_true", help="print the project's packages and exit")
    args = parser.parse_args(argv)
    if args.packages:
        print(" ".join(project_packages()))
        return 0
    if args.out is None:
        parser.error("the bundle folder is required (or --packages)")
    print(" ".join(build_bundle(args.out)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
