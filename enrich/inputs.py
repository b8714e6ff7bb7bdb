"""The enrichment input (one row of ``marts.titles_enrichment_input``) as typed models.

Parsing is pure: :func:`parse_input_row` turns a warehouse row into a :class:`TitleInput` or raises
:class:`InputError` naming what is wrong, so the runner can store a failed row with that reason.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from core.text import parse_list


class InputError(ValueError):
    """An input row cannot be used (e.g. ``scraped_reviews`` is not a JSON array)."""


class ReviewInput(BaseModel):
    source_name: str = ""
    author: str | None = None
    review_text: str = ""
    original_score: str | None = None
    score_normalized: float | None = Field(default=None, ge=0, le=10)
    review_url: str | None = None


class TitleInput(BaseModel):
    id: str
    title: str
    content_type: str | None = None
    release_year: int | None = None
    synopsis: str | None = None
    source_genres: list[str] = Field(default_factory=list)
    reviews: list[ReviewInput] = Field(default_factory=list)
    source_data_hash: str
    imdb_score: float | None = None
    tomato_meter: float | None = None


def parse_reviews(value: Any) -> list[ReviewInput]:
    """``scraped_reviews`` JSON text -> reviews; null/empty means no reviews. Reviews without text are dropped."""
    data = _reviews_data(value)
    if data is None:
        return []
    if not isinstance(data, list):
        raise InputError(f"scraped_reviews must be a JSON array, got {type(data).__name__}")
    reviews = [_review(index, item) for index, item in enumerate(data)]
    return [review for review in reviews if review.review_text.strip()]


def _reviews_data(value: Any) -> Any:
    """``scraped_reviews`` decoded (None for null or blank text); raises :class:`InputError` on bad JSON."""
    if not isinstance(value, str):
        return value
    if not value.strip():
        return None
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        raise InputError(f"scraped_reviews is not valid JSON: {exc.msg} at char {exc.pos}") from exc


def _review(index: int, item: Any) -> ReviewInput:
    """Item ``index`` of ``scraped_reviews`` as a review; null fields take the model's defaults."""
    if not isinstance(item, dict):
        raise InputError(f"scraped_reviews[{index}] is not an object")
    try:
        return ReviewInput.model_validate({k: v for k, v in item.items() if v is not None})
    except ValidationError as exc:
        raise InputError(f"scraped_reviews[{index}]: {exc.errors()[0]['msg']}") from exc


def _optional_float(value: Any) -> float | None:
    try:
        return None if value is None or value == "" else float(value)
    except (TypeError, ValueError):
        return None


def parse_input_row(row: dict[str, Any]) -> TitleInput:
    """One warehouse row -> :class:`TitleInput`; extra columns (e.g. ``imdb_score``) are used when present."""
    for required in ("id", "source_data_hash"):
        if not row.get(required):
            raise InputError(f"input row has no {required}")
    year = row.get("release_year")
    try:
        release_year = int(year) if year not in (None, "") else None
    except (TypeError, ValueError):
        release_year = None
    return TitleInput(
        id=str(row["id"]),
        title=str(row.get("title") or ""),
        content_type=row.get("content_type"),
        release_year=release_year,
        synopsis=row.get("synopsis"),
        source_genres=parse_list(row.get("source_genres")),
        reviews=parse_reviews(row.get("scraped_reviews")),
        source_data_hash=str(row["source_data_hash"]),
        imdb_score=_optional_float(row.get("imdb_score") or row.get("imdb_rating")),
        tomato_meter=_optional_float(row.get("tomato_meter")),
    )
