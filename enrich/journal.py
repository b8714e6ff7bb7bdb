"""Write-ahead journal of enrichment results: every paid result is durable before it is buffered.

The side table is written with dlt in chunks (a load costs about a second), so between two loads the
results of paid calls live only in memory. The journal closes that gap: the rows of each provider answer
are written, the moment they arrive, as one object on the shared remote (:mod:`core.remote`:
``<remote>/enrichment-journal/<target>/``; a folder in dev and tests, S3 in staging/prod), so any worker
can replay what a crashed one paid for. When a chunk has been loaded into the warehouse its objects are
deleted (rewritten when only part of one was loaded). At the start of the next run, on whichever worker,
the rows a crashed run left are loaded first.

An object is written whole (an S3 PUT; on a folder a temporary file, ``fsync``, rename), so a crash never
leaves half an object. Lines that still do not decode are kept, with the reason, under
``enrichment-journal/<target>.rejected/`` and reported, never dropped silently.

Two runs on one target (the run lock and Airflow's ``max_active_runs=1`` keep them apart) could not lose
each other's rows either: every writer has its own objects, and a replay deletes only what it loaded.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from core.config import Settings
from core.remote import Remote, open_remote

JOURNAL_DIR = "enrichment-journal"


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
            contents.rejected.append(
                RejectedLine(line_no, text, "torn last line (no newline): the write was cut")
            )
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


class Journal:
    """The journal of one warehouse target on the shared remote. Thread-safe; usable as a context manager."""

    def __init__(self, remote: Remote, target: str, timestamp_fields: Sequence[str] = ()) -> None:
        self.remote = remote
        self.dir = remote.path(JOURNAL_DIR, target)
        self.rejected_dir = remote.path(JOURNAL_DIR, f"{target}.rejected")
        self.rejected_path = f"{remote.url.rstrip('/')}/{JOURNAL_DIR}/{target}.rejected/"  # for messages
        self.timestamp_fields = tuple(timestamp_fields)
        self._lock = threading.Lock()
        self._writer = f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}"  # this writer's object names
        self._segments: dict[str, dict[int, dict[str, Any]]] = {}  # own object -> pending rows by seq
        self._seen: set[str] = set()  # objects the last read() returned
        self._next_seq = 0

    @classmethod
    def for_target(cls, settings: Settings, target: str, timestamp_fields: Sequence[str] = ()) -> Journal:
        return cls(open_remote(settings), target, timestamp_fields)

    # ---- lifecycle (nothing is held open: every append is a whole object) ----------------------------
    def open(self) -> Journal:
        return self

    def close(self) -> None:
        """Nothing to release; pending rows stay on the remote for the next run."""

    def __enter__(self) -> Journal:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- writing ---------------------------------------------------------------------------------
    def append(self, rows: Iterable[dict[str, Any]]) -> list[int]:
        """Write rows durably as one object; returns their sequence numbers."""
        rows = list(rows)
        if not rows:
            return []
        with self._lock:
            seqs = list(range(self._next_seq, self._next_seq + len(rows)))
            name = f"{self._writer}-{seqs[0]:09d}.jsonl"
            segment = dict(zip(seqs, rows, strict=True))
            self._write(name, segment)
            self._segments[name] = segment
            self._next_seq += len(rows)
            return seqs

    def discard(self, seqs: Iterable[int]) -> None:
        """Forget entries that are now in the warehouse: delete their objects (rewrite a partly loaded one)."""
        done = set(seqs)
        if not done:
            return
        with self._lock:
            for name, segment in list(self._segments.items()):
                if not done & segment.keys():
                    continue
                remaining = {seq: row for seq, row in segment.items() if seq not in done}
                if remaining:
                    self._write(name, remaining)
                    self._segments[name] = remaining
                else:
                    self._delete(name)
                    del self._segments[name]

    def clear(self) -> None:
        """Delete what the last :meth:`read` returned (after its rows were loaded) and this writer's objects."""
        with self._lock:
            for name in self._seen | set(self._segments):
                self._delete(name)
            self._seen = set()
            self._segments = {}

    # ---- reading ---------------------------------------------------------------------------------
    def read(self) -> JournalContents:
        """Every writer's entries still on the remote (a crashed run's included), oldest object first."""
        with self._lock:
            contents = JournalContents()
            names = self._names()
            for name in names:
                data = self.remote.read_bytes(f"{self.dir}/{name}")
                if data is None:  # deleted meanwhile by the writer that loaded it
                    continue
                part = decode_lines(data, self.timestamp_fields)
                contents.entries.extend(part.entries)
                contents.rejected.extend(
                    RejectedLine(r.line_no, r.text, f"{name}: {r.reason}") for r in part.rejected
                )
            self._seen = set(names)
            return contents

    @property
    def pending(self) -> int:
        """Rows this writer journaled that are not in the warehouse yet."""
        return sum(len(segment) for segment in self._segments.values())

    def quarantine(self, rejected: Sequence[RejectedLine]) -> None:
        """Keep undecodable lines, with why, beside the journal (never silently dropped)."""
        if not rejected:
            return
        body = "".join(
            json.dumps({"line_no": r.line_no, "reason": r.reason, "text": r.text}) + "\n" for r in rejected
        )
        self.remote.write_bytes(f"{self.rejected_dir}/{self._writer}.jsonl", body.encode("utf-8"))

    # ---- internals -------------------------------------------------------------------------------
    def _names(self) -> list[str]:
        try:
            paths = self.remote.fs.find(self.dir)
        except FileNotFoundError:
            return []
        return sorted(p.rsplit("/", 1)[-1] for p in paths if p.endswith(".jsonl"))

    def _write(self, name: str, segment: dict[int, dict[str, Any]]) -> None:
        body = "".join(encode_entry(seq, row) + "\n" for seq, row in segment.items())
        self.remote.write_bytes(f"{self.dir}/{name}", body.encode("utf-8"))

    def _delete(self, name: str) -> None:
        with contextlib.suppress(FileNotFoundError):  # another run's replay loaded and deleted it
            self.remote.fs.rm_file(f"{self.dir}/{name}")
