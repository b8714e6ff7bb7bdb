"""dags/dbt_watchers.py: a tested model's one sensor reports the model and its data tests.

The poke decides from the XComs the producer published (the node's ``<uid>_status`` and the aggregated
``<uid>_tests_status``); here a stand-in task instance serves those values, the decision itself is the real
sensor's. A whole DAG run with the real producer is in tests/dags/test_dag_end_to_end.py.
"""

from __future__ import annotations

from collections.abc import Callable
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


def _sensor(monkeypatch: pytest.MonkeyPatch, producer_state: str = "success", untested: bool = False) -> Any:
    """The `_build` sensor of a tested model, or (``untested``) the `_run` one of a model without data tests."""
    from cosmos import ProfileConfig
    from dbt_watchers import DbtModelRunWatcher, DbtModelWatcher

    sensor = (DbtModelRunWatcher if untested else DbtModelWatcher)(
        task_id="stg_justwatch__titles_run" if untested else "stg_justwatch__titles_build",
        project_dir=str(DBT_DIR),
        profile_config=ProfileConfig(
            profile_name="trending_now", target_name="duckdb", profiles_yml_filepath=DBT_DIR / "profiles.yml"
        ),
        extra_context={"dbt_node_config": {"unique_id": UID}},
        select="stg_justwatch__titles",
        exclude="test_type:unit",
        deferrable=False,
        mode="reschedule",
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


UPSTREAM = ("dbt_titles.stg_justwatch__title_genres_build", "dbt_titles.justwatch_genres_build")


def _retry(
    monkeypatch: pytest.MonkeyPatch,
    states: dict[str, str | None],
    sensor: Any = None,
    hold: Callable[[float], None] | None = None,
) -> tuple[Any, list]:
    """A retry (try 2) of a sensor whose node reads the nodes of :data:`UPSTREAM`, their sensors in
    ``states``; returns the sensor (``holds``: the waits between two looks, unless ``hold`` replaces them)
    and the dbt commands its fallback ran."""
    import dbt_watchers

    sensor = sensor or _sensor(monkeypatch)
    sensor.upstream_sensors = UPSTREAM
    asked: list[tuple[str, str, tuple[str, ...]]] = []

    def task_states(dag_id: str, run_id: str, task_ids: list[str]) -> dict[str, str | None]:
        asked.append((dag_id, run_id, tuple(task_ids)))
        return {task_id: states.get(task_id) for task_id in task_ids}

    monkeypatch.setattr(dbt_watchers, "task_states", task_states)
    sensor.holds = []
    monkeypatch.setattr(dbt_watchers, "hold", hold or sensor.holds.append)
    ran: list[list[str]] = []
    monkeypatch.setattr(sensor, "build_and_run_cmd", lambda context, cmd_flags: ran.append(cmd_flags))
    sensor.poke_result = sensor.poke({"ti": _TaskInstance({}, try_number=2), "run_id": "manual__2026-11-20"})
    assert set(asked) == {("data_ingestion_trending_now", "manual__2026-11-20", tuple(UPSTREAM))}
    return sensor, ran


def test_a_retry_runs_dbt_once_the_upstream_sensors_succeeded(monkeypatch: pytest.MonkeyPatch) -> None:
    sensor, ran = _retry(monkeypatch, dict.fromkeys(UPSTREAM, "success"))
    assert sensor.poke_result is True and ran == [["--select", "stg_justwatch__titles"]]


@pytest.mark.parametrize("waiting", ["up_for_retry", "running", "queued", "scheduled", None])
def test_a_retry_waits_while_an_upstream_sensor_may_still_succeed(
    monkeypatch: pytest.MonkeyPatch, waiting: str | None
) -> None:
    """An upstream sensor not done yet (its own retry pending, running, not started): no dbt run, the sensor
    pokes again later (rescheduled: no worker slot held meanwhile)."""
    from dbt_watchers import UPSTREAM_CHECK_S, UPSTREAM_HOLD_S, UPSTREAM_POKE_S

    sensor, ran = _retry(monkeypatch, {UPSTREAM[0]: "success", UPSTREAM[1]: waiting})
    assert sensor.poke_result is False and ran == []
    assert sensor.holds == [UPSTREAM_CHECK_S] * int(UPSTREAM_HOLD_S / UPSTREAM_CHECK_S)  # watched, then let go
    assert sensor.poke_interval == UPSTREAM_POKE_S and sensor.mode == "reschedule"


def test_a_retry_runs_dbt_as_soon_as_its_upstream_sensors_succeed_while_it_watches(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The parent's retry succeeds during the hold: the fallback runs then, without a reschedule."""
    states: dict[str, str | None] = {UPSTREAM[0]: "success", UPSTREAM[1]: "running"}

    def hold(seconds: float) -> None:
        states[UPSTREAM[1]] = "success"  # the parent's retry finished while this sensor watched

    sensor = _sensor(monkeypatch)
    sensor.poke_interval = 1
    sensor, ran = _retry(monkeypatch, states, sensor, hold)
    assert sensor.poke_result is True and ran == [["--select", "stg_justwatch__titles"]]
    assert sensor.poke_interval == 1  # not rescheduled


@pytest.mark.parametrize("final", ["failed", "upstream_failed"])
def test_a_retry_fails_for_good_when_an_upstream_sensor_failed_for_good(
    monkeypatch: pytest.MonkeyPatch, final: str
) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    with pytest.raises(AirflowFailException, match=f"failed \\({UPSTREAM[1]}\\)"):
        _retry(monkeypatch, {UPSTREAM[0]: "success", UPSTREAM[1]: final})


def test_a_retry_is_skipped_when_an_upstream_sensor_was_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.sdk.exceptions import AirflowSkipException

    with pytest.raises(AirflowSkipException):
        _retry(monkeypatch, {UPSTREAM[0]: "skipped", UPSTREAM[1]: "success"})


def test_an_untested_models_retry_waits_for_its_upstream_sensors_too(monkeypatch: pytest.MonkeyPatch) -> None:
    """A model without data tests keeps Cosmos' `<model>_run` sensor, with the same wait before its fallback
    (`dbt run --select <model>`)."""
    sensor = _sensor(monkeypatch, untested=True)
    waiting, ran = _retry(monkeypatch, {UPSTREAM[0]: "up_for_retry"}, sensor)
    assert waiting.poke_result is False and ran == []
    done, ran = _retry(monkeypatch, dict.fromkeys(UPSTREAM, "success"), sensor)
    assert done.poke_result is True and ran == [["--select", "stg_justwatch__titles"]]
    assert sensor.base_cmd == ["run"]


def test_a_retry_may_wait_as_long_as_the_task_may_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """The sensor timeout (a node the build never reported) bounds a first try; a retry waiting for its
    upstream sensors' retries and their backoff is bounded by the task's execution_timeout instead."""
    from datetime import timedelta

    from airflow.sdk.bases.sensor import BaseSensorOperator

    seen: list[float] = []
    monkeypatch.setattr(BaseSensorOperator, "execute", lambda self, context: seen.append(self.timeout))
    sensor = _sensor(monkeypatch)
    sensor.timeout, sensor.execution_timeout = 300, timedelta(minutes=30)
    sensor.execute({"ti": _TaskInstance({}, try_number=1), "run_id": "r"})
    sensor.execute({"ti": _TaskInstance({}, try_number=2), "run_id": "r"})
    assert seen == [300, 1800]
