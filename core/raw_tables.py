"""The raw tables dbt reads (docs/raw-tables.md), created empty when a load has not made them yet.

dlt creates a table only when rows arrive: on a fresh warehouse a window with no new titles, a source with
no quarantined record, or a first run before any enrichment leaves some ``source()`` of dbt missing, and
dbt would fail on a missing relation. ``ensure_raw_tables`` creates exactly what dlt would have created
(same names, types and dlt bookkeeping columns, from ``core.raw_spec``), so later dlt loads
find the tables as their own.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from datetime import date, datetime
from typing import Any

from core import raw_spec
from core.raw_spec import Column, Table
from core.warehouse import RAW_ENRICHMENT, RAW_JUSTWATCH, RAW_REVIEWS, Warehouse

# (schema, table) -> columns in dlt's order (child tables and dlt's bookkeeping columns included)
RAW_TABLES: dict[tuple[str, str], tuple[Column, ...]] = {
    key: columns for spec in raw_spec.TABLES for key, columns in raw_spec.warehouse_columns(spec).items()
}


def create_table_sql(schema: str, table: str, target: str) -> str:
    return raw_spec.create_table_sql(schema, table, RAW_TABLES[(schema, table)], target)


def ensure_raw_tables(warehouse: Warehouse) -> list[str]:
    """Create the raw tables that do not exist yet; returns their names (empty when all existed)."""
    existing = {
        (row["table_schema"], row["table_name"])
        for row in warehouse.fetch_all(
            "select table_schema, table_name from information_schema.tables where table_schema in (?, ?, ?)",
            [RAW_JUSTWATCH, RAW_REVIEWS, RAW_ENRICHMENT],
        )
    }
    missing = [key for key in RAW_TABLES if key not in existing]
    if not missing:
        return []
    with warehouse.connect() as conn:
        cur = conn.cursor()
        for schema in sorted({schema for schema, _ in missing}):
            cur.execute(f"create schema if not exists {schema}")
        for schema, table in missing:
            cur.execute(create_table_sql(schema, table, warehouse.target))
    return [f"{schema}.{table}" for schema, table in missing]


def _quarantine_entries(
    spec: Table, rows: list[dict[str, Any]], source: str, as_of: date, now: datetime
) -> list[tuple[Any, ...]]:
    """One quarantine row per broken row: key, source, entity, reason, the row as JSON, load columns."""
    load_id = f"{now.timestamp():.6f}"
    entries = []
    for row in rows:
        data = {c.name: row[c.name] for c in spec.columns}
        payload = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
        reason = f"breaks the {spec.relation} contract (found in the table): {'; '.join(raw_spec.violations(spec, data, as_of))}"
        key = hashlib.sha256(f"{source}\n{payload}".encode()).hexdigest()
        # the node; its other key columns (country) are in the payload
        entity = str(data[spec.primary_key[0]])
        entries.append(
            (key, source, entity, reason, payload, as_of, now, load_id, secrets.token_urlsafe(10)[:14])
        )
    return entries


def _move_to_quarantine(
    warehouse: Warehouse, spec: Table, quarantine: Table, condition: str, entries: list[tuple[Any, ...]]
) -> None:
    """In one transaction: replace the entries' quarantine rows, drop the broken rows and their child items."""
    columns = [c.name for c in RAW_TABLES[(quarantine.schema, quarantine.name)]]
    marks = ", ".join("?" for _ in columns)
    parents = f"select _dlt_id from {spec.relation} where {condition}"  # nosec B608  # noqa: S608 - identifiers and condition built from raw_spec, values bound
    statements = [
        f"delete from {quarantine.relation} where record_key in ({', '.join('?' for _ in entries)})"  # nosec B608  # noqa: S608 - identifiers and condition built from raw_spec, values bound
    ]
    statements += [
        f"delete from {spec.schema}.{spec.name}__{child.name} where _dlt_parent_id in ({parents})"  # nosec B608  # noqa: S608 - identifiers and condition built from raw_spec, values bound
        for child in spec.children
    ]
    with warehouse.connect() as conn:
        cur = conn.cursor()
        if warehouse.target == "duckdb":
            cur.execute("begin transaction")
        cur.execute(warehouse._paramstyle(statements[0]), [e[0] for e in entries])
        cur.executemany(
            warehouse._paramstyle(
                f"insert into {quarantine.relation} ({', '.join(columns)}) values ({marks})"  # nosec B608  # noqa: S608 - identifiers and condition built from raw_spec, values bound
            ),
            entries,
        )
        for sql in statements[1:]:
            cur.execute(sql)
        cur.execute(f"delete from {spec.relation} where {condition}")  # nosec B608  # noqa: S608 - identifiers and condition built from raw_spec, values bound
        if warehouse.target == "duckdb":
            cur.execute("commit")


def quarantine_broken_rows(
    warehouse: Warehouse,
    spec: Table,
    quarantine: Table,
    *,
    source: str,
    as_of: date,
    now: datetime,
) -> int:
    """Move the rows of ``spec`` that break its edge rules into ``quarantine``; returns how many.

    The extractor quarantines a bad record before it is loaded; a row loaded before a rule existed (or by an
    older version) would otherwise fail the staging tests of every later day. Moved in one transaction:
    the quarantine row (reason + the row as JSON), the row's child-table items and the row itself.
    """
    if not warehouse.table_exists(spec.schema, spec.name):
        return 0
    condition = raw_spec.broken_sql(spec, as_of)
    rows = warehouse.fetch_all(f"select * from {spec.relation} where {condition}")  # nosec B608  # noqa: S608 - identifiers and condition built from raw_spec, values bound
    if not rows:
        return 0
    ensure_raw_tables(warehouse)
    entries = _quarantine_entries(spec, rows, source, as_of, now)
    _move_to_quarantine(warehouse, spec, quarantine, condition, entries)
    return len(entries)
