"""Case 8: two runs for the same warehouse at once: the second refuses (exit 3) or waits its turn."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.reliability.conftest import RAW_TABLES, CliProcess, FaultyReplay, Reference, _count, new_project

pytestmark = pytest.mark.slow


def test_second_run_refuses_with_exit_3_or_waits_for_the_lock(
    tmp_path: Path, server: FaultyReplay, reference: Reference
) -> None:
    project = new_project(tmp_path, server)
    hook = server.block("/justwatch/", after=2)  # the first run holds the lock, stuck on its 3rd request
    first = project.cli("extract", "--only", "releases")
    first.wait_for(hook.fired.is_set, "the first run to be inside its extract")

    refused = project.cli("extract", "--only", "releases")
    assert refused.wait() == 3
    lines = refused.stderr.strip().splitlines()
    print("observed:", lines)
    assert len(lines) == 1 and lines[0].startswith("error: another run is in progress on this warehouse (run ")
    assert "wait for it or raise run.lock_timeout_s" in lines[0]

    waiting = project.cli("extract", "--only", "releases", extra={"run.lock_timeout_s": 120})
    # it waits (holding the lock file open, no step started) while the first run holds the lock ...
    lock = project.root / "data/warehouse/.dlt/run-duckdb.lock"
    waiting.wait_for(lambda: _has_open(waiting, lock), "the waiting run to open the lock file")
    assert waiting.proc.poll() is None and "[1/1]" not in waiting.stderr
    server.clear()  # ... the first run finishes, then the waiting one runs
    assert first.wait() == 0
    assert waiting.wait() == 0, waiting.stderr
    assert "[1/1] extract_releases" in waiting.stderr

    # nothing lost or doubled: the raw titles equal the clean run's
    settings = project.settings()
    for table in RAW_TABLES[:2]:
        assert _count(settings, table) == reference.state["raw_counts"][table]


def _has_open(cli: CliProcess, path: Path) -> bool:
    fd_dir = Path(f"/proc/{cli.proc.pid}/fd")
    try:
        return any(os.readlink(fd) == str(path) for fd in fd_dir.iterdir())
    except (FileNotFoundError, ProcessLookupError):
        return False
