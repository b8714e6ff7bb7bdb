"""What the gate checks on ``marts.movies_tv_shows_enriched``, as plain data, and what it found.

The checks are derived from the mart's contract (:mod:`core.mart_schema`: column names and order, the dbt
column tests with their bounds) plus the formats the contract cannot state (id, score text, hash, JSON
shapes). The per-country availability about to be published with it (``title_availability_audit``) is gated
per country (:func:`availability_checks`): its contract, every country one of the run's, each country that
listed titles in the window keeping at least ``quality.min_titles`` of them, services never empty, every id
in the audited mart. Each :class:`Check` names a Great Expectations expectation class and its arguments;
:mod:`quality.adapter` turns them into a GX suite and runs it. Nothing here imports Great Expectations.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from core.mart_schema import (
    AVAILABILITY_AUDIT_NAME,
    AVAILABILITY_COLUMN_SPECS,
    AVAILABILITY_COLUMNS,
    AVAILABILITY_KEY,
    JSON_COLUMNS,
    MART_COLUMN_NAMES,
    MART_COLUMN_SPECS,
    MART_NAME,
    STRING_COLUMNS,
    ColumnTest,
    MartColumn,
)
from core.vocabulary import seed_column

SUITE_NAME = f"{MART_NAME}_gate"
AVAILABILITY_SUITE_NAME = f"{AVAILABILITY_AUDIT_NAME}_gate"
EARLIEST_INGESTION = datetime(2020, 1, 1, tzinfo=UTC)
SAMPLE_SIZE = 5  # unexpected values kept per failed expectation
SAMPLE_CHARS = 80  # longest value text in a message or a report

CAST_SCHEMA: dict[str, Any] = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["name"],
        "properties": {"name": {"type": "string"}, "character": {"type": ["string", "null"]}},
    },
}
DIRECTORS_SCHEMA: dict[str, Any] = {
    "type": "array",
    "items": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}},
}
REVIEWS_SCHEMA: dict[str, Any] = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["source_name", "review_text"],
        "properties": {
            "source_name": {"type": "string"},
            "author": {"type": ["string", "null"]},
            "review_text": {"type": "string"},
            "original_score": {"type": ["string", "null"]},
            "score_normalized": {"type": ["number", "null"], "minimum": 0, "maximum": 10},
            "review_url": {"type": ["string", "null"]},
        },
    },
}
JSON_SCHEMAS = {"cast_members": CAST_SCHEMA, "directors": DIRECTORS_SCHEMA, "scraped_reviews": REVIEWS_SCHEMA}


@dataclass(frozen=True)
class GateThresholds:
    """What the suite's table-level and time-dependent bounds are computed from."""

    as_of: date
    min_rows: int = 1
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    # Per country: the run's countries (every availability row is one of them), the ones that listed titles in
    # the window (the run's extract loaded them; a failed country is not there), the window's first day and
    # the floor of titles each of those keeps (``quality.min_titles``, the extract's per-country floor too).
    countries: tuple[str, ...] = ()
    listed_countries: tuple[str, ...] = ()
    window_start: date | None = None
    min_titles: int = 1

    @property
    def min_row_count(self) -> int:
        return max(int(self.min_rows), 0)

    def years_ahead(self, years: int) -> int:
        """dbt's ``extract(year from current_date) + years`` (``max_years_ahead``), for a backfill too."""
        return max(self.now.date(), self.as_of).year + int(years)

    @property
    def latest_ingestion(self) -> datetime:
        """A row cannot have been ingested after the run (wall clock, or the end of ``as_of`` for backfills)."""
        end_of_as_of = datetime.combine(self.as_of, time.max, tzinfo=UTC)
        return max(self.now, end_of_as_of) + timedelta(days=1)


@dataclass(frozen=True)
class Check:
    """One expectation of the gate: the GX class (``ExpectColumnValuesToNotBeNull``), its arguments, and
    the short name of the property checked (``not_null``) that reports and errors group by."""

    expectation: str
    check: str
    kwargs: dict[str, Any]
    country: str = ""  # the country a per-country check is about: its failure names it

    @property
    def meta(self) -> dict[str, str]:
        return {"check": self.check, **({"country": self.country} if self.country else {})}


def _column(expectation: str, check: str, column: str, **kwargs: Any) -> Check:
    return Check(expectation, check, {"column": column, **kwargs})


def _range_check(column: str, bounds: ColumnTest, thresholds: GateThresholds) -> Check:
    """dbt's ``value_in_range``; ``max_years_ahead`` is a bound relative to the run's year."""
    args = bounds.arguments
    high = args.get("max_value")
    if args.get("max_years_ahead") is not None:
        high = thresholds.years_ahead(args["max_years_ahead"])
    return _column(
        "ExpectColumnValuesToBeBetween", "range", column, min_value=args.get("min_value"), max_value=high
    )


def column_contract_checks(column: MartColumn, thresholds: GateThresholds) -> list[Check]:
    """One column's contract tests: not_null, unique, accepted_values, value_in_range, csv_items_accepted."""
    found: list[Check] = []
    if column.not_null:
        found.append(_column("ExpectColumnValuesToNotBeNull", "not_null", column.name))
    if column.test("unique"):
        found.append(_column("ExpectColumnValuesToBeUnique", "unique", column.name))
    if accepted := column.test("accepted_values"):
        values = list(accepted.arguments["values"])
        found.append(_column("ExpectColumnValuesToBeInSet", "accepted_values", column.name, value_set=values))
    if bounds := column.test("value_in_range"):
        found.append(_range_check(column.name, bounds, thresholds))
    if items := column.test("csv_items_accepted"):
        found.append(_items_check(column.name, items))
    return found


def _items_check(column: str, test: ColumnTest) -> Check:
    """dbt's ``csv_items_accepted``: every item of the list is a value of the seed (the vibe tags), as a regex
    over the whole value built from the same seed file dbt loads; the rows the test exempts are exempt here too."""
    args = test.arguments
    separator = re.escape(str(args.get("separator", ",")).strip())
    values = sorted(seed_column(str(args["to"]), str(args["field"])), key=len, reverse=True)
    item = "(?:" + "|".join(re.escape(v) for v in values) + ")"
    regex = rf"^\s*{item}\s*(?:{separator}\s*{item}\s*)*$"
    exempt: dict[str, Any] = {}
    if args.get("except_column") and args.get("except_values"):  # rows older than the vocabulary
        exempt = {
            "row_condition": f"{args['except_column']} not in {list(map(str, args['except_values']))!r}",
            "condition_parser": "pandas",
        }
    return _column("ExpectColumnValuesToMatchRegex", "accepted_items", column, regex=regex, **exempt)


def contract_checks(
    thresholds: GateThresholds, columns: tuple[MartColumn, ...] = MART_COLUMN_SPECS
) -> list[Check]:
    """The dbt contract's own column tests, read from the model's yml through :mod:`core.mart_schema`: one
    owner for every bound the gate checks."""
    return [check for column in columns for check in column_contract_checks(column, thresholds)]


def format_checks(thresholds: GateThresholds) -> list[Check]:
    """Formats and types the contract cannot state."""
    return [
        _column("ExpectColumnValuesToMatchRegex", "id_format", "id", regex=r"^t[ms]\d+$"),
        _column("ExpectColumnValuesToBeInTypeList", "types", "release_year", type_list=["int"]),
        _column(
            "ExpectColumnValuesToMatchRegex", "rotten_tomatoes", "rotten_tomatoes_rating", regex=r"^\d{1,3}%$"
        ),
        _column("ExpectColumnValuesToMatchRegex", "hash", "source_data_hash", regex=r"^[0-9a-f]{32,128}$"),
        _column("ExpectColumnValuesToBeOfType", "timestamp", "data_ingestion_timestamp", type_="datetime"),
        _column(
            "ExpectColumnValuesToBeBetween",
            "timestamp",
            "data_ingestion_timestamp",
            min_value=EARLIEST_INGESTION,
            max_value=thresholds.latest_ingestion,
        ),
    ]


def string_checks() -> list[Check]:
    return [_column("ExpectColumnValuesToBeOfType", "types", c, type_="str") for c in STRING_COLUMNS]


def json_checks() -> list[Check]:
    """Each JSON column parses and has the shape the app reads."""
    found: list[Check] = []
    for column in JSON_COLUMNS:
        found.append(_column("ExpectColumnValuesToBeJsonParseable", "json", column))
        found.append(
            _column(
                "ExpectColumnValuesToMatchJsonSchema", "json_shape", column, json_schema=JSON_SCHEMAS[column]
            )
        )
    return found


def gate_checks(thresholds: GateThresholds) -> list[Check]:
    """The whole gate, in the order its results are reported."""
    return [
        Check("ExpectTableColumnsToMatchOrderedList", "columns", {"column_list": list(MART_COLUMN_NAMES)}),
        Check("ExpectTableRowCountToBeBetween", "row_count", {"min_value": thresholds.min_row_count}),
        *contract_checks(thresholds),
        *format_checks(thresholds),
        *string_checks(),
        *json_checks(),
    ]


def country_listings_check(country: str, thresholds: GateThresholds) -> Check:
    """``country`` listed titles in the window: at least ``quality.min_titles`` of them are about to be published
    there (dates are ISO text in the gate's frame, so the row condition compares them as text)."""
    condition = f'country_code == "{country}"'
    if thresholds.window_start is not None:
        condition += f' and last_listed_on >= "{thresholds.window_start.isoformat()}"'
    return Check(
        "ExpectTableRowCountToBeBetween",
        "country_listings",
        {
            "min_value": max(int(thresholds.min_titles), 0),
            "row_condition": condition,
            "condition_parser": "pandas",
        },
        country=country,
    )


def availability_checks(thresholds: GateThresholds, audited_ids: Sequence[str]) -> list[Check]:
    """The gate on the per-country availability about to be published (``title_availability_audit``)."""
    return [
        Check("ExpectTableColumnsToMatchOrderedList", "columns", {"column_list": list(AVAILABILITY_COLUMNS)}),
        *contract_checks(thresholds, AVAILABILITY_COLUMN_SPECS),
        Check("ExpectCompoundColumnsToBeUnique", "unique", {"column_list": list(AVAILABILITY_KEY)}),
        _column(
            "ExpectColumnValuesToBeInSet", "country", "country_code", value_set=list(thresholds.countries)
        ),
        # the contract's relationships test (the id): every value an audited title
        *(
            _column(
                "ExpectColumnValuesToBeInSet", "relationships", c.name, value_set=sorted(set(audited_ids))
            )
            for c in AVAILABILITY_COLUMN_SPECS
            if c.test("relationships")
        ),
        _column("ExpectColumnValueLengthsToBeBetween", "platforms", "streaming_platforms", min_value=1),
        *(country_listings_check(country, thresholds) for country in thresholds.listed_countries),
    ]


# ---- what the gate found ----------------------------------------------------------------------------------
def short(value: Any) -> str:
    """A value's repr for a message or a report: NaN shown as None, at most :data:`SAMPLE_CHARS`."""
    if isinstance(value, float) and math.isnan(value):
        value = None
    text = repr(value)
    return text if len(text) <= SAMPLE_CHARS else text[: SAMPLE_CHARS - 1] + "…"


@dataclass
class ExpectationOutcome:
    """One evaluated expectation, reduced to what a report or an error line needs."""

    expectation: str
    kwargs: dict[str, Any]
    success: bool
    check: str = ""  # the short name of the property checked (``meta.check``), e.g. ``not_null``
    observed_value: Any = None
    element_count: int | None = None
    unexpected_count: int | None = None
    unexpected_sample: list[Any] = field(default_factory=list)
    exception: str | None = None
    relation: str = MART_NAME  # the relation it ran on: the mart's audit relation or the availability's
    country: str = ""  # the country of a per-country check

    @property
    def column(self) -> str | None:
        return self.kwargs.get("column")

    def _head(self) -> str:
        args = [str(self.column)] if self.column else []
        args += [
            f"{k}={short(v)}"
            for k, v in self.kwargs.items()
            if k not in ("column", "json_schema", "condition_parser")
            and not (self.country and k == "row_condition")
        ]
        where = "" if self.relation == MART_NAME else f"{self.relation}: "
        country = f"country {self.country}: " if self.country else ""  # the row condition selects it
        return f"{where}{country}{self.expectation}({', '.join(args)})"

    def _result(self) -> str:
        if self.exception:
            return f"could not be evaluated: {self.exception}"
        if self.unexpected_count is not None:
            of = f" of {self.element_count}" if self.element_count is not None else ""
            sample = ", ".join(short(v) for v in self.unexpected_sample)
            return f"{self.unexpected_count}{of} unexpected, e.g. [{sample}]"
        return f"observed {short(self.observed_value)}"

    def describe(self) -> str:
        """``expect_column_values_to_not_be_null(title): 1 of 3 unexpected, e.g. [None]``; a check on the
        availability names it and its country first (``title_availability_audit: country GB: …``)."""
        return f"{self._head()}: {self._result()}"


@dataclass
class ValidationOutcome:
    success: bool
    rows: int
    thresholds: GateThresholds
    results: list[ExpectationOutcome]
    availability_rows: int = 0

    @property
    def evaluated(self) -> int:
        return len(self.results)

    @property
    def failures(self) -> list[ExpectationOutcome]:
        return [r for r in self.results if not r.success]
