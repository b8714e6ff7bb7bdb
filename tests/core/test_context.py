"""core.context.RunContext: what building a run sets up for the steps."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from core.config import PROJECT_ROOT
from core.warehouse import DLT_ENV

PROBE = """
import sys
from datetime import date

from core.config import load_settings
from core.context import RunContext

settings = load_settings("dev", environ={{}}).with_overrides(
    {{"warehouse.duckdb_path": {db!r}, "warehouse.pipelines_dir": {pipelines!r}}}
)
ctx = RunContext(settings=settings, as_of=date(2026, 11, 20))
ctx.warehouse.dlt_pipeline("probe", "probe")
print("airflow.models" in sys.modules)
"""


def test_a_run_keeps_dlt_off_airflow_variables(tmp_path: Path) -> None:
    """With Airflow installed, dlt's Airflow provider would import ``airflow.models`` in the CLI (1.4 s) and,
    inside a task, look every unset dlt option up as an Airflow Variable (an API call each): a run turns it off
    (core.warehouse.DLT_ENV) before any step touches dlt. An explicit setting still wins."""
    env = {k: v for k, v in os.environ.items() if k not in DLT_ENV}
    code = PROBE.format(db=str(tmp_path / "probe.duckdb"), pipelines=str(tmp_path / ".dlt"))
    proc = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().splitlines()[-1] == "False"

    proc = subprocess.run(
        [sys.executable, "-c", code],
        env={**env, "PROVIDERS__ENABLE_AIRFLOW_SECRETS": "true"},
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().splitlines()[-1] == "True"
