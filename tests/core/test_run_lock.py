"""core/run_lock.py: one holder at a time per warehouse, on real DuckDB files and a real PostgreSQL database.

The CLI-level cases (two DuckDB files at once, two workers on one PostgreSQL database, a SIGKILLed holder) are
in tests/reliability/test_concurrent_runs.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from core.config import PROJECT_ROOT, Settings
from core.run_lock import LeaseLost, LockOptions, RunLock, RunLocked, lock_file, release, run_lock
from core.warehouse import Warehouse

TAKERS = 6


@pytest.fixture(params=["duckdb", "postgres"])
def warehouse(request: pytest.FixtureRequest, make_settings: Callable[..., Settings]) -> Warehouse:
    overrides = {"run.lock_poll_s": 0.05, "run.lock_heartbeat_s": 0.1}
    if request.param == "postgres":
        request.getfixturevalue("pg_database")
        overrides["warehouse.target"] = "postgres"
    return Warehouse(make_settings(overrides))


def _refusal(warehouse: Warehouse, holder: str) -> str:
    with pytest.raises(RunLocked) as refused, run_lock(warehouse, holder, timeout_s=0):
        pytest.fail(f"{holder} took a lock another holder has")
    return str(refused.value)


def test_a_second_holder_is_refused_in_one_line_naming_the_first(warehouse: Warehouse) -> None:
    with run_lock(warehouse, "run abc (as of 2026-11-20)"):
        message = _refusal(warehouse, "deploy 1a2b3c")
    print("observed:", message)
    assert "\n" not in message
    assert message.startswith(
        "another run is in progress on this warehouse (run abc (as of 2026-11-20), pid "
    )
    assert message.endswith("wait for it or raise run.lock_timeout_s")
    with run_lock(warehouse, "deploy 1a2b3c", timeout_s=0):  # released at the end of the block
        pass


def test_the_lock_reads_the_typed_run_section_and_the_timeout_its_caller_names(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings({"run.deploy_lock_timeout_s": "45", "run.lock_lease_s": 90})
    deploy = LockOptions.from_settings(settings, timeout_setting="run.deploy_lock_timeout_s")
    assert (deploy.timeout_s, deploy.lease_s, deploy.timeout_setting) == (45.0, 90.0, "run.deploy_lock_timeout_s")
    assert LockOptions.from_settings(settings).timeout_s == settings.typed.run.lock_timeout_s
    assert LockOptions.from_settings(settings, timeout_s=0).timeout_s == 0.0


def test_a_dag_run_keeps_the_lease_between_its_tasks_until_released(warehouse: Warehouse) -> None:
    """Every task takes it again as the DAG run (re-entrant) and keeps it; a deploy waits until the run's last
    task releases it."""
    for _task in ("extract_releases", "enrich_titles"):
        with run_lock(warehouse, "dag run scheduled__2026-11-20", keep=True, timeout_s=0):
            pass
        assert "(dag run scheduled__2026-11-20, pid " in _refusal(warehouse, "deploy 1a2b3c")
    assert release(warehouse, "dag run scheduled__2026-11-20")
    assert not release(warehouse, "dag run scheduled__2026-11-20"), "nothing left to release"
    with run_lock(warehouse, "deploy 1a2b3c", timeout_s=0):
        pass


def test_a_kept_lease_ends_on_its_own_when_it_expires(make_settings: Callable[..., Settings]) -> None:
    """A DAG run whose last task never ran (a lost scheduler) frees the warehouse ``lock_lease_s`` later."""
    settings = make_settings({"run.lock_lease_s": 0.5, "run.lock_poll_s": 0.05})
    warehouse = Warehouse(settings)
    with run_lock(warehouse, "dag run lost", keep=True, timeout_s=0):
        pass
    _refusal(warehouse, "run next")
    progress: list[str] = []
    with run_lock(warehouse, "run next", timeout_s=30, progress=progress.append):
        pass
    assert any("taking over from dag run lost" in line for line in progress), progress


def test_two_duckdb_files_are_two_locks(make_settings: Callable[..., Settings], tmp_path: Path) -> None:
    first, second = (
        Warehouse(make_settings({"warehouse.duckdb_path": str(tmp_path / f"{name}.duckdb")})) for name in "ab"
    )
    assert lock_file(first) == (tmp_path / "a.duckdb.lock").resolve()
    assert first.dlt_working_dir != second.dlt_working_dir
    with run_lock(first, "run a"), run_lock(second, "run b"):
        _refusal(first, "run c")


TAKER = """
import os, sys, time
from pathlib import Path
from core.config import load_settings
from core.run_lock import RunLocked, run_lock
from core.warehouse import Warehouse

go, done = Path(sys.argv[1]), Path(sys.argv[2])
warehouse = Warehouse(load_settings("dev", environ={}).with_overrides(
    {"warehouse.target": "postgres", "run.lock_heartbeat_s": 0.1}))
print("ready", flush=True)
while not go.exists():
    time.sleep(0.001)
try:
    with run_lock(warehouse, f"taker {os.getpid()}", timeout_s=0):
        print("won", flush=True)
        while not done.exists():
            time.sleep(0.01)
except RunLocked as exc:
    print(f"refused: {exc}", flush=True)
"""


def _line(taker: subprocess.Popen[str]) -> str:
    assert taker.stdout is not None and taker.stderr is not None
    line = taker.stdout.readline().strip()
    if not line:
        taker.wait(timeout=60)
        pytest.fail(f"a taker exited without an answer: {taker.stderr.read()[-2000:]}")
    return line


def test_takers_at_once_never_both_win(tmp_path: Path, pg_database: str) -> None:
    """Processes released together onto a fresh database (the table and its row made by the race itself):
    exactly one wins, every other is refused naming it."""
    go, done = tmp_path / "go", tmp_path / "done"
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    command = [sys.executable, "-c", TAKER, str(go), str(done)]
    takers = [
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        for _ in range(TAKERS)
    ]
    try:
        assert [_line(taker) for taker in takers] == ["ready"] * TAKERS
        go.touch()
        answers = {taker.pid: _line(taker) for taker in takers}
    finally:
        done.touch()
        for taker in takers:
            taker.wait(timeout=60)
    print("observed:", answers)
    check_one_winner(answers)


def check_one_winner(answers: dict[int, str]) -> None:
    """Exactly one taker won; every other was refused naming it."""
    winners = [pid for pid, answer in answers.items() if answer == "won"]
    assert len(winners) == 1, answers
    refusal = f"refused: another run is in progress on this warehouse (taker {winners[0]}, "
    assert [pid for pid, answer in answers.items() if pid != winners[0] and not answer.startswith(refusal)] == []


def test_a_holder_whose_lease_was_taken_over_fails(
    make_settings: Callable[..., Settings], pg_database: str
) -> None:
    """Renewals that find another holder's lease (ours expired meanwhile) end the hold with LeaseLost.
    (PostgreSQL and Redshift only: a live DuckDB holder keeps its flock, nothing can take its lease over.)"""
    warehouse = Warehouse(make_settings({"warehouse.target": "postgres", "run.lock_heartbeat_s": 0.1}))
    lock = RunLock(warehouse, "run slow")
    lock.acquire()
    warehouse.execute("update ops.run_lock set holder = 'run next', pid = 1")  # as a taker after expiry would
    deadline = time.monotonic() + 30
    while not (lock._heartbeat and lock._heartbeat.lost):
        assert time.monotonic() < deadline, "the heartbeat never noticed the lease was taken over"
        time.sleep(0.05)
    with pytest.raises(LeaseLost, match="taken by another holder"):
        lock.release()
    assert warehouse.fetch_all("select holder from ops.run_lock")[0]["holder"] == "run next"
