"""Export the mart to one Parquet file per run date: ``<export.dir>/movies_tv_shows_enriched_<as_of>.parquet``.

The file has exactly :data:`~core.mart_schema.MART_ARROW_SCHEMA`, rows sorted by ``id`` and zstd
compression. The same data always gives the same bytes (fixed row order, fixed writer options, no
timestamps in the file), so DVC sees no change when a day is re-run; an unchanged file is not even
rewritten. The file is written atomically: a temporary file in the same directory, fsync, ``os.replace``;
a failure leaves the previous file (or none) and no partial file.

The same bytes are then staged on the shared remote (``<remote>/exports/<file>`` and its ``.md5``,
:mod:`core.remote`): the snapshot step, maybe on another worker or in another checkout, snapshots
exactly those bytes and never a file that happens to lie on its own disk.
"""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path
from typing import IO, Any

import pyarrow as pa

from core.files import file_digest, write_atomic
from core.mart_schema import (
    MART_ARROW_SCHEMA,
    MART_NAME,
)
from core.remote import Remote

STAGED_DIR = "exports"  # on the shared remote
COMPRESSION = "zstd"
COMPRESSION_LEVEL = 9
ROW_GROUP_SIZE = 64 * 1024


class ExportError(RuntimeError):
    """The mart cannot be exported as published (schema mismatch, duplicate ids, write failure)."""


def export_path(export_dir: Path, as_of: date) -> Path:
    return export_dir / f"{MART_NAME}_{as_of.isoformat()}.parquet"


def _check_columns(table: pa.Table) -> None:
    if table.schema.names != MART_ARROW_SCHEMA.names:
        missing = [n for n in MART_ARROW_SCHEMA.names if n not in table.schema.names]
        extra = [n for n in table.schema.names if n not in MART_ARROW_SCHEMA.names]
        raise ExportError(
            f"{MART_NAME} columns differ from the published schema "
            f"(missing: {missing or 'none'}; unexpected: {extra or 'none'}; or out of order)"
        )


def _cast(table: pa.Table) -> pa.Table:
    try:
        return table.cast(MART_ARROW_SCHEMA, safe=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
        raise ExportError(f"{MART_NAME} does not cast to the published schema: {exc}") from exc


def _check_ids(table: pa.Table) -> None:
    ids = table.column("id")
    if ids.null_count:
        raise ExportError(f"{MART_NAME} has {ids.null_count} rows without an id")
    import pyarrow.compute as pc  # noqa: PLC0415 - 0.1 s that every DAG parse (each MWAA task) would pay

    if pc.count_distinct(ids).as_py() != table.num_rows:
        raise ExportError(f"{MART_NAME} has duplicate ids; the export needs one row per id (run validate)")


def prepare_table(table: pa.Table) -> pa.Table:
    """Cast to the published schema (fail on any difference) and sort by ``id``."""
    _check_columns(table)
    table = _cast(table)
    _check_ids(table)
    return table.sort_by([("id", "ascending")]).combine_chunks()


def write_parquet(table: pa.Table, sink: IO[bytes]) -> None:
    """The writer options are fixed so equal tables give equal bytes."""
    import pyarrow.parquet as pq  # noqa: PLC0415 - only when writing (keeps the DAG parse light)

    pq.write_table(
        table,
        sink,
        compression=COMPRESSION,
        compression_level=COMPRESSION_LEVEL,
        row_group_size=ROW_GROUP_SIZE,
        use_dictionary=True,
        write_statistics=True,
        version="2.6",
        data_page_version="1.0",
    )


def export_table(table: pa.Table, path: Path) -> dict[str, Any]:
    """Write a prepared copy of ``table`` to ``path``; returns what was written."""
    prepared = prepare_table(table)
    changed = write_atomic(path, lambda sink: write_parquet(prepared, sink))
    return {
        "path": str(path),
        "rows": prepared.num_rows,
        "bytes": path.stat().st_size,
        "md5": file_digest(path),
        "changed": changed,
    }


def stage_export(remote: Remote, path: Path, md5: str) -> str:
    """Put the export's bytes, then their md5, on the shared remote; returns where."""
    target = remote.path(STAGED_DIR, path.name)
    remote.write_bytes(target, path.read_bytes())
    remote.write_bytes(f"{target}.md5", md5.encode("ascii"))  # last: the bytes are complete when it matches
    return f"{remote.url.rstrip('/')}/{STAGED_DIR}/{path.name}"


def fetch_staged_export(remote: Remote, path: Path) -> str:
    """Write the day's staged export from the shared remote to ``path`` (atomically); returns its md5.

    Whatever lies at ``path`` (an older run's file, another checkout's) is replaced by the staged bytes.
    """
    target = remote.path(STAGED_DIR, path.name)
    expected = remote.read_bytes(f"{target}.md5")
    data = remote.read_bytes(target)
    if expected is None or data is None:
        raise ExportError(f"no staged export {path.name} on the {remote.url} remote")
    md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
    if md5 != expected.decode("ascii").strip():
        raise ExportError(f"the staged {path.name} does not match its md5 (an export was cut short)")
    write_atomic(path, lambda sink: sink.write(data))
    return md5
