"""The Guardian Content API: film and TV reviews from ``/search`` (JSON, string-valued ``fields``).

A result is ours when its IMDb reference is our ``imdb_id``; without references, when its headline
starts with "<title> review" (a show's also "<title> season 2 review", "<title> series two review",
"<title>: season 3 review") and it was published within ±1 year of the title's year (a show: any
year from the one before its first season on, since later seasons are reviewed years after).
A 401/403 means the key is rejected: the source stops for the run (:class:`SourceStopped`).
``parse_search``/``match_results`` are pure; ``fetch_guardian`` does the HTTP.
"""

from __future__ import annotations

import json
import re
from datetime import date
from functools import partial
from typing import Any

from pydantic import BaseModel, Field

from extract.reviews.http import FetchError, HttpClient
from extract.reviews.models import (
    FetchOutcome,
    LayoutError,
    RecordRejected,
    Review,
    SourceResult,
    SourceStopped,
    Subject,
    collect_reviews,
    quarantined,
)
from extract.reviews.settings import ReviewsSettings
from extract.reviews.text import clean_review_text, parse_iso_datetime, text_key, title_match_key

SOURCE = "guardian"
FILM_TAG = "film/film,tone/reviews"
TV_TAG = "tv-and-radio/tv-and-radio,tone/reviews"
MAX_STARS = 5
_NUMBER_WORDS = "one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve"
# after the title key: optional "season N" / "series N" (title_match_key drops punctuation such as ":" or "–")
_SEASON = rf"(?: (?:season|series) (?:\d+|{_NUMBER_WORDS}))?"


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


def parse_search_items(payload: Any) -> tuple[list[GuardianItem], list[RecordRejected]]:
    """Results of a ``/search`` response and the malformed ones. Raises GuardianApiError / LayoutError."""
    items: list[GuardianItem] = []
    rejected: list[RecordRejected] = []
    for raw in _search_results(payload):
        problem = _result_problem(raw)
        if problem:
            rejected.append(
                RecordRejected(f"Guardian result rejected: {problem}", json.dumps(raw, default=str)[:4000])
            )
        else:
            items.append(_item(raw))
    return items, rejected


def _search_results(payload: Any) -> list[Any]:
    """The ``response.results`` list; an error status is a GuardianApiError, another shape a LayoutError."""
    response = payload.get("response") if isinstance(payload, dict) else None
    if not isinstance(response, dict):
        raise LayoutError("Guardian response has no 'response' object")
    if response.get("status") == "error":
        raise GuardianApiError(str(response.get("message") or "unknown error"))
    results = response.get("results")
    if not isinstance(results, list):
        raise LayoutError("Guardian response has no 'results' list")
    return results


def _result_problem(raw: Any) -> str | None:
    """Why one result cannot be read; None when it can."""
    if not isinstance(raw, dict):
        return f"result is {type(raw).__name__}, not an object"
    if not isinstance(raw.get("id"), str) or not raw.get("id"):
        return "result has no id (no identity)"
    if raw.get("fields") is not None and not isinstance(raw.get("fields"), dict):
        return f"fields is {type(raw.get('fields')).__name__}, not an object"
    return None


def _imdb_refs(raw: dict) -> list[str]:
    refs = [
        str(ref.get("id", "")).removeprefix("imdb/")
        for ref in raw.get("references") or []
        if isinstance(ref, dict) and (ref.get("type") == "imdb" or str(ref.get("id", "")).startswith("imdb/"))
    ]
    return [r for r in refs if r]


def _text_or_none(raw: dict, key: str) -> str | None:
    value = raw.get(key)
    return value if isinstance(value, str) else None


def _item(raw: dict) -> GuardianItem:
    return GuardianItem(
        id=str(raw["id"]),
        web_title=str(raw.get("webTitle") or ""),
        web_url=_text_or_none(raw, "webUrl"),
        published=_text_or_none(raw, "webPublicationDate"),
        fields=raw.get("fields") or {},
        imdb_refs=_imdb_refs(raw),
    )


def parse_search(payload: Any) -> list[GuardianItem]:
    """Results of a ``/search`` response (malformed ones left out). Raises GuardianApiError / LayoutError."""
    return parse_search_items(payload)[0]


def headline_matches(headline: str, subject: Subject) -> bool:
    """ "<title> review …"; for a show also "<title> season 2 review …" / "<title> series two review …"."""
    key = re.escape(title_match_key(subject.title))
    season = _SEASON if subject.content_type == "show" else ""
    return re.match(rf"{key}{season} review\b", title_match_key(headline)) is not None


def parse_star_rating(value: Any) -> tuple[str | None, float | None]:
    """``"4"`` -> ("4/5", 8.0); absent or unreadable -> (None, None)."""
    try:
        stars = int(str(value).strip())
    except (TypeError, ValueError):
        return None, None
    if not 0 <= stars <= MAX_STARS:
        return None, None
    return f"{stars}/{MAX_STARS}", stars * 10.0 / MAX_STARS


def _publication_mismatch(item: GuardianItem, subject: Subject) -> str | None:
    """A review published more than a year before the title, or (a film) more than a year after it."""
    published = parse_iso_datetime(item.published)
    if not (subject.year and published):
        return None
    too_early = published.year < subject.year - 1
    too_late = subject.content_type == "movie" and published.year > subject.year + 1
    return f"{item.id}: published {published.year}, ours is {subject.year}" if too_early or too_late else None


def match_reason(item: GuardianItem, subject: Subject) -> str | None:
    """Why ``item`` is not a review of ``subject``; None when it is (an IMDb reference decides when both have one)."""
    if item.imdb_refs and subject.imdb_id:
        if subject.imdb_id in item.imdb_refs:
            return None
        return f"{item.id}: IMDb reference {','.join(item.imdb_refs)} is not {subject.imdb_id}"
    if not headline_matches(item.headline, subject):
        return f"{item.id}: headline {item.headline!r} is not a review of {subject.title!r}"
    return _publication_mismatch(item, subject)


def match_results(items: list[GuardianItem], subject: Subject) -> tuple[list[GuardianItem], list[str]]:
    """Split results into ours and the reasons the others were rejected."""
    accepted, rejected = [], []
    for item in items:
        reason = match_reason(item, subject)
        if reason:
            rejected.append(reason)
        else:
            accepted.append(item)
    return accepted, rejected


def to_review(item: GuardianItem, title_id: str, max_chars: int) -> Review | None:
    body = item.fields.get("bodyText")
    if body is None:
        return None
    if not isinstance(body, str):
        raise RecordRejected(
            f"Guardian result rejected: fields.bodyText is {type(body).__name__}, not text",
            json.dumps(item.model_dump(), default=str)[:4000],
        )
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


def fetch_guardian(
    subject: Subject, client: HttpClient, settings: ReviewsSettings, as_of: date
) -> SourceResult:
    outcome = partial(FetchOutcome, title_id=subject.title_id, source=SOURCE)
    api_key = settings.api_key(SOURCE)
    if not api_key:
        return SourceResult(outcome=outcome(status="skipped", reason="no GUARDIAN_API_KEY"))
    url = f"{settings.base_url(SOURCE)}/search"
    try:
        response = client.get(url, search_params(subject, api_key), source=SOURCE)
    except FetchError as exc:
        return SourceResult(outcome=outcome(status="error", reason=str(exc)))
    if response.status in (401, 403):
        raise SourceStopped(
            f"Guardian rejected GUARDIAN_API_KEY (HTTP {response.status}): {_error_text(response.text)}"
        )
    if response.status != 200:
        reason = f"Guardian HTTP {response.status} after {response.attempts} attempt(s)"
        return SourceResult(outcome=outcome(status="error", reason=reason))
    try:
        items, malformed = parse_search_items(json.loads(response.text))
    except GuardianApiError as exc:
        return SourceResult(outcome=outcome(status="error", reason=f"Guardian API error: {exc}"))
    except (ValueError, LayoutError) as exc:
        reason = f"unreadable Guardian search response: {exc}"
        return SourceResult.unreadable(SOURCE, subject.title_id, reason, response.text, as_of)
    return _search_result(items, malformed, subject, settings.max_review_chars, as_of)


def _search_result(
    items: list[GuardianItem],
    malformed: list[RecordRejected],
    subject: Subject,
    max_chars: int,
    as_of: date,
) -> SourceResult:
    """The reviews among the search results that match the title; the rest quarantined or named."""
    outcome = partial(FetchOutcome, title_id=subject.title_id, source=SOURCE)
    accepted, rejected = match_results(items, subject)
    reviews, unreadable = collect_reviews(accepted, lambda item: to_review(item, subject.title_id, max_chars))
    quarantine = quarantined(SOURCE, subject.title_id, [*malformed, *unreadable], as_of)
    if reviews:
        return SourceResult(
            outcome=outcome(status="ok", reviews_found=len(reviews)), reviews=reviews, quarantine=quarantine
        )
    if not items:
        return SourceResult(
            outcome=outcome(status="no_reviews", reason="Guardian search found no reviews"),
            quarantine=quarantine,
        )
    reason = "no matching Guardian review"
    if rejected:
        reason += "; " + "; ".join(rejected[:3])
    return SourceResult(outcome=outcome(status="not_found", reason=reason), quarantine=quarantine)


def _error_text(body: str) -> str:
    """The message of a Guardian error body (``{"message": …}`` or ``{"response": {"message": …}}``)."""
    try:
        data = json.loads(body)
    except ValueError:
        return "non-JSON error page"
    if isinstance(data, dict):
        inner = data.get("response") if isinstance(data.get("response"), dict) else data
        if inner.get("message"):
            return str(inner["message"])[:200]
    return "no message"
