"""DVC snapshots in an isolated temporary project (git init + dvc init): gate → export → snapshot → restore.

The real repository's data is never touched: every test gets its own project root, export directory,
DVC cache, remote and DVC site cache under ``tmp_path``.
"""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from core.config import PROJECT_ROOT, Settings
from core.context import RunContext, StepResult
from publish.snapshot import SnapshotError, list_snapshots, restore_snapshot
from publish.step import SNAPSHOT_STEP, export_parquet, snapshot
from quality.step import QualityGateError, validate_mart
from tests.fakes.s3_server import running_s3_server
from tests.trending_now import create_mart, mart_rows
from trending_now.compose import call_step

AS_OF = date(2026, 11, 20)
EXPORT = "movies_tv_shows_enriched_2026-11-20.parquet"
PUBLISH_STEPS: tuple[Callable[..., StepResult], ...] = (validate_mart, export_parquet, snapshot)


def run_publish(ctx: RunContext) -> list[StepResult]:
    """The steps in the pipeline's order, stopping at the first exception (as the CLI and the DAG do)."""
    return [call_step(step, ctx) for step in PUBLISH_STEPS]


@pytest.fixture(scope="module")
def gx() -> Any:
    import great_expectations

    return great_expectations


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A throw-away git + DVC project carrying the repository's committed DVC files (read, never written)."""
    from dvc.repo import Repo

    root = tmp_path / "project"
    root.mkdir()
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    Repo.init(str(root)).close()
    for committed in (".dvc/config", ".dvcignore", "data/exports/.gitignore"):
        target = root / committed
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(PROJECT_ROOT / committed, target)
    return root


@pytest.fixture
def project_settings(project: Path, tmp_path: Path, make_settings: Callable[..., Settings]) -> Callable[..., Settings]:
    def factory(**overrides: Any) -> Settings:
        values = {
            "export.dir": "data/exports",
            "quality.report_dir": str(tmp_path / "reports"),
            "dvc.local_remote_path": str(tmp_path / "dvc-remote"),
            "dvc.site_cache_dir": str(tmp_path / "dvc-site-cache"),
        }
        values.update({k.replace("__", "."): v for k, v in overrides.items()})
        return dataclasses.replace(make_settings(values), root=project)

    return factory


def forget_local_copy(root: Path) -> None:
    """What a fresh machine lacks: the export, its pointer file and the DVC cache."""
    exports = root / "data" / "exports"
    for path in exports.glob("movies_tv_shows_enriched_*"):
        path.unlink()
    shutil.rmtree(root / ".dvc" / "cache", ignore_errors=True)


def test_failed_gate_leaves_no_export_and_no_snapshot(
    gx: Any, project: Path, project_settings: Callable[..., Settings], make_context: Callable[..., RunContext],
    tmp_path: Path,
) -> None:
    ctx = make_context(project_settings())
    rows = mart_rows(4)
    rows[2]["llm_generated_score"] = 42.0
    create_mart(ctx.settings, rows)

    with pytest.raises(QualityGateError):
        run_publish(ctx)

    exports = project / "data" / "exports"
    assert [p.name for p in exports.iterdir()] == [".gitignore"]  # no export, no pointer, no temporary file
    assert not (project / ".dvc" / "cache").exists()
    assert not (tmp_path / "dvc-remote").exists()
    assert list_snapshots(ctx.settings) == []
    assert len(list((tmp_path / "reports").glob("validation-2026-11-20-*.json"))) == 1  # the failure is reported


def test_local_remote_round_trip(
    gx: Any, project: Path, project_settings: Callable[..., Settings], make_context: Callable[..., RunContext],
    tmp_path: Path,
) -> None:
    ctx = make_context(project_settings())
    create_mart(ctx.settings, mart_rows(6))

    _validated, exported, snapped = run_publish(ctx)

    assert snapped.step == SNAPSHOT_STEP == "snapshot_dvc"
    data_file = project / "data" / "exports" / EXPORT
    original = data_file.read_bytes()
    assert snapped.details["md5"] == exported.details["md5"]
    assert snapped.details["files_pushed"] == 1
    assert (project / "data" / "exports" / f"{EXPORT}.dvc").exists()
    remote = tmp_path / "dvc-remote"
    md5 = snapped.details["md5"]
    assert (remote / "files" / "md5" / md5[:2] / md5[2:]).read_bytes() == original
    assert (remote / "manifests" / f"{EXPORT}.dvc").exists()
    [listed] = list_snapshots(ctx.settings)
    assert (listed.date, listed.md5, listed.size, listed.pushed, listed.local, listed.manifest) == (
        AS_OF, md5, len(original), True, True, "local+remote")

    again = call_step(snapshot, ctx)  # a re-run pushes nothing new and changes no pointer
    assert again.details["files_pushed"] == 0 and again.details["md5"] == md5

    forget_local_copy(project)
    [remote_only] = list_snapshots(ctx.settings)
    assert (remote_only.local, remote_only.pushed, remote_only.manifest) == (False, True, "remote")

    check_restored(ctx.settings, project, data_file, original)


def check_restored(settings: Settings, project: Path, data_file: Path, original: bytes) -> None:
    """The day's file back from the remote, byte for byte; git tracks its pointer, never the file."""
    restored = restore_snapshot(settings, AS_OF)
    assert restored == data_file
    assert restored.read_bytes() == original
    assert list_snapshots(settings)[0].local is True
    gitignore = project / "data" / "exports" / ".gitignore"  # exports already ignored: DVC leaves it alone
    assert gitignore.read_text(encoding="utf-8") == (PROJECT_ROOT / "data/exports/.gitignore").read_text(
        encoding="utf-8")
    status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=project,
                            capture_output=True, text=True, check=True).stdout
    assert f"data/exports/{EXPORT}.dvc" in status and f"data/exports/{EXPORT}\n" not in status


def test_two_days_are_listed_and_restored_independently(
    gx: Any, project: Path, project_settings: Callable[..., Settings], make_context: Callable[..., RunContext],
) -> None:
    settings = project_settings()
    day1 = make_context(settings, as_of=date(2026, 11, 19))
    day2 = make_context(settings, as_of=AS_OF)
    create_mart(settings, mart_rows(4))
    run_publish(day1)
    create_mart(settings, mart_rows(5))
    run_publish(day2)
    exports = project / "data" / "exports"
    bytes1 = (exports / "movies_tv_shows_enriched_2026-11-19.parquet").read_bytes()
    bytes2 = (exports / EXPORT).read_bytes()

    forget_local_copy(project)
    listed = list_snapshots(settings)
    assert [s.date for s in listed] == [date(2026, 11, 19), AS_OF]
    assert all(s.pushed and not s.local for s in listed)

    assert restore_snapshot(settings, date(2026, 11, 19)).read_bytes() == bytes1
    assert not (exports / EXPORT).exists()  # only the day asked for comes back
    assert restore_snapshot(settings, AS_OF).read_bytes() == bytes2


def test_restore_unknown_day_fails_clearly(
    project: Path, project_settings: Callable[..., Settings],
) -> None:
    with pytest.raises(SnapshotError, match="no snapshot for 2026-01-01"):
        restore_snapshot(project_settings(), date(2026, 1, 1))


def test_export_outside_the_project_is_refused(
    project_settings: Callable[..., Settings], make_context: Callable[..., RunContext], tmp_path: Path,
) -> None:
    ctx = make_context(project_settings(**{"export.dir": str(tmp_path / "elsewhere")}))
    with pytest.raises(SnapshotError, match="outside the DVC project"):
        call_step(snapshot, ctx)


def test_missing_export_is_refused(project_settings: Callable[..., Settings],
                                   make_context: Callable[..., RunContext]) -> None:
    with pytest.raises(SnapshotError, match="run the export step"):
        call_step(snapshot, make_context(project_settings()))


def test_s3_remote_end_to_end_against_moto_server(
    gx: Any, project: Path, project_settings: Callable[..., Settings], make_context: Callable[..., RunContext],
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    with running_s3_server(monkeypatch) as s3:
        assert s3.endpoint_url.startswith("http://127.0.0.1:")
        s3.create_bucket("trending-now-dvc")
        settings = project_settings(**{
            "dvc.remote": "s3",
            "dvc.s3_url": "s3://trending-now-dvc/snapshots",
            "aws.endpoint_url": s3.endpoint_url,
        })
        ctx = make_context(settings)
        create_mart(settings, mart_rows(6))

        *_, snapped = run_publish(ctx)

        md5 = snapped.details["md5"]
        keys = s3.keys("trending-now-dvc")
        assert f"snapshots/files/md5/{md5[:2]}/{md5[2:]}" in keys
        assert f"snapshots/manifests/{EXPORT}.dvc" in keys
        assert snapped.details["manifest"] == f"s3://trending-now-dvc/snapshots/manifests/{EXPORT}.dvc"
        assert not (tmp_path / "dvc-remote").exists()  # nothing went to the local remote
        original = (project / "data" / "exports" / EXPORT).read_bytes()

        forget_local_copy(project)
        [listed] = list_snapshots(settings)
        assert (listed.md5, listed.pushed, listed.local, listed.manifest) == (md5, True, False, "remote")

        restored = restore_snapshot(settings, AS_OF)

        assert restored.read_bytes() == original
        assert (project / ".dvc" / "cache" / "files" / "md5" / md5[:2] / md5[2:]).exists()


def test_works_without_git_as_on_a_deployed_worker(
    tmp_path: Path, make_settings: Callable[..., Settings], make_context: Callable[..., RunContext],
) -> None:
    """A worker image has the code and .dvc/config but no .git: the step runs with core.no_scm."""
    from dvc.repo import Repo

    root = tmp_path / "worker"
    root.mkdir()
    Repo.init(str(root), no_scm=True).close()
    (root / ".dvc" / "config").write_text("[core]\n    remote = local\n", encoding="utf-8")  # as committed
    settings = dataclasses.replace(make_settings({
        "export.dir": "data/exports",
        "dvc.local_remote_path": str(tmp_path / "worker-remote"),
        "dvc.site_cache_dir": str(tmp_path / "dvc-site-cache"),
    }), root=root)
    ctx = make_context(settings)
    create_mart(settings, mart_rows(3))
    call_step(export_parquet, ctx)
    snapped = call_step(snapshot, ctx)
    original = (root / "data" / "exports" / EXPORT).read_bytes()

    forget_local_copy(root)
    assert restore_snapshot(settings, AS_OF).read_bytes() == original
    assert snapped.details["files_pushed"] == 1


def _checkout(root: Path) -> Path:
    """A fresh checkout as a second worker has it: the committed DVC files, no export, no cache, no git."""
    from dvc.repo import Repo

    root.mkdir(parents=True)
    Repo.init(str(root), no_scm=True).close()
    shutil.copyfile(PROJECT_ROOT / ".dvc" / "config", root / ".dvc" / "config")
    return root


@pytest.mark.parametrize("remote", ["local", "s3"])
def test_snapshot_in_a_second_checkout_takes_exactly_the_exported_bytes(
    gx: Any, tmp_path: Path, make_settings: Callable[..., Settings], make_context: Callable[..., RunContext],
    monkeypatch: pytest.MonkeyPatch, remote: str,
) -> None:
    """`export` in checkout A, `snapshot` in a fresh checkout B (another worker): one warehouse, one remote.

    B's export folder even holds a stale file of an older run: the snapshot takes the exported bytes from
    the remote, never what lies on its own disk.
    """
    with running_s3_server(monkeypatch) as s3:
        shared = {"dvc.local_remote_path": str(tmp_path / "shared-remote"), "export.dir": "data/exports"}
        if remote == "s3":
            s3.create_bucket("trending-now-dvc")
            shared.update({"dvc.remote": "s3", "dvc.s3_url": "s3://trending-now-dvc/snapshots",
                           "aws.endpoint_url": s3.endpoint_url})

        def worker(name: str) -> Settings:
            return dataclasses.replace(make_settings({
                **shared,
                "warehouse.pipelines_dir": str(tmp_path / name / ".dlt"),
                "dvc.site_cache_dir": str(tmp_path / name / "dvc-site-cache"),
            }), root=_checkout(tmp_path / name / "checkout"))

        a, b = worker("a"), worker("b")
        create_mart(a, mart_rows(6))  # the shared warehouse (one DuckDB file for both)
        exported = call_step(export_parquet, make_context(a))
        exported_bytes = (a.root / "data" / "exports" / EXPORT).read_bytes()
        stale = b.root / "data" / "exports" / EXPORT
        stale.parent.mkdir(parents=True)
        stale.write_bytes(b"an older run's export")

        snapped = call_step(snapshot, make_context(b))

        assert snapped.details["md5"] == exported.details["md5"]
        assert stale.read_bytes() == exported_bytes
        shutil.rmtree(b.root / "data" / "exports")
        assert restore_snapshot(worker("c"), AS_OF).read_bytes() == exported_bytes  # any third machine


def test_snapshot_without_a_staged_export_names_the_step_to_run(
    tmp_path: Path, make_settings: Callable[..., Settings], make_context: Callable[..., RunContext],
) -> None:
    """A file on the snapshot worker's own disk is not an export: only the staged bytes are."""
    settings = dataclasses.replace(make_settings({"export.dir": "data/exports",
                                                  "dvc.site_cache_dir": str(tmp_path / "site")}),
                                   root=_checkout(tmp_path / "checkout"))
    local = settings.root / "data" / "exports" / EXPORT
    local.parent.mkdir(parents=True)
    local.write_bytes(b"left over")
    with pytest.raises(SnapshotError, match=r"no staged export .* run the export step for 2026-11-20"):
        call_step(snapshot, make_context(settings))
