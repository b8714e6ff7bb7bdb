"""Run metrics: one row per run and step in ``ops.pipeline_runs``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from core.context import StepResult
from core.warehouse import OPS, Warehouse

TABLE = f"{OPS}.pipeline_runs"
# varchar(65535) is Redshift's widest varchar; DuckDB and PostgreSQL accept the same DDL.
DDL = f"""
create table if not exists {TABLE} (
    run_id varchar(64) not null,
    step varchar(64) not null,
    as_of date,
    target varchar(16),
    status varchar(16) not null,
    started_at timestamp,
    finished_at timestamp,
    duration_s double precision,
    rows_in bigint,
    rows_out bigint,
    quarantined bigint,
    llm_calls bigint,
    tokens_in bigint,
    tokens_out bigint,
    cost_usd double precision,
    cache_hits bigint,
    error varchar(65535),
    details varchar(65535)
)
"""
COLUMNS = (
    "run_id",
    "step",
    "as_of",
    "target",
    "status",
    "started_at",
    "finished_at",
    "duration_s",
    "rows_in",
    "rows_out",
    "quarantined",
    "llm_calls",
    "tokens_in",
    "tokens_out",
    "cost_usd",
    "cache_hits",
    "error",
    "details",
)


@dataclass
class StepRecord:
    run_id: str
    as_of: date
    target: str
    result: StepResult
    status: str
    started_at: datetime
    finished_at: datetime
    error: str | None = None

    @property
    def duration_s(self) -> float:
        return round((self.finished_at - self.started_at).total_seconds(), 3)

    def row(self) -> tuple[Any, ...]:
        r = self.result
        return (
            self.run_id,
            r.step,
            self.as_of,
            self.target,
            self.status,
            self.started_at.replace(tzinfo=None),
            self.finished_at.replace(tzinfo=None),
            self.duration_s,
            r.rows_in,
            r.rows_out,
            r.quarantined,
            r.llm.calls,
            r.llm.tokens_in,
            r.llm.tokens_out,
            round(r.llm.cost_usd, 6),
            r.cache_hits,
            (self.error or "")[:60000] or None,
            json.dumps(r.details, default=str, sort_keys=True)[:60000],
        )


def utcnow() -> datetime:
    return datetime.now(UTC)


def ensure_table(warehouse: Warehouse) -> None:
    with warehouse.connect() as conn:
        cur = conn.cursor()
        cur.execute(f"create schema if not exists {OPS}")
        cur.execute(DDL)


def record_steps(warehouse: Warehouse, records: list[StepRecord]) -> None:
    if not records:
        return
    ensure_table(warehouse)
    markers = ", ".join("?" for _ in COLUMNS)
    warehouse.executemany(
        f"insert into {TABLE} ({', '.join(COLUMNS)}) values ({markers})",  # nosec B608  # noqa: S608 - constant identifiers: TABLE, COLUMNS (this module); values are bound
        [rec.row() for rec in records],
    )


def last_run(warehouse: Warehouse) -> list[dict[str, Any]]:
    """The rows of the most recent run (by start time), in step order."""
    if not warehouse.table_exists(OPS, "pipeline_runs"):
        return []
    latest = warehouse.fetch_all(f"select run_id from {TABLE} order by started_at desc limit 1")  # nosec B608  # noqa: S608 - constant identifiers: TABLE (this module)
    if not latest:
        return []
    rows = warehouse.fetch_all(
        f"select {', '.join(COLUMNS)} from {TABLE} where run_id = ? order by started_at",  # nosec B608  # noqa: S608 - constant identifiers: TABLE, COLUMNS (this module)
        [latest[0]["run_id"]],
    )
    for row in rows:
        for key in ("as_of", "started_at", "finished_at"):
            if row.get(key) is not None:
                row[key] = row[key].isoformat()
        row["details"] = json.loads(row["details"]) if row.get("details") else {}
    return rows
