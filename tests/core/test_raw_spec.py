"""The spec-drift test: one raw-table spec, and everything derived from it agrees with it.

- docs/raw-tables.md is what ``python -m core.raw_spec`` writes;
- every dbt test of a JustWatch staging model (not_null, accepted_values, value_in_range, unique) has its edge
  rule: the staging column is traced through the model's SQL to its raw field, the raw field's spec carries the
  same rule, and the extractor's check rejects a record (or drops a list item) that breaks it;
- the release-year bounds come from dbt_project.yml's vars, read by dbt and by Python alike.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import pytest
import yaml

from core import raw_spec
from core.raw_spec import CHILD_DLT, ROOT_DLT, Column, Table, Var
from extract.justwatch.models import CreditRecord, OfferRecord, TitleRecord
from extract.justwatch.parse import _split_items, contract_violations

STAGING = raw_spec.PROJECT_ROOT / "dbt_project" / "models" / "staging"
# Sources whose extractor applies the spec's edge rules (reviews and enrichment validate in their own models).
EDGE_RULE_SOURCES = ("justwatch",)
DLT_COLUMNS = {c.name for c in (*ROOT_DLT, *CHILD_DLT)}
AS_OF = date(2026, 11, 20)
SOURCE_CTE = re.compile(r"(\w+) as \(\s*select \* from \{\{ source\('(\w+)', '(\w+)'\) \}\}\s*\)", re.S)
ALIAS = re.compile(r"^\s*(?P<expr>\S.*?)\s+as\s+(?P<alias>\w+),?\s*$", re.M)
TOKEN = re.compile(r"\b(?:(\w+)\.)?(\w+)\b")


@dataclass(frozen=True)
class RawField:
    table: Table
    column: Column
    child: str | None  # the list field of a child table

    @property
    def is_dlt(self) -> bool:
        return self.column.name in DLT_COLUMNS


def _raw_table(source: str, name: str) -> tuple[Table, str | None]:
    schema = {"justwatch": raw_spec.RAW_JUSTWATCH}.get(source, source)
    parent, _, child = name.partition("__")
    spec = raw_spec.table(schema, parent)
    return (spec.child(child), child) if child else (spec, None)


def lineage(model: str, source: str) -> dict[str, RawField]:
    """Staging column -> the raw field it is computed from, read from the model's SQL."""
    sql = next(STAGING.rglob(f"{model}.sql")).read_text()
    ctes = {cte: _raw_table(src, name) for cte, src, name in SOURCE_CTE.findall(sql)}
    assert ctes, f"{model} reads no source()"
    result: dict[str, RawField] = {}
    for match in ALIAS.finditer(sql):
        found = _first_raw_field(match["expr"], ctes)
        if found is not None:
            result.setdefault(match["alias"], found)
    return result


def _first_raw_field(expr: str, ctes: dict[str, tuple[Table, str | None]]) -> RawField | None:
    """The first raw field ``expr`` names: ``cte.column`` in that CTE's table, a bare column in any."""
    for qualifier, name in TOKEN.findall(expr):
        candidates = [ctes[qualifier]] if qualifier in ctes else list(ctes.values()) if not qualifier else []
        for table, child in candidates:
            cols = {c.name: c for c in (*table.columns, *(CHILD_DLT if child else ROOT_DLT))}
            if name in cols:
                return RawField(table, cols[name], child)
    return None


def staging_tests() -> list[tuple[str, str, str, dict[str, Any]]]:
    """(model, column or '', test name, arguments) of every staging dbt test on a source with edge rules."""
    found = []
    for path in sorted(STAGING.glob("*/_*__models.yml")):
        if path.parent.name in EDGE_RULE_SOURCES:
            for model in yaml.safe_load(path.read_text())["models"]:
                found += _model_tests(model)
    return found


def _model_tests(model: dict[str, Any]) -> list[tuple[str, str, str, dict[str, Any]]]:
    found = []
    for test in model.get("data_tests") or []:
        name, args = next(iter(test.items()))
        found.append((model["name"], "", name, args or {}))
    for column in model.get("columns") or []:
        for test in column.get("data_tests") or []:
            name, args = (test, {}) if isinstance(test, str) else next(iter(test.items()))
            found.append((model["name"], column["name"], name, args or {}))
    return found


TESTS = staging_tests()


def test_the_generated_doc_is_current() -> None:
    assert raw_spec.DOC_PATH.read_text() == raw_spec.render_markdown(), (
        "docs/raw-tables.md is stale: run .venv/bin/python -m core.raw_spec"
    )
    assert raw_spec.main(["--check"]) == 0


def test_the_staging_tests_are_found() -> None:
    kinds = {name for _, _, name, _ in TESTS}
    assert {"not_null", "unique", "accepted_values", "value_in_range", "unique_combination"} <= kinds
    assert len(TESTS) > 20


def _good_record(**update: Any) -> TitleRecord:
    record = TitleRecord(
        id="tss9",
        object_type="SHOW_SEASON",
        object_id=9,
        title="Season 1",
        original_release_year=2025,
        runtime_minutes=50,
        imdb_score=7.0,
        tomato_meter=90,
        show_id="ts8",
        country="US",
        new_since=AS_OF,
        extracted_at=datetime(2026, 11, 20, tzinfo=UTC),
        credits=[CreditRecord(role="ACTOR", name="A")],
        offers=[OfferRecord(package_clear_name="Netflix")],
        genres=["drm"],
        production_countries=["US"],
    )
    assert contract_violations(record, AS_OF) == []
    return record.model_copy(update=update)


def _rejected(field: RawField, bad: Any, **context: Any) -> bool:
    """The extractor's check rejects ``bad`` in ``field`` (a record quarantined, or a list item dropped)."""
    if field.child is None:
        return bool(contract_violations(_good_record(**{field.column.name: bad}, **context), AS_OF))
    good = getattr(_good_record(), field.child)[0]
    item = good.model_copy(update={field.column.name: bad}) if hasattr(good, "model_copy") else bad
    return _split_items(field.child, [item], AS_OF)[0] == []


@pytest.mark.parametrize(
    ("model", "column", "test", "args"), TESTS, ids=[f"{m}.{c or '*'}:{t}" for m, c, t, _ in TESTS]
)
def test_every_staging_test_has_its_edge_rule(
    model: str, column: str, test: str, args: dict[str, Any]
) -> None:
    config = args.get("config") or {}
    if config.get("severity") == "warn":
        return  # a warning never stops the day (an unknown genre code: the seed lags JustWatch)
    check = EDGE_RULE_CHECKS.get(test)
    if check is None:
        pytest.fail(f"{model}.{column}: no edge rule is known for the dbt test {test!r}")
    fields = lineage(model, "justwatch")
    if test in ("not_null", "accepted_values", "value_in_range") and fields[column].is_dlt:
        assert test == "not_null", (model, column, test)  # dlt writes its own bookkeeping columns
        return
    check(Case(model, column, fields, args.get("arguments", args), config.get("where")))


@dataclass(frozen=True)
class Case:
    """One staging dbt test: its model and column, the raw fields of the model's columns, its arguments."""

    model: str
    column: str
    fields: dict[str, RawField]
    arguments: dict[str, Any]
    where: str | None

    @property
    def field(self) -> RawField:
        return self.fields[self.column]


def _check_relationship(case: Case) -> None:
    # a child row points at its parent row: dlt writes both in one load (`_dlt_parent_id` -> `_dlt_id`)
    assert case.field.column.name in ("_dlt_parent_id", "id") and case.arguments["field"] in ("dlt_id", "node_id")


def _check_unique_combination(case: Case) -> None:
    # (node, list position): the parent's merge key plus dlt's list index
    for name in case.arguments["columns"]:
        field = case.fields[name]
        assert field.is_dlt or field.column.name in raw_spec.TITLES.primary_key, (case.model, name)


def _check_unique(case: Case) -> None:
    field = case.field
    assert field.is_dlt or (field.child is None and field.column.name in field.table.primary_key), (
        case.model, case.column)


def _check_not_null(case: Case) -> None:
    field, spec = case.field, case.field.column
    if case.where:
        other, value = re.fullmatch(r"(\w+) = '(\w+)'", case.where).groups()  # type: ignore[union-attr]
        assert spec.required_when == (case.fields[other].column.name, value), (case.model, case.column)
        assert _rejected(field, None, **{spec.required_when[0]: value})
        assert not _rejected(field, None, object_type="MOVIE")
        return
    assert spec.required, f"{case.model}.{case.column} is tested not_null but raw {spec.name} has no edge rule"
    assert _rejected(field, None) and _rejected(field, "   " if spec.type == raw_spec.TEXT else None)


def _check_accepted_values(case: Case) -> None:
    assert set(case.field.column.values) == set(case.arguments["values"]), (case.model, case.column)
    assert _rejected(case.field, "EPISODE")


def _check_value_in_range(case: Case) -> None:
    spec = case.field.column
    for side, bound in (("min_value", spec.minimum), ("max_value", spec.maximum)):
        declared = bound.sql() if isinstance(bound, Var) else bound
        assert str(declared) == str(case.arguments.get(side)), (case.model, case.column, side)
        if bound is not None:
            value = bound.resolve(AS_OF) if isinstance(bound, Var) else bound
            assert not _rejected(case.field, value)
            assert _rejected(case.field, value - 1 if side == "min_value" else value + 1)


EDGE_RULE_CHECKS = {
    "relationships": _check_relationship,
    "unique_combination": _check_unique_combination,
    "unique": _check_unique,
    "not_null": _check_not_null,
    "accepted_values": _check_accepted_values,
    "value_in_range": _check_value_in_range,
}


def test_wrong_types_are_rejected() -> None:
    for column in raw_spec.TITLES.columns:
        wrong = 12 if column.type == raw_spec.TEXT else "12"
        assert raw_spec.column_violation(column, wrong, {}, AS_OF), column.name


def test_release_year_bounds_are_dbt_vars() -> None:
    from core.dbt_relations import DBT_PROJECT_DIR

    variables = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text())["vars"]
    assert raw_spec.RELEASE_YEAR_MIN.resolve(AS_OF) == variables["release_year_min"]
    assert raw_spec.RELEASE_YEAR_MAX.resolve(AS_OF) == AS_OF.year + variables["release_year_max_offset"]


def test_derived_declarations_match_the_spec() -> None:
    import dlt

    from core.raw_tables import RAW_TABLES
    from enrich import store
    from extract.justwatch import source as justwatch_source
    from extract.reviews import source as reviews_source
    from extract.reviews.schedule import LEDGER_DDL
    from tests.dbt import raw_loader

    assert list(justwatch_source.TITLE_COLUMNS) == [c.name for c in raw_spec.TITLES.columns]
    assert set(justwatch_source.NESTED_HINTS) == {"genres", "production_countries", "credits", "offers"}
    fetches = reviews_source._harvested(
        dlt.resource([[]], name="subjects"), raw_spec.REVIEW_FETCHES, lambda _: []
    )
    assert (fetches.name, list(fetches.columns)[-3:]) == (
        "review_fetches",
        ["first_fetched_on", "last_fetched_on", "fetch_count"],
    )
    assert store.COLUMNS == raw_loader.ENRICHMENT_COLUMNS == raw_spec.dlt_columns(raw_spec.TITLE_ENRICHMENTS)
    assert raw_loader.TITLE_COLUMNS == justwatch_source.TITLE_COLUMNS
    assert ("raw_justwatch", "titles__credits") in RAW_TABLES and len(RAW_TABLES) == 10
    assert "source varchar(32) not null" in LEDGER_DDL


@pytest.mark.parametrize(
    ("model", "spec"),
    [
        ("extract.justwatch.models:TitleRecord", raw_spec.TITLES),
        ("extract.justwatch.models:QuarantineRecord", raw_spec.JUSTWATCH_QUARANTINE),
        ("extract.reviews.models:Review", raw_spec.REVIEWS),
        ("extract.reviews.models:FetchOutcome", raw_spec.REVIEW_FETCHES),
        ("extract.reviews.models:QuarantineEntry", raw_spec.REVIEWS_QUARANTINE),
    ],
)
def test_record_models_have_the_spec_columns_in_order(model: str, spec: Table) -> None:
    """The typed records the extractors build are rows of their raw table (list fields are its child tables)."""
    from importlib import import_module

    module, name = model.split(":")
    fields = [
        n
        for n in getattr(import_module(module), name).model_fields
        if n not in {c.name for c in spec.children}
    ]
    assert fields == [c.name for c in spec.columns]
