"""The raw tables' one declaration: columns, types, keys, meanings and the edge rules of every raw table.

dlt writes the raw tables and dbt's staging models read them. Everything else is derived from :data:`TABLES`:

- the dlt column hints of the extract and enrich resources (:func:`dlt_columns`, :func:`nested_hints`);
- the DDL of empty raw tables (``core.raw_tables``) and of the state tables (:data:`STATE_TABLES`);
- the test loaders (``tests/dbt/raw_loader.py``);
- ``docs/raw-tables.md`` (``python -m core.raw_spec`` writes it; ``--check`` fails when it is stale);
- the edge rules (:func:`violations`): what a record must satisfy to be loaded, i.e. what the staging models'
  dbt tests check later (``required`` -> not_null, ``values`` -> accepted_values, ``minimum``/``maximum`` ->
  value_in_range). The extractor quarantines a record that breaks one, so the staging tests never see it.
  Bounds that dbt owns are :class:`Var` references to ``dbt_project.yml`` ``vars:``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from core import metrics
from core.config import PROJECT_ROOT
from core.dbt_relations import dbt_vars
from core.warehouse import OPS, RAW_ENRICHMENT, RAW_JUSTWATCH, RAW_REVIEWS

DOC_PATH = PROJECT_ROOT / "docs" / "raw-tables.md"

TEXT, BIGINT, DOUBLE, DATE, TIMESTAMP = "text", "bigint", "double", "date", "timestamp"
PYTHON_TYPES: dict[str, tuple[type, ...]] = {
    TEXT: (str,),
    BIGINT: (int,),
    DOUBLE: (int, float),
    DATE: (date,),
    TIMESTAMP: (date,),
}


@dataclass(frozen=True)
class Var:
    """A bound owned by a dbt var; ``plus_year``: the bound is the run year plus the var (an offset)."""

    name: str
    plus_year: bool = False

    def resolve(self, as_of: date) -> int:
        value = int(dbt_vars()[self.name])
        return as_of.year + value if self.plus_year else value

    def sql(self) -> str:
        """How the dbt tests write this bound."""
        ref = f"{{{{ var('{self.name}') }}}}"
        return f"extract(year from current_date) + {ref}" if self.plus_year else ref


Bound = int | float | Var | None


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    doc: str = ""
    nullable: bool = True  # the warehouse column (dlt hint, DDL)
    required: bool = False  # edge rule: a non-blank value (not_null after staging's trim)
    required_when: tuple[str, str] | None = None  # edge rule: required when column == value
    values: tuple[str, ...] = ()  # edge rule: accepted values
    minimum: Bound = None  # edge rule: inclusive bounds
    maximum: Bound = None
    sql_type: str | None = None  # a state table's exact SQL type (raw tables use dlt's types)


@dataclass(frozen=True)
class Table:
    schema: str
    name: str
    doc: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...] = ()
    children: tuple[Table, ...] = ()  # dlt child tables ``<name>__<field>``; a child's name is its field
    writer: str = "dlt"  # "dlt" (raw tables, with dlt's bookkeeping columns) or the module that writes it

    @property
    def relation(self) -> str:
        return f"{self.schema}.{self.name}"

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    def child(self, field_name: str) -> Table:
        return next(c for c in self.children if c.name == field_name)


ROOT_DLT = (Column("_dlt_load_id", TEXT, nullable=False), Column("_dlt_id", TEXT, nullable=False))
CHILD_DLT = (
    Column("_dlt_root_id", TEXT, nullable=False),
    Column("_dlt_parent_id", TEXT, nullable=False),
    Column("_dlt_list_idx", BIGINT, nullable=False),
    Column("_dlt_id", TEXT, nullable=False),
)
RELEASE_YEAR_MIN = Var("release_year_min")
RELEASE_YEAR_MAX = Var("release_year_max_offset", plus_year=True)
OBJECT_TYPES = ("MOVIE", "SHOW", "SHOW_SEASON")
REVIEW_SOURCES = ("tmdb", "rogerebert", "guardian")  # raw_reviews' sources; config reviews.<source> for each
_REVIEW_SOURCES_DOC = ", ".join(f"`{source}`" for source in REVIEW_SOURCES)


def _quarantine(schema: str, key_doc: str) -> Table:
    return Table(
        schema,
        "quarantine",
        "records that failed validation, with the reason and the raw payload",
        (
            Column("record_key", TEXT, key_doc, nullable=False),
            Column("source", TEXT, "the service the record came from"),
            Column("entity_id", TEXT, "node/title id when known"),
            Column("reason", TEXT, "why the record was rejected (the broken rule)"),
            Column("payload", TEXT, "the raw JSON/HTML excerpt as text"),
            Column("as_of_date", DATE, "the run's day"),
            Column("quarantined_at", TIMESTAMP),
        ),
        primary_key=("record_key",),
    )


def _child(field_name: str, doc: str, *columns: Column) -> Table:
    return Table("", field_name, doc, columns)


def _key(name: str, doc: str = "", **rules: Any) -> Column:
    """A text column no row may leave out: not null in the warehouse, non-blank at the edge."""
    return Column(name, TEXT, doc, nullable=False, required=True, **rules)


def _value(doc: str) -> Column:
    return Column("value", TEXT, doc, required=True)


TITLES = Table(
    RAW_JUSTWATCH,
    "titles",
    "one row per JustWatch node and country it is listed in",
    (
        _key("id", "JustWatch node id: `tm…` movie, `ts…` show, `tss…` season"),
        Column("object_type", TEXT, "`MOVIE`, `SHOW` or `SHOW_SEASON`", required=True, values=OBJECT_TYPES),
        Column("object_id", BIGINT, "numeric JustWatch id", required=True),
        Column("title", TEXT, 'localised title (`"Season 2"` for a season)', required=True),
        Column("original_title", TEXT),
        Column(
            "original_release_year",
            BIGINT,
            "release year",
            minimum=RELEASE_YEAR_MIN,
            maximum=RELEASE_YEAR_MAX,
        ),
        Column("original_release_date", TEXT, "`YYYY-MM-DD` as published"),
        Column("runtime_minutes", BIGINT, minimum=0, maximum=2000),
        Column("short_description", TEXT, "synopsis"),
        Column("age_certification", TEXT, "e.g. `PG-13`, `TV-MA`"),
        Column("full_path", TEXT, "e.g. `/us/movie/predator`"),
        Column("original_language", TEXT, "ISO code when JustWatch has one, else null"),
        Column("imdb_id", TEXT, "`tt…`"),
        Column("tmdb_id", TEXT, 'TMDB id as a string (`"603"`; seasons `"46648:1"`)'),
        Column("imdb_score", DOUBLE, minimum=0, maximum=10),
        Column("tomato_meter", BIGINT, "0–100", minimum=0, maximum=100),
        Column("season_number", BIGINT, "seasons only"),
        Column(
            "show_id",
            TEXT,
            "seasons only: the parent show's id",
            required_when=("object_type", "SHOW_SEASON"),
        ),
        Column("show_title", TEXT, "seasons only: the parent show's title"),
        Column("show_full_path", TEXT, "seasons only"),
        Column("show_tmdb_id", TEXT, "seasons only"),
        Column("show_imdb_id", TEXT, "seasons only"),
        _key(
            "country", "the `country` the query ran for (ISO code, `run.countries`); with `id`, the row's key"
        ),
        Column(
            "new_since",
            DATE,
            "the newTitles `date` it was listed under in that country (latest in the window)",
            required=True,
        ),
        Column("new_offer_package", TEXT, "clear name of the offer that made it new"),
        Column("extracted_at", TIMESTAMP, required=True),
    ),
    primary_key=("id", "country"),
    children=(
        _child("genres", "genre short names (`act`, `drm`, …)", _value("genre short name")),
        _child("production_countries", "ISO country codes", _value("ISO country code")),
        _child(
            "credits",
            "cast and crew in billing order",
            Column("role", TEXT, "`ACTOR`, `DIRECTOR`, …", required=True),
            Column("name", TEXT, "the person's name", required=True),
            Column("character_name", TEXT, "actors only"),
        ),
        _child(
            "offers",
            "streaming offers",
            Column("monetization_type", TEXT, "`FLATRATE`, `ADS`, `RENT`, `BUY`, …"),
            Column("presentation_type", TEXT, "`SD`, `HD`, `_4K`, …"),
            Column("package_clear_name", TEXT, "service name (`Netflix`)", required=True),
            Column("package_short_name", TEXT, "service short name (`nfx`)"),
        ),
    ),
)
JUSTWATCH_QUARANTINE = _quarantine(RAW_JUSTWATCH, "sha256 of source + payload")
REVIEWS = Table(
    RAW_REVIEWS,
    "reviews",
    "one row per review",
    (
        _key("title_id", "JustWatch id of the movie or show reviewed (a season's reviews go to its show)"),
        _key("source", _REVIEW_SOURCES_DOC, values=REVIEW_SOURCES),
        _key("review_key", "the review's URL, or sha1 of its text when it has none"),
        Column("author", TEXT),
        Column(
            "review_text",
            TEXT,
            "HTML stripped, whitespace normalised, capped at `reviews.max_review_chars`",
            required=True,
        ),
        Column("original_score", TEXT, 'as published: `"8.0"`, `"3.5/4"`, `"4/5"`'),
        Column(
            "score_normalized",
            DOUBLE,
            '0–10, null when the review has no score (never 0 for "missing")',
            minimum=0,
            maximum=10,
        ),
        Column("review_url", TEXT),
        Column("published_at", TIMESTAMP),
        Column("extracted_at", TIMESTAMP),
    ),
    primary_key=("title_id", "source", "review_key"),
)
REVIEW_FETCHES = Table(
    RAW_REVIEWS,
    "review_fetches",
    "what each source answered for each title, and its refresh schedule",
    (
        _key("title_id"),
        _key("source"),
        Column("status", TEXT, "`ok`, `no_reviews`, `not_found`, `skipped`, `error`"),
        Column("reason", TEXT),
        Column("reviews_found", BIGINT),
        Column("fetched_at", TIMESTAMP),
        Column("first_fetched_on", DATE, "the schedule's day 0 (run day)"),
        Column("last_fetched_on", DATE, "the last run day it was fetched"),
        Column("fetch_count", BIGINT, "fetches so far"),
    ),
    primary_key=("title_id", "source"),
)
REVIEWS_QUARANTINE = _quarantine(
    RAW_REVIEWS,
    "sha256 of source + entity_id + payload: one garbage page served for many titles keeps a row per title",
)
TITLE_ENRICHMENTS = Table(
    RAW_ENRICHMENT,
    "title_enrichments",
    "the LLM side table",
    (
        _key("id", "the mart's id (movie or show JustWatch id)"),
        _key("source_data_hash", "hash of the inputs the LLM saw (from `titles_enrichment_input`)"),
        _key("prompt_version", "e.g. `v1`"),
        _key("model", "e.g. `gemini-3.5-flash-lite`; `heuristic-v1` for the heuristic provider"),
        Column("provider", TEXT, "`gemini` or `heuristic`", nullable=False),
        Column("status", TEXT, "`ok` or `failed`", nullable=False),
        Column("review_summary", TEXT, "2–4 sentences"),
        Column("score", DOUBLE, "1–10"),
        Column("vibe_tags", TEXT, "comma-separated, lowercase"),
        Column("primary_genre", TEXT, "one of the fixed vocabulary"),
        Column("secondary_genres", TEXT, "comma-separated"),
        Column("input_tokens", BIGINT, "from `usage_metadata` (0 for heuristic)"),
        Column("output_tokens", BIGINT),
        Column("cost_usd", DOUBLE),
        Column("latency_ms", DOUBLE),
        Column("error", TEXT, "why a failed row failed"),
        Column("enriched_at", TIMESTAMP, nullable=False),
    ),
    primary_key=("id", "source_data_hash", "prompt_version", "model"),
)
TABLES: tuple[Table, ...] = (
    TITLES,
    JUSTWATCH_QUARANTINE,
    REVIEWS,
    REVIEW_FETCHES,
    REVIEWS_QUARANTINE,
    TITLE_ENRICHMENTS,
)

REVIEW_REQUEST_BUDGET = Table(
    OPS,
    "review_request_budget",
    "requests each review source used (or reserved) per day",
    (
        Column("day", DATE, "the budget day (UTC date, or the run's as_of)", nullable=False),
        Column("source", TEXT, _REVIEW_SOURCES_DOC, nullable=False, sql_type="varchar(32)"),
        Column("requests", BIGINT, "requests used or reserved", nullable=False),
        Column("updated_at", TIMESTAMP, sql_type="timestamp"),
    ),
    primary_key=("day", "source"),
    writer="extract.reviews.schedule",
)
ENRICHMENT_BATCHES = Table(
    OPS,
    "enrichment_batches",
    "the Gemini batches the enrichment submitted (`enrich.mode: batch`), written before each wait",
    (
        Column(
            "submission_id", TEXT, "ours; the batch's display name", nullable=False, sql_type="varchar(128)"
        ),
        Column(
            "batch_name", TEXT, "`batches/…`; null until the service accepted it", sql_type="varchar(256)"
        ),
        Column("run_id", TEXT, "the run that submitted it", sql_type="varchar(64)"),
        Column("model", TEXT, sql_type="varchar(128)"),
        Column("prompt_version", TEXT, sql_type="varchar(32)"),
        Column(
            "state",
            TEXT,
            "`SUBMITTING`, `PENDING`, `RUNNING`, `SUCCEEDED`, `FAILED`, `CANCELLED`, `EXPIRED`, `NOT_SUBMITTED`, "
            "`NOT_FOUND`",
            sql_type="varchar(32)",
        ),
        Column("input", TEXT, "`inline` or `file` (JSONL via the Files API)", sql_type="varchar(16)"),
        Column("request_count", BIGINT, "one request per title"),
        Column("ok_count", BIGINT, "answers stored `ok`"),
        Column("invalid_count", BIGINT, "answers stored `failed` (invalid: quarantined with the reason)"),
        Column("error_count", BIGINT, "requests without an answer (error, expired): re-queued"),
        Column("input_tokens", BIGINT),
        Column("output_tokens", BIGINT),
        Column(
            "cost_usd", DOUBLE, "at the batch price (`enrich.batch.price_factor` × the interactive prices)"
        ),
        Column("price_factor", DOUBLE),
        Column("error", TEXT, "why the batch failed, when it did", sql_type="varchar(1000)"),
        Column("submitted_at", TIMESTAMP, sql_type="timestamp"),
        Column(
            "harvested_at", TIMESTAMP, "null until its answers are in the side table", sql_type="timestamp"
        ),
    ),
    primary_key=("submission_id",),
    writer="enrich.batch",
)
STATE_TABLES: tuple[Table, ...] = (REVIEW_REQUEST_BUDGET, ENRICHMENT_BATCHES)


def table(schema: str, name: str) -> Table:
    return next(t for t in (*TABLES, *STATE_TABLES) if (t.schema, t.name) == (schema, name))


# ---- derived: dlt hints, warehouse columns, DDL -----------------------------------------------------------
def dlt_columns(spec: Table) -> dict[str, dict[str, Any]]:
    """dlt column hints: every contract column with its type, so an all-null column still exists."""
    return {
        c.name: {
            "name": c.name,
            "data_type": c.type,
            "nullable": c.nullable,
            **({"primary_key": True} if c.name in spec.primary_key else {}),
        }
        for c in spec.columns
    }


def nested_hints(spec: Table) -> dict[str, dict[str, Any]]:
    """dlt ``nested_hints`` pinning the child tables' column types."""
    return {child.name: {"columns": dlt_columns(child)} for child in spec.children}


def warehouse_columns(spec: Table) -> dict[tuple[str, str], tuple[Column, ...]]:
    """``(schema, table) -> columns`` as dlt creates them: the table and its child tables, bookkeeping last."""
    if spec.writer != "dlt":
        return {(spec.schema, spec.name): spec.columns}
    tables = {(spec.schema, spec.name): (*spec.columns, *ROOT_DLT)}
    for child in spec.children:
        tables[(spec.schema, f"{spec.name}__{child.name}")] = (*child.columns, *CHILD_DLT)
    return tables


def sql_type(column: Column, target: str) -> str:
    """The column type dlt itself uses for the column's kind on ``target`` (or the state table's own)."""
    if column.sql_type:
        return column.sql_type
    if column.type == TEXT:
        return "varchar(65535)" if target == "redshift" else "varchar"
    if column.type == DOUBLE:
        return "double precision"
    if column.type == TIMESTAMP:
        return "timestamp with time zone"
    return column.type


def create_table_sql(schema: str, name: str, columns: tuple[Column, ...], target: str) -> str:
    body = ",\n    ".join(
        f"{c.name} {sql_type(c, target)}{'' if c.nullable else ' not null'}" for c in columns
    )
    return f"create table if not exists {schema}.{name} (\n    {body}\n)"


def state_table_ddl(spec: Table, target: str = "postgres") -> str:
    return create_table_sql(spec.schema, spec.name, spec.columns, target)


# ---- derived: edge rules ----------------------------------------------------------------------------------


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _bound(bound: Bound, as_of: date) -> float | None:
    return bound.resolve(as_of) if isinstance(bound, Var) else bound


def _missing_reason(column: Column, row: Mapping[str, Any]) -> str | None:
    """Why a blank value breaks ``column`` (required, or required when another column has a value)."""
    when = column.required_when
    if column.required:
        return f"{column.name} is missing"
    if when and row.get(when[0]) == when[1]:
        return f"{column.name} is missing (required when {when[0]} = {when[1]})"
    return None


def _range_reason(column: Column, value: Any, as_of: date) -> str | None:
    low, high = _bound(column.minimum, as_of), _bound(column.maximum, as_of)
    if low is not None and value < low:
        return f"{column.name} {value!r} is below {low}"
    if high is not None and value > high:
        return f"{column.name} {value!r} is above {high}"
    return None


def column_violation(column: Column, value: Any, row: Mapping[str, Any], as_of: date) -> str | None:
    """Why ``value`` breaks ``column``'s edge rules, or None."""
    if _blank(value):
        return _missing_reason(column, row)
    if not isinstance(value, PYTHON_TYPES[column.type]) or isinstance(value, bool):
        return f"{column.name} is not {column.type}: {value!r}"
    if column.values and value not in column.values:
        return f"{column.name} {value!r} is not one of {', '.join(column.values)}"
    return _range_reason(column, value, as_of)


def violations(spec: Table, row: Mapping[str, Any], as_of: date) -> list[str]:
    """Every edge rule of ``spec`` that ``row`` breaks (child lists: items missing a required field)."""
    found = [reason for c in spec.columns if (reason := column_violation(c, row.get(c.name), row, as_of))]
    for child in spec.children:
        for idx, item in enumerate(row.get(child.name) or []):
            item_row = item if isinstance(item, Mapping) else {"value": item}
            found += [
                f"{child.name}[{idx}].{reason}"
                for c in child.columns
                if (reason := column_violation(c, item_row.get(c.name), item_row, as_of))
            ]
    return found


def broken_sql(spec: Table, as_of: date) -> str:
    """A SQL condition true for a row of ``spec`` that breaks one of its edge rules (for rows loaded before)."""
    conditions = []
    for c in spec.columns:
        blank = f"({c.name} is null or trim({c.name}) = '')" if c.type == TEXT else f"{c.name} is null"
        if c.required:
            conditions.append(blank)
        if c.required_when:
            conditions.append(f"({c.required_when[0]} = '{c.required_when[1]}' and {blank})")
        if c.values:
            conditions.append(f"{c.name} not in ({', '.join(repr(v) for v in c.values)})")
        low, high = _bound(c.minimum, as_of), _bound(c.maximum, as_of)
        if low is not None:
            conditions.append(f"{c.name} < {low}")
        if high is not None:
            conditions.append(f"{c.name} > {high}")
    return " or ".join(conditions) or "1 = 0"


# ---- derived: docs/raw-tables.md --------------------------------------------------------------------------
def _bound_text(bound: Bound) -> str:
    if isinstance(bound, Var):
        return f"run year + dbt var `{bound.name}`" if bound.plus_year else f"dbt var `{bound.name}`"
    return str(bound)


def rule_text(column: Column) -> str:
    rules = []
    if column.required:
        rules.append("required")
    if column.required_when:
        rules.append(f"required when {column.required_when[0]} = `{column.required_when[1]}`")
    if column.values:
        rules.append("one of " + ", ".join(f"`{v}`" for v in column.values))
    if column.minimum is not None or column.maximum is not None:
        rules.append(f"{_bound_text(column.minimum)} ≤ value ≤ {_bound_text(column.maximum)}")
    return "; ".join(rules)


def _columns_table(columns: tuple[Column, ...]) -> list[str]:
    header = ["| column | type | null | edge rule | meaning |", "|---|---|---|---|---|"]
    return header + [
        f"| {c.name} | {c.sql_type or c.type} | {'yes' if c.nullable else 'no'} | {rule_text(c)} | {c.doc} |"
        for c in columns
    ]


def render_markdown() -> str:
    lines = [
        "# Raw tables: the contract between extract/enrich (writers) and dbt (reader)",
        "",
        "<!-- Generated by `python -m core.raw_spec` from core/raw_spec.py: edit that, not this. -->",
        "",
        "dlt writes these; dbt's staging models are the only readers (`source()`); column names are snake_case as",
        "dlt normalises them. `raw_justwatch.titles` holds one row per node and country (`run.countries`): a",
        "title listed in five countries has five rows, each with that country's offers (a warehouse loaded when the",
        "key was `id` alone needs no migration: its rows carry the `country` of their run, so `(id, country)` holds",
        "and dlt adds the key at the next load). Lists become dlt child tables `<table>__<list>` joined on",
        "`_dlt_parent_id = <table>._dlt_id` (lists of strings have one column, `value`). Every table also has dlt's",
        "`_dlt_load_id` and `_dlt_id`; child tables `_dlt_root_id`, `_dlt_parent_id`, `_dlt_list_idx`, `_dlt_id`.",
        "",
        "**Edge rules** are the warehouse contract, checked before a record is loaded. The JustWatch extractor",
        "(`extract/justwatch/parse.py`) applies them from this spec: a node breaking one goes to",
        "`raw_justwatch.quarantine` with the reason and the raw payload (a child-list item breaking one, such as a",
        "blank genre or a credit without a name, is left out of its node and quarantined on its own, with",
        "`<list>[<index>].<rule>` as its reason), so the staging models' dbt tests only see records that pass;",
        "`tests/core/test_raw_spec.py` proves every JustWatch staging test has its rule. The review and",
        "enrichment writers build their rows with typed models (`extract/reviews/models.py`, `enrich/schema.py`).",
        "Bounds named as dbt vars live in `dbt_project/dbt_project.yml`; the staging tests read the same vars.",
    ]
    for spec in TABLES:
        key = ", ".join(f"`{k}`" for k in spec.primary_key)
        lines += ["", f"## {spec.relation} — {spec.doc} (merge on {key})", "", *_columns_table(spec.columns)]
        for child in spec.children:
            lines += [
                "",
                f"### child `{spec.name}__{child.name}` — {child.doc}",
                "",
                *_columns_table(child.columns),
            ]
    lines += ["", "## State tables (not written by dlt)"]
    for spec in STATE_TABLES:
        key = ", ".join(f"`{k}`" for k in spec.primary_key)
        lines += [
            "",
            f"### {spec.relation} — {spec.doc} (one row per {key}; written by `{spec.writer}`)",
            "",
            *_columns_table(spec.columns),
        ]
    lines += [
        "",
        "## dbt models the Python steps read",
        "- `marts.titles_enrichment_input`: one row per publishable title (`id`, `title`,",
        "  `content_type`, `release_year`, `synopsis`, `source_genres`, `scraped_reviews` (JSON text array of",
        "  `{source_name, author, review_text, original_score, score_normalized, review_url}`), `source_data_hash`).",
        "- `marts.movies_tv_shows_enriched`: the published table (its contract: `dbt_project/models/marts`).",
        "",
        "## ops.pipeline_runs — one row per run and step (written by `core.metrics`)",
        ", ".join(f"`{name}`" for name in metrics.COLUMNS) + ".",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write docs/raw-tables.md from the raw-table spec.")
    parser.add_argument("--check", action="store_true", help="exit 1 when the committed doc is stale")
    args = parser.parse_args(argv)
    text = render_markdown()
    if args.check:
        if DOC_PATH.read_text() != text:
            print(f"{DOC_PATH} is stale: run python -m core.raw_spec", file=sys.stderr)
            return 1
        return 0
    DOC_PATH.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
