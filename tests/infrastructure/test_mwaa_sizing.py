"""The MWAA sizing of staging and prod follows the measured memory per task (docs/airflow.md, "Sizing").

bench/bench_memory.py writes bench/results/memory.md; these tests read it and the tfvars, so a heavier
task after a re-run of the bench, or a tfvars edit, that no longer fits its class fails here.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.integration.local_stack import mwaa_worker_slots, tfvars

ROOT = Path(__file__).resolve().parents[2]
RESULT = ROOT / "bench" / "results" / "memory.md"
CLASS_MEMORY_MIB = {"mw1.small": 2048, "mw1.medium": 4096, "mw1.large": 8192, "mw1.xlarge": 24576}  # AWS
MARGIN = 1.25  # docs/airflow.md: what the bench does not measure (Task SDK supervisor, log forwarding)


def _measured() -> tuple[float, float]:
    """(L, H): a task process after the DAG parse, and the largest peak of any task."""
    rows = [line.split("|")[1:-1] for line in RESULT.read_text(encoding="utf-8").splitlines()]
    steps = [[cell.strip() for cell in row] for row in rows if len(row) == 7 and row[2].strip().isdigit()]
    assert steps, f"no step rows in {RESULT}"
    light = max(float(row[2]) for row in steps)
    heavy = max(float(row[3]) for row in steps)
    return light, heavy


def slots_that_fit(memory_mib: float, light: float, heavy: float) -> int:
    """One heavy task and the rest light ones, beside the Celery worker (a light process), with the margin."""
    return int((memory_mib / MARGIN - light - heavy) // light) + 1


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_the_worker_slots_fit_the_class(env: str) -> None:
    light, heavy = _measured()
    values = tfvars(env)
    slots = mwaa_worker_slots(env)
    fit = slots_that_fit(CLASS_MEMORY_MIB[values["mwaa_environment_class"]], light, heavy)
    assert 1 <= slots <= fit, f"{env}: {slots} slots, {fit} fit {values['mwaa_environment_class']}"


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_the_workers_hold_a_run_and_the_pool_matches_them(env: str) -> None:
    base = yaml.safe_load((ROOT / "config" / "base.yaml").read_text(encoding="utf-8"))
    values = tfvars(env)
    slots = mwaa_worker_slots(env)
    workers = int(values["mwaa_max_workers"])
    assert workers * slots >= base["airflow"]["max_active_tasks"], "a run's widest moment does not fit"
    assert int(values["core.default_pool_task_slot_count"]) == workers * slots


def test_the_formula_on_the_documented_numbers() -> None:
    assert slots_that_fit(2048, 229, 463) == 5
    assert slots_that_fit(4096, 229, 463) == 12
