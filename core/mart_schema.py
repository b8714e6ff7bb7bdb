"""The published table ``marts.movies_tv_shows_enriched``: its columns in order, their types, and one reader.

The columns are not declared here. Their one owner is the mart's enforced dbt contract,
``dbt_project/models/marts/_marts__models.yml`` (names, data types, order, descriptions and the data tests
with their bounds, which read the project's ``vars``); this module loads it once and derives what Python
needs: the Arrow schema of the export, the column lists, and the rules the Great Expectations gate
(:mod:`quality.suite`) checks. The gate and the Parquet export (:mod:`publish.export`) both read
the mart through :func:`read_mart_rows`, so they see the same rows, in the same column order, on DuckDB,
PostgreSQL and Redshift.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pyarrow as pa
import yaml

from core.config import YAML_LOADER
from core.dbt_relations import DBT_PROJECT_DIR, dbt_vars, relation

MART_NAME = "movies_tv_shows_enriched"
MART_SCHEMA = relation(MART_NAME).schema
MART_TABLE = f"{MART_SCHEMA}.{MART_NAME}"
# Write-audit-publish: a run builds and checks this relation; publish_mart copies it into MART_TABLE.
AUDIT_NAME = f"{MART_NAME}_audit"
AUDIT_SCHEMA = relation(AUDIT_NAME).schema
AUDIT_TABLE = f"{AUDIT_SCHEMA}.{AUDIT_NAME}"

CONTRACT_PATH = DBT_PROJECT_DIR / "models" / "marts" / "_marts__models.yml"
# Where each title is available per country: built with the audit relation, gated per country, then merged into
# the published ``title_availability`` (the contract in _marts__availability.yml, shared by both).
AVAILABILITY_NAME = "title_availability"
AVAILABILITY_AUDIT_NAME = f"{AVAILABILITY_NAME}_audit"
AVAILABILITY_AUDIT_TABLE = str(relation(AVAILABILITY_AUDIT_NAME))
AVAILABILITY_CONTRACT_PATH = DBT_PROJECT_DIR / "models" / "marts" / "_marts__availability.yml"
_VAR = re.compile(r"""^\{\{\s*var\(\s*['"](\w+)['"]\s*\)\s*\}\}$""")
# The contract's data types (portable spellings; strings are varchar(65535) on Redshift) -> Arrow.
_ARROW_TYPES: dict[str, pa.DataType] = {
    "varchar": pa.string(),
    "integer": pa.int32(),
    "double precision": pa.float64(),
    "timestamp with time zone": pa.timestamp("us", tz="UTC"),
    "date": pa.date32(),
}


@dataclass(frozen=True)
class ColumnTest:
    """One dbt data test of a column, with its arguments resolved (``{{ var('x') }}`` -> the project var)."""

    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class MartColumn:
    """One published column as the contract declares it. ``sql_type`` is the portable spelling: the plan's
    FLOAT is written ``double precision`` because DuckDB's ``float`` is 4 bytes while Redshift's and
    PostgreSQL's are 8."""

    name: str
    sql_type: str
    arrow_type: pa.DataType
    meaning: str
    tests: tuple[ColumnTest, ...] = ()
    not_null: bool = False

    def test(self, name: str) -> ColumnTest | None:
        return next((t for t in self.tests if t.name == name), None)


class MartSchemaError(RuntimeError):
    """The mart in the warehouse does not have the published columns or types."""


def resolve(value: Any) -> Any:
    """A test argument as dbt sees it: ``"{{ var('release_year_min') }}"`` becomes the var's value."""
    if isinstance(value, str) and (match := _VAR.match(value.strip())):
        return dbt_vars()[match.group(1)]
    return value


def _tests(entries: Sequence[Any]) -> tuple[ColumnTest, ...]:
    tests = []
    for entry in entries or ():
        if isinstance(entry, str):
            tests.append(ColumnTest(entry, {}))
            continue
        ((name, config),) = entry.items()
        arguments = (config or {}).get("arguments", config or {})
        tests.append(ColumnTest(name, {k: resolve(v) for k, v in arguments.items()}))
    return tuple(tests)


def _sql_type(data_type: str) -> str:
    return "varchar" if "varchar" in data_type else data_type.strip()


def _column(entry: dict[str, Any]) -> MartColumn:
    sql_type = _sql_type(str(entry["data_type"]))
    tests = _tests(entry.get("data_tests") or ())
    constraints = {c.get("type") for c in entry.get("constraints") or ()}
    return MartColumn(
        name=entry["name"],
        sql_type=sql_type,
        arrow_type=_ARROW_TYPES[sql_type],
        meaning=" ".join(str(entry.get("description") or "").split()),
        tests=tests,
        not_null="not_null" in constraints or any(t.name == "not_null" for t in tests),
    )


def _model_entry(path: Path, model: str) -> dict[str, Any]:
    document = yaml.load(path.read_text(encoding="utf-8"), Loader=YAML_LOADER)
    entry = next((m for m in document["models"] if m["name"] == model), None)
    if entry is None:
        raise MartSchemaError(f"{path.name} declares no model {model}")
    return entry


def model_tests(path: Path, model: str) -> tuple[ColumnTest, ...]:
    """The model-level data tests of ``model`` (``unique_combination``, a test naming its ``column_name``)."""
    return _tests(_model_entry(path, model).get("data_tests") or ())


def _model_tests_by_column(tests: Sequence[ColumnTest]) -> dict[str, list[ColumnTest]]:
    """A model-level test that names its column (``column_name``) is that column's test, as dbt runs it."""
    on_model: dict[str, list[ColumnTest]] = {}
    for test in tests:
        if column := test.arguments.get("column_name"):
            arguments = {k: v for k, v in test.arguments.items() if k != "column_name"}
            on_model.setdefault(str(column), []).append(ColumnTest(test.name, arguments))
    return on_model


def load_contract(path: Path = CONTRACT_PATH, model: str = AUDIT_NAME) -> tuple[MartColumn, ...]:
    """The mart's columns from its dbt contract (the audit model's list, which the published model reuses)."""
    columns = tuple(_column(c) for c in _model_entry(path, model)["columns"])
    on_model = _model_tests_by_column(model_tests(path, model))
    return tuple(replace(c, tests=(*c.tests, *on_model.get(c.name, ()))) for c in columns)


MART_COLUMN_SPECS: tuple[MartColumn, ...] = load_contract()
# The column names in published order (what most callers need); MART_COLUMN_SPECS has the types and tests.
MART_COLUMNS: tuple[str, ...] = tuple(c.name for c in MART_COLUMN_SPECS)
MART_COLUMN_NAMES = MART_COLUMNS
MART_ARROW_SCHEMA: pa.Schema = pa.schema(
    [pa.field(c.name, c.arrow_type, nullable=True) for c in MART_COLUMN_SPECS]
)
STRING_COLUMNS: tuple[str, ...] = tuple(c.name for c in MART_COLUMN_SPECS if pa.types.is_string(c.arrow_type))
JSON_COLUMNS: tuple[str, ...] = tuple(c.name for c in MART_COLUMN_SPECS if c.test("valid_json"))
AVAILABILITY_COLUMN_SPECS: tuple[MartColumn, ...] = load_contract(
    AVAILABILITY_CONTRACT_PATH, AVAILABILITY_AUDIT_NAME
)
AVAILABILITY_COLUMNS: tuple[str, ...] = tuple(c.name for c in AVAILABILITY_COLUMN_SPECS)
# The per-country key: the columns of the audit relation's unique_combination test
AVAILABILITY_KEY: tuple[str, ...] = next(
    tuple(t.arguments["columns"])
    for t in model_tests(AVAILABILITY_CONTRACT_PATH, AVAILABILITY_AUDIT_NAME)
    if t.name == "unique_combination"
)


def select_mart_sql(
    table: str = MART_TABLE, columns: Sequence[str] = MART_COLUMN_NAMES, order_by: Sequence[str] = ("id",)
) -> str:
    """The columns in published order, sorted by the key (a stable order on every warehouse)."""
    return f"select {', '.join(columns)} from {table} order by {', '.join(order_by)}"  # nosec B608  # noqa: S608 - constant identifiers: the contract


def check_columns(
    found: Sequence[str], table: str = MART_TABLE, expected: Sequence[str] = MART_COLUMN_NAMES
) -> None:
    """Fail with one clear line when the relation's column list differs from the contract's."""
    found_list = [c.lower() for c in found]
    missing = [c for c in expected if c not in found_list]
    extra = [c for c in found_list if c not in expected]
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


def read_mart_rows(
    warehouse: Any,
    table: str = MART_TABLE,
    columns: Sequence[str] = MART_COLUMN_NAMES,
    order_by: Sequence[str] = ("id",),
) -> list[dict[str, Any]]:
    """All rows of the published mart (or of its audit relation, ``table=AUDIT_TABLE``; or of the per-country
    audit relation, ``columns=AVAILABILITY_COLUMNS, order_by=AVAILABILITY_KEY``) as dicts (driver types as
    returned), columns in published order, sorted by the key.

    The column list is checked first so a renamed or missing column fails with a message naming it
    rather than a driver error.
    """
    found = read_mart_columns(warehouse, table)
    if not found:
        raise MartSchemaError(f"{table} does not exist in the {warehouse.target} warehouse: run dbt first")
    check_columns(found, table, columns)
    return warehouse.fetch_all(select_mart_sql(table, columns, order_by))


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
