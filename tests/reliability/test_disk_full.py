"""Case 9: the disk fills up while the export is written: the export step fails, no partial file is left,
no snapshot is taken, and a re-run once there is space publishes the same file.

The export directory is a 4 KiB tmpfs when this process may mount one (root in CI containers); otherwise
the Parquet writer fails with ENOSPC half-way through.
"""

from __future__ import annotations

import errno
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest

from core.config import Settings
from publish import export, snapshot
from tests.reliability.conftest import Project, Reference
from trending_now.pipeline import StepFailed

pytestmark = pytest.mark.slow
PUBLISH = ["validate_mart", "export_parquet", "snapshot_dvc"]


def _mount_tiny_tmpfs(directory: Path) -> bool:
    directory.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4k", "tmpfs", str(directory)], capture_output=True, check=False
    )
    return done.returncode == 0


@pytest.fixture
def full_disk(
    tmp_path: Path, reference: Reference, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Project, Path, str]]:
    project = reference.project_from(tmp_path, reference.with_mart)
    exports = project.root / "data" / "exports"
    if _mount_tiny_tmpfs(exports):
        how = "tmpfs"
    else:
        how = "failing writer"
        real = export.write_parquet

        def half_then_enospc(table: object, sink: IO[bytes]) -> None:
            real(table, sink)  # type: ignore[arg-type]
            sink.truncate(sink.tell() // 2)
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(export, "write_parquet", half_then_enospc)
    try:
        yield project, exports, how
    finally:
        if how == "tmpfs":
            subprocess.run(["umount", str(exports)], capture_output=True, check=False)


def _check_nothing_snapshotted(project: Project, settings: Settings) -> None:
    assert snapshot.list_snapshots(settings) == []
    remote = project.root / "data" / "dvc-remote"
    assert not remote.exists() or not any(p.is_file() for p in remote.rglob("*"))


def test_disk_full_on_export_leaves_no_partial_file_and_no_snapshot(
    full_disk: tuple[Project, Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    project, exports, how = full_disk
    with pytest.raises(StepFailed) as failed:
        project.run(PUBLISH)
    message = str(failed.value)
    print(f"observed ({how}):", message)
    assert message.startswith("export_parquet: ") and "No space left on device" in message
    assert list(exports.iterdir()) == []  # neither the file nor its temporary
    settings = project.settings()
    _check_nothing_snapshotted(project, settings)
    failed_rows = project.context().warehouse.fetch_all(
        "select step, status, error from ops.pipeline_runs order by started_at"
    )[-2:]  # the copied warehouse holds the reference run's rows before these
    assert [(r["step"], r["status"]) for r in failed_rows] == [("validate_mart", "ok"), ("export_parquet", "failed")]
    assert failed_rows[-1]["error"] == message

    # space again: the re-run exports and snapshots the day
    if how == "tmpfs":
        subprocess.run(["umount", str(exports)], check=True)
    else:
        monkeypatch.undo()
    results = project.run(PUBLISH)
    path = Path(results["export_parquet"].details["path"])
    assert path.parent == exports and sorted(p.name for p in exports.iterdir() if p.suffix == ".parquet") == [path.name]
    assert results["export_parquet"].rows_out == results["validate_mart"].rows_in
    assert len(snapshot.list_snapshots(settings)) == 1
