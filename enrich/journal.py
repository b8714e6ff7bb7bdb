"""Write-ahead journal of enrichment results: every paid result is on disk before it is buffered.

The side table is written with dlt in chunks (a load costs about a second), so between two loads the
results of paid calls live only in memory. The journal closes that gap: each result row is appended as
one JSON line, flushed and ``fsync``ed, the moment it arrives. When a chunk has been loaded into the
warehouse its lines are removed (the file is truncated when nothing else is pending, else rewritten
atomically). At the start of the next run, rows a crashed run left in the journal are loaded first.

A crash in the middle of an append leaves a torn last line (no newline, or JSON cut short): it is not
fatal. Such lines are kept, with the reason, in a ``.rejected`` file next to the journal and reported.

One journal per warehouse target, under the dlt pipelines dir. An exclusive ``flock`` on the journal
keeps two concurrent runs from replaying or clearing each other's lines.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any

JOURNAL_DIR = "enrichment-journal"


class JournalBusy(RuntimeError):
    """Another process holds the journal (a concurrent enrichment run on the same target)."""


@dataclass(frozen=True)
class RejectedLine:
    line_no: int
    text: str
    reason: str


@dataclass
class JournalContents:
    """What a journal file holds: the decodable entries (sequence number, row) and the lines that are not."""

    entries: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    rejected: list[RejectedLine] = field(default_factory=list)

    @property
    def rows(self) -> list[dict[str, Any]]:
        return [row for _, row in self.entries]


def journal_path(pipelines_dir: Path, target: str) -> Path:
    return pipelines_dir / JOURNAL_DIR / f"{target}.jsonl"


def _default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"cannot journal a value of type {type(value).__name__}")


def encode_entry(seq: int, row: dict[str, Any]) -> str:
    """One journal line (without the newline)."""
    return json.dumps({"seq": seq, "row": row}, default=_default, ensure_ascii=False, separators=(",", ":"))


def decode_lines(data: bytes, timestamp_fields: Sequence[str] = ()) -> JournalContents:
    """Parse a journal file's bytes. Pure: a bad line becomes a ``RejectedLine``, never an exception.

    A last line without its newline is torn (the process died while writing it), whatever it holds.
    """
    contents = JournalContents()
    if not data:
        return contents
    parts = data.split(b"\n")
    tail = parts.pop()  # b"" when the file ends with a newline
    numbered = [(i + 1, part, True) for i, part in enumerate(parts)]
    if tail:
        numbered.append((len(parts) + 1, tail, False))
    for line_no, raw, complete in numbered:
        text = raw.decode("utf-8", errors="replace")
        if not complete:
            contents.rejected.append(RejectedLine(line_no, text, "torn last line (no newline): the write was cut"))
            continue
        if not raw.strip():
            continue
        try:
            entry = json.loads(raw)
            seq, row = int(entry["seq"]), dict(entry["row"])
            for name in timestamp_fields:
                if isinstance(row.get(name), str):
                    row[name] = datetime.fromisoformat(row[name])
        except (ValueError, KeyError, TypeError) as exc:
            contents.rejected.append(RejectedLine(line_no, text, f"undecodable line: {exc}"))
            continue
        contents.entries.append((seq, row))
    return contents


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Journal:
    """An append-only, fsynced JSON-lines file of result rows. Thread-safe; use as a context manager."""

    def __init__(self, path: Path, timestamp_fields: Sequence[str] = ()) -> None:
        self.path = path
        self.rejected_path = path.with_name(path.name + ".rejected")
        self.timestamp_fields = tuple(timestamp_fields)
        self._lock = threading.Lock()
        self._file: IO[bytes] | None = None
        self._pending: set[int] = set()
        self._next_seq = 0

    # ---- lifecycle -------------------------------------------------------------------------------
    def open(self) -> Journal:
        with self._lock:
            if self._file is not None:
                return self
            self.path.parent.mkdir(parents=True, exist_ok=True)
            created = not self.path.exists()
            handle = open(self.path, "ab")  # noqa: SIM115 - held open for the run, closed in close()
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as exc:
                handle.close()
                raise JournalBusy(f"{self.path} is in use by another enrichment run on this target") from exc
            if created:
                _fsync_dir(self.path.parent)
            self._file = handle
            contents = decode_lines(self.path.read_bytes(), self.timestamp_fields)
            self._pending = {seq for seq, _ in contents.entries}
            self._next_seq = max(self._pending, default=-1) + 1
            return self

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()  # also releases the flock
                self._file = None

    def __enter__(self) -> Journal:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- writing ---------------------------------------------------------------------------------
    def append(self, rows: Iterable[dict[str, Any]]) -> list[int]:
        """Append rows durably (one line each, one fsync for the call); returns their sequence numbers."""
        rows = list(rows)
        if not rows:
            return []
        with self._lock:
            handle = self._require_open()
            seqs = list(range(self._next_seq, self._next_seq + len(rows)))
            payload = "".join(encode_entry(seq, row) + "\n" for seq, row in zip(seqs, rows, strict=True))
            if handle.tell() > 0 and not self._ends_with_newline():
                payload = "\n" + payload  # never glue a new line onto a torn one
            handle.write(payload.encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
            self._next_seq += len(rows)
            self._pending.update(seqs)
            return seqs

    def discard(self, seqs: Iterable[int]) -> None:
        """Forget entries that are now in the warehouse: truncate when nothing else is pending, else rewrite."""
        done = set(seqs)
        if not done:
            return
        with self._lock:
            handle = self._require_open()
            remaining = self._pending - done
            if not remaining:
                self._truncate(handle)
            else:
                self._rewrite(remaining)
            self._pending = remaining

    def clear(self) -> None:
        """Empty the journal (after its rows were loaded)."""
        with self._lock:
            self._truncate(self._require_open())
            self._pending = set()

    # ---- reading ---------------------------------------------------------------------------------
    def read(self) -> JournalContents:
        with self._lock:
            if not self.path.exists():
                return JournalContents()
            return decode_lines(self.path.read_bytes(), self.timestamp_fields)

    @property
    def pending(self) -> int:
        return len(self._pending)

    def quarantine(self, rejected: Sequence[RejectedLine]) -> None:
        """Keep undecodable lines, with why, next to the journal (never silently dropped)."""
        if not rejected:
            return
        with open(self.rejected_path, "a", encoding="utf-8") as out:
            for line in rejected:
                out.write(json.dumps({"line_no": line.line_no, "reason": line.reason, "text": line.text}) + "\n")
            out.flush()
            os.fsync(out.fileno())

    # ---- internals -------------------------------------------------------------------------------
    def _require_open(self) -> IO[bytes]:
        if self._file is None:
            raise RuntimeError(f"journal {self.path} is not open")
        return self._file

    def _ends_with_newline(self) -> bool:
        with open(self.path, "rb") as check:
            check.seek(-1, os.SEEK_END)
            return check.read(1) == b"\n"

    @staticmethod
    def _truncate(handle: IO[bytes]) -> None:
        handle.flush()
        os.ftruncate(handle.fileno(), 0)
        handle.seek(0)
        os.fsync(handle.fileno())

    def _rewrite(self, keep: set[int]) -> None:
        """Atomically replace the file with the lines of ``keep`` (tmp file, fsync, rename, fsync dir).

        The rename swaps the inode, so the held handle (and its flock) is reopened on the new file.
        """
        contents = decode_lines(self.path.read_bytes())
        tmp = self.path.with_name(self.path.name + ".tmp")
        with open(tmp, "wb") as out:
            for seq, row in contents.entries:
                if seq in keep:
                    out.write((encode_entry(seq, row) + "\n").encode("utf-8"))
            out.flush()
            os.fsync(out.fileno())
        # Lock the new file before it replaces the old one, so the journal is never unlocked.
        handle = open(tmp, "ab")  # noqa: SIM115 - becomes the held journal handle
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.replace(tmp, self.path)
        _fsync_dir(self.path.parent)
        self._require_open().close()
        self._file = handle
