"""The dlt source over JustWatch's ``newTitles``: resources ``titles`` and ``quarantine``.

Column hints pin every column's type (so columns that are null in a given run, like ``original_language``,
still exist with the contracted type) and the child tables of the nested lists
(``titles__genres``, ``titles__production_countries``, ``titles__credits``, ``titles__offers``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import date
from typing import Any

import dlt
from dlt.sources import DltResource

from extract.justwatch.client import JustWatchClient
from extract.justwatch.harvest import NewTitlesHarvest
from extract.justwatch.settings import SOURCE_NAME, JustWatchSettings


def _cols(**types: str) -> dict[str, dict[str, Any]]:
    return {name: {"name": name, "data_type": data_type, "nullable": True} for name, data_type in types.items()}


TITLE_COLUMNS: dict[str, dict[str, Any]] = {
    "id": {"name": "id", "data_type": "text", "nullable": False, "primary_key": True},
    **_cols(
        object_type="text", object_id="bigint", title="text", original_title="text",
        original_release_year="bigint", original_release_date="text", runtime_minutes="bigint",
        short_description="text", age_certification="text", full_path="text", original_language="text",
        imdb_id="text", tmdb_id="text", imdb_score="double", tomato_meter="bigint", season_number="bigint",
        show_id="text", show_title="text", show_full_path="text", show_tmdb_id="text", show_imdb_id="text",
        country="text", new_since="date", new_offer_package="text", extracted_at="timestamp",
    ),
}

NESTED_HINTS: dict[str, dict[str, Any]] = {
    "genres": {"columns": _cols(value="text")},
    "production_countries": {"columns": _cols(value="text")},
    "credits": {"columns": _cols(role="text", name="text", character_name="text")},
    "offers": {
        "columns": _cols(monetization_type="text", presentation_type="text", package_clear_name="text",
                         package_short_name="text")
    },
}

QUARANTINE_COLUMNS: dict[str, dict[str, Any]] = {
    "record_key": {"name": "record_key", "data_type": "text", "nullable": False, "primary_key": True},
    **_cols(source="text", entity_id="text", reason="text", payload="text", as_of_date="date",
            quarantined_at="timestamp"),
}


def titles_resource(harvest: NewTitlesHarvest) -> DltResource:
    @dlt.resource(
        name="titles", write_disposition="merge", primary_key="id", columns=TITLE_COLUMNS,
        nested_hints=NESTED_HINTS,  # type: ignore[arg-type]
    )
    def titles() -> Iterator[list[dict[str, Any]]]:
        rows = list(harvest.collect().titles.values())
        for start in range(0, len(rows), 1000):
            yield rows[start:start + 1000]

    return titles


def quarantine_resource(harvest: NewTitlesHarvest) -> DltResource:
    @dlt.resource(name="quarantine", write_disposition="merge", primary_key="record_key", columns=QUARANTINE_COLUMNS)
    def quarantine() -> Iterator[list[dict[str, Any]]]:
        rows = list(harvest.collect().quarantine.values())
        if rows:
            yield rows

    return quarantine


@dlt.source(name=SOURCE_NAME)
def justwatch_source(
    days: Sequence[date],
    country: str,
    as_of: date,
    settings: JustWatchSettings | None = None,
    limit: int | None = None,
    client: JustWatchClient | None = None,
    harvest: NewTitlesHarvest | None = None,
    progress: Callable[[str], None] | None = None,
) -> Sequence[DltResource]:
    """New titles of ``days`` in ``country`` from JustWatch's GraphQL API.

    Pass ``harvest`` to load an already collected window (the step collects first so a failing day
    surfaces as one clear error, not inside dlt's extract); otherwise the source collects on first use.
    """
    if harvest is None:
        settings = settings or JustWatchSettings()
        harvest = NewTitlesHarvest(
            client=client or JustWatchClient(settings), days=list(days), country=country, as_of=as_of, limit=limit,
            object_types=settings.object_types, progress=progress or (lambda message: None),
        )
    return titles_resource(harvest), quarantine_resource(harvest)
