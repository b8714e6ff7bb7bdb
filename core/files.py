"""One atomic file write for the whole project: the export, the remote's folder objects, the quality reports.

A file is written to a temporary file in its own directory, flushed and fsynced, then renamed over the
target (``os.replace``) and the directory fsynced: a reader sees the old bytes or the new ones, never a
partial file, and a crash leaves no temporary file behind it.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

FILE_MODE = 0o644  # mkstemp creates 0600; what the pipeline writes is read by people, CI and other workers
_CHUNK = 1 << 20


def file_digest(path: Path, algorithm: str = "md5") -> str:
    """Hex digest of a file's bytes, read in 1 MiB chunks (md5 is what DVC records)."""
    digest = hashlib.new(algorithm)
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _same_bytes(path: Path, tmp: Path) -> bool:
    return (
        path.exists() and path.stat().st_size == tmp.stat().st_size and file_digest(path) == file_digest(tmp)
    )


def write_atomic(path: Path, write: Callable[[IO[bytes]], None]) -> bool:
    """Write ``path`` through ``write(sink)``; returns False when the bytes were unchanged.

    An unchanged file is left as it is (same mtime), so nothing downstream sees a change.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.tmp-", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        if _same_bytes(path, tmp):
            tmp.unlink()
            return False
        os.replace(tmp, path)
        _fsync_dir(path.parent)
        return True
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text_atomic(path: Path, text: str) -> bool:
    """:func:`write_atomic` for UTF-8 text."""
    data = text.encode("utf-8")
    return write_atomic(path, lambda sink: sink.write(data))
