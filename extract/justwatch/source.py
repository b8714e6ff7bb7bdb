"""The dlt source over JustWatch's ``newTitles``: resources ``titles`` and ``quarantine``.

Column hints (derived from ``core.raw_spec``) pin every column's type (so columns that are null in a given run, like ``original_language``,
still exist with the contracted type) and the child tables of the nested lists
(``titles__genres``, ``titles__production_countries``, ``titles__credits``, ``titles__offers``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import dlt
from dlt.sources import DltResource

from core import raw_spec
from extract.justwatch.harvest import NewTitlesHarvest
from extract.justwatch.settings import SOURCE_NAME

TITLE_COLUMNS = raw_spec.dlt_columns(raw_spec.TITLES)
NESTED_HINTS = raw_spec.nested_hints(raw_spec.TITLES)
QUARANTINE_COLUMNS = raw_spec.dlt_columns(raw_spec.JUSTWATCH_QUARANTINE)


def titles_resource(harvests: Sequence[NewTitlesHarvest]) -> DltResource:
    @dlt.resource(
        name=raw_spec.TITLES.name,
        write_disposition="merge",
        primary_key=raw_spec.TITLES.primary_key,
        columns=TITLE_COLUMNS,
        nested_hints=NESTED_HINTS,  # type: ignore[arg-type]
    )
    def titles() -> Iterator[list[dict[str, Any]]]:
        rows = [row for harvest in harvests for row in harvest.collect().titles.values()]
        for start in range(0, len(rows), 1000):
            yield rows[start : start + 1000]

    return titles


def quarantine_resource(harvests: Sequence[NewTitlesHarvest]) -> DltResource:
    @dlt.resource(
        name=raw_spec.JUSTWATCH_QUARANTINE.name,
        write_disposition="merge",
        primary_key=raw_spec.JUSTWATCH_QUARANTINE.primary_key,
        columns=QUARANTINE_COLUMNS,
    )
    def quarantine() -> Iterator[list[dict[str, Any]]]:
        rows = [row for harvest in harvests for row in harvest.collect().quarantine.values()]
        if rows:
            yield rows

    return quarantine


@dlt.source(name=SOURCE_NAME)
def justwatch_source(harvests: Sequence[NewTitlesHarvest]) -> Sequence[DltResource]:
    """New titles from JustWatch's GraphQL API: the windows the step collected, one harvest per country (the
    step collects first, so a failing day surfaces as one clear error naming its country, not inside dlt's
    extract). Rows are keyed by (id, country): countries never collide."""
    return titles_resource(harvests), quarantine_resource(harvests)
