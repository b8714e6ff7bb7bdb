"""One run at a time per warehouse: a lease that the CLI, every DAG task that writes and the deploy take.

::

    from core.run_lock import run_lock
    with run_lock(warehouse, holder="deploy 1a2b3c4", timeout_s=1800):
        ...  # nothing else writes this warehouse meanwhile

Where the lease lives:

- **PostgreSQL and Redshift**: one row of ``ops.run_lock`` in the warehouse itself (holder, host, pid,
  ``started_at``, ``expires_at``), so every checkout, laptop and MWAA worker sees the same lock. It is taken
  with a single ``update ... where <free, expired or ours>``; two takers cannot both win (PostgreSQL locks the
  row and re-checks the condition on the committed version; Redshift serialises writers of a table). The
  same SQL on both (Redshift has no advisory locks). A thread renews ``expires_at`` every
  ``run.lock_heartbeat_s`` while the holder runs; a holder killed outright (SIGKILL, a lost worker) frees the
  warehouse ``run.lock_lease_s`` after its last renewal. Timestamps are UTC from the taker's clock (NTP-synced
  hosts: seconds of skew against a lease of minutes).
- **DuckDB**: a lock file next to the database file (``<file>.duckdb.lock``), so two DuckDB files can run
  at once from one checkout while one file admits one run. The ``flock`` dies with its process: a killed
  holder frees the file at once.

Holders: the CLI is ``run <run id> (as of <day>)``; a DAG run is ``dag run <Airflow run id>``, and each
of its writing tasks takes the lease again as that same holder (re-entrant) with ``keep=True``: the lease
then outlives the task by ``run.lock_lease_s`` so nothing (a deploy, a CLI backfill) slips in between two
tasks of the run; the run's last task (``run_report``, which runs whatever happened) ends it with
:func:`release`. The deploy takes it around ``scripts/deploy.py build-warehouse``.

A refused taker raises :class:`RunLocked`, whose message is one line naming the holder.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, TYPE_CHECKING, Protocol

from core.warehouse import OPS, Warehouse

if TYPE_CHECKING:
    from core.config import Settings

TABLE = f"{OPS}.run_lock"
LOCK_NAME = "warehouse"  # one lease per warehouse: the row's key
# Redshift enforces no primary key (PostgreSQL does): only the seed statement below relies on it, and a second
# seed row on Redshift is harmless because the take updates every row of the name at once.
DDL = f"""
create table if not exists {TABLE} (
    lock_name varchar(64) not null primary key,
    holder varchar(256),
    host varchar(256),
    pid bigint,
    started_at timestamp,
    expires_at timestamp,
    kept boolean
)
"""
SEED = (
    f"insert into {TABLE} (lock_name) select ? where not exists (select 1 from {TABLE} where lock_name = ?)"  # nosec B608  # noqa: S608 - constant identifiers
)
TAKE = (
    f"update {TABLE} set holder = ?, host = ?, pid = ?, expires_at = ?, kept = ?, "  # nosec B608  # noqa: S608 - constant identifiers
    "started_at = case when holder = ? then started_at else ? end "
    "where lock_name = ? and (holder is null or expires_at is null or expires_at < ? or holder = ?)"
)
RENEW = f"update {TABLE} set expires_at = greatest(expires_at, ?) where lock_name = ? and holder = ?"  # nosec B608  # noqa: S608 - constant identifiers
RELEASE = (
    f"update {TABLE} set holder = null, host = null, pid = null, started_at = null, expires_at = null, "  # nosec B608  # noqa: S608 - constant identifiers
    "kept = null where lock_name = ? and holder = ?"
)
# a lease whose process is gone (same host, no such pid), freed only as it was read
FREE_STALE = RELEASE + " and host = ? and pid = ?"
CURRENT = f"select holder, host, pid, started_at, expires_at, kept from {TABLE} where lock_name = ?"  # nosec B608  # noqa: S608 - constant identifiers


class RunLocked(RuntimeError):
    """Another holder has the warehouse; ``str()`` is one line naming it."""


class LeaseLost(RuntimeError):
    """The lease expired while held (renewals failed) and another holder took the warehouse."""


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class Lease:
    holder: str
    host: str
    pid: int
    started_at: datetime
    expires_at: datetime | None = None  # None: held while the holder's process holds the lock file (DuckDB)
    kept: bool = False  # outlives its process on purpose (a DAG run's, between its tasks)

    def describe(self) -> str:
        """``run 1a2b (as of 2026-11-20), pid 4703 on worker-1 since 2026-12-06 03:40:12 UTC``."""
        text = f"{self.who()} since {self.started_at:%Y-%m-%d %H:%M:%S} UTC"
        return text + (f", lease until {self.expires_at:%H:%M:%S} UTC" if self.expires_at else "")

    def who(self) -> str:
        return f"{self.holder}, pid {self.pid} on {self.host}"

    def to_json(self) -> str:
        return json.dumps(
            {k: v.isoformat() if isinstance(v, datetime) else v for k, v in asdict(self).items()}
        )

    @classmethod
    def from_json(cls, text: str) -> Lease | None:
        try:
            data = json.loads(text)
            return cls(
                holder=str(data["holder"]),
                host=str(data["host"]),
                pid=int(data["pid"]),
                started_at=datetime.fromisoformat(data["started_at"]),
                expires_at=datetime.fromisoformat(data["expires_at"]) if data.get("expires_at") else None,
                kept=bool(data.get("kept")),
            )
        except (ValueError, KeyError, TypeError):
            return None


@dataclass(frozen=True)
class LockOptions:
    """How long to wait for the lease, how long it lasts, how often it is renewed (config/base.yaml ``run``)."""

    timeout_s: float
    lease_s: float
    heartbeat_s: float
    poll_s: float
    timeout_setting: str  # named in the refusal, so the user knows what to raise

    @classmethod
    def from_settings(
        cls, settings: Settings, timeout_s: float | None = None, timeout_setting: str | None = None
    ) -> LockOptions:
        """The ``run`` section's lease times; the timeout ``timeout_s``, else the setting ``timeout_setting``
        names (``run.lock_timeout_s`` unless a caller has its own: ``run.deploy_lock_timeout_s``...)."""
        key = timeout_setting or "run.lock_timeout_s"
        run = settings.typed.run
        return cls(
            timeout_s=float(settings.typed_at(key) if timeout_s is None else timeout_s),
            lease_s=run.lock_lease_s,
            heartbeat_s=run.lock_heartbeat_s,
            poll_s=run.lock_poll_s,
            timeout_setting=key,
        )


class _Store(Protocol):
    taken_over: str | None  # after a take: whose lease it ended, and why (None: it was free or ours)

    def take(self, lease: Lease) -> Lease | None:
        """Take the lease (free, expired or already ``lease.holder``'s); else return the current holder's."""

    def renew(self, lease: Lease) -> bool:
        """Push the expiry to ``lease.expires_at``; False when the lease is no longer ours."""

    def release(self, lease: Lease, keep: bool) -> None:
        """End the hold: free the warehouse, or (``keep``) leave the lease until its expiry."""


class _TableStore:
    """The lease row of ``ops.run_lock`` (PostgreSQL, Redshift)."""

    def __init__(self, warehouse: Warehouse) -> None:
        self.warehouse = warehouse
        self._ready = False
        self.taken_over: str | None = None

    def _setup(self) -> None:
        """Schema, table and the lock's row; concurrent first takers may race on the DDL: one retry."""
        for attempt in (1, 2):
            try:
                with self.warehouse.connect() as conn:
                    cur = conn.cursor()
                    cur.execute(f"create schema if not exists {OPS}")
                    cur.execute(DDL)
                with self.warehouse.connect() as conn:
                    conn.cursor().execute(self.warehouse._paramstyle(SEED), [LOCK_NAME, LOCK_NAME])
                self._ready = True
                return
            except Exception:
                if attempt == 2:
                    raise
                time.sleep(0.2)

    def current(self) -> Lease | None:
        rows = self.warehouse.fetch_all(CURRENT, [LOCK_NAME])
        row = rows[0] if rows else {}
        if not row.get("holder"):
            return None
        return Lease(
            str(row["holder"]),
            str(row["host"]),
            int(row["pid"] or 0),
            row["started_at"],
            row["expires_at"],
            bool(row.get("kept")),
        )

    def _free_if_stale(self, current: Lease) -> bool:
        """A plain lease of a process of this host that is gone (killed, or its release failed) ends now."""
        if current.kept or current.host != socket.gethostname() or _alive(current.pid):
            return False
        self.warehouse.execute(FREE_STALE, [LOCK_NAME, current.holder, current.host, current.pid])
        return True

    def take(self, lease: Lease) -> Lease | None:
        if not self._ready:
            self._setup()
        previous = self.current()  # only to say whose lease this take ends
        if previous and previous.holder != lease.holder and self._free_if_stale(previous):
            taken = self.take(lease)
            if taken is None:
                self.taken_over = f"{previous.who()}, whose process is gone"
            return taken
        wh = self.warehouse
        with wh.connect() as conn:
            cur = conn.cursor()
            cur.execute(
                wh._paramstyle(TAKE),
                [
                    lease.holder,
                    lease.host,
                    lease.pid,
                    lease.expires_at,
                    lease.kept,
                    lease.holder,
                    lease.started_at,
                    LOCK_NAME,
                    lease.started_at,
                    lease.holder,
                ],
            )
            taken = cur.rowcount
        if taken:
            self.taken_over = _ended(previous, lease)
            return None
        return self.current() or self.take(lease)  # freed between the two statements: try again at once

    def renew(self, lease: Lease) -> bool:
        with self.warehouse.connect() as conn:
            cur = conn.cursor()
            cur.execute(self.warehouse._paramstyle(RENEW), [lease.expires_at, LOCK_NAME, lease.holder])
            return bool(cur.rowcount)

    def release(self, lease: Lease, keep: bool) -> None:
        for attempt in (1, 2, 3):  # Redshift may abort a write that raced another taker's (serializable)
            try:
                if keep:
                    self.renew(lease)
                else:
                    self.warehouse.execute(RELEASE, [LOCK_NAME, lease.holder])
                return
            except Exception:
                if attempt == 3:
                    raise
                time.sleep(0.5)


class _FileStore:
    """A lock file next to the DuckDB file: ``flock`` while the holder runs, the lease record inside it.

    A kept lease (``expires_at`` set: a DAG task's) holds the file for other holders until it expires even
    after its process ended; a plain one ends with its process.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle: IO[str] | None = None
        self.taken_over: str | None = None

    def take(self, lease: Lease) -> Lease | None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 - held open for as long as the lease
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            current = _read(handle)
            handle.close()
            return current or Lease("another process", "?", 0, utcnow())
        current = _read(handle)
        if (
            current
            and current.holder != lease.holder
            and current.expires_at
            and current.expires_at > utcnow()
        ):
            handle.close()  # a kept lease of another holder (between two tasks of a DAG run)
            return current
        if current and current.holder == lease.holder:
            lease = replace(lease, started_at=current.started_at)
        self.taken_over = _ended(current, lease)  # a kept lease that expired, or a holder that died
        _write(handle, lease)
        self._handle = handle
        return None

    def renew(self, lease: Lease) -> bool:
        if self._handle is not None and lease.expires_at is not None:
            _write(self._handle, lease)
        return True

    def release(self, lease: Lease, keep: bool) -> None:
        handle, self._handle = self._handle, None
        if handle is None:
            return
        if keep:
            _write(handle, lease)
        else:
            handle.seek(0)
            handle.truncate()
            handle.flush()
        handle.close()  # closing drops the flock


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return pid > 0


def _ended(previous: Lease | None, lease: Lease) -> str | None:
    """Whose lease a take replaced and why; None when it was free, ours, or released meanwhile."""
    if previous is None or previous.holder == lease.holder:
        return None
    if previous.expires_at is None:
        return f"{previous.who()}, which ended without releasing it"
    if previous.expires_at > lease.started_at:
        return None  # released between the read and the take
    return f"{previous.who()}, whose lease expired at {previous.expires_at.isoformat()} UTC"


def _read(handle: IO[str]) -> Lease | None:
    handle.seek(0)
    return Lease.from_json(handle.read().strip())


def _write(handle: IO[str], lease: Lease) -> None:
    handle.seek(0)
    handle.truncate()
    handle.write(lease.to_json())
    handle.flush()


def lock_file(warehouse: Warehouse) -> Path:
    """The DuckDB lock: ``<database file>.lock``, keyed by the database file's resolved path."""
    path = warehouse.duckdb_path.resolve()
    return path.with_name(path.name + ".lock")


def _store(warehouse: Warehouse) -> _Store:
    return _FileStore(lock_file(warehouse)) if warehouse.target == "duckdb" else _TableStore(warehouse)


class _Heartbeat:
    """Renews the lease every ``heartbeat_s`` until stopped; notes when the lease was lost."""

    def __init__(
        self, store: _Store, lease: Lease, options: LockOptions, progress: Callable[[str], None]
    ) -> None:
        self.store, self.lease, self.options, self.progress = store, lease, options, progress
        self.lost = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="run-lock-heartbeat", daemon=True)

    def start(self) -> _Heartbeat:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.options.heartbeat_s):
            self.lease = replace(self.lease, expires_at=utcnow() + timedelta(seconds=self.options.lease_s))
            try:
                if not self.store.renew(self.lease):
                    self.lost = True
                    self.progress(
                        f"run lock: the lease of {self.lease.holder} was taken over after it expired"
                    )
                    return
            except Exception as exc:  # a blip: the next beat tries again before the lease runs out
                self.progress(f"run lock: could not renew the lease ({type(exc).__name__}); retrying")

    def stop(self) -> Lease:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join()
        return self.lease


class RunLock:
    """The lease of one warehouse for one holder: ``with run_lock(...)``, or :meth:`acquire` then :meth:`release`.

    ``timeout_s`` (default the setting ``timeout_setting``, itself ``run.lock_timeout_s``): how long to wait for
    another holder (0 refuses at once). ``keep``: the lease outlives the hold by ``run.lock_lease_s`` (a task
    of a DAG run; :func:`release` ends it). Refused: :class:`RunLocked`, one line naming the holder.
    """

    def __init__(
        self,
        warehouse: Warehouse,
        holder: str,
        *,
        timeout_s: float | None = None,
        timeout_setting: str | None = None,
        keep: bool = False,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        self.warehouse = warehouse
        self.holder = holder
        self.keep = keep
        self.options = LockOptions.from_settings(warehouse.settings, timeout_s, timeout_setting)
        self.progress = progress or (lambda _message: None)
        self._store = _store(warehouse)
        self._heartbeat: _Heartbeat | None = None

    def _lease(self) -> Lease:
        now = utcnow()
        file_lease = self.warehouse.target == "duckdb" and not self.keep
        expires = None if file_lease else now + timedelta(seconds=self.options.lease_s)
        return Lease(self.holder, socket.gethostname(), os.getpid(), now, expires, self.keep)

    def acquire(self) -> Lease:
        """Take the lease, waiting up to ``timeout_s`` (polling every ``run.lock_poll_s``); else :class:`RunLocked`."""
        deadline = time.monotonic() + self.options.timeout_s
        told = False
        while True:
            lease = self._lease()
            current = self._store.take(lease)
            if current is None:
                self._tell_takeover()
                if lease.expires_at is not None:
                    self._heartbeat = _Heartbeat(self._store, lease, self.options, self.progress).start()
                return lease
            if time.monotonic() >= deadline:
                raise RunLocked(
                    f"another run is in progress on this warehouse ({current.describe()}); "
                    f"wait for it or raise {self.options.timeout_setting}"
                )
            if not told:
                self.progress(
                    f"waiting up to {self.options.timeout_s:g}s for the warehouse lock ({current.describe()})"
                )
                told = True
            time.sleep(min(self.options.poll_s, max(deadline - time.monotonic(), 0.0)))

    def _tell_takeover(self) -> None:
        if self._store.taken_over:
            self.progress(f"run lock: taking over from {self._store.taken_over}")

    def release(self) -> None:
        """End the hold (``keep``: leave the lease until ``run.lock_lease_s`` from now); raise :class:`LeaseLost`
        when the lease had been taken over meanwhile."""
        heartbeat, self._heartbeat = self._heartbeat, None
        lease = heartbeat.stop() if heartbeat else self._lease()
        if self.keep:
            lease = replace(lease, expires_at=utcnow() + timedelta(seconds=self.options.lease_s))
        self._store.release(lease, self.keep)
        if heartbeat and heartbeat.lost:
            raise LeaseLost(
                f"the warehouse lock of {self.holder} expired while it ran and was taken by another holder; "
                "raise run.lock_lease_s or check the worker's connection to the warehouse"
            )

    def __enter__(self) -> Lease:
        return self.acquire()

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        if exc_type is None:
            self.release()
            return
        try:
            self.release()
        except (
            Exception
        ) as exc:  # the block's own error is the one to report (a lease left expires by itself)
            self.progress(f"run lock: not released ({type(exc).__name__}); it ends on its own")


# ``with run_lock(warehouse, holder=..., timeout_s=...) as lease:`` - the API the CLI, the DAG and the deploy use
run_lock = RunLock


def release(warehouse: Warehouse, holder: str) -> bool:
    """End ``holder``'s kept lease (a DAG run's last task); True when it held one. Never waits."""
    if warehouse.target != "duckdb":
        if not warehouse.table_exists(OPS, "run_lock"):
            return False
        current = warehouse.fetch_all(CURRENT, [LOCK_NAME])
        if not current or current[0].get("holder") != holder:
            return False
        warehouse.execute(RELEASE, [LOCK_NAME, holder])
        return True
    path = lock_file(warehouse)
    if not path.exists():
        return False
    with open(path, "a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False  # a live process holds it: not a kept lease
        current = _read(handle)
        if current is None or current.holder != holder:
            return False
        handle.seek(0)
        handle.truncate()
        return True
