"""Typed records at the boundaries of the review extract: what goes in (a subject), what comes out."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from core import raw_spec
from core.quarantine import QuarantineRecord

Source = Literal[raw_spec.REVIEW_SOURCES]  # type: ignore[valid-type]  # the raw_reviews contract owns them
FetchStatus = Literal["ok", "no_reviews", "not_found", "skipped", "error"]
CRITIC_SOURCES = frozenset({"rogerebert", "guardian"})
PAYLOAD_EXCERPT_CHARS = 2000


def utc_now() -> datetime:
    return datetime.now(UTC)


class Subject(BaseModel):
    """One movie or show to find reviews for (a new season is reviewed as its parent show)."""

    model_config = ConfigDict(frozen=True)

    title_id: str
    content_type: Literal["movie", "show"]
    title: str
    year: int | None = None
    tmdb_id: str | None = None
    imdb_id: str | None = None


class Review(BaseModel):
    """One row of ``raw_reviews.reviews`` (docs/raw-tables.md)."""

    title_id: str
    source: Source
    review_key: str
    author: str | None = None
    review_text: str
    original_score: str | None = None
    score_normalized: float | None = Field(default=None, ge=0.0, le=10.0)
    review_url: str | None = None
    published_at: datetime | None = None
    extracted_at: datetime = Field(default_factory=utc_now)

    @property
    def is_critic(self) -> bool:
        return self.source in CRITIC_SOURCES


class FetchOutcome(BaseModel):
    """One row of ``raw_reviews.review_fetches``: what one source answered for one title, last time.

    It is also the refresh schedule's state, in run days (``as_of``): ``first_fetched_on`` (day 0 of the
    schedule), ``last_fetched_on`` and ``fetch_count``; any worker computes what is due from these
    (extract/reviews/schedule.py). A ``skipped`` outcome (disabled, no key) starts no schedule.
    """

    title_id: str
    source: Source
    status: FetchStatus
    reason: str | None = None
    reviews_found: int = 0
    fetched_at: datetime = Field(default_factory=utc_now)
    first_fetched_on: date | None = None
    last_fetched_on: date | None = None
    fetch_count: int = 0


class QuarantineEntry(QuarantineRecord):
    """One row of ``raw_reviews.quarantine``: a payload we fetched but could not turn into reviews."""

    @classmethod
    def build(
        cls, source: str, entity_id: str | None, reason: str, payload: str, as_of_date: date
    ) -> QuarantineEntry:
        excerpt = payload[:PAYLOAD_EXCERPT_CHARS]
        # The title is part of the key: one garbage page served for many titles is one record per title.
        return cls.keyed(
            [source, entity_id or "", excerpt],
            source=source,
            entity_id=entity_id,
            reason=reason,
            payload=excerpt,
            as_of=as_of_date,
        )


def quarantined(
    source: str, title_id: str, rejected: Iterable[RecordRejected], as_of: date
) -> list[QuarantineEntry]:
    """The malformed records of a good answer, each quarantined under the title."""
    return [QuarantineEntry.build(source, title_id, r.reason, r.payload, as_of) for r in rejected]


class SourceResult(BaseModel):
    """Everything one adapter produced for one subject (``blocked``: the site answered 403 to a page)."""

    outcome: FetchOutcome
    reviews: list[Review] = Field(default_factory=list)
    quarantine: list[QuarantineEntry] = Field(default_factory=list)
    blocked: bool = False

    @classmethod
    def unreadable(cls, source: Source, title_id: str, reason: str, body: str, as_of: date) -> SourceResult:
        """An answer that could not be read (garbage, a changed layout): an error, its body quarantined."""
        return cls(
            outcome=FetchOutcome(title_id=title_id, source=source, status="error", reason=reason),
            quarantine=[QuarantineEntry.build(source, title_id, reason, body, as_of)],
        )


class TitleHarvest(BaseModel):
    """Everything the three adapters produced for one subject, after dedupe and selection."""

    subject: Subject
    reviews: list[Review] = Field(default_factory=list)
    outcomes: list[FetchOutcome] = Field(default_factory=list)
    quarantine: list[QuarantineEntry] = Field(default_factory=list)


class LayoutError(ValueError):
    """A page was fetched but the expected structure is missing (template drift or garbage)."""


class SourceStopped(RuntimeError):
    """The source refused our credentials or blocks us: no further request to it in this run.

    Raised by an adapter; the harvester stops the source once (one log line) and the title keeps no
    outcome for it, so it stays due for the next run.
    """


class RecordRejected(ValueError):
    """One record inside a good response is malformed (missing identity, wrong type): it is quarantined."""

    def __init__(self, reason: str, payload: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.payload = payload


_Record = TypeVar("_Record")


def collect_reviews(
    records: Iterable[_Record], to_review: Callable[[_Record], Review | None]
) -> tuple[list[Review], list[RecordRejected]]:
    """The reviews ``to_review`` makes of ``records`` (None: no review), and the records it rejected."""
    reviews: list[Review] = []
    rejected: list[RecordRejected] = []
    for record in records:
        try:
            review = to_review(record)
        except RecordRejected as exc:
            rejected.append(exc)
            continue
        if review is not None:
            reviews.append(review)
    return reviews, rejected
