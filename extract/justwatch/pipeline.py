"""Step ``extract_releases``: this window's new titles from JustWatch -> ``raw_justwatch`` via dlt."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime

from core import raw_spec
from core.config import ConfigError
from core.context import RunContext, StepResult
from core.raw_tables import quarantine_broken_rows
from extract.justwatch.client import JustWatchClient
from extract.justwatch.harvest import NewTitlesHarvest
from extract.justwatch.settings import DATASET_NAME, PIPELINE_NAME, SOURCE_NAME, STEP_NAME, JustWatchSettings


def extract_releases(ctx: RunContext, *, sleep: Callable[[float], None] | None = None) -> StepResult:
    """Query ``newTitles`` for every day of ``ctx.window`` (oldest first) and merge them into the warehouse.

    Re-running the same window merges on ``id`` (titles) and ``record_key`` (quarantine): no duplicates.
    """
    settings = JustWatchSettings.from_settings(ctx.settings)
    country = ctx.country.upper()
    if not re.fullmatch(r"[A-Z]{2}", country):
        raise ConfigError(f"country {ctx.country!r} is not a two-letter ISO 3166 code (e.g. US, GB, DE)")
    client_kwargs = {"sleep": sleep} if sleep is not None else {}
    with JustWatchClient(settings, **client_kwargs) as client:
        ctx.progress(
            f"JustWatch newTitles {ctx.window_start.isoformat()}..{ctx.as_of.isoformat()} {country} "
            f"(page size {settings.page_size}"
            + (f", packages {','.join(settings.packages)}" if settings.packages else "")
            + (f", limit {ctx.limit}" if ctx.limit else "")
            + ")"
        )
        harvest = NewTitlesHarvest(
            client=client,
            days=ctx.window,
            country=country,
            as_of=ctx.as_of,
            limit=ctx.limit,
            object_types=settings.object_types,
            progress=ctx.progress,
        ).collect()
    from extract.justwatch.source import justwatch_source  # noqa: PLC0415 - dlt only when loading (DAG parse stays light)

    source = justwatch_source(ctx.window, country, ctx.as_of, harvest=harvest)
    ctx.warehouse.dlt_run(PIPELINE_NAME, DATASET_NAME, source)
    # a row an older version loaded that breaks today's contract would fail every later day's staging tests
    moved = quarantine_broken_rows(
        ctx.warehouse,
        raw_spec.TITLES,
        raw_spec.JUSTWATCH_QUARANTINE,
        source=SOURCE_NAME,
        as_of=ctx.as_of,
        now=datetime.now(UTC),
    )
    titles, quarantined = len(harvest.titles), len(harvest.quarantine)
    ctx.progress(
        f"JustWatch: {titles} titles and {quarantined} quarantined record(s) loaded into {DATASET_NAME}"
        + (f"; {moved} earlier row(s) breaking the contract moved to quarantine" if moved else "")
    )
    return StepResult(
        step=STEP_NAME,
        rows_in=harvest.nodes_seen,
        rows_out=titles,
        quarantined=quarantined,
        details={**harvest.details(), **({"earlier_rows_quarantined": moved} if moved else {})},
    )
