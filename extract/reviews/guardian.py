"""The Guardian Content API: film and TV reviews from ``/search`` (JSON, string-valued ``fields``).

A result is ours when its IMDb reference is our ``imdb_id``; without references, when its headline
starts with "<title> review" and it was published within ±1 year of the title's year.
``parse_search``/``match_results`` are pure; ``fetch_guardian`` does the HTTP.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from pydantic import BaseModel, Field

from extract.reviews.http import FetchError, HttpClient
from extract.reviews.models import FetchOutcome, LayoutError, QuarantineEntry, Review, SourceResult, Subject
from extract.reviews.settings import ReviewsSettings
from extract.reviews.text import clean_review_text, parse_iso_datetime, text_key, title_match_key

SOURCE = "guardian"
FILM_TAG = "film/film,tone/reviews"
TV_TAG = "tv-and-radio/tv-and-radio,tone/reviews"
MAX_STARS = 5


class GuardianApiError(RuntimeError):
    """``{"response": {"status": "error", "message": ...}}``."""


class GuardianItem(BaseModel):
    id: str
    web_title: str = ""
    web_url: str | None = None
    published: str | None = None
    fields: dict[str, Any] = Field(default_factory=dict)
    imdb_refs: list[str] = Field(default_factory=list)

    @property
    def headline(self) -> str:
        value = self.fields.get("headline")
        return value if isinstance(value, str) and value.strip() else self.web_title


def search_params(subject: Subject, api_key: str) -> dict[str, Any]:
    params: dict[str, Any] = {
        "q": f'"{subject.title}"',
        "tag": TV_TAG if subject.content_type == "show" else FILM_TAG,
        "show-fields": "byline,bodyText,starRating,headline",
        "show-references": "imdb",
        "order-by": "relevance",
        "page-size": 20,
    }
    if subject.year:
        params["from-date"] = f"{subject.year - 1}-01-01"
    params["api-key"] = api_key
    return params


def parse_search(payload: Any) -> list[GuardianItem]:
    """Results of a ``/search`` response. Raises GuardianApiError / LayoutError."""
    response = payload.get("response") if isinstance(payload, dict) else None
    if not isinstance(response, dict):
        raise LayoutError("Guardian response has no 'response' object")
    if response.get("status") == "error":
        raise GuardianApiError(str(response.get("message") or "unknown error"))
    results = response.get("results")
    if not isinstance(results, list):
        raise LayoutError("Guardian response has no 'results' list")
    items = []
    for raw in results:
        if not isinstance(raw, dict) or not raw.get("id"):
            continue
        refs = [
            str(ref.get("id", "")).removeprefix("imdb/")
            for ref in raw.get("references") or []
            if isinstance(ref, dict) and (ref.get("type") == "imdb" or str(ref.get("id", "")).startswith("imdb/"))
        ]
        items.append(
            GuardianItem(
                id=str(raw["id"]),
                web_title=str(raw.get("webTitle") or ""),
                web_url=raw.get("webUrl"),
                published=raw.get("webPublicationDate"),
                fields=raw.get("fields") if isinstance(raw.get("fields"), dict) else {},
                imdb_refs=[r for r in refs if r],
            )
        )
    return items


def parse_star_rating(value: Any) -> tuple[str | None, float | None]:
    """``"4"`` -> ("4/5", 8.0); absent or unreadable -> (None, None)."""
    try:
        stars = int(str(value).strip())
    except (TypeError, ValueError):
        return None, None
    if not 0 <= stars <= MAX_STARS:
        return None, None
    return f"{stars}/{MAX_STARS}", stars * 10.0 / MAX_STARS


def match_results(items: list[GuardianItem], subject: Subject) -> tuple[list[GuardianItem], list[str]]:
    """Split results into ours and the reasons the others were rejected."""
    accepted, rejected = [], []
    wanted = title_match_key(subject.title) + " review"
    for item in items:
        if item.imdb_refs and subject.imdb_id:
            if subject.imdb_id in item.imdb_refs:
                accepted.append(item)
            else:
                rejected.append(f"{item.id}: IMDb reference {','.join(item.imdb_refs)} is not {subject.imdb_id}")
            continue
        if not title_match_key(item.headline).startswith(wanted):
            rejected.append(f"{item.id}: headline {item.headline!r} is not a review of {subject.title!r}")
            continue
        published = parse_iso_datetime(item.published)
        if subject.year and published and abs(published.year - subject.year) > 1:
            rejected.append(f"{item.id}: published {published.year}, ours is {subject.year}")
            continue
        accepted.append(item)
    return accepted, rejected


def to_review(item: GuardianItem, title_id: str, max_chars: int) -> Review | None:
    body = item.fields.get("bodyText")
    if not isinstance(body, str):
        return None
    text = clean_review_text(body, max_chars)
    if not text:
        return None
    original, normalised = parse_star_rating(item.fields.get("starRating"))
    byline = item.fields.get("byline")
    return Review(
        title_id=title_id,
        source=SOURCE,
        review_key=item.web_url or text_key(text),
        author=byline.strip() if isinstance(byline, str) and byline.strip() else None,
        review_text=text,
        original_score=original,
        score_normalized=normalised,
        review_url=item.web_url,
        published_at=parse_iso_datetime(item.published),
    )


def fetch_guardian(subject: Subject, client: HttpClient, settings: ReviewsSettings, as_of: date) -> SourceResult:
    def outcome(status: str, reason: str | None = None, found: int = 0) -> FetchOutcome:
        return FetchOutcome(title_id=subject.title_id, source=SOURCE, status=status, reason=reason,
                            reviews_found=found)

    api_key = settings.api_key(SOURCE)
    if not api_key:
        return SourceResult(outcome=outcome("skipped", "no GUARDIAN_API_KEY"))
    url = f"{settings.base_url(SOURCE)}/search"
    try:
        response = client.get(url, search_params(subject, api_key), source=SOURCE)
    except FetchError as exc:
        return SourceResult(outcome=outcome("error", str(exc)))
    if response.status in (401, 403):
        return SourceResult(outcome=outcome("error", f"Guardian rejected the API key (HTTP {response.status})"))
    if response.status != 200:
        return SourceResult(outcome=outcome(
            "error", f"Guardian HTTP {response.status} after {response.attempts} attempt(s)"))
    try:
        items = parse_search(json.loads(response.text))
    except GuardianApiError as exc:
        return SourceResult(outcome=outcome("error", f"Guardian API error: {exc}"))
    except (ValueError, LayoutError) as exc:
        reason = f"unreadable Guardian search response: {exc}"
        entry = QuarantineEntry.build(SOURCE, subject.title_id, reason, response.text, as_of)
        return SourceResult(outcome=outcome("error", reason), quarantine=[entry])
    accepted, rejected = match_results(items, subject)
    reviews = [r for r in (to_review(i, subject.title_id, settings.max_review_chars) for i in accepted) if r]
    if reviews:
        return SourceResult(outcome=outcome("ok", None, len(reviews)), reviews=reviews)
    if not items:
        return SourceResult(outcome=outcome("no_reviews", "Guardian search found no reviews"))
    reason = "no matching Guardian review"
    if rejected:
        reason += "; " + "; ".join(rejected[:3])
    return SourceResult(outcome=outcome("not_found", reason))
