"""Run the adapters for many titles with bounded concurrency, then dedupe and pick the reviews to keep.

Only the sources due for a title are asked (``due``: title id -> {source: new/refresh/retry}; all when absent).
A source that rejects our credentials or blocks us (:class:`SourceStopped`, or ``block_after_403s``
consecutive 403 pages) is stopped for the rest of the run, once, with one log line; a title it could not
be asked about, or one its request budget could not pay for, keeps no outcome for it and stays due.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, date, datetime

from extract.reviews.guardian import fetch_guardian
from extract.reviews.http import BudgetExhausted, HttpClient
from extract.reviews.models import FetchOutcome, Review, SourceResult, SourceStopped, Subject, TitleHarvest
from extract.reviews.rogerebert import fetch_rogerebert
from extract.reviews.schedule import FetchState
from extract.reviews.settings import SOURCES, ReviewsSettings
from extract.reviews.text import dedupe_key
from extract.reviews.tmdb import fetch_tmdb

log = logging.getLogger(__name__)

Adapter = Callable[[Subject, HttpClient, ReviewsSettings, date], SourceResult]
ADAPTERS: dict[str, Adapter] = {
    "tmdb": fetch_tmdb,
    "rogerebert": fetch_rogerebert,
    "guardian": fetch_guardian,
}
_OLDEST = datetime.min.replace(tzinfo=UTC)


def select_reviews(reviews: Iterable[Review], max_reviews: int) -> list[Review]:
    """Drop repeats (same author + same text, whichever source), then keep the newest ``max_reviews`` per source.

    Critics first, newest first; the order is total (ties broken by source and key), so the same input
    always yields the same rows. The cap is per source: a refresh may ask only some sources.
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
    per_source: Counter[str] = Counter()
    for review in ordered:
        text_id = dedupe_key(review.author, review.review_text)
        row_id = (review.source, review.review_key)
        if text_id in seen_text or row_id in seen_key or per_source[review.source] >= max_reviews:
            continue
        seen_text.add(text_id)
        seen_key.add(row_id)
        per_source[review.source] += 1
        kept.append(review)
    return kept


class Harvester:
    """Fetches every source for each subject once (memoised by title id), ``concurrency`` titles at a time."""

    def __init__(
        self,
        settings: ReviewsSettings,
        client: HttpClient,
        as_of: date,
        *,
        adapters: Mapping[str, Adapter] | None = None,
        on_title_done: Callable[[int], None] | None = None,
        due: Mapping[str, Mapping[str, str]] | None = None,
        states: Mapping[tuple[str, str], FetchState] | None = None,
        on_stop: Callable[[str, str], None] | None = None,
    ) -> None:
        self.settings = settings
        self.client = client
        self.as_of = as_of
        self.adapters = dict(adapters or ADAPTERS)
        self.on_title_done = on_title_done
        self.due = due
        self.states = dict(states or {})
        self.on_stop = on_stop
        self.stopped: dict[str, str] = {}
        self.deferred: Counter[str] = Counter()
        self.fetches: dict[str, Counter[str]] = defaultdict(Counter)  # source -> new/refresh -> fetches made
        self._blocked_in_a_row: Counter[str] = Counter()
        self.status_counts: dict[str, Counter[str]] = defaultdict(Counter)
        self.selected_counts: Counter[str] = Counter()
        self.quarantined = 0
        self.titles_with_reviews = 0
        self.done = 0
        self._futures: dict[str, Future[TitleHarvest]] = {}
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None

    # ---- one title -------------------------------------------------------------------------------
    def stop(self, source: str, reason: str) -> None:
        """No further request to ``source`` in this run; logged once."""
        with self._lock:
            if source in self.stopped:
                return
            self.stopped[source] = reason
        log.error("%s stopped for this run: %s", source, reason)
        if self.on_stop:
            self.on_stop(source, reason)

    def _ask(self, source: str, subject: Subject) -> SourceResult | None:
        """One adapter call; None when the source is stopped or out of budget (the title stays due)."""
        adapter = self.adapters[source]
        if source in self.stopped or self.client.remaining(source) == 0:
            with self._lock:
                self.deferred[source] += 1
            return None
        try:
            result = adapter(subject, self.client, self.settings, self.as_of)
        except SourceStopped as exc:
            self.stop(source, str(exc))
            with self._lock:
                self.deferred[source] += 1
            return None
        except BudgetExhausted:
            with self._lock:
                self.deferred[source] += 1
            return None
        except Exception as exc:  # an adapter bug costs this title this source, never the run
            log.exception("%s adapter failed for %s", source, subject.title_id)
            result = SourceResult(
                outcome=FetchOutcome(
                    title_id=subject.title_id,
                    source=source,
                    status="error",
                    reason=f"unexpected {type(exc).__name__}: {exc}",
                )
            )
        with self._lock:
            self._blocked_in_a_row[source] = self._blocked_in_a_row[source] + 1 if result.blocked else 0
            blocked = self._blocked_in_a_row[source]
        if blocked >= self.settings.block_after_403s:
            self.stop(source, f"answered HTTP 403 to {blocked} consecutive pages: the site blocks us")
        return result

    def _with_state(self, outcome: FetchOutcome, reason: str | None) -> FetchOutcome:
        """The outcome carrying the schedule state: day 0, this fetch's day, the number of fetches."""
        previous = self.states.get((outcome.title_id, outcome.source))
        if outcome.status == "skipped":  # nothing was asked: no schedule starts or advances
            first = previous.first_fetched_on if previous else None
            last = previous.last_fetched_on if previous else None
            count = previous.fetch_count if previous else 0
        else:
            restart = reason == "new" or previous is None or previous.first_fetched_on is None
            first = self.as_of if restart else previous.first_fetched_on
            last = self.as_of
            count = (0 if previous is None else previous.fetch_count) + 1
        return outcome.model_copy(
            update={"first_fetched_on": first, "last_fetched_on": last, "fetch_count": count}
        )

    # ---- one title -------------------------------------------------------------------------------
    def harvest(self, subject: Subject) -> TitleHarvest:
        results = self._results(subject)
        reviews = select_reviews((r for res in results for r in res.reviews), self.settings.max_reviews)
        harvest = TitleHarvest(
            subject=subject,
            reviews=reviews,
            outcomes=[res.outcome for res in results],
            quarantine=[q for res in results for q in res.quarantine],
        )
        done = self._count_title(harvest)
        if self.on_title_done:
            self.on_title_done(done)
        return harvest

    def _results(self, subject: Subject) -> list[SourceResult]:
        """One result per source due for ``subject`` (a disabled source: skipped; a stopped one: none)."""
        due = None if self.due is None else self.due.get(subject.title_id, {})
        sources = [s for s in SOURCES if due is None or s in due]
        found = (self._source_result(source, subject, due) for source in sources)
        return [result for result in found if result is not None]

    def _source_result(
        self, source: str, subject: Subject, due: dict[str, str] | None
    ) -> SourceResult | None:
        """``source``'s result for ``subject``, its fetch counted under its due reason (None: stopped)."""
        if source not in self.adapters or not self.settings.is_enabled(source):
            skipped = FetchOutcome(
                title_id=subject.title_id, source=source, status="skipped", reason="disabled in config"
            )
            return SourceResult(outcome=skipped)
        result = self._ask(source, subject)
        if result is None:
            return None
        reason = None if due is None else due.get(source)
        result.outcome = self._with_state(result.outcome, reason)
        if result.outcome.status != "skipped":
            with self._lock:
                self.fetches[source][reason or "new"] += 1
        return result

    def _count_title(self, harvest: TitleHarvest) -> int:
        """Adds one title's outcomes to the counters (errors logged); returns how many titles are done."""
        with self._lock:
            for outcome in harvest.outcomes:
                self.status_counts[outcome.source][outcome.status] += 1
                if outcome.status == "error":
                    log.warning("%s: %s: %s", outcome.source, harvest.subject.title_id, outcome.reason)
            for review in harvest.reviews:
                self.selected_counts[review.source] += 1
            self.quarantined += len(harvest.quarantine)
            self.titles_with_reviews += 1 if harvest.reviews else 0
            self.done += 1
            return self.done

    # ---- many titles -----------------------------------------------------------------------------
    def harvest_many(self, subjects: Iterable[Subject]) -> list[TitleHarvest]:
        """Harvests in input order; a title seen before is served from memory (no new requests)."""
        futures = []
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    max_workers=self.settings.concurrency, thread_name_prefix="reviews"
                )
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
        """Per source: status counts, deferred titles, fetches, selected reviews, requests, cache hits, retries."""
        out: dict[str, dict[str, int]] = {}
        for source in SOURCES:
            counts = {
                status: self.status_counts[source].get(status, 0)
                for status in ("ok", "no_reviews", "not_found", "skipped", "error")
            }
            stats = self.client.source_stats(source)
            counts.update(
                deferred=self.deferred.get(source, 0),
                fetches_new=self.fetches[source].get("new", 0),
                fetches_refresh=self.fetches[source].get("refresh", 0),
                fetches_retry=self.fetches[source].get("retry", 0),
                reviews=self.selected_counts.get(source, 0),
                requests=stats.get("requests", 0),
                cache_hits=stats.get("cache_hits", 0),
                downloads=stats.get("downloads", 0),
                retries=stats.get("retries", 0),
            )
            out[source] = counts
        return out
