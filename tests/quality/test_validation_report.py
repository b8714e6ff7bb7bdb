"""The gate's reports: the HTML page shows each result; nothing needs a warehouse."""

from __future__ import annotations

from typing import Any

from quality.suite import SAMPLE_SIZE, ExpectationOutcome
from quality.validation_report import render_html, result_detail, result_payload


def payload(results: list[dict[str, Any]], success: bool) -> dict[str, Any]:
    return {
        "suite": "movies_tv_shows_enriched_gate",
        "run_id": "r1",
        "as_of": "2026-11-20",
        "target": "duckdb",
        "success": success,
        "rows": 4,
        "availability_rows": 6,
        "thresholds": {
            "min_rows": 1,
            "min_row_count": 1,
            "countries": ["US", "GB"],
            "listed_countries": ["US", "GB"],
            "min_titles_per_country": 1,
        },
        "statistics": {"evaluated": len(results), "failed": sum(not r["success"] for r in results)},
        "results": results,
    }


def entry(success: bool, **fields: Any) -> dict[str, Any]:
    base = {
        "relation": "movies_tv_shows_enriched",
        "country": None,
        "expectation": "expect_column_values_to_be_json_parseable",
        "check": "json",
        "kwargs": {"column": "cast_members", "json_schema": {"type": "array"}},
        "success": success,
        "observed_value": None,
        "unexpected_count": 0,
        "unexpected_sample": [],
        "exception": None,
    }
    return base | fields


def test_result_detail_prefers_the_exception_then_the_unexpected_values() -> None:
    assert result_detail(entry(False, exception="boom", unexpected_count=2)) == "boom"
    assert result_detail(entry(False, unexpected_count=2, unexpected_sample=["'a'", "'<b>'"])) == (
        "2 unexpected: 'a', '<b>'"
    )
    assert result_detail(entry(True, observed_value=4)) == "observed 4"


def test_the_page_escapes_values_and_leaves_the_schema_out() -> None:
    page = render_html(
        payload([entry(True), entry(False, unexpected_count=1, unexpected_sample=["'<b>'"])], False)
    )
    assert page.startswith("<!doctype html>") and page.endswith("</table></body></html>\n")
    assert "<strong>FAILED</strong>: 2 expectations evaluated, 1 failed, 4 rows and 6 per-country rows (duckdb)" in page
    assert "at least 1 title(s) of the window in each of US, GB" in page
    assert '<tr class="pass"><td>pass</td>' in page and '<tr class="fail"><td>FAIL</td>' in page
    assert "&#x27;&lt;b&gt;&#x27;" in page and "json_schema" not in page


def test_a_per_country_result_names_its_relation_and_country() -> None:
    country = entry(
        False,
        relation="title_availability_audit",
        country="GB",
        expectation="expect_table_row_count_to_be_between",
        check="country_listings",
        kwargs={"min_value": 1},
        observed_value=0,
    )
    page = render_html(payload([country], False))
    assert '<tr class="fail"><td>FAIL</td><td>title_availability_audit (GB)</td>' in page


def test_a_long_value_set_is_reported_by_its_first_values_and_length() -> None:
    outcome = ExpectationOutcome(
        "expect_column_values_to_be_in_set", {"column": "id", "value_set": [f"tm{i}" for i in range(500)]}, True
    )
    assert result_payload(outcome)["kwargs"]["value_set"] == [*(f"tm{i}" for i in range(SAMPLE_SIZE)), "… 500 values"]
