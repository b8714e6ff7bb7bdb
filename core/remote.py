"""The shared remote every worker can read: the DVC remote's location, as a filesystem.

Tasks of one Airflow run may land on different workers (MWAA), so nothing one task writes to its local disk
is there for the next. What must pass between tasks or survive a worker goes to this remote: the day's
export (``exports/``, read by the snapshot step) and the enrichment journal (``enrichment-journal/``).
It is ``dvc.local_remote_path`` (a folder: dev, tests, a shared volume) when ``dvc.remote: local`` and
``dvc.s3_url`` when ``dvc.remote: s3`` (staging, prod; ``aws.endpoint_url`` for a test server), with the
standard AWS credential chain. The DVC data itself (``files/``, ``manifests/``) lives beside them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.config import ConfigError, Settings
from core.files import write_atomic


def remote_name(settings: Settings) -> str:
    return settings.typed.dvc.remote


def s3_url(settings: Settings) -> str:
    url = str(settings.require("dvc.s3_url"))
    if not url.startswith("s3://"):
        raise ConfigError(f"dvc.s3_url={url!r} must start with s3://")
    return url


@dataclass(frozen=True)
class Remote:
    """A filesystem (fsspec) and the remote's root path on it."""

    fs: Any
    root: str
    url: str

    def path(self, *parts: str) -> str:
        return "/".join([self.root.rstrip("/"), *parts])

    def write_bytes(self, path: str, data: bytes) -> None:
        """Write a whole object, durably: an S3 PUT, or on a folder a temporary file, fsync and rename."""
        if self.url.startswith("s3://"):
            self.fs.pipe_file(path, data)  # a PUT is atomic: the object is all there or not there
            return
        write_atomic(Path(path), lambda sink: sink.write(data))

    def read_bytes(self, path: str) -> bytes | None:
        """The object's bytes, or None when there is none."""
        try:
            return self.fs.cat_file(path)
        except FileNotFoundError:
            return None


def aws_client_kwargs(settings: Settings) -> dict[str, Any]:
    """How every AWS client of the project reaches AWS: ``aws.region``, and ``aws.endpoint_url`` for a local
    twin (moto_server)."""
    kwargs: dict[str, Any] = {"region_name": str(settings.require("aws.region"))}
    if settings.get("aws.endpoint_url"):
        kwargs["endpoint_url"] = str(settings.get("aws.endpoint_url"))
    return kwargs


def s3_client(settings: Settings) -> Any:
    import boto3  # noqa: PLC0415 - only where S3 is used (the deploy, the docs site)

    return boto3.client("s3", **aws_client_kwargs(settings))


def open_remote(settings: Settings) -> Remote:
    import fsspec  # noqa: PLC0415 - only when a remote is used (export, snapshot, report upload)

    if remote_name(settings) == "local":
        root = str(settings.path("dvc.local_remote_path"))
        return Remote(fsspec.filesystem("file", auto_mkdir=True), root, root)
    url = s3_url(settings)
    fs = fsspec.filesystem("s3", client_kwargs=aws_client_kwargs(settings), skip_instance_cache=True)
    return Remote(fs, url.removeprefix("s3://").rstrip("/"), url)
