"""``trending_now.pipeline.STEPS``: each step's function is imported when the step runs, not with the list."""

from __future__ import annotations

import importlib
import subprocess
import sys

from trending_now import pipeline

# what the step modules load; the Airflow DAG file (parsed in every task's process) must not pay for them
STEP_LIBRARIES = ("dlt", "pyarrow", "dvc", "google.genai", "great_expectations", "duckdb")


def test_every_imported_step_resolves_to_its_function() -> None:
    targets = [s.function.target for s in pipeline.STEPS if hasattr(s.function, "target")]
    assert targets, "no step is imported lazily"
    for step in pipeline.STEPS:
        target = getattr(step.function, "target", None)
        if target is None:
            continue
        module, _, name = target.partition(":")
        assert callable(getattr(importlib.import_module(module), name)), target
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
