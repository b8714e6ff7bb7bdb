"""The dlt source over JustWatch's ``newTitles``: resources ``titles`` and ``quarantine``.

Column hints (derived from ``core.raw_spec``) pin every column's type (so columns that are null in a given run, like ``original_language``,
still exist with the contracted type) and the child tables of the nested lists
(``titles__genres``, ``titles__production_countries``, ``titles__credits``, ``titles__offers``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import dlt
from dlt.sources import DltResource

from core import raw_spec
from extract.justwatch.harvest import NewTitlesHarvest
from extract.justwatch.settings import SOURCE_NAME

TITLE_COLUMNS = raw_spec.dlt_columns(raw_spec.TITLES)
NESTED_HINTS = raw_spec.nested_hints(raw_spec.TITLES)


ROWS_PER_YIELD = 1000


def titles_resource(harvests: Sequence[NewTitlesHarvest]) -> DltResource:
    return _merged(raw_spec.TITLES, harvests, lambda found: found.titles, nested_hints=NESTED_HINTS)


def quarantine_resource(harvests: Sequence[NewTitlesHarvest]) -> DltResource:
    return _merged(raw_spec.JUSTWATCH_QUARANTINE, harvests, lambda found: found.quarantine)


def _merged(
    spec: raw_spec.Table,
    harvests: Sequence[NewTitlesHarvest],
    rows_of: Callable[[NewTitlesHarvest], Mapping[Any, dict[str, Any]]],
    **hints: Any,
) -> DltResource:
    """The resource that merges ``rows_of`` each harvest's collected window into ``spec``'s table (its key,
    its contract columns), :data:`ROWS_PER_YIELD` rows at a time."""

    @dlt.resource(
        name=spec.name,
        write_disposition="merge",
        primary_key=spec.primary_key,
        columns=raw_spec.dlt_columns(spec),
        **hints,
    )
    def rows() -> Iterator[list[dict[str, Any]]]:
        found = [row for harvest in harvests for row in rows_of(harvest.collect()).values()]
        for start in range(0, len(found), ROWS_PER_YIELD):
            yield found[start : start + ROWS_PER_YIELD]

    return rows


@dlt.source(name=SOURCE_NAME)
def justwatch_source(harvests: Sequence[NewTitlesHarvest]) -> Sequence[DltResource]:
    """New titles from JustWatch's GraphQL API: the windows the step collected, one harvest per country (the
    step collects first, so a failing day surfaces as one clear error naming its country, not inside dlt's
    extract). Rows are keyed by (id, country): countries never collide."""
    return titles_resource(harvests), quarantine_resource(harvests)
