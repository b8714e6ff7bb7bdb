"""Version the daily Parquet exports with DVC so any day's table can be fetched again.

The step snapshots the bytes the export step staged on the shared remote (``<remote>/exports/``), fetched
into the export directory first: it may run on another worker, or in another checkout, than the export.

The DVC project root is the project root (``settings.root``; ``.dvc/config`` is committed). Each export
``data/exports/movies_tv_shows_enriched_<as_of>.parquet`` gets its own pointer file ``<export>.dvc``
(``dvc add``), its bytes are pushed to the remote — a local directory by default (``dvc.local_remote_path``),
S3 in staging/prod (``dvc.s3_url``) — and the pointer file itself is published next to the data as the day's
manifest, ``<remote>/manifests/<export>.dvc``. ``list_snapshots`` and ``restore_snapshot`` read the pointer
files from the export directory and from the remote's manifests, so a fresh machine without the git history
can still bring back any day (see docs/snapshots.md).

DVC is driven through its Python API (``dvc.repo.Repo``), in process: the remote configuration comes from
our settings as a config override (nothing is written to ``.dvc/config.local``), errors arrive as typed
exceptions instead of parsed CLI output, and no second interpreter is started per command.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from core.config import Settings
from core.files import file_digest
from core.mart_schema import MART_NAME
from core.remote import remote_name, s3_url
from publish.export import export_path

MANIFEST_DIR = "manifests"
_POINTER_RE = re.compile(rf"^{re.escape(MART_NAME)}_(\d{{4}}-\d{{2}}-\d{{2}})\.parquet\.dvc$")


class SnapshotError(RuntimeError):
    """A snapshot cannot be taken, listed or restored; the message names the file, date or remote."""


@dataclass(frozen=True)
class Snapshot:
    """One day's export as DVC knows it."""

    date: date
    file: str  # file name inside the export directory
    md5: str
    size: int
    pushed: bool  # the remote holds the bytes
    local: bool  # the export directory holds the same bytes
    manifest: str  # where the pointer was found: "local", "remote" or "local+remote"


@dataclass(frozen=True)
class Pointer:
    """The content of a ``.dvc`` pointer file that matters here."""

    file: str
    md5: str
    size: int

    @classmethod
    def parse(cls, text: str, source: str) -> Pointer:
        try:
            data = yaml.safe_load(text) or {}
            out = data["outs"][0]
            return cls(file=str(out["path"]), md5=str(out["md5"]), size=int(out.get("size") or 0))
        except (yaml.YAMLError, KeyError, IndexError, TypeError, ValueError) as exc:
            raise SnapshotError(f"{source} is not a DVC pointer file with one output: {exc}") from exc


def pointer_name(as_of: date) -> str:
    return f"{export_path(Path(), as_of).name}.dvc"


def date_of_pointer(name: str) -> date | None:
    match = _POINTER_RE.match(name)
    return date.fromisoformat(match.group(1)) if match else None


# ---- DVC repository and remote -------------------------------------------------------------------------
def dvc_config(settings: Settings) -> dict[str, Any]:
    """The DVC config override built from our settings (merged over the committed ``.dvc/config``)."""
    name = remote_name(settings)
    if name == "local":
        remote: dict[str, Any] = {"url": str(settings.path("dvc.local_remote_path"))}
    else:
        remote = {"url": s3_url(settings), "region": str(settings.require("aws.region"))}
        if settings.get("aws.endpoint_url"):
            remote["endpointurl"] = str(settings.get("aws.endpoint_url"))
    core: dict[str, Any] = {"remote": name, "analytics": False, "check_update": False, "autostage": False}
    if not (settings.root / ".git").exists():
        core["no_scm"] = True  # a deployed worker has the code but not the git checkout
    if settings.get("dvc.site_cache_dir"):
        core["site_cache_dir"] = str(settings.path("dvc.site_cache_dir"))
    return {"core": core, "remote": {name: remote}}


@contextmanager
def open_repo(settings: Settings) -> Iterator[Any]:
    from dvc.exceptions import NotDvcRepoError
    from dvc.repo import Repo

    root = settings.root
    if not (root / ".dvc").is_dir():
        raise SnapshotError(f"{root} is not a DVC project (no .dvc directory)")
    try:
        repo = Repo(str(root), config=dvc_config(settings))
    except NotDvcRepoError as exc:
        raise SnapshotError(f"{root} is not a DVC project: {exc}") from exc
    repo.scm_context.quiet = True  # no "git add ..." hints on stdout: the pointers are published as manifests
    try:
        yield repo
    finally:
        repo.close()


def export_dir(settings: Settings) -> Path:
    directory = settings.path("export.dir").resolve()
    root = settings.root.resolve()
    if not directory.is_relative_to(root):
        raise SnapshotError(
            f"export.dir {directory} is outside the DVC project {root}; DVC can only track files inside it"
        )
    return directory


def _remote(repo: Any, settings: Settings) -> Any:
    return repo.cloud.get_remote(remote_name(settings), command="snapshot")


def _manifest_path(remote: Any, name: str) -> str:
    return remote.fs.join(remote.path, MANIFEST_DIR, name)


def remote_has(repo: Any, settings: Settings, md5: str) -> bool:
    odb = repo.cloud.get_remote_odb(remote_name(settings), command="snapshot")
    return bool(odb.exists(md5))


def publish_manifest(repo: Any, settings: Settings, pointer_file: Path) -> str:
    remote = _remote(repo, settings)
    target = _manifest_path(remote, pointer_file.name)
    remote.fs.makedirs(remote.fs.parent(target), exist_ok=True)
    remote.fs.pipe_file(target, pointer_file.read_bytes())
    return remote.fs.unstrip_protocol(target)


def remote_manifests(repo: Any, settings: Settings) -> dict[str, str]:
    """``{pointer file name: content}`` for every manifest published on the remote."""
    remote = _remote(repo, settings)
    prefix = remote.fs.join(remote.path, MANIFEST_DIR)
    if not remote.fs.exists(prefix):
        return {}
    found: dict[str, str] = {}
    for path in remote.fs.find(prefix):
        name = remote.fs.name(path)
        if date_of_pointer(name):
            found[name] = remote.fs.cat_file(path).decode("utf-8")
    return found


# ---- the step's companions -------------------------------------------------------------------------------
def list_snapshots(settings: Settings) -> list[Snapshot]:
    """Every day with a pointer file locally or on the remote, oldest first."""
    directory = export_dir(settings)
    local = {
        p.name: p.read_text(encoding="utf-8")
        for p in sorted(directory.glob("*.dvc"))
        if date_of_pointer(p.name)
    }
    with open_repo(settings) as repo:
        remote = remote_manifests(repo, settings)
        snapshots = []
        for name in sorted(set(local) | set(remote)):
            text = local.get(name) or remote[name]
            pointer = Pointer.parse(text, name)
            data_file = directory / pointer.file
            where = "+".join(
                w for w, present in (("local", name in local), ("remote", name in remote)) if present
            )
            snapshots.append(
                Snapshot(
                    date=date_of_pointer(name) or date.min,
                    file=pointer.file,
                    md5=pointer.md5,
                    size=pointer.size,
                    pushed=remote_has(repo, settings, pointer.md5),
                    local=data_file.exists() and file_digest(data_file) == pointer.md5,
                    manifest=where,
                )
            )
    return snapshots


def restore_snapshot(settings: Settings, day: date) -> Path:
    """Bring one day's export back from the remote into the export directory; returns its path."""
    directory = export_dir(settings)
    name = pointer_name(day)
    pointer_file = directory / name
    with open_repo(settings) as repo:
        if not pointer_file.exists():
            manifest = remote_manifests(repo, settings).get(name)
            if manifest is None:
                raise SnapshotError(
                    f"no snapshot for {day}: neither {pointer_file} nor a manifest on the "
                    f"{remote_name(settings)} remote"
                )
            directory.mkdir(parents=True, exist_ok=True)
            pointer_file.write_text(manifest, encoding="utf-8")
        pointer = Pointer.parse(pointer_file.read_text(encoding="utf-8"), str(pointer_file))
        try:
            repo.pull(targets=[str(pointer_file)], remote=remote_name(settings), force=True)
        except Exception as exc:
            raise SnapshotError(
                f"DVC could not restore {pointer.file} from the {remote_name(settings)} remote: {exc}"
            ) from exc
    data_file = directory / pointer.file
    if not data_file.exists() or file_digest(data_file) != pointer.md5:
        raise SnapshotError(f"restored {data_file} does not match md5 {pointer.md5}")
    return data_file
