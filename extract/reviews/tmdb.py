"""TMDB v3 reviews: ``GET /3/movie/{id}/reviews`` and ``/3/tv/{id}/reviews`` (members' reviews).

``parse_reviews`` is pure (JSON in, reviews out); ``fetch_tmdb`` does the HTTP and maps what the API
answered to a :class:`FetchOutcome`.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from extract.reviews.http import FetchError, HttpClient
from extract.reviews.models import FetchOutcome, LayoutError, QuarantineEntry, Review, SourceResult, Subject
from extract.reviews.settings import ReviewsSettings
from extract.reviews.text import clamp_score, clean_review_text, format_score, parse_iso_datetime, text_key

SOURCE = "tmdb"


def tmdb_numeric_id(value: str | None) -> str | None:
    """``"603"`` -> ``"603"``; a season's ``"46648:1"`` -> ``"46648"``; junk -> None."""
    if not value:
        return None
    head = str(value).split(":", 1)[0].strip()
    return head if head.isdigit() else None


def author_name(review: dict[str, Any]) -> str | None:
    details = review.get("author_details") or {}
    for candidate in (details.get("name"), details.get("username"), review.get("author")):
        if isinstance(candidate, str) and candidate.strip():
            return candidate.strip()
    return None


def parse_rating(value: Any) -> tuple[str | None, float | None]:
    """``author_details.rating``: float, int or null -> (as published, 0–10)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None, None
    return format_score(value), clamp_score(value)


def parse_reviews(payload: Any, title_id: str, max_chars: int) -> list[Review]:
    """Reviews in a TMDB reviews response. Raises :class:`LayoutError` when the shape is not a reviews page."""
    if not isinstance(payload, dict) or not isinstance(payload.get("results"), list):
        raise LayoutError("TMDB response has no 'results' list")
    reviews: list[Review] = []
    for item in payload["results"]:
        if not isinstance(item, dict):
            continue
        raw = item.get("content")
        if not isinstance(raw, str):
            continue
        text = clean_review_text(raw, max_chars, markdown=True)
        if not text:
            continue
        original, normalised = parse_rating((item.get("author_details") or {}).get("rating"))
        url = item.get("url") if isinstance(item.get("url"), str) and item.get("url") else None
        reviews.append(
            Review(
                title_id=title_id,
                source=SOURCE,
                review_key=url or text_key(text),
                author=author_name(item),
                review_text=text,
                original_score=original,
                score_normalized=normalised,
                review_url=url,
                published_at=parse_iso_datetime(item.get("created_at")),
            )
        )
    return reviews


def error_message(body: str) -> str:
    """The ``status_message`` of a TMDB error body (JSON of either shape, or an HTML page)."""
    try:
        data = json.loads(body)
    except ValueError:
        return "non-JSON error page"
    if isinstance(data, dict):
        if data.get("status_message"):
            return f"{data['status_message']} (status_code {data.get('status_code')})"
        if isinstance(data.get("errors"), list):
            return "; ".join(str(e) for e in data["errors"])
    return "unrecognised error body"


def fetch_tmdb(subject: Subject, client: HttpClient, settings: ReviewsSettings, as_of: date) -> SourceResult:
    def outcome(status: str, reason: str | None = None, found: int = 0) -> FetchOutcome:
        return FetchOutcome(title_id=subject.title_id, source=SOURCE, status=status, reason=reason,
                            reviews_found=found)

    api_key = settings.api_key(SOURCE)
    if not api_key:
        return SourceResult(outcome=outcome("skipped", "no TMDB_API_KEY"))
    tmdb_id = tmdb_numeric_id(subject.tmdb_id)
    if not tmdb_id:
        return SourceResult(outcome=outcome("not_found", "title has no TMDB id"))
    kind = "movie" if subject.content_type == "movie" else "tv"
    url = f"{settings.base_url(SOURCE)}/3/{kind}/{tmdb_id}/reviews"
    params = {"language": settings.language, "page": 1, "api_key": api_key}
    try:
        response = client.get(url, params, source=SOURCE)
    except FetchError as exc:
        return SourceResult(outcome=outcome("error", str(exc)))
    if response.status == 404:
        return SourceResult(outcome=outcome("not_found", f"TMDB 404: {error_message(response.text)}"))
    if response.status != 200:
        return SourceResult(outcome=outcome(
            "error", f"TMDB HTTP {response.status} after {response.attempts} attempt(s): {error_message(response.text)}"))
    try:
        reviews = parse_reviews(json.loads(response.text), subject.title_id, settings.max_review_chars)
    except (ValueError, LayoutError) as exc:
        reason = f"unreadable TMDB reviews response: {exc}"
        entry = QuarantineEntry.build(SOURCE, subject.title_id, reason, response.text, as_of)
        return SourceResult(outcome=outcome("error", reason), quarantine=[entry])
    if not reviews:
        return SourceResult(outcome=outcome("no_reviews", "TMDB has no reviews for this title"))
    return SourceResult(outcome=outcome("ok", None, len(reviews)), reviews=reviews)
