"""Settings of the review extract: the ``reviews`` section (core.settings_schema) with the API keys.

config/base.yaml holds every default; this module holds none.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field

from core import raw_spec
from core.config import Settings
from core.retry import RetryPolicy
from core.settings_schema import ReviewSource, ReviewsSection

SOURCES = raw_spec.REVIEW_SOURCES
SECRET_FOR_SOURCE = {"tmdb": "TMDB_API_KEY", "guardian": "GUARDIAN_API_KEY"}

# Most requests one fetch of one title can cost per source, before retries (RogerEbert: three slug guesses).
REQUESTS_PER_FETCH = {"tmdb": 1, "rogerebert": 3, "guardian": 1}


class ReviewsSettings(ReviewsSection):
    """Everything the review adapters and the HTTP helper need: the ``reviews`` section, its cache folder
    resolved against the project root, and the sources' API keys. Immutable; ``with_changes`` in tests."""

    cache_dir: Path | None
    api_keys: Annotated[dict[str, str | None], Field(repr=False)]  # secrets: never in a repr or a log

    def source(self, source: str) -> ReviewSource:
        """``reviews.<source>``."""
        section: ReviewSource = getattr(self, source)
        return section

    def base_url(self, source: str) -> str:
        return self.source(source).base_url.rstrip("/")

    def is_enabled(self, source: str) -> bool:
        return self.source(source).enabled

    def api_key(self, source: str) -> str | None:
        return self.api_keys.get(source) or None

    def daily_budget(self, source: str) -> int:
        return self.source(source).daily_budget

    def refresh_days_for(self, source: str) -> tuple[int, ...]:
        return self.source(source).refresh_days or self.refresh_days

    @property
    def refresh_horizon(self) -> int:
        """The last refresh day of any source."""
        return max(day for source in SOURCES for day in self.refresh_days_for(source))

    def refreshes_after_found(self, source: str) -> bool:
        return self.source(source).refresh_after_found

    @property
    def retry_policy(self) -> RetryPolicy:
        """The sites' retries: plain doubling, Retry-After honoured up to ``max_retry_after_s``."""
        return RetryPolicy.of(self)

    @classmethod
    def from_settings(cls, settings: Settings) -> ReviewsSettings:
        section = settings.typed.reviews
        cache_dir = settings.path("reviews.cache_dir") if section.cache_dir else None
        api_keys = {source: settings.secrets.get(name) for source, name in SECRET_FOR_SOURCE.items()}
        return cls.model_validate({**section.model_dump(), "cache_dir": cache_dir, "api_keys": api_keys})
