"""dlt source ``reviews``: the titles resource feeds three transformers.

``reviews`` (merge on title_id, source, review_key), ``review_fetches`` (merge on title_id, source) and
``quarantine`` (merge on record_key) all read from one :class:`Harvester`, which fetches each title once.
Column hints pin every contract column's type (``core.raw_spec``), so a run where a column is always
null still creates it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import dlt
from dlt.common.typing import TDataItems
from dlt.sources import DltResource

from core import raw_spec
from extract.reviews.harvest import Harvester
from extract.reviews.models import QuarantineEntry, Subject
from extract.reviews.settings import ReviewsSettings


def _batches(titles: Iterable[Subject | dict[str, Any]], size: int) -> Iterator[list[Subject]]:
    batch: list[Subject] = []
    for title in titles:
        batch.append(title if isinstance(title, Subject) else Subject.model_validate(title))
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


@dlt.source(name="reviews", max_table_nesting=0)
def reviews_source(
    titles: Iterable[Subject | dict[str, Any]],
    settings: ReviewsSettings,
    *,
    harvester: Harvester,
    batch_size: int | None = None,
    quarantine_rows: Iterable[QuarantineEntry] = (),
) -> Any:
    """Reviews of ``titles`` (subjects: movie or show, with TMDB/IMDb ids) from TMDB, RogerEbert and the Guardian.

    The ``harvester`` (the step's, on the run's HTTP client) fetches them and keeps the counters the step
    reports. ``quarantine_rows`` (e.g. malformed subjects) are loaded with the first batch's quarantine.
    """
    pending_quarantine = [q.model_dump() for q in quarantine_rows]
    size = batch_size or max(1, settings.concurrency * 8)

    @dlt.resource(name="review_subjects", selected=False)
    def review_subjects() -> Iterator[list[Subject]]:
        empty = True
        for batch in _batches(titles, size):
            empty = False
            yield batch
        if empty and pending_quarantine:
            yield []

    def quarantine_rows(batch: list[Subject]) -> list[dict[str, Any]]:
        rows = [q.model_dump() for h in harvester.harvest_many(batch) for q in h.quarantine]
        rows += pending_quarantine
        pending_quarantine.clear()
        return rows

    return (
        review_subjects,
        _harvested(
            review_subjects,
            raw_spec.REVIEWS,
            lambda batch: [r.model_dump() for h in harvester.harvest_many(batch) for r in h.reviews],
        ),
        _harvested(
            review_subjects,
            raw_spec.REVIEW_FETCHES,
            lambda batch: [o.model_dump() for h in harvester.harvest_many(batch) for o in h.outcomes],
        ),
        _harvested(review_subjects, raw_spec.REVIEWS_QUARANTINE, quarantine_rows),
    )


def _harvested(
    subjects: DltResource, spec: raw_spec.Table, rows_of: Callable[[list[Subject]], list[dict[str, Any]]]
) -> DltResource:
    """The transformer that merges ``rows_of`` each batch of subjects into ``spec``'s table (its key, its
    contract columns); the harvester fetches each batch once for all three."""

    @dlt.transformer(
        data_from=subjects,
        name=spec.name,
        write_disposition="merge",
        primary_key=spec.primary_key,
        columns=raw_spec.dlt_columns(spec),
    )
    def rows(batch: list[Subject]) -> TDataItems:
        found = rows_of(batch)
        if found:
            yield found

    return rows
