"""The raw tables dbt reads (docs/raw-tables.md), created empty when a load has not made them yet.

dlt creates a table only when rows arrive: on a fresh warehouse a window with no new titles, a source with
no quarantined record, or a first run before any enrichment leaves some ``source()`` of dbt missing, and
dbt would fail on a missing relation. ``ensure_raw_tables`` creates exactly what dlt would have created
(same names, types and dlt bookkeeping columns, from ``trending_now.raw_spec``), so later dlt loads
find the tables as their own.
"""

from __future__ import annotations

from trending_now import raw_spec
from trending_now.raw_spec import Column
from trending_now.warehouse import RAW_ENRICHMENT, RAW_JUSTWATCH, RAW_REVIEWS, Warehouse

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
