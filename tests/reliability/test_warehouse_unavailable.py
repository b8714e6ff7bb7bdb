"""Case 4: the warehouse is unreachable at start, or goes away in the middle of a run."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from tests.conftest import _pg_admin_connect
from tests.reliability.conftest import (
    FaultyReplay,
    Reference,
    assert_converged,
    new_project,
    portable,
    state_of,
    step_tag,
)

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def test_postgres_unreachable_at_start_fails_in_one_line_and_writes_nothing(
    tmp_path: Path, server: FaultyReplay
) -> None:
    project = new_project(tmp_path, server, **{"warehouse.target": "postgres", "warehouse.postgres.host": "127.0.0.1",
                                               "warehouse.postgres.port": _closed_port()})
    before = _files(project.root)
    hits_before = sum(server.hits.values())
    cli = project.cli("run")
    assert cli.wait() == 1
    lines = cli.stderr.strip().splitlines()
    print("observed:", lines)
    assert len(lines) == 1, cli.stderr
    assert lines[0].startswith("error: warehouse: cannot connect to the postgres warehouse: ")
    assert "Connection refused" in lines[0]
    assert cli.stdout == ""
    assert sum(server.hits.values()) == hits_before  # no source was called
    # nothing written (the run lock of a PostgreSQL warehouse is a row in it, which could not be reached)
    assert _files(project.root) - before == set()


def _block_connections(database: str) -> None:
    admin = _pg_admin_connect()
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'alter database "{database}" allow_connections false')
        cur.execute(
            "select pg_terminate_backend(pid) from pg_stat_activity where datname = %s and pid <> pg_backend_pid()",
            [database],
        )
    admin.close()


def _wait_for_no_backends(database: str, timeout_s: float = 60) -> None:
    """Poll until no backend of ``database`` is left; fail naming the ones still there."""
    admin = _pg_admin_connect()
    admin.autocommit = True
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            with admin.cursor() as cur:
                cur.execute("select pid, state, query from pg_stat_activity where datname = %s", [database])
                left = cur.fetchall()
            if not left:
                return
            if time.monotonic() > deadline:
                pytest.fail(f"backends of {database} still there after {timeout_s:g}s: {left}")
            time.sleep(0.05)
    finally:
        admin.close()


def _allow_connections(database: str) -> None:
    admin = _pg_admin_connect()
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'alter database "{database}" allow_connections true')
    admin.close()


def test_postgres_goes_away_mid_run_fails_clearly_and_rerun_converges(
    tmp_path: Path, server: FaultyReplay, reference: Reference, pg_database: str
) -> None:
    """The database closes while extract_reviews waits on a review site (a held request: a known point, no
    race with whichever query happens to run): the step's next write fails in one line naming the step and
    PostgreSQL's refusal; nothing after it runs; once the database is back, a re-run converges."""
    project = new_project(tmp_path, server, **{"warehouse.target": "postgres"})
    hook = server.block("/tmdb/", after=4)
    cli = project.cli("run")
    cli.wait_for(hook.fired.is_set, "the 5th TMDB request (extract_reviews under way)")
    try:
        _block_connections(pg_database)
        server.clear()  # the held request answers: the step goes on and meets the closed database
        code = cli.wait()
    finally:
        _allow_connections(pg_database)
    assert code == 1
    errors = [line for line in cli.stderr.splitlines() if line.startswith("error: ")]
    print("observed:", errors)
    assert len(errors) == 1, cli.stderr
    assert errors[0].startswith("error: extract_reviews: cannot connect to the postgres warehouse: "), errors[0]
    assert f'database "{pg_database}" is not currently accepting connections' in errors[0], errors[0]
    assert step_tag("dbt_staging_intermediate") not in cli.stderr  # nothing after the failed step ran

    _wait_for_no_backends(pg_database)  # PostgreSQL has torn down the terminated backends
    project.run()  # the killed run's lease (its release found the database closed) ends: its process is gone
    assert_converged(portable(state_of(project.settings())), portable(reference.state))
