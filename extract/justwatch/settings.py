"""Constants and the GraphQL document of the JustWatch extract, and its settings (config section ``justwatch``)."""

from __future__ import annotations

from core import raw_spec, step_names
from core.config import Settings
from core.retry import RetryPolicy
from core.settings_schema import JustWatchSection
from core.warehouse import RAW_JUSTWATCH

WEB_ORIGIN = "https://www.justwatch.com"
PLATFORM = "WEB"  # the GraphQL ``Platform`` the offers are asked for
OBJECT_TYPES = raw_spec.OBJECT_TYPES  # the raw_justwatch.titles contract owns them
SOURCE_NAME = "justwatch"
DATASET_NAME = RAW_JUSTWATCH
PIPELINE_NAME = "justwatch"
STEP_NAME = step_names.EXTRACT_RELEASES

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


class JustWatchSettings(JustWatchSection):
    """Everything the client and the source need: the ``justwatch`` section, validated (page size, language,
    object types) when the settings load. Immutable; ``with_changes`` in tests."""

    @property
    def retry_policy(self) -> RetryPolicy:
        """The client's retries: jittered backoff, Retry-After honoured up to ``max_retry_after_s``."""
        return RetryPolicy.of(self)

    @classmethod
    def from_settings(cls, settings: Settings) -> JustWatchSettings:
        return cls.model_validate(settings.typed.justwatch.model_dump())
