"""Settings of the review extract, read from the ``reviews`` section of the config (defaults below)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from trending_now.config import Settings

SOURCES = ("tmdb", "rogerebert", "guardian")
SECRET_FOR_SOURCE = {"tmdb": "TMDB_API_KEY", "guardian": "GUARDIAN_API_KEY"}

DEFAULT_BASE_URLS = {
    "tmdb": "https://api.themoviedb.org",
    "rogerebert": "https://www.rogerebert.com",
    "guardian": "https://content.guardianapis.com",
}
DEFAULT_USER_AGENT = "TrendingNowBot/0.1 (+https://github.com/trending-now/trending-now)"


@dataclass(frozen=True)
class ReviewsSettings:
    """Everything the review adapters and the HTTP helper need; immutable and easy to build in tests."""

    max_reviews: int = 5
    concurrency: int = 4
    per_host_rps: float = 1.0
    timeout_s: float = 20.0
    max_retries: int = 3
    backoff_base_s: float = 1.0
    max_backoff_s: float = 60.0
    max_review_chars: int = 4000
    cache_dir: Path | None = None
    user_agent: str = DEFAULT_USER_AGENT
    language: str = "en-US"
    progress_every: int = 25
    base_urls: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_BASE_URLS))
    enabled: dict[str, bool] = field(default_factory=lambda: dict.fromkeys(SOURCES, True))
    api_keys: dict[str, str | None] = field(default_factory=dict, repr=False)

    def base_url(self, source: str) -> str:
        return self.base_urls.get(source, DEFAULT_BASE_URLS[source]).rstrip("/")

    def is_enabled(self, source: str) -> bool:
        return bool(self.enabled.get(source, True))

    def api_key(self, source: str) -> str | None:
        return self.api_keys.get(source) or None

    def with_changes(self, **changes: Any) -> ReviewsSettings:
        return replace(self, **changes)

    @classmethod
    def from_settings(cls, settings: Settings) -> ReviewsSettings:
        section = settings.section("reviews")
        defaults = cls()

        def num(key: str, cast: Any, default: Any) -> Any:
            value = section.get(key)
            return default if value in (None, "") else cast(value)

        cache_dir = settings.path("reviews.cache_dir") if section.get("cache_dir") else None
        base_urls = dict(DEFAULT_BASE_URLS)
        enabled = dict.fromkeys(SOURCES, True)
        for source in SOURCES:
            sub = section.get(source) or {}
            if sub.get("base_url"):
                base_urls[source] = str(sub["base_url"])
            if sub.get("enabled") is not None:
                enabled[source] = bool(sub["enabled"])
        api_keys = {source: settings.secrets.get(name) for source, name in SECRET_FOR_SOURCE.items()}
        language = str(settings.get("reviews.language") or defaults.language)
        return cls(
            max_reviews=num("max_reviews", int, defaults.max_reviews),
            concurrency=max(1, num("concurrency", int, defaults.concurrency)),
            per_host_rps=num("per_host_rps", float, defaults.per_host_rps),
            timeout_s=num("timeout_s", float, defaults.timeout_s),
            max_retries=max(0, num("max_retries", int, defaults.max_retries)),
            backoff_base_s=num("backoff_base_s", float, defaults.backoff_base_s),
            max_backoff_s=num("max_backoff_s", float, defaults.max_backoff_s),
            max_review_chars=num("max_review_chars", int, defaults.max_review_chars),
            cache_dir=cache_dir,
            user_agent=str(section.get("user_agent") or defaults.user_agent),
            language=language,
            progress_every=max(1, num("progress_every", int, defaults.progress_every)),
            base_urls=base_urls,
            enabled=enabled,
            api_keys=api_keys,
        )
