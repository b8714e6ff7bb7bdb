"""``trending_now.pipeline.STEPS``: each step's function is imported when the step runs, not with the list."""

from __future__ import annotations

import importlib
import subprocess
import sys

from trending_now import pipeline

# what the step modules load; the Airflow DAG file (parsed in every task's process) must not pay for them
STEP_LIBRARIES = ("dlt", "pyarrow", "dvc", "google.genai", "great_expectations", "duckdb")


def test_every_step_is_imported_from_its_package_s_step_module() -> None:
    for step in pipeline.STEPS:
        module, _, name = step.function.target.partition(":")  # type: ignore[attr-defined]
        assert module.endswith(".step"), f"{step.name}: {module} (each step package exposes its steps from step.py)"
        assert callable(getattr(importlib.import_module(module), name)), step.function.target  # type: ignore[attr-defined]
        assert step.function.__name__ == name


def test_the_step_list_loads_no_step_library() -> None:
    code = (
        "import sys, trending_now.pipeline as p; "
        f"print(','.join(m for m in {STEP_LIBRARIES!r} if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.strip() == ""
