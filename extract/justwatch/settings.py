"""Defaults, constants and the GraphQL document of the JustWatch extract (config section ``justwatch``)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

from core import raw_spec
from core.config import ConfigError, Settings
from core.retry import RetryPolicy

DEFAULT_GRAPHQL_URL = "https://apis.justwatch.com/graphql"
DEFAULT_USER_AGENT = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"
)
WEB_ORIGIN = "https://www.justwatch.com"
MAX_PAGE_SIZE = 100  # the service answers TOO_BIG from ~150; 100 is the largest size clients use safely
MAX_BACKOFF_S = 60.0
OBJECT_TYPES = raw_spec.OBJECT_TYPES  # the raw_justwatch.titles contract owns them
SOURCE_NAME = "justwatch"
DATASET_NAME = "raw_justwatch"
PIPELINE_NAME = "justwatch"
STEP_NAME = "extract_releases"

OPERATION_NAME = "GetNewTitles"

# One operation, every declared variable used (the service rejects unused ones). `language` and `platform`
# are not newTitles arguments: they parametrise `content`, `newOffer` and `offers` inside it.
GET_NEW_TITLES = """
query GetNewTitles(
  $country: Country!
  $date: Date!
  $language: Language!
  $platform: Platform!
  $first: Int!
  $after: String
  $filter: TitleFilter
  $priceDrops: Boolean!
  $pageType: NewPageType!
) {
  newTitles(
    country: $country
    date: $date
    first: $first
    after: $after
    filter: $filter
    priceDrops: $priceDrops
    pageType: $pageType
  ) {
    totalCount
    edges {
      cursor
      newOffer(platform: $platform) {
        id
        monetizationType
        presentationType
        dateCreated
        availableTo
        package { id packageId clearName shortName technicalName __typename }
        __typename
      }
      node {
        __typename
        id
        ... on MovieOrShowOrSeason {
          objectId
          objectType
          content(country: $country, language: $language) {
            title
            originalReleaseYear
            originalReleaseDate
            runtime
            shortDescription
            fullPath
            isReleased
            genres { shortName __typename }
            externalIds { imdbId tmdbId __typename }
            scoring { imdbScore imdbVotes tmdbScore tomatoMeter certifiedFresh __typename }
            ... on MovieOrShowContent {
              originalTitle
              ageCertification
              productionCountries
              credits { role name characterName personId __typename }
            }
            ... on SeasonContent { seasonNumber }
            __typename
          }
          offers(country: $country, platform: $platform, filter: {bestOnly: true}) {
            monetizationType
            presentationType
            standardWebURL
            retailPrice(language: $language)
            currency
            availableTo
            package { packageId clearName shortName technicalName __typename }
            __typename
          }
        }
        ... on Season {
          totalEpisodeCount
          show {
            __typename
            id
            objectId
            objectType
            content(country: $country, language: $language) {
              title
              fullPath
              externalIds { imdbId tmdbId __typename }
              __typename
            }
          }
        }
      }
      __typename
    }
    pageInfo { endCursor hasNextPage hasPreviousPage __typename }
    __typename
  }
}
""".strip()


@dataclass(frozen=True)
class JustWatchSettings:
    """Everything the client and the source need; immutable and easy to build in tests."""

    graphql_url: str = DEFAULT_GRAPHQL_URL
    language: str = "en"
    page_size: int = MAX_PAGE_SIZE
    packages: tuple[str, ...] = ()
    object_types: tuple[str, ...] = ()
    timeout_s: float = 30.0
    country_concurrency: int = 4
    max_retries: int = 5
    backoff_base_s: float = 1.0
    max_backoff_s: float = MAX_BACKOFF_S
    max_retry_after_s: float | None = 600.0
    retry_jitter: bool = True
    retry_deadline_s: float | None = None
    retry_statuses: tuple[int, ...] = (429, 500, 502, 503, 504)
    user_agent: str = DEFAULT_USER_AGENT
    platform: str = "WEB"
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 1 <= int(self.page_size) <= MAX_PAGE_SIZE:
            raise ConfigError(
                f"justwatch.page_size={self.page_size} is out of range: use 1..{MAX_PAGE_SIZE} "
                "(JustWatch rejects larger pages with TOO_BIG)"
            )
        if not re.fullmatch(r"[a-z]{2}(-[0-9A-Z]+)?", self.language):
            raise ConfigError(
                f"justwatch.language={self.language!r} is not a JustWatch language code (e.g. en, pt-BR)"
            )
        unknown = [t for t in self.object_types if t not in OBJECT_TYPES]
        if unknown:
            raise ConfigError(
                f"justwatch.object_types has unknown values {unknown}: use {', '.join(OBJECT_TYPES)}"
            )
        if int(self.max_retries) < 0:
            raise ConfigError("justwatch.max_retries must be >= 0")
        if int(self.country_concurrency) < 1:
            raise ConfigError("justwatch.country_concurrency must be >= 1")

    def with_changes(self, **changes: Any) -> JustWatchSettings:
        return replace(self, **changes)

    @property
    def retry_policy(self) -> RetryPolicy:
        """The client's retries: jittered backoff, Retry-After honoured up to ``max_retry_after_s``."""
        return RetryPolicy.of(self)

    @classmethod
    def from_settings(cls, settings: Settings) -> JustWatchSettings:
        section = settings.section("justwatch")
        d = cls.__dataclass_fields__

        def pick(key: str, cast: Any) -> Any:
            value = section.get(key)
            return d[key].default if value in (None, "") else cast(value)

        def optional(key: str) -> float | None:
            value = section.get(key)
            return None if value in (None, "") else float(value)

        def strings(key: str) -> tuple[str, ...]:
            value = section.get(key) or []
            if isinstance(value, str):
                value = [v for v in value.split(",") if v.strip()]
            return tuple(str(v).strip() for v in value)

        try:
            return cls(
                graphql_url=pick("graphql_url", str),
                language=pick("language", str),
                page_size=pick("page_size", int),
                packages=strings("packages"),
                object_types=tuple(t.upper() for t in strings("object_types")),
                timeout_s=pick("timeout_s", float),
                country_concurrency=pick("country_concurrency", int),
                max_retries=pick("max_retries", int),
                backoff_base_s=pick("backoff_base_s", float),
                max_backoff_s=pick("max_backoff_s", float),
                max_retry_after_s=optional("max_retry_after_s"),
                retry_jitter=pick("retry_jitter", bool),
                retry_deadline_s=optional("retry_deadline_s"),
                retry_statuses=tuple(
                    int(v) for v in section.get("retry_statuses") or d["retry_statuses"].default
                ),
                user_agent=pick("user_agent", str),
            )
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"invalid justwatch setting: {exc}") from exc
