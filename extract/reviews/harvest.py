"""Run the adapters for many titles with bounded concurrency, then dedupe and pick the reviews to keep."""

from __future__ import annotations

import logging
import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, date, datetime

from extract.reviews.guardian import fetch_guardian
from extract.reviews.http import HttpClient
from extract.reviews.models import FetchOutcome, Review, SourceResult, Subject, TitleHarvest
from extract.reviews.rogerebert import fetch_rogerebert
from extract.reviews.settings import SOURCES, ReviewsSettings
from extract.reviews.text import dedupe_key
from extract.reviews.tmdb import fetch_tmdb

log = logging.getLogger(__name__)

Adapter = Callable[[Subject, HttpClient, ReviewsSettings, date], SourceResult]
ADAPTERS: dict[str, Adapter] = {"tmdb": fetch_tmdb, "rogerebert": fetch_rogerebert, "guardian": fetch_guardian}
_OLDEST = datetime.min.replace(tzinfo=UTC)


def select_reviews(reviews: Iterable[Review], max_reviews: int) -> list[Review]:
    """Drop repeats (same author + same text, whichever source), then keep critics first, newest first.

    The order is total (ties broken by source and key), so the same input always yields the same rows.
    """
    ordered = sorted(
        reviews,
        key=lambda r: (
            0 if r.is_critic else 1,
            -(r.published_at or _OLDEST).timestamp(),
            r.source,
            r.review_key,
        ),
    )
    seen_text: set[str] = set()
    seen_key: set[tuple[str, str]] = set()
    kept: list[Review] = []
    for review in ordered:
        text_id = dedupe_key(review.author, review.review_text)
        row_id = (review.source, review.review_key)
        if text_id in seen_text or row_id in seen_key:
            continue
        seen_text.add(text_id)
        seen_key.add(row_id)
        kept.append(review)
        if len(kept) >= max_reviews:
            break
    return kept


class Harvester:
    """Fetches every source for each subject once (memoised by title id), ``concurrency`` titles at a time."""

    def __init__(
        self,
        settings: ReviewsSettings,
        client: HttpClient,
        as_of: date,
        adapters: Mapping[str, Adapter] | None = None,
        on_title_done: Callable[[int], None] | None = None,
    ) -> None:
        self.settings = settings
        self.client = client
        self.as_of = as_of
        self.adapters = dict(adapters or ADAPTERS)
        self.on_title_done = on_title_done
        self.status_counts: dict[str, Counter[str]] = defaultdict(Counter)
        self.selected_counts: Counter[str] = Counter()
        self.quarantined = 0
        self.titles_with_reviews = 0
        self.done = 0
        self._futures: dict[str, Future[TitleHarvest]] = {}
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None

    # ---- one title -------------------------------------------------------------------------------
    def harvest(self, subject: Subject) -> TitleHarvest:
        results: list[SourceResult] = []
        for source in SOURCES:
            adapter = self.adapters.get(source)
            if adapter is None or not self.settings.is_enabled(source):
                results.append(SourceResult(outcome=FetchOutcome(
                    title_id=subject.title_id, source=source, status="skipped", reason="disabled in config")))
                continue
            try:
                results.append(adapter(subject, self.client, self.settings, self.as_of))
            except Exception as exc:  # an adapter bug costs this title this source, never the run
                log.exception("%s adapter failed for %s", source, subject.title_id)
                results.append(SourceResult(outcome=FetchOutcome(
                    title_id=subject.title_id, source=source, status="error",
                    reason=f"unexpected {type(exc).__name__}: {exc}")))
        reviews = select_reviews((r for res in results for r in res.reviews), self.settings.max_reviews)
        harvest = TitleHarvest(
            subject=subject,
            reviews=reviews,
            outcomes=[res.outcome for res in results],
            quarantine=[q for res in results for q in res.quarantine],
        )
        with self._lock:
            for outcome in harvest.outcomes:
                self.status_counts[outcome.source][outcome.status] += 1
                if outcome.status == "error":
                    log.warning("%s: %s: %s", outcome.source, subject.title_id, outcome.reason)
            for review in reviews:
                self.selected_counts[review.source] += 1
            self.quarantined += len(harvest.quarantine)
            self.titles_with_reviews += 1 if reviews else 0
            self.done += 1
            done = self.done
        if self.on_title_done:
            self.on_title_done(done)
        return harvest

    # ---- many titles -----------------------------------------------------------------------------
    def harvest_many(self, subjects: Iterable[Subject]) -> list[TitleHarvest]:
        """Harvests in input order; a title seen before is served from memory (no new requests)."""
        futures = []
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=self.settings.concurrency,
                                                    thread_name_prefix="reviews")
            for subject in subjects:
                future = self._futures.get(subject.title_id)
                if future is None:
                    future = self._executor.submit(self.harvest, subject)
                    self._futures[subject.title_id] = future
                futures.append(future)
        return [f.result() for f in futures]

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    def details(self) -> dict[str, dict[str, int]]:
        """Per source: status counts, selected reviews, requests, cache hits, downloads, retries."""
        out: dict[str, dict[str, int]] = {}
        for source in SOURCES:
            counts = {status: self.status_counts[source].get(status, 0)
                      for status in ("ok", "no_reviews", "not_found", "skipped", "error")}
            stats = self.client.source_stats(source)
            counts.update(
                reviews=self.selected_counts.get(source, 0),
                requests=stats.get("requests", 0),
                cache_hits=stats.get("cache_hits", 0),
                downloads=stats.get("downloads", 0),
                retries=stats.get("retries", 0),
            )
            out[source] = counts
        return out
