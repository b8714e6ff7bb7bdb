"""The gate's checks, as plain data derived from the mart's contract (no Great Expectations needed)."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime

from core.dbt_relations import dbt_vars
from core.mart_schema import MART_COLUMN_SPECS
from quality.suite import (
    SAMPLE_CHARS,
    ExpectationOutcome,
    GateThresholds,
    availability_checks,
    gate_checks,
    short,
)

THRESHOLDS = GateThresholds(as_of=date(2026, 11, 20), min_rows=3, now=datetime(2026, 11, 21, tzinfo=UTC))


def names() -> set[tuple[str, str | None]]:
    return {(c.expectation, c.kwargs.get("column")) for c in gate_checks(THRESHOLDS)}


def test_suite_holds_the_plan_checks() -> None:
    found = names()
    for column in (c.name for c in MART_COLUMN_SPECS if c.not_null):
        assert ("ExpectColumnValuesToNotBeNull", column) in found
    for expected in [
        ("ExpectColumnValuesToBeBetween", "llm_generated_score"),
        ("ExpectColumnValuesToBeUnique", "id"),
        ("ExpectColumnValuesToBeInSet", "content_type"),
        ("ExpectColumnValuesToBeBetween", "release_year"),
        ("ExpectColumnValuesToBeOfType", "streaming_platforms"),
        ("ExpectColumnValuesToBeOfType", "source_genres"),
        ("ExpectColumnValuesToBeOfType", "llm_generated_vibe_tags"),
        ("ExpectColumnValuesToBeOfType", "llm_generated_secondary_genres"),
        ("ExpectColumnValuesToBeOfType", "data_ingestion_timestamp"),
        ("ExpectColumnValuesToBeJsonParseable", "cast_members"),
        ("ExpectColumnValuesToBeJsonParseable", "directors"),
        ("ExpectColumnValuesToBeJsonParseable", "scraped_reviews"),
        ("ExpectTableRowCountToBeBetween", None),
    ]:
        assert expected in found
    assert {"min_value": 3} in [c.kwargs for c in gate_checks(THRESHOLDS) if c.check == "row_count"]


def test_gate_bounds_come_from_the_dbt_contract() -> None:
    """The release-year bounds are the project vars the dbt test reads; the score range is its yml argument."""
    between = {
        c.kwargs["column"]: (c.kwargs["min_value"], c.kwargs["max_value"])
        for c in gate_checks(THRESHOLDS)
        if c.check == "range"
    }
    assert between["release_year"] == (
        dbt_vars()["release_year_min"],
        2026 + dbt_vars()["release_year_max_offset"],
    )
    assert between["llm_generated_score"] == (1, 10) and between["imdb_rating"] == (0, 10)


def test_a_backfill_bounds_by_its_own_day() -> None:
    late = GateThresholds(as_of=date(2031, 1, 1), now=datetime(2026, 11, 21, tzinfo=UTC))
    assert late.years_ahead(1) == 2032
    assert late.latest_ingestion > datetime(2031, 1, 2, tzinfo=UTC)
    assert GateThresholds(as_of=date(2026, 1, 1), min_rows=-4).min_row_count == 0


def test_short_shows_nan_as_none_and_cuts_long_values() -> None:
    assert short(math.nan) == "None"
    cut = short("x" * 500)
    assert len(cut) == SAMPLE_CHARS and cut.endswith("…")


def test_describe_names_the_column_the_arguments_and_the_result() -> None:
    failed = ExpectationOutcome(
        "expect_column_values_to_be_between",
        {"column": "imdb_rating", "min_value": 0, "max_value": 10},
        success=False,
        element_count=4,
        unexpected_count=1,
        unexpected_sample=[74.0],
    )
    assert failed.describe() == (
        "expect_column_values_to_be_between(imdb_rating, min_value=0, max_value=10): 1 of 4 unexpected, e.g. [74.0]"
    )
    shaped = ExpectationOutcome(
        "expect_x", {"column": "c", "json_schema": {"type": "array"}}, False, exception="boom"
    )
    assert shaped.describe() == "expect_x(c): could not be evaluated: boom"
    rows = ExpectationOutcome(
        "expect_table_row_count_to_be_between", {"min_value": 5}, False, observed_value=4
    )
    assert rows.describe() == "expect_table_row_count_to_be_between(min_value=5): observed 4"


def test_the_availability_is_checked_per_listed_country_from_its_contract() -> None:
    """One row-count floor per country that listed titles in the window (``quality.min_titles``), named by it; the
    contract's not-null columns and key; every code one of the run's countries; every id an audited title."""
    per_country = GateThresholds(
        as_of=date(2026, 11, 20),
        countries=("US", "GB", "DE"),
        listed_countries=("US", "GB"),
        window_start=date(2026, 11, 14),
        min_titles=2,
    )
    checks = availability_checks(per_country, ["tm2", "tm1", "tm1"])
    floors = [c for c in checks if c.check == "country_listings"]
    assert [(c.country, c.kwargs["min_value"]) for c in floors] == [("US", 2), ("GB", 2)]
    assert floors[1].kwargs["row_condition"] == 'country_code == "GB" and last_listed_on >= "2026-11-14"'
    assert floors[1].meta == {"check": "country_listings", "country": "GB"}
    found = {(c.check, c.kwargs.get("column")): c.kwargs for c in checks}
    assert found[("country", "country_code")]["value_set"] == ["US", "GB", "DE"]
    assert found[("relationships", "id")]["value_set"] == ["tm1", "tm2"]
    assert found[("unique", None)]["column_list"] == ["id", "country_code"]
    assert {column for check, column in found if check == "not_null"} == {
        "id",
        "country_code",
        "first_listed_on",
        "last_listed_on",
    }
