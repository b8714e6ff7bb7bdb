"""Case 8: one run at a time per warehouse, not per checkout (core/run_lock.py).

Real CLI processes, real DuckDB files and a real PostgreSQL database. A run is held at a known point by the
replay server (a blocked JustWatch request), so "at once" is a fact the test arranges, never a timing guess;
"never overlap" is read back from the intervals each run recorded in ``ops.pipeline_runs``.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from core.config import PROJECT_ROOT
from tests.reliability.conftest import (
    RAW_TABLES,
    SUBPROCESS_TIMEOUT_S,
    CliProcess,
    FaultyReplay,
    Hook,
    Project,
    Reference,
    _count,
    new_project,
)

pytestmark = pytest.mark.slow
REFUSED = "error: another run is in progress on this warehouse ("
WAITING = "waiting up to "


def _check_refusal(stderr: str, holder_pid: int) -> None:
    """One line: the refusal, naming the holder, saying what to do."""
    lines = stderr.strip().splitlines()
    print("observed:", lines)
    assert len(lines) == 1 and lines[0].startswith(REFUSED + "run ")
    assert f"pid {holder_pid} on " in lines[0], "the refusal names the holder"
    assert "wait for it or raise run.lock_timeout_s" in lines[0]


def test_second_run_refuses_with_exit_3_or_waits_for_the_lock(
    tmp_path: Path, server: FaultyReplay, reference: Reference
) -> None:
    project = new_project(tmp_path, server)
    hook = server.block("/justwatch/", after=2)  # the first run holds the lock, stuck on its 3rd request
    first = project.cli("extract", "--only", "releases")
    first.wait_for(hook.fired.is_set, "the first run to be inside its extract")

    refused = project.cli("extract", "--only", "releases")
    assert refused.wait() == 3
    _check_refusal(refused.stderr, first.proc.pid)

    waiting = project.cli("extract", "--only", "releases", extra={"run.lock_timeout_s": 120})
    # it waits (no step started) while the first run holds the lock ...
    waiting.wait_for_line(WAITING)
    assert f"pid {first.proc.pid} on " in waiting.stderr and "[1/1]" not in waiting.stderr
    server.clear()  # ... the first run finishes, then the waiting one runs
    assert first.wait() == 0
    assert waiting.wait() == 0, waiting.stderr
    assert "[1/1] extract_releases" in waiting.stderr

    # nothing lost or doubled: the raw titles equal the clean run's
    settings = project.settings()
    counts = {table: _count(settings, table) for table in RAW_TABLES[:2]}
    assert counts == {table: reference.state["raw_counts"][table] for table in RAW_TABLES[:2]}


def test_two_duckdb_files_from_one_checkout_run_at_once(
    tmp_path: Path, server: FaultyReplay, reference: Reference
) -> None:
    """The lock and dlt's working folder are per database file: a run on b.duckdb goes on (and ends) while
    a run on a.duckdb of the same checkout is held inside its extract."""
    project = new_project(tmp_path, server)
    files = {name: tmp_path / f"{name}.duckdb" for name in ("a", "b")}
    hook = server.block("/justwatch/", after=2)
    first = project.cli("extract", "--only", "releases", extra={"warehouse.duckdb_path": files["a"]})
    first.wait_for(hook.fired.is_set, "the run on a.duckdb to be inside its extract")
    with FaultyReplay() as other:  # the second run's own server: the first one's requests stay blocked
        second = project.cli(
            "extract",
            "--only",
            "releases",
            extra={"warehouse.duckdb_path": files["b"], **other.settings_overrides()},
        )
        assert second.wait() == 0, second.stderr
    assert first.proc.poll() is None, "the run on a.duckdb was still held while the one on b.duckdb ran"
    server.clear()
    assert first.wait() == 0, first.stderr

    for path in files.values():
        settings = project.settings({"warehouse.duckdb_path": path})
        for table in RAW_TABLES[:2]:
            assert _count(settings, table) == reference.state["raw_counts"][table], (path, table)
    working = sorted(p.name for p in (project.root / "data/warehouse/.dlt").iterdir())
    assert [name.split("-")[:2] for name in working] == [["duckdb", "a"], ["duckdb", "b"]], working


def _postgres_projects(tmp_path: Path, server: FaultyReplay, **extra: Any) -> list[Project]:
    """Two working folders (two workers) on the one PostgreSQL database the pg_database fixture made."""
    return [
        new_project(tmp_path / name, server, **{"warehouse.target": "postgres", **extra}) for name in "ab"
    ]


def _intervals(project: Project) -> dict[str, tuple[datetime, datetime]]:
    """Per run id: from its first step's start to its last step's end, as recorded in ops.pipeline_runs."""
    warehouse = project.context().warehouse
    rows = warehouse.fetch_all(
        "select run_id, min(started_at) as started, max(finished_at) as finished "
        "from ops.pipeline_runs group by run_id"
    )
    return {row["run_id"]: (row["started"], row["finished"]) for row in rows}


def _run_id(cli: CliProcess) -> str:
    """The run id the CLI printed (``Trending Now run <id> · as of ...``)."""
    line = next(line for line in cli.stdout.splitlines() if line.startswith("Trending Now run "))
    return line.split()[3]


def test_two_workers_on_one_postgres_database_never_overlap(
    tmp_path: Path, server: FaultyReplay, pg_database: str
) -> None:
    """Two working folders, one database: the second waits for the first (its lines name the holder), a third
    with no wait refuses in one line; the recorded step intervals of the two runs are disjoint."""
    first_worker, second_worker = _postgres_projects(tmp_path, server)
    hook = server.block("/justwatch/", after=2)
    first = first_worker.cli("extract", "--only", "releases")
    first.wait_for(hook.fired.is_set, "the first worker's run to be inside its extract")

    second = second_worker.cli("extract", "--only", "releases", extra={"run.lock_timeout_s": 120})
    second.wait_for_line(WAITING)
    refused = second_worker.cli("extract", "--only", "releases")
    assert refused.wait() == 3
    lines = refused.stderr.strip().splitlines()
    print("observed:", lines, second.stderr.splitlines()[-1])
    assert len(lines) == 1 and lines[0].startswith(REFUSED + "run ")
    assert f"pid {first.proc.pid} on " in lines[0] and f"pid {first.proc.pid} on " in second.stderr
    assert "[1/1]" not in second.stderr, "the second worker started a step while the first held the lock"

    server.clear()
    assert first.wait() == 0, first.stderr
    assert second.wait() == 0, second.stderr

    intervals = _intervals(first_worker)
    a, b = intervals[_run_id(first)], intervals[_run_id(second)]
    print("recorded intervals:", a, b)
    assert a[1] <= b[0], f"the runs overlapped: first {a}, second {b}"


# A DAG task of one run (its lease is kept between tasks, so its process ending does not free the warehouse)
TASK = """
import sys
from datetime import UTC, datetime
sys.path.insert(0, sys.argv[2])
from step_tasks import run_step
context = {"run_id": "manual__killed", "logical_date": datetime(2026, 11, 20, tzinfo=UTC), "params": {}}
run_step(sys.argv[1], context)
"""


def _dag_task(project: Project, step: str) -> subprocess.Popen[bytes]:
    log = project.root.parent / f"task-{step}.log"
    with open(log, "wb") as out:
        return subprocess.Popen(
            [sys.executable, "-c", TASK, step, str(PROJECT_ROOT / "dags")],
            cwd=project.root.parent,
            env=project.environ(),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _wait_until_held(hook: Hook, task: subprocess.Popen[Any], log: Path) -> None:
    """Wait on the hook's event until the DAG task's request is held; fail with its log if it exits first."""
    deadline = time.monotonic() + SUBPROCESS_TIMEOUT_S
    while not hook.fired.wait(0.1):
        assert task.poll() is None, log.read_text()[-3000:]
        assert time.monotonic() < deadline, "the DAG task never reached its extract"


def test_a_killed_holder_is_taken_over_once_its_lease_expires(
    tmp_path: Path, server: FaultyReplay, pg_database: str
) -> None:
    """A DAG task holding the run's lease is SIGKILLed (a lost worker) while a CLI run waits: the lease row
    stays until it expires (a short lease here), then the waiting run takes over, says from whom, and its
    first step starts after that recorded expiry."""
    short = {"run.lock_lease_s": 4, "run.lock_heartbeat_s": 1, "run.lock_poll_s": 0.2}
    worker, laptop = _postgres_projects(tmp_path, server, **short)
    hook = server.block("/justwatch/", after=2)
    task = _dag_task(worker, "extract_releases")
    _wait_until_held(hook, task, tmp_path / "a" / "task-extract_releases.log")
    second = laptop.cli("extract", "--only", "releases", extra={"run.lock_timeout_s": 120})
    second.wait_for_line(WAITING)  # the holder is alive and renewing: the second run waits
    assert "(dag run manual__killed, pid " in second.stderr
    os.killpg(task.pid, signal.SIGKILL)
    task.wait(timeout=30)
    server.clear()

    assert second.wait() == 0, second.stderr
    takeover = [line for line in second.stderr.splitlines() if "taking over from" in line]
    print("observed:", takeover)
    assert len(takeover) == 1 and f"pid {task.pid} on " in takeover[0], second.stderr
    expired = datetime.fromisoformat(takeover[0].split("whose lease expired at ")[1].split(" UTC")[0])
    started = _intervals(laptop)[_run_id(second)][0]
    assert started >= expired, (
        f"the next run started at {started}, before the dead lease expired at {expired}"
    )
    warehouse = laptop.context().warehouse
    assert warehouse.fetch_all("select holder from ops.run_lock")[0]["holder"] is None, "released at the end"


def test_a_killed_cli_run_on_this_host_is_taken_over_at_once(
    tmp_path: Path, server: FaultyReplay, pg_database: str
) -> None:
    """A plain (not kept) lease of a process of this host that no longer exists ends at the next take: a CLI
    run killed on a laptop does not block the next one for the lease's length."""
    first_worker, second_worker = _postgres_projects(tmp_path, server)  # the default 600 s lease
    hook = server.block("/justwatch/", after=2)
    first = first_worker.cli("extract", "--only", "releases")
    first.wait_for(hook.fired.is_set, "the first run to be inside its extract")
    first.kill()
    server.clear()
    second = second_worker.cli("extract", "--only", "releases")  # no wait at all
    assert second.wait() == 0, second.stderr
    takeover = [line for line in second.stderr.splitlines() if "taking over from" in line]
    assert len(takeover) == 1 and takeover[0].endswith(
        f"pid {first.proc.pid} on {socket.gethostname()}, whose process is gone"
    )
