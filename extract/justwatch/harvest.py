"""Collect one window of new titles: one ``newTitles`` query per day (oldest first), every page of it.

A title listed on several days is kept once, with ``new_since`` = the latest day it was listed under
(days run oldest first, so a later listing replaces an earlier one). ``limit`` caps distinct titles.
A day that still fails after the client's retries raises :class:`JustWatchDayError` naming the day.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from extract.justwatch.client import JustWatchClient, JustWatchError
from extract.justwatch.parse import ResponseShapeError, parse_new_titles_page


class JustWatchDayError(RuntimeError):
    """Fetching one day of new titles failed; the message names the day and the cause."""

    def __init__(self, day: date, country: str, cause: BaseException) -> None:
        self.day = day
        self.country = country
        self.cause = cause
        super().__init__(f"JustWatch newTitles for {day.isoformat()} ({country}) failed: {cause}")


@dataclass
class DayStats:
    day: str
    pages: int = 0
    nodes: int = 0
    titles: int = 0
    quarantined: int = 0
    total_count: int | None = None


@dataclass
class NewTitlesHarvest:
    """Fetch and parse a window once; ``titles``/``quarantine`` hold rows ready for dlt."""

    client: JustWatchClient
    days: Sequence[date]
    country: str
    as_of: date
    limit: int | None = None
    object_types: Sequence[str] = ()
    progress: Callable[[str], None] = lambda message: None
    extracted_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    titles: dict[str, dict[str, Any]] = field(default_factory=dict)
    quarantine: dict[str, dict[str, Any]] = field(default_factory=dict)  # records and list items, by key
    quarantined_items: set[str] = field(default_factory=set)  # keys of the list items among them
    day_stats: list[DayStats] = field(default_factory=list)
    nodes_seen: int = 0
    filtered_out: int = 0
    collected: bool = False

    def _limit_reached(self) -> bool:
        return self.limit is not None and len(self.titles) >= self.limit

    def collect(self) -> NewTitlesHarvest:
        """Run the queries (once; later calls return the cached result)."""
        if self.collected:
            return self
        for day in sorted(self.days):
            if self._limit_reached():
                self.progress(f"JustWatch {day.isoformat()}: skipped, --limit {self.limit} reached")
                continue
            self._collect_day(day)
        self.collected = True
        return self

    def _collect_day(self, day: date) -> None:
        stats = DayStats(day=day.isoformat())
        self.day_stats.append(stats)
        pages = self.client.iter_new_titles_pages(day, self.country)
        try:
            for response in pages:
                page = parse_new_titles_page(
                    response,
                    day=day,
                    country=self.country,
                    as_of=self.as_of,
                    extracted_at=self.extracted_at,
                    object_types=self.object_types,
                )
                stats.pages += 1
                stats.nodes += page.nodes_seen
                stats.total_count = page.total_count
                self.nodes_seen += page.nodes_seen
                self.filtered_out += page.filtered_out
                for q in page.quarantine:
                    self.quarantine[q.record_key] = q.as_row()
                    stats.quarantined += 1
                for q in page.item_quarantine:
                    self.quarantine[q.record_key] = q.as_row()
                    self.quarantined_items.add(q.record_key)
                for record in page.records:
                    if record.id not in self.titles and self._limit_reached():
                        continue
                    self.titles.pop(record.id, None)  # re-insert: the latest listing wins, in listing order
                    self.titles[record.id] = record.as_row()
                    stats.titles += 1
                if self._limit_reached():
                    break
        except (JustWatchError, ResponseShapeError) as exc:
            raise JustWatchDayError(day, self.country, exc) from exc
        finally:
            pages.close()
        self.progress(
            f"JustWatch {day.isoformat()} {self.country}: {stats.nodes} listed"
            + (f" of {stats.total_count}" if stats.total_count not in (None, stats.nodes) else "")
            + f", {stats.titles} kept, {stats.quarantined} quarantined, {stats.pages} page(s)"
        )

    @property
    def quarantined_records(self) -> int:
        """Nodes quarantined whole (the list items left out of loaded nodes not counted)."""
        return len(self.quarantine) - len(self.quarantined_items)

    def details(self) -> dict[str, Any]:
        return {
            "titles": len(self.titles),
            "quarantined_records": self.quarantined_records,
            "quarantined_items": len(self.quarantined_items),
            "requests": self.client.stats.requests,
            "retries": self.client.stats.retries,
            "http_statuses": dict(self.client.stats.statuses),
            "pages_per_day": {s.day: s.pages for s in self.day_stats},
            "nodes_per_day": {s.day: s.nodes for s in self.day_stats},
            "filtered_out": self.filtered_out,
            "limit": self.limit,
            "page_size": self.client.page_size,
            "page_size_reductions": list(self.client.stats.page_size_reductions),
            "graphql_errors_kept_data": list(self.client.stats.partial_errors)[:20],
        }
