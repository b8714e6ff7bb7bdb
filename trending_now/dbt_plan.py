"""What each dbt step of :data:`trending_now.pipeline.STEPS` builds, for the Airflow DAG.

``transform.dbt_steps`` owns the selections; the DAG (dags/dbt_groups.py) reads them here, so that ``dags``
imports the composition root and ``core`` only, never a step's internals (import-linter's contract in
pyproject.toml). The CLI runs the same ``dbt build`` (``transform.dbt_steps.build``).
"""

from __future__ import annotations

from transform.dbt_steps import EXCLUDE_UNIT_TESTS, EXCLUSIONS, SELECTIONS

__all__ = ["EXCLUDE_UNIT_TESTS", "dbt_exclusion", "dbt_selection"]


def dbt_selection(step_name: str) -> list[str] | None:
    """The dbt selection the step builds, or None for a Python step."""
    select = SELECTIONS.get(step_name)
    return list(select) if select else None


def dbt_exclusion(step_name: str) -> list[str]:
    """What the step's ``dbt build`` leaves out of its selection (unit tests aside: :data:`EXCLUDE_UNIT_TESTS`)."""
    return list(EXCLUSIONS.get(step_name, []))
