"""Step ``extract_releases``: this window's new titles from JustWatch -> ``raw_justwatch`` via dlt.

One ``newTitles`` harvest per country of the run (``run.countries``), ``justwatch.country_concurrency`` at a
time, each with its own client; then one dlt load for every country that succeeded (rows keyed by
``(id, country)``). A country that fails after its retries is named in ``StepResult.failed_parts``: the
others load and publish, and the run fails after its last step naming it. When every country fails the
step raises (the DAG's mapped task of one country raises, so Airflow retries that country alone).
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from core import raw_spec
from core.context import RunContext, StepResult
from core.raw_tables import quarantine_broken_rows
from extract.justwatch.client import JustWatchApi
from extract.justwatch.harvest import JustWatchDayError, NewTitlesHarvest
from extract.justwatch.settings import DATASET_NAME, PIPELINE_NAME, SOURCE_NAME, STEP_NAME, JustWatchSettings


class JustWatchCountriesFailed(RuntimeError):
    """Every country of the step failed; the message names each with its cause, and ``result`` (the step's record
    in ``ops.pipeline_runs``) each country: a DAG run's mapped task of one country names it for the run report."""

    def __init__(self, failed: dict[str, str]) -> None:
        super().__init__("; ".join(failed.values()))
        self.result = StepResult(
            step=STEP_NAME, details={"failed_countries": dict(failed)}, failed_parts=dict(failed)
        )


def _harvest_country(
    ctx: RunContext, api: JustWatchApi, country: str, extracted_at: datetime
) -> NewTitlesHarvest:
    with api.client() as client:
        return NewTitlesHarvest(
            client=client,
            days=ctx.window,
            country=country,
            as_of=ctx.as_of,
            limit=ctx.limit,
            object_types=api.settings.object_types,
            progress=ctx.progress,
            extracted_at=extracted_at,
        ).collect()


def harvest_countries(
    ctx: RunContext, api: JustWatchApi, countries: Sequence[str]
) -> tuple[list[NewTitlesHarvest], dict[str, str]]:
    """Every country's window, ``country_concurrency`` at a time: the harvests (run order) and the failures."""
    extracted_at = datetime.now(UTC)
    workers = max(1, min(api.settings.country_concurrency, len(countries)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="justwatch") as pool:
        futures = {c: pool.submit(_harvest_country, ctx, api, c, extracted_at) for c in countries}
    harvests: list[NewTitlesHarvest] = []
    failed: dict[str, str] = {}
    for country, future in futures.items():
        error = future.exception()
        if error is None:
            harvests.append(future.result())
        elif isinstance(error, JustWatchDayError):
            failed[country] = str(error)
        else:
            raise error
    return harvests, failed


def _start_line(ctx: RunContext, settings: JustWatchSettings, countries: Sequence[str]) -> str:
    return (
        f"JustWatch newTitles {ctx.window_start.isoformat()}..{ctx.as_of.isoformat()} {','.join(countries)} "
        f"(page size {settings.page_size}"
        + (
            f", {min(settings.country_concurrency, len(countries))} countries at a time"
            if len(countries) > 1
            else ""
        )
        + (f", packages {','.join(settings.packages)}" if settings.packages else "")
        + (f", limit {ctx.limit} per country" if ctx.limit else "")
        + ")"
    )


def _details(harvests: Sequence[NewTitlesHarvest], failed: dict[str, str]) -> dict[str, Any]:
    """Per-country figures (``countries``) and the run's totals."""
    per_country = {h.country: h.details() for h in harvests}
    unique = {title_id for h in harvests for title_id in h.titles}
    return {
        "countries": per_country,
        "failed_countries": dict(failed),
        "listings": sum(len(h.titles) for h in harvests),
        "unique_nodes": len(unique),
        "quarantined_records": sum(h.quarantined_records for h in harvests),
        "quarantined_items": sum(len(h.quarantined_items) for h in harvests),
        "requests": sum(h.client.stats.requests for h in harvests),
        "retries": sum(h.client.stats.retries for h in harvests),
    }


def extract_releases(ctx: RunContext, justwatch: JustWatchApi) -> StepResult:
    """Query ``newTitles`` for every day of ``ctx.window`` in every country and merge them into the warehouse.

    Re-running the same window merges on ``(id, country)`` (titles) and ``record_key`` (quarantine).
    """
    countries = ctx.country_codes
    ctx.progress(_start_line(ctx, justwatch.settings, countries))
    harvests, failed = harvest_countries(ctx, justwatch, countries)
    if not harvests:
        raise JustWatchCountriesFailed(failed)
    from extract.justwatch.source import justwatch_source  # noqa: PLC0415 - dlt only when loading (DAG parse stays light)

    source = justwatch_source(harvests)
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
    details = _details(harvests, failed)
    ctx.progress(
        f"JustWatch: {details['listings']} listing(s) of {details['unique_nodes']} node(s) in "
        f"{len(harvests)} countr{'y' if len(harvests) == 1 else 'ies'} "
        f"({', '.join(f'{h.country} {len(h.titles)}' for h in harvests)}); "
        f"{details['quarantined_records']} quarantined record(s), {details['quarantined_items']} list item(s) "
        f"loaded into {DATASET_NAME}"
        + (f"; {moved} earlier row(s) breaking the contract moved to quarantine" if moved else "")
        + "".join(f"; {country} FAILED" for country in failed)
    )
    return StepResult(
        step=STEP_NAME,
        rows_in=sum(h.nodes_seen for h in harvests),
        rows_out=details["listings"],
        quarantined=details["quarantined_records"] + details["quarantined_items"],
        details={**details, **({"earlier_rows_quarantined": moved} if moved else {})},
        failed_parts=failed,
    )
