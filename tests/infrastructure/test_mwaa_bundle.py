"""The folder CD syncs to MWAA holds everything a worker imports, laid out as MWAA's dags/ folder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

from mwaa_bundle import build_bundle, project_packages  # noqa: E402

from trending_now.pipeline import STEPS  # noqa: E402


def test_the_bundle_holds_the_dag_every_package_and_the_manifest(tmp_path: Path) -> None:
    bundle = tmp_path / "dags"
    entries = build_bundle(bundle)
    assert set(project_packages()) <= set(entries)
    assert {"data_ingestion_trending_now.py", "config", "dbt_project", ".dvc", ".airflowignore"} <= set(
        entries
    )
    assert (bundle / "dbt_project" / "target" / "manifest.json").is_file()
    assert not list(bundle.rglob("__pycache__")), "bytecode is not shipped"
    ignored = (bundle / ".airflowignore").read_text(encoding="utf-8").splitlines()
    assert {f"{name}/" for name in project_packages()} <= set(ignored), "the scheduler skips the packages"


def test_the_bundle_alone_imports_the_steps_the_dag_runs(tmp_path: Path) -> None:
    """MWAA puts the dags/ folder on sys.path: the packages must come from the bundle, not this checkout."""
    bundle = tmp_path / "dags"
    build_bundle(bundle)
    code = (
        f"import sys; sys.path.insert(0, {str(bundle)!r})\n"
        "import trending_now.pipeline as p, dag_settings\n"
        "mods = [m for n, m in sys.modules.items() if n.split('.')[0] in "
        f"{project_packages()!r} and getattr(m, '__file__', None)]\n"
        f"outside = [m.__name__ for m in mods if not m.__file__.startswith({str(bundle)!r})]\n"
        "assert not outside, outside\n"
        "print(len(p.STEPS))\n"
    )
    done = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) == len(STEPS)
