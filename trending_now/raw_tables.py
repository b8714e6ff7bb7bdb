"""The raw tables dbt reads (docs/raw-tables.md), created empty when a load has not made them yet.

dlt creates a table only when rows arrive: on a fresh warehouse a window with no new titles, a source with
no quarantined record, or a first run before any enrichment leaves some ``source()`` of dbt missing, and
dbt would fail on a missing relation. ``ensure_raw_tables`` creates exactly what dlt would have created
(same names, types and dlt bookkeeping columns), so later dlt loads find the tables as their own.
"""

from __future__ import annotations

from trending_now.warehouse import RAW_ENRICHMENT, RAW_JUSTWATCH, RAW_REVIEWS, Warehouse

T, N, F, D, TS = "text", "bigint", "double", "date", "timestamp"
ROOT_DLT = (("_dlt_load_id", T, False), ("_dlt_id", T, False))
CHILD_DLT = (
    ("_dlt_root_id", T, False),
    ("_dlt_parent_id", T, False),
    ("_dlt_list_idx", N, False),
    ("_dlt_id", T, False),
)

QUARANTINE = (
    ("record_key", T, False),
    ("source", T, True),
    ("entity_id", T, True),
    ("reason", T, True),
    ("payload", T, True),
    ("as_of_date", D, True),
    ("quarantined_at", TS, True),
)

# (schema, table) -> columns as (name, type, nullable), in dlt's order
RAW_TABLES: dict[tuple[str, str], tuple[tuple[str, str, bool], ...]] = {
    (RAW_JUSTWATCH, "titles"): (
        ("id", T, False),
        ("object_type", T, True),
        ("object_id", N, True),
        ("title", T, True),
        ("original_title", T, True),
        ("original_release_year", N, True),
        ("original_release_date", T, True),
        ("runtime_minutes", N, True),
        ("short_description", T, True),
        ("age_certification", T, True),
        ("full_path", T, True),
        ("original_language", T, True),
        ("imdb_id", T, True),
        ("tmdb_id", T, True),
        ("imdb_score", F, True),
        ("tomato_meter", N, True),
        ("season_number", N, True),
        ("show_id", T, True),
        ("show_title", T, True),
        ("show_full_path", T, True),
        ("show_tmdb_id", T, True),
        ("show_imdb_id", T, True),
        ("country", T, True),
        ("new_since", D, True),
        ("new_offer_package", T, True),
        ("extracted_at", TS, True),
        *ROOT_DLT,
    ),
    (RAW_JUSTWATCH, "titles__genres"): (("value", T, True), *CHILD_DLT),
    (RAW_JUSTWATCH, "titles__production_countries"): (("value", T, True), *CHILD_DLT),
    (RAW_JUSTWATCH, "titles__credits"): (
        ("role", T, True),
        ("name", T, True),
        ("character_name", T, True),
        *CHILD_DLT,
    ),
    (RAW_JUSTWATCH, "titles__offers"): (
        ("monetization_type", T, True),
        ("presentation_type", T, True),
        ("package_clear_name", T, True),
        ("package_short_name", T, True),
        *CHILD_DLT,
    ),
    (RAW_JUSTWATCH, "quarantine"): (*QUARANTINE, *ROOT_DLT),
    (RAW_REVIEWS, "reviews"): (
        ("title_id", T, False),
        ("source", T, False),
        ("review_key", T, False),
        ("author", T, True),
        ("review_text", T, True),
        ("original_score", T, True),
        ("score_normalized", F, True),
        ("review_url", T, True),
        ("published_at", TS, True),
        ("extracted_at", TS, True),
        *ROOT_DLT,
    ),
    (RAW_REVIEWS, "review_fetches"): (
        ("title_id", T, False),
        ("source", T, False),
        ("status", T, True),
        ("reason", T, True),
        ("reviews_found", N, True),
        ("fetched_at", TS, True),
        *ROOT_DLT,
    ),
    (RAW_REVIEWS, "quarantine"): (*QUARANTINE, *ROOT_DLT),
    (RAW_ENRICHMENT, "title_enrichments"): (
        ("id", T, False),
        ("source_data_hash", T, False),
        ("prompt_version", T, False),
        ("model", T, False),
        ("provider", T, False),
        ("status", T, False),
        ("review_summary", T, True),
        ("score", F, True),
        ("vibe_tags", T, True),
        ("primary_genre", T, True),
        ("secondary_genres", T, True),
        ("input_tokens", N, True),
        ("output_tokens", N, True),
        ("cost_usd", F, True),
        ("latency_ms", F, True),
        ("error", T, True),
        ("enriched_at", TS, False),
        *ROOT_DLT,
    ),
}


def sql_type(kind: str, target: str) -> str:
    """The column type dlt itself uses for ``kind`` on ``target``."""
    if kind == T:
        return "varchar(65535)" if target == "redshift" else "varchar"
    if kind == F:
        return "double precision"
    if kind == TS:
        return "timestamp with time zone"
    return kind


def create_table_sql(schema: str, table: str, target: str) -> str:
    columns = ",\n    ".join(
        f"{name} {sql_type(kind, target)}{'' if nullable else ' not null'}"
        for name, kind, nullable in RAW_TABLES[(schema, table)]
    )
    return f"create table if not exists {schema}.{table} (\n    {columns}\n)"


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
