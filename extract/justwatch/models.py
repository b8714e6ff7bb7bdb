"""Typed boundaries of the JustWatch extract: request variables, response nodes, and the flat raw record.

Response models are lenient about extra fields (the service adds fields freely) and strict about the few
that identify a title: a node without ``id``, ``objectType`` or ``content`` does not validate and is
quarantined by the parser.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core import raw_spec
from core.quarantine import QuarantineRecord

__all__ = ["QuarantineRecord"]  # one row of raw_justwatch.quarantine

ObjectType = Literal[raw_spec.OBJECT_TYPES]  # type: ignore[valid-type]  # the raw_justwatch contract owns them


class _Response(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


# ---- request ----------------------------------------------------------------------------------------
class TitleFilter(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    packages: list[str] = Field(default_factory=list)
    object_types: list[str] = Field(default_factory=list, alias="objectTypes")


class NewTitlesVariables(BaseModel):
    """Variables of ``GetNewTitles``; ``model_dump(by_alias=True)`` is the JSON the service expects."""

    model_config = ConfigDict(populate_by_name=True)

    country: str = Field(pattern=r"^[A-Z]{2}$")
    date: date
    language: str = Field(pattern=r"^[a-z]{2}(-[0-9A-Z]+)?$")
    platform: str = "WEB"
    first: int = Field(ge=1, le=100)
    after: str | None = None
    filter: TitleFilter = Field(default_factory=TitleFilter)
    price_drops: bool = Field(default=False, alias="priceDrops")
    page_type: Literal["NEW"] = Field(default="NEW", alias="pageType")

    def as_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


# ---- response ---------------------------------------------------------------------------------------
class Package(_Response):
    package_id: int | None = Field(default=None, alias="packageId")
    clear_name: str | None = Field(default=None, alias="clearName")
    short_name: str | None = Field(default=None, alias="shortName")
    technical_name: str | None = Field(default=None, alias="technicalName")


class Offer(_Response):
    monetization_type: str | None = Field(default=None, alias="monetizationType")
    presentation_type: str | None = Field(default=None, alias="presentationType")
    package: Package | None = None


class NewOffer(Offer):
    date_created: str | None = Field(default=None, alias="dateCreated")


class Genre(_Response):
    short_name: str | None = Field(default=None, alias="shortName")


class ExternalIds(_Response):
    imdb_id: str | None = Field(default=None, alias="imdbId")
    tmdb_id: str | None = Field(default=None, alias="tmdbId")

    @field_validator("tmdb_id", "imdb_id", mode="before")
    @classmethod
    def _as_text(cls, value: Any) -> Any:
        """TMDB ids are strings (``"603"``, seasons ``"46648:1"``); some payloads send numbers."""
        if isinstance(value, bool):
            return None
        if isinstance(value, int | float):
            return str(int(value))
        return value or None


class Credit(_Response):
    role: str | None = None
    name: str | None = None
    character_name: str | None = Field(default=None, alias="characterName")


class Scoring(_Response):
    imdb_score: float | None = Field(default=None, alias="imdbScore")
    imdb_votes: float | None = Field(default=None, alias="imdbVotes")
    tomato_meter: int | None = Field(default=None, alias="tomatoMeter", ge=0, le=100)


class Content(_Response):
    title: str | None = None
    original_title: str | None = Field(default=None, alias="originalTitle")
    original_release_year: int | None = Field(default=None, alias="originalReleaseYear")
    original_release_date: str | None = Field(default=None, alias="originalReleaseDate")
    runtime: int | None = None
    short_description: str | None = Field(default=None, alias="shortDescription")
    age_certification: str | None = Field(default=None, alias="ageCertification")
    full_path: str | None = Field(default=None, alias="fullPath")
    genres: list[Genre] | None = None
    external_ids: ExternalIds | None = Field(default=None, alias="externalIds")
    credits: list[Credit] | None = None
    production_countries: list[str] | None = Field(default=None, alias="productionCountries")
    season_number: int | None = Field(default=None, alias="seasonNumber")
    scoring: Scoring | None = None


class ShowContent(_Response):
    title: str | None = None
    full_path: str | None = Field(default=None, alias="fullPath")
    external_ids: ExternalIds | None = Field(default=None, alias="externalIds")


class ShowRef(_Response):
    id: str = Field(min_length=1)
    object_id: int | None = Field(default=None, alias="objectId")
    content: ShowContent | None = None


class TitleNode(_Response):
    typename: str | None = Field(default=None, alias="__typename")
    id: str = Field(min_length=1)
    object_id: int = Field(alias="objectId")
    object_type: str = Field(alias="objectType")
    content: Content
    offers: list[Offer] | None = None
    show: ShowRef | None = None


class PageInfo(_Response):
    end_cursor: str | None = Field(default=None, alias="endCursor")
    has_next_page: bool = Field(default=False, alias="hasNextPage")


class Edge(_Response):
    """An edge; ``node`` stays raw here so one malformed node cannot fail its page."""

    cursor: str | None = None
    new_offer: dict[str, Any] | None = Field(default=None, alias="newOffer")
    node: Any = None


class NewTitlesConnection(_Response):
    total_count: int | None = Field(default=None, alias="totalCount")
    edges: list[Edge] = Field(default_factory=list)
    page_info: PageInfo = Field(alias="pageInfo")


# ---- raw records (docs/raw-tables.md: raw_justwatch.titles and raw_justwatch.quarantine) -------------
class CreditRecord(BaseModel):
    role: str | None = None
    name: str | None = None
    character_name: str | None = None


class OfferRecord(BaseModel):
    monetization_type: str | None = None
    presentation_type: str | None = None
    package_clear_name: str | None = None
    package_short_name: str | None = None


class TitleRecord(BaseModel):
    """One row of ``raw_justwatch.titles``; list fields become dlt child tables ``titles__<field>``."""

    id: str
    object_type: ObjectType
    object_id: int
    title: str | None = None
    original_title: str | None = None
    original_release_year: int | None = None
    original_release_date: str | None = None
    runtime_minutes: int | None = None
    short_description: str | None = None
    age_certification: str | None = None
    full_path: str | None = None
    original_language: str | None = None
    imdb_id: str | None = None
    tmdb_id: str | None = None
    imdb_score: float | None = None
    tomato_meter: int | None = None
    season_number: int | None = None
    show_id: str | None = None
    show_title: str | None = None
    show_full_path: str | None = None
    show_tmdb_id: str | None = None
    show_imdb_id: str | None = None
    country: str
    new_since: date
    new_offer_package: str | None = None
    extracted_at: datetime
    genres: list[str] = Field(default_factory=list)
    production_countries: list[str] = Field(default_factory=list)
    credits: list[CreditRecord] = Field(default_factory=list)
    offers: list[OfferRecord] = Field(default_factory=list)

    def as_row(self) -> dict[str, Any]:
        return self.model_dump()
