"""dags/dbt_watchers.py: a tested model's one sensor reports the model and its data tests.

The poke decides from the XComs the producer published (the node's ``<uid>_status`` and the aggregated
``<uid>_tests_status``); here a stand-in task instance serves those values, the decision itself is the real
sensor's. A whole DAG run with the real producer is in tests/dags/test_dag_end_to_end.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.dags.conftest import DBT_DIR

UID = "model.trending_now.stg_justwatch__titles"
KEY = UID.replace(".", "__")


class _TaskInstance:
    """What the poke reads: XComs of the producer, the try number."""

    def __init__(self, xcoms: dict[str, Any], try_number: int = 1) -> None:
        self.xcoms, self.try_number, self.dag_id = xcoms, try_number, "data_ingestion_trending_now"

    def xcom_pull(self, task_ids: Any = None, key: str = "") -> Any:
        return self.xcoms.get(key)


def _sensor(monkeypatch: pytest.MonkeyPatch, producer_state: str = "success") -> Any:
    from cosmos import ProfileConfig
    from dbt_watchers import DbtModelWatcher

    sensor = DbtModelWatcher(
        task_id="stg_justwatch__titles_build",
        project_dir=str(DBT_DIR),
        profile_config=ProfileConfig(
            profile_name="trending_now", target_name="duckdb", profiles_yml_filepath=DBT_DIR / "profiles.yml"
        ),
        extra_context={"dbt_node_config": {"unique_id": UID}},
        select="stg_justwatch__titles",
        exclude="test_type:unit",
        deferrable=False,
        poke_interval=1,
    )
    monkeypatch.setattr(sensor, "_get_producer_task_status", lambda context: producer_state)
    return sensor


def _context(**xcoms: Any) -> dict[str, Any]:
    values = {f"{KEY}_{name}": value for name, value in xcoms.items()}
    return {"ti": _TaskInstance(values), "run_id": "manual__2026-11-20"}


def test_built_and_tested_succeeds(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _sensor(monkeypatch).poke(_context(status={"status": "success"}, tests_status="pass")) is True


def test_built_but_a_data_test_failed_fails_the_task(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.exceptions import AirflowException

    with pytest.raises(AirflowException, match="data test of it failed"):
        _sensor(monkeypatch).poke(_context(status={"status": "success"}, tests_status="fail"))


def test_a_failed_model_fails_before_its_tests_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.exceptions import AirflowException

    with pytest.raises(AirflowException, match="finished with status 'error'"):
        _sensor(monkeypatch).poke(_context(status={"status": "error"}, tests_status="pass"))


def test_tests_not_reported_yet_pokes_again(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _sensor(monkeypatch, "running").poke(_context(status={"status": "success"})) is False


def test_a_retry_builds_the_model_with_its_tests(monkeypatch: pytest.MonkeyPatch) -> None:
    """Try 2 runs Cosmos' fallback with the command set to `build`: the model and its data tests, never
    the producer's --select/--exclude (its own --exclude of unit tests stays, from the operator)."""
    sensor = _sensor(monkeypatch)
    ran: list[list[str]] = []
    monkeypatch.setattr(sensor, "build_and_run_cmd", lambda context, cmd_flags: ran.append(cmd_flags))
    context = {"ti": _TaskInstance({}, try_number=2), "run_id": "manual__2026-11-20"}
    assert sensor.poke(context) is True
    assert sensor.base_cmd == ["build"]
    assert ran == [["--select", "stg_justwatch__titles"]]
    assert sensor.exclude == "test_type:unit"
