"""The step validate_mart on a real warehouse: a good mart passes, each broken property is caught by name."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from core.context import RunContext
from core.mart_schema import AUDIT_TABLE, MART_COLUMN_SPECS
from quality.step import STEP, QualityGateError, validate_mart
from tests.trending_now import LISTED_ON, availability_rows, create_mart, mart_rows

# the contract's not-null columns (constraint or not_null test in the mart's yml)
NOT_NULL_COLUMNS = [c.name for c in MART_COLUMN_SPECS if c.not_null]


@pytest.fixture(scope="module")
def gx() -> Any:
    """Great Expectations takes seconds to import: pay it once per module, before the first timed step."""
    import great_expectations

    return great_expectations


@pytest.fixture
def ctx(
    make_settings: Callable[..., Any], make_context: Callable[..., RunContext], tmp_path: Any
) -> RunContext:
    return make_context(make_settings(**{"quality.report_dir": str(tmp_path / "reports")}))


def test_free_form_tags_of_a_prompt_older_than_the_vocabulary_pass_until_re_enriched(gx: Any, ctx: RunContext) -> None:
    rows = mart_rows(3)
    _tags("moody,breezy,bold", "v1")(rows)  # var free_form_tag_prompt_versions
    create_mart(ctx.settings, rows)
    assert validate_mart(ctx).details["expectations_failed"] == 0


def failed_checks(err: QualityGateError) -> set[str]:
    return {f.check for f in err.failures}


def test_good_mart_passes_and_writes_reports(gx: Any, ctx: RunContext) -> None:
    create_mart(ctx.settings, mart_rows(6))

    result = validate_mart(ctx)

    assert result.step == STEP == "validate_mart"
    assert result.rows_in == 6
    assert result.details["expectations_failed"] == 0
    assert result.details["expectations_evaluated"] >= 40
    report = json.loads(Path(result.details["report_json"]).read_text(encoding="utf-8"))
    assert report["success"] is True and report["rows"] == 6
    assert report["statistics"] == {"evaluated": result.details["expectations_evaluated"], "failed": 0}
    assert result.details["report_json"].endswith(f"validation-2026-11-20-{ctx.run_id}.json")
    page = Path(result.details["report_html"]).read_text(encoding="utf-8")
    assert "PASSED" in page and "expect_column_values_to_be_unique" in page


def _set(column: str, value: Any, row: int = 1) -> Callable[[list[dict[str, Any]]], None]:
    def mutate(rows: list[dict[str, Any]]) -> None:
        rows[row][column] = value

    return mutate


def _tags(tags: str, prompt_version: str) -> Callable[[list[dict[str, Any]]], None]:
    def mutate(rows: list[dict[str, Any]]) -> None:
        rows[1].update(llm_generated_vibe_tags=tags, prompt_version=prompt_version)

    return mutate


def _set_all(column: str, value: Any) -> Callable[[list[dict[str, Any]]], None]:
    """A column stored with another SQL type holds that type in every row."""

    def mutate(rows: list[dict[str, Any]]) -> None:
        for row in rows:
            row[column] = value

    return mutate


def _duplicate_id(rows: list[dict[str, Any]]) -> None:
    rows[2]["id"] = rows[0]["id"]


FUTURE = datetime.now(UTC) + timedelta(days=400)

# (case id, mutation, SQL type overrides needed to store the bad value, the checks that must fail)
CORRUPTIONS: list[tuple[str, Callable[[list[dict[str, Any]]], None], dict[str, str], set[str]]] = [
    *[(f"null-{c}", _set(c, None), {}, {"not_null"}) for c in NOT_NULL_COLUMNS],
    ("score-above-10", _set("llm_generated_score", 10.5), {}, {"range"}),
    ("score-below-1", _set("llm_generated_score", 0.0), {}, {"range"}),
    ("duplicate-id", _duplicate_id, {}, {"unique"}),
    ("season-id", _set("id", "tss99231"), {}, {"id_format"}),
    ("content-type-film", _set("content_type", "Film"), {}, {"accepted_values"}),
    ("release-year-too-old", _set("release_year", 1066), {}, {"range"}),
    ("release-year-future", _set("release_year", 2031), {}, {"range"}),
    ("release-year-not-int", _set("release_year", "2025"), {"release_year": "varchar"}, {"types", "range"}),
    (
        "platforms-not-string",
        _set_all("streaming_platforms", 7),
        {"streaming_platforms": "integer"},
        {"types"},
    ),
    ("genres-not-string", _set_all("source_genres", 3.5), {"source_genres": "double precision"}, {"types"}),
    (
        "vibe-tags-not-string",
        _set_all("llm_generated_vibe_tags", True),
        {"llm_generated_vibe_tags": "boolean"},
        {"types"},
    ),
    ("vibe-tag-not-in-vocabulary", _tags("dark,moody", "v2"), {}, {"accepted_items"}),
    (
        "secondary-genres-not-string",
        _set_all("llm_generated_secondary_genres", 2),
        {"llm_generated_secondary_genres": "integer"},
        {"types"},
    ),
    (
        "timestamp-not-a-timestamp",
        _set("data_ingestion_timestamp", "yesterday-ish"),
        {"data_ingestion_timestamp": "varchar"},
        {"timestamp"},
    ),
    ("timestamp-in-the-future", _set("data_ingestion_timestamp", FUTURE), {}, {"timestamp"}),
    ("cast-invalid-json", _set("cast_members", '[{"name": "Rhea Seehorn",'), {}, {"json", "json_shape"}),
    ("directors-invalid-json", _set("directors", "Vince Gilligan"), {}, {"json", "json_shape"}),
    (
        "reviews-invalid-json",
        _set("scraped_reviews", "[{'source_name': 'tmdb'}]"),
        {},
        {"json", "json_shape"},
    ),
    ("cast-wrong-shape", _set("cast_members", '{"name": "Rhea Seehorn"}'), {}, {"json_shape"}),
    ("reviews-wrong-shape", _set("scraped_reviews", '[{"source_name": "tmdb"}]'), {}, {"json_shape"}),
    ("imdb-out-of-range", _set("imdb_rating", 74.0), {}, {"range"}),
    ("rotten-tomatoes-no-percent", _set("rotten_tomatoes_rating", "86"), {}, {"rotten_tomatoes"}),
    ("hash-not-hex", _set("source_data_hash", "not-a-hash"), {}, {"hash"}),
    ("unknown-provider", _set("enrichment_provider", "openai"), {}, {"accepted_values"}),
]


@pytest.mark.parametrize(
    ("mutate", "column_types", "expected"),
    [pytest.param(m, t, e, id=i) for i, m, t, e in CORRUPTIONS],
)
def test_each_broken_property_fails_the_gate(
    gx: Any,
    ctx: RunContext,
    mutate: Callable[[list[dict[str, Any]]], None],
    column_types: dict[str, str],
    expected: set[str],
) -> None:
    rows = mart_rows(4)
    mutate(rows)
    create_mart(ctx.settings, rows, column_types=column_types, availability=[])  # the mart's checks alone

    with pytest.raises(QualityGateError) as caught:
        validate_mart(ctx)

    assert failed_checks(caught.value) == expected
    lines = str(caught.value).splitlines()
    # the first line (the one a user sees) names every failure with its column and a sample value; then one
    # line per failed expectation, then the report
    assert len(lines) == 2 + len(caught.value.failures)
    assert all(failure.describe() in lines[0] for failure in caught.value.failures)
    assert "nothing published" in lines[0]
    assert all(line.startswith("- expect_") for line in lines[1:-1]) and lines[-1].startswith("report: ")
    report = json.loads(caught.value.reports[0].read_text(encoding="utf-8"))
    assert report["success"] is False
    assert report["statistics"]["failed"] == len(caught.value.failures)


def test_failure_message_names_columns_and_samples(gx: Any, ctx: RunContext) -> None:
    rows = mart_rows(4)
    rows[1]["title"] = None
    rows[3]["llm_generated_score"] = 11.0
    rows[2]["content_type"] = "Mini-Series"
    create_mart(ctx.settings, rows)

    with pytest.raises(QualityGateError) as caught:
        validate_mart(ctx)

    message = str(caught.value)
    assert "3 of " in message.splitlines()[0]
    assert "- expect_column_values_to_not_be_null(title): 1 of 4 unexpected, e.g. [None]" in message
    assert (
        "expect_column_values_to_be_between(llm_generated_score, min_value=1.0, max_value=10.0): 1 of 4 "
        "unexpected, e.g. [11.0]" in message
    )
    assert "expect_column_values_to_be_in_set(content_type" in message and "'Mini-Series'" in message
    assert "FAIL" in caught.value.reports[1].read_text(encoding="utf-8")


def test_too_few_rows_fails(
    gx: Any, make_settings: Callable[..., Any], make_context: Callable[..., RunContext], tmp_path: Path
) -> None:
    ctx = make_context(
        make_settings(**{"quality.min_rows": 5, "quality.report_dir": str(tmp_path / "reports")})
    )
    create_mart(ctx.settings, mart_rows(4))

    with pytest.raises(QualityGateError) as caught:
        validate_mart(ctx)

    assert failed_checks(caught.value) == {"row_count"}
    assert "min_value=5" in str(caught.value) and "observed 4" in str(caught.value)


def test_missing_column_fails_clearly(gx: Any, ctx: RunContext) -> None:
    rows = mart_rows(3)
    create_mart(ctx.settings, rows)
    ctx.warehouse.execute(f"alter table {AUDIT_TABLE} drop column country")

    with pytest.raises(QualityGateError, match="missing country"):
        validate_mart(ctx)


def test_missing_mart_fails_clearly(gx: Any, ctx: RunContext) -> None:
    ctx.warehouse.execute("create schema if not exists marts")
    with pytest.raises(QualityGateError, match="does not exist"):
        validate_mart(ctx)


# ---- per country: the availability about to be published (title_availability_audit) ------------------------
Rows = list[dict[str, Any]]


def _drop_country(country: str) -> Callable[[Rows, Rows], None]:
    """A country whose listings of the window are all lost on the way to the availability."""

    def mutate(available: Rows, listings: Rows) -> None:
        available[:] = [r for r in available if r["country_code"] != country]

    return mutate


def _on_gb(column: str, value: Any) -> Callable[[Rows, Rows], None]:
    def mutate(available: Rows, listings: Rows) -> None:
        next(r for r in available if r["country_code"] == "GB")[column] = value

    return mutate


def _duplicate_gb_row(available: Rows, listings: Rows) -> None:
    available.append(dict(next(r for r in available if r["country_code"] == "GB")))


def _listed_before_the_window(available: Rows, listings: Rows) -> None:
    for row in available:
        if row["country_code"] == "GB":
            row["first_listed_on"] = row["last_listed_on"] = LISTED_ON - timedelta(days=30)


# (case id, mutation of (availability, listings), the checks that must fail, the country a failure names)
COUNTRY_CORRUPTIONS: list[tuple[str, Callable[[Rows, Rows], None], set[str], str]] = [
    ("country-lost", _drop_country("GB"), {"country_listings"}, "GB"),
    ("country-listed-only-before-the-window", _listed_before_the_window, {"country_listings"}, "GB"),
    ("country-not-of-the-run", _on_gb("country_code", "DE"), {"country"}, ""),
    ("null-country", _on_gb("country_code", None), {"not_null"}, ""),
    ("duplicate-id-and-country", _duplicate_gb_row, {"unique"}, ""),
    ("id-not-audited", _on_gb("id", "tm404"), {"relationships"}, ""),
    ("empty-services", _on_gb("streaming_platforms", ""), {"platforms"}, ""),
    ("null-first-listing", _on_gb("first_listed_on", None), {"not_null"}, ""),
]


@pytest.fixture
def two_countries(
    make_settings: Callable[..., Any], make_context: Callable[..., RunContext], tmp_path: Any
) -> RunContext:
    return make_context(make_settings(**{"quality.report_dir": str(tmp_path / "reports")}), countries="US,GB")


def test_each_country_is_gated(gx: Any, two_countries: RunContext) -> None:
    rows = mart_rows(4)
    create_mart(two_countries.settings, rows, availability=availability_rows(rows, ("US", "GB")))

    result = validate_mart(two_countries)

    assert result.details["availability_rows"] == 8 and result.details["countries_listed"] == ["US", "GB"]
    report = json.loads(Path(result.details["report_json"]).read_text(encoding="utf-8"))
    gb = [r for r in report["results"] if r["country"] == "GB"]
    assert [r["check"] for r in gb] == ["country_listings"] and gb[0]["relation"] == "title_availability_audit"
    assert report["thresholds"]["listed_countries"] == ["US", "GB"]


def test_a_country_that_listed_nothing_in_the_window_is_not_required(gx: Any, two_countries: RunContext) -> None:
    """GB's extract failed (the run fails naming it): the US is still gated and published."""
    rows = mart_rows(4)
    create_mart(two_countries.settings, rows, availability=availability_rows(rows, ("US",)))

    assert validate_mart(two_countries).details["countries_listed"] == ["US"]


@pytest.mark.parametrize(
    ("mutate", "expected", "country"), [pytest.param(m, e, c, id=i) for i, m, e, c in COUNTRY_CORRUPTIONS]
)
def test_each_broken_country_property_fails_the_gate(
    gx: Any, two_countries: RunContext, mutate: Callable[[Rows, Rows], None], expected: set[str], country: str
) -> None:
    rows = mart_rows(4)
    available = availability_rows(rows, ("US", "GB"))
    listings = [dict(r) for r in available]  # dbt's listings: both countries listed every title on LISTED_ON
    mutate(available, listings)
    create_mart(two_countries.settings, rows, availability=available, listings=listings)

    with pytest.raises(QualityGateError) as caught:
        validate_mart(two_countries)

    assert failed_checks(caught.value) == expected
    assert {f.relation for f in caught.value.failures} == {"title_availability_audit"}
    head = str(caught.value).splitlines()[0]
    assert "nothing published" in head and "title_availability_audit: " in head
    if country:
        assert {f.country for f in caught.value.failures} == {country}
        assert f"title_availability_audit: country {country}: expect_table_row_count_to_be_between" in head


def test_a_missing_availability_relation_fails_clearly(gx: Any, ctx: RunContext) -> None:
    create_mart(ctx.settings, mart_rows(3))
    ctx.warehouse.execute("drop table marts_audit.title_availability_audit")

    with pytest.raises(QualityGateError, match="title_availability_audit does not exist"):
        validate_mart(ctx)


@pytest.mark.postgres
def test_gate_on_postgres(
    gx: Any,
    pg_database: str,
    make_settings: Callable[..., Any],
    make_context: Callable[..., RunContext],
    tmp_path: Any,
) -> None:
    ctx = make_context(
        make_settings(**{"warehouse.target": "postgres", "quality.report_dir": str(tmp_path / "pg-reports")})
    )
    create_mart(ctx.settings, mart_rows(5))
    result = validate_mart(ctx)
    assert result.rows_in == 5

    rows = mart_rows(5)
    rows[0]["cast_members"] = "not json"
    rows[4]["content_type"] = "movie"
    create_mart(ctx.settings, rows)
    with pytest.raises(QualityGateError) as caught:
        validate_mart(ctx)
    assert failed_checks(caught.value) == {"json", "json_shape", "accepted_values"}
