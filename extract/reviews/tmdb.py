"""TMDB v3 reviews: ``GET /3/movie/{id}/reviews`` and ``/3/tv/{id}/reviews`` (members' reviews).

Credentials: ``TMDB_API_KEY`` holds either TMDB's default v4 *API Read Access Token* (a JWT, ``eyJ…``),
sent as ``Authorization: Bearer``, or a v3 API key, sent as the ``api_key`` query parameter. A 401
(``status_code`` 7 invalid key, 3 authentication failed, 32 email not verified, 10 suspended, …) stops the
source for the run (:class:`SourceStopped`).

``parse_reviews``/``parse_review_items`` are pure (JSON in, reviews and rejected records out);
``fetch_tmdb`` does the HTTP and maps what the API answered to a :class:`FetchOutcome`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from functools import partial
from typing import Any

from pydantic import ValidationError

from extract.reviews.http import FetchError, HttpClient, HttpResponse
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
from extract.reviews.text import clamp_score, clean_review_text, format_score, parse_iso_datetime, text_key

SOURCE = "tmdb"
AUTH_STATUS_CODES = {
    3: "authentication failed",
    7: "invalid API key",
    10: "API key suspended",
    32: "email not verified",
}


def is_read_access_token(credential: str) -> bool:
    """TMDB's v4 API Read Access Token is a JWT (three base64url parts, the first ``eyJ``); a v3 key is 32 hex."""
    return credential.startswith("eyJ") and credential.count(".") == 2


def auth(credential: str) -> tuple[dict[str, str], dict[str, str]]:
    """(query parameters, headers) that authenticate ``credential`` (either kind)."""
    if is_read_access_token(credential):
        return {}, {"Authorization": f"Bearer {credential}"}
    return {"api_key": credential}, {}


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


def _rejected(item: Any, reason: str) -> RecordRejected:
    return RecordRejected(f"TMDB review record rejected: {reason}", json.dumps(item, default=str)[:4000])


def _review_url(item: dict) -> str | None:
    url = item.get("url")
    return url if isinstance(url, str) and url else None


def _details_problem(item: dict) -> str | None:
    details = item.get("author_details")
    if details is not None and not isinstance(details, dict):
        return f"author_details is {type(details).__name__}, not an object"
    return None


def _content_problem(item: dict) -> str | None:
    raw = item.get("content")
    if raw is None:
        return "no content"
    return None if isinstance(raw, str) else f"content is {type(raw).__name__}, not text"


def _identity_problem(item: dict) -> str | None:
    if not _review_url(item) and not (isinstance(item.get("id"), str) and item.get("id")):
        return "neither id nor url (no identity)"
    return None


def _rating_problem(item: dict) -> str | None:
    rating = (item.get("author_details") or {}).get("rating")
    if rating is not None and (isinstance(rating, bool) or not isinstance(rating, int | float)):
        return f"author_details.rating is {type(rating).__name__} {rating!r}, not a number"
    return None


def _entry_problem(item: Any) -> str | None:
    """Why one entry of ``results`` cannot be a review (wrong types, no text, no identity); None when it can."""
    if not isinstance(item, dict):
        return f"entry is {type(item).__name__}, not an object"
    checks = (_details_problem, _content_problem, _identity_problem, _rating_problem)
    return next((problem for check in checks if (problem := check(item))), None)


def parse_review_item(item: Any, title_id: str, max_chars: int) -> Review | None:
    """One entry of ``results``: a review, None when it has no text, or :class:`RecordRejected`."""
    problem = _entry_problem(item)
    if problem:
        raise _rejected(item, problem)
    raw, url, rating = item["content"], _review_url(item), (item.get("author_details") or {}).get("rating")
    text = clean_review_text(raw, max_chars, markdown=True)
    if not text:
        return None
    original, normalised = parse_rating(rating)
    try:
        return Review(
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
    except ValidationError as exc:
        raise _rejected(
            item, f"invalid review ({exc.error_count()} error(s): {exc.errors()[0]['msg']})"
        ) from exc


def parse_review_items(
    payload: Any, title_id: str, max_chars: int
) -> tuple[list[Review], list[RecordRejected]]:
    """Reviews and rejected records of a TMDB reviews response. Raises :class:`LayoutError` when it is not one."""
    if not isinstance(payload, dict) or not isinstance(payload.get("results"), list):
        raise LayoutError("TMDB response has no 'results' list")
    return collect_reviews(payload["results"], lambda item: parse_review_item(item, title_id, max_chars))


def parse_reviews(payload: Any, title_id: str, max_chars: int) -> list[Review]:
    """Reviews in a TMDB reviews response (malformed entries left out). Raises :class:`LayoutError`."""
    return parse_review_items(payload, title_id, max_chars)[0]


def status_code(body: str) -> int | None:
    try:
        data = json.loads(body)
    except ValueError:
        return None
    code = data.get("status_code") if isinstance(data, dict) else None
    return code if isinstance(code, int) and not isinstance(code, bool) else None


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
    outcome = partial(FetchOutcome, title_id=subject.title_id, source=SOURCE)
    credential = settings.api_key(SOURCE)
    if not credential:
        return SourceResult(outcome=outcome(status="skipped", reason="no TMDB_API_KEY"))
    tmdb_id = tmdb_numeric_id(subject.tmdb_id)
    if not tmdb_id:
        return SourceResult(outcome=outcome(status="not_found", reason="title has no TMDB id"))
    kind = "movie" if subject.content_type == "movie" else "tv"
    url = f"{settings.base_url(SOURCE)}/3/{kind}/{tmdb_id}/reviews"
    auth_params, auth_headers = auth(credential)
    params = {"language": settings.language, "page": 1, **auth_params}
    try:
        response = client.get(url, params, source=SOURCE, headers=auth_headers)
    except FetchError as exc:
        return SourceResult(outcome=outcome(status="error", reason=str(exc)))
    if response.status != 200:
        return _http_failure(response, bool(auth_headers), outcome)
    return _reviews_result(response, subject, settings, as_of, outcome)


def _http_failure(response: HttpResponse, bearer: bool, outcome: Callable[..., FetchOutcome]) -> SourceResult:
    """A non-200 answer: 401 stops the source (the credential is wrong), 404 is not found, else an error."""
    if response.status == 401:
        code = status_code(response.text)
        kind_of_credential = "read access token (Bearer)" if bearer else "v3 api_key"
        meaning = f", {AUTH_STATUS_CODES[code]}" if code in AUTH_STATUS_CODES else ""
        raise SourceStopped(
            f"TMDB rejected the {kind_of_credential} in TMDB_API_KEY (HTTP 401{meaning}): "
            f"{error_message(response.text)}"
        )
    if response.status == 404:
        return SourceResult(
            outcome=outcome(status="not_found", reason=f"TMDB 404: {error_message(response.text)}")
        )
    reason = (
        f"TMDB HTTP {response.status} after {response.attempts} attempt(s): {error_message(response.text)}"
    )
    return SourceResult(outcome=outcome(status="error", reason=reason), blocked=response.status == 403)


def _reviews_result(
    response: HttpResponse,
    subject: Subject,
    settings: ReviewsSettings,
    as_of: date,
    outcome: Callable[..., FetchOutcome],
) -> SourceResult:
    """The reviews of a 200 answer; malformed records and an unreadable body are quarantined."""
    try:
        reviews, rejected = parse_review_items(
            json.loads(response.text), subject.title_id, settings.max_review_chars
        )
    except (ValueError, LayoutError) as exc:
        reason = f"unreadable TMDB reviews response: {exc}"
        return SourceResult.unreadable(SOURCE, subject.title_id, reason, response.text, as_of)
    quarantine = quarantined(SOURCE, subject.title_id, rejected, as_of)
    if not reviews:
        reason = "TMDB has no reviews for this title"
        if rejected:
            reason += f" ({len(rejected)} malformed record(s) quarantined)"
        return SourceResult(outcome=outcome(status="no_reviews", reason=reason), quarantine=quarantine)
    return SourceResult(
        outcome=outcome(status="ok", reviews_found=len(reviews)), reviews=reviews, quarantine=quarantine
    )
