"""The published table ``marts.movies_tv_shows_enriched``: its columns in order, their types, and one reader.

The 25 columns of the original plan come first, then the enrichment provenance. The Great Expectations
gate (:mod:`trending_now.quality`) and the Parquet export (:mod:`trending_now.export`) both read the mart
through :func:`read_mart_rows`, so they see the same rows, in the same column order, on DuckDB, PostgreSQL
and Redshift.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

MART_SCHEMA = "marts"
MART_NAME = "movies_tv_shows_enriched"
MART_TABLE = f"{MART_SCHEMA}.{MART_NAME}"
# Write-audit-publish: a run builds and checks this relation; publish_mart copies it into MART_TABLE.
AUDIT_SCHEMA = "marts_audit"
AUDIT_NAME = f"{MART_NAME}_audit"
AUDIT_TABLE = f"{AUDIT_SCHEMA}.{AUDIT_NAME}"


@dataclass(frozen=True)
class MartColumn:
    """One published column. ``sql_type`` is the portable spelling: the plan's FLOAT is written
    ``double precision`` because DuckDB's ``float`` is 4 bytes while Redshift's and PostgreSQL's are 8."""

    name: str
    sql_type: str
    arrow_type: pa.DataType
    meaning: str


MART_COLUMN_SPECS: tuple[MartColumn, ...] = (
    MartColumn("id", "varchar", pa.string(), "JustWatch id (tm… movie, ts… show)"),
    MartColumn("title", "varchar", pa.string(), "title"),
    MartColumn("content_type", "varchar", pa.string(), "'Movie' or 'TV Show'"),
    MartColumn("streaming_platforms", "varchar", pa.string(), "comma-separated"),
    MartColumn("release_year", "integer", pa.int32(), "original release year"),
    MartColumn("release_date_text", "varchar", pa.string(), "release date as published"),
    MartColumn("detail_url", "varchar", pa.string(), "JustWatch page"),
    MartColumn("source_genres", "varchar", pa.string(), "comma-separated"),
    MartColumn("imdb_rating", "double precision", pa.float64(), "0–10, nullable"),
    MartColumn("rotten_tomatoes_rating", "varchar", pa.string(), "'85%', nullable"),
    MartColumn("synopsis", "varchar", pa.string(), "plot summary"),
    MartColumn("cast_members", "varchar", pa.string(), "JSON array of {name, character}"),
    MartColumn("directors", "varchar", pa.string(), "JSON array of {name}"),
    MartColumn("duration_text", "varchar", pa.string(), "e.g. '1h 30min'"),
    MartColumn("maturity_rating", "varchar", pa.string(), "nullable"),
    MartColumn("language", "varchar", pa.string(), "nullable"),
    MartColumn("country", "varchar", pa.string(), "nullable"),
    MartColumn(
        "scraped_reviews",
        "varchar",
        pa.string(),
        "JSON array of {source_name, author, review_text, original_score, score_normalized, review_url}",
    ),
    MartColumn("llm_review_summary", "varchar", pa.string(), "LLM summary of the reviews"),
    MartColumn("llm_generated_score", "double precision", pa.float64(), "1–10"),
    MartColumn("llm_generated_vibe_tags", "varchar", pa.string(), "comma-separated"),
    MartColumn("llm_generated_primary_genre", "varchar", pa.string(), "one genre"),
    MartColumn("llm_generated_secondary_genres", "varchar", pa.string(), "comma-separated"),
    MartColumn(
        "data_ingestion_timestamp",
        "timestamp with time zone",
        pa.timestamp("us", tz="UTC"),
        "when the row's content last changed",
    ),
    MartColumn("source_data_hash", "varchar", pa.string(), "hash of the LLM inputs"),
    MartColumn("enrichment_provider", "varchar", pa.string(), "gemini | heuristic"),
    MartColumn("enrichment_model", "varchar", pa.string(), "model name"),
    MartColumn("prompt_version", "varchar", pa.string(), "e.g. v1"),
)

# The column names in published order (what most callers need); MART_COLUMN_SPECS has the types.
MART_COLUMNS: tuple[str, ...] = tuple(c.name for c in MART_COLUMN_SPECS)
MART_COLUMN_NAMES = MART_COLUMNS
MART_ARROW_SCHEMA: pa.Schema = pa.schema(
    [pa.field(c.name, c.arrow_type, nullable=True) for c in MART_COLUMN_SPECS]
)
STRING_COLUMNS: tuple[str, ...] = tuple(c.name for c in MART_COLUMN_SPECS if pa.types.is_string(c.arrow_type))
JSON_COLUMNS: tuple[str, ...] = ("cast_members", "directors", "scraped_reviews")
CONTENT_TYPES: tuple[str, ...] = ("Movie", "TV Show")


class MartSchemaError(RuntimeError):
    """The mart in the warehouse does not have the published columns or types."""


def select_mart_sql(table: str = MART_TABLE) -> str:
    """The columns in published order, sorted by id (a stable order on every warehouse)."""
    return f"select {', '.join(MART_COLUMN_NAMES)} from {table} order by id"


def check_columns(found: Sequence[str], table: str = MART_TABLE) -> None:
    """Fail with one clear line when the mart's column list differs from the published one."""
    found_list = [c.lower() for c in found]
    missing = [c for c in MART_COLUMN_NAMES if c not in found_list]
    extra = [c for c in found_list if c not in MART_COLUMN_NAMES]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing {', '.join(missing)}")
        if extra:
            parts.append(f"unexpected {', '.join(extra)}")
        raise MartSchemaError(f"{table} does not match the published schema: {'; '.join(parts)}")


def read_mart_columns(warehouse: Any, table: str = MART_TABLE) -> list[str]:
    schema, _, name = table.partition(".")
    rows = warehouse.fetch_all(
        "select column_name from information_schema.columns where table_schema = ? and table_name = ? "
        "order by ordinal_position",
        [schema, name],
    )
    return [str(r["column_name"]) for r in rows]


def read_mart_rows(warehouse: Any, table: str = MART_TABLE) -> list[dict[str, Any]]:
    """All rows of the published mart (or of its audit relation, ``table=AUDIT_TABLE``) as dicts (driver
    types as returned), columns in published order, sorted by id.

    The column list is checked first so a renamed or missing column fails with a message naming it
    rather than a driver error.
    """
    columns = read_mart_columns(warehouse, table)
    if not columns:
        raise MartSchemaError(f"{table} does not exist in the {warehouse.target} warehouse: run dbt first")
    check_columns(columns, table)
    return warehouse.fetch_all(select_mart_sql(table))


def rows_to_arrow(rows: Sequence[dict[str, Any]]) -> pa.Table:
    """Rows to a table with exactly :data:`MART_ARROW_SCHEMA`; a value that does not convert names its column."""
    arrays = []
    for fld in MART_ARROW_SCHEMA:
        values = [row.get(fld.name) for row in rows]
        try:
            arrays.append(pa.array(values, type=fld.type, from_pandas=False))
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError) as exc:
            sample = next((v for v in values if v is not None), None)
            raise MartSchemaError(
                f"column {fld.name!r} does not convert to {fld.type} "
                f"(first value {sample!r} of type {type(sample).__name__}): {exc}"
            ) from exc
    return pa.Table.from_arrays(arrays, schema=MART_ARROW_SCHEMA)
