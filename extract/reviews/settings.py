"""Settings of the review extract, read from the ``reviews`` section of the config (defaults below)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

from core.config import ConfigError, Settings
from core.retry import RetryPolicy

SOURCES = ("tmdb", "rogerebert", "guardian")
SECRET_FOR_SOURCE = {"tmdb": "TMDB_API_KEY", "guardian": "GUARDIAN_API_KEY"}

DEFAULT_BASE_URLS = {
    "tmdb": "https://api.themoviedb.org",
    "rogerebert": "https://www.rogerebert.com",
    "guardian": "https://content.guardianapis.com",
}
DEFAULT_USER_AGENT = "TrendingNowBot/0.1 (+https://github.com/trending-now/trending-now)"
# Requests per source per UTC day, across every run of that day (config reviews.<source>.daily_budget).
# Guardian: the developer key's 500 calls a day. TMDB publishes no daily cap (~40 requests/s); 5,000 a day is
# ~40x the live need. RogerEbert.com: a site we scrape politely (1 request/s); 1,500 a day is 25 minutes of it.
DEFAULT_DAILY_BUDGETS = {"tmdb": 5000, "rogerebert": 1500, "guardian": 500}
# Days after a title is first fetched from a source when it is fetched again (reviews appear days after release).
DEFAULT_REFRESH_DAYS = (1, 3, 7, 14, 30)
# Critics review around release, and these two sites are the scarce ones (Guardian: 500 calls a day; RogerEbert:
# up to three slug guesses a fetch): two refreshes keep ~130 new titles a day within their budgets.
DEFAULT_SOURCE_REFRESH_DAYS: dict[str, tuple[int, ...]] = {"rogerebert": (3, 10), "guardian": (3, 10)}
# A source whose review does not change once found is not refreshed after it (one critic page per title).
DEFAULT_REFRESH_AFTER_FOUND = {"tmdb": True, "rogerebert": False, "guardian": True}
# Most requests one fetch of one title can cost per source, before retries (RogerEbert: three slug guesses).
REQUESTS_PER_FETCH = {"tmdb": 1, "rogerebert": 3, "guardian": 1}


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
    max_retry_after_s: float | None = 60.0
    retry_jitter: bool = False
    retry_deadline_s: float | None = None
    retry_statuses: tuple[int, ...] = (429, 500, 502, 503, 504)
    max_review_chars: int = 4000
    cache_dir: Path | None = None
    user_agent: str = DEFAULT_USER_AGENT
    language: str = "en-US"
    progress_every: int = 25
    base_urls: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_BASE_URLS))
    enabled: dict[str, bool] = field(default_factory=lambda: dict.fromkeys(SOURCES, True))
    api_keys: dict[str, str | None] = field(default_factory=dict, repr=False)
    daily_budgets: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_DAILY_BUDGETS))
    refresh_days: tuple[int, ...] = DEFAULT_REFRESH_DAYS
    source_refresh_days: dict[str, tuple[int, ...]] = field(
        default_factory=lambda: dict(DEFAULT_SOURCE_REFRESH_DAYS)
    )
    refresh_after_found: dict[str, bool] = field(default_factory=lambda: dict(DEFAULT_REFRESH_AFTER_FOUND))
    block_after_403s: int = (
        3  # consecutive 403 pages from a scraped site = a site-wide block: stop the source
    )
    budget_day: str = (
        "utc"  # the day budgets are counted on: utc (the services' quota day) or as_of (simulations)
    )

    def base_url(self, source: str) -> str:
        return self.base_urls.get(source, DEFAULT_BASE_URLS[source]).rstrip("/")

    def is_enabled(self, source: str) -> bool:
        return bool(self.enabled.get(source, True))

    def api_key(self, source: str) -> str | None:
        return self.api_keys.get(source) or None

    def daily_budget(self, source: str) -> int:
        return int(self.daily_budgets.get(source, DEFAULT_DAILY_BUDGETS[source]))

    def refresh_days_for(self, source: str) -> tuple[int, ...]:
        return self.source_refresh_days.get(source, self.refresh_days)

    @property
    def refresh_horizon(self) -> int:
        """The last refresh day of any source."""
        days = [*self.refresh_days, *(d for v in self.source_refresh_days.values() for d in v)]
        return max(days, default=0)

    def refreshes_after_found(self, source: str) -> bool:
        return bool(self.refresh_after_found.get(source, True))

    def with_changes(self, **changes: Any) -> ReviewsSettings:
        return replace(self, **changes)

    @property
    def retry_policy(self) -> RetryPolicy:
        """The sites' retries: plain doubling, Retry-After honoured up to ``max_retry_after_s``."""
        return RetryPolicy.of(self)

    @classmethod
    def from_settings(cls, settings: Settings) -> ReviewsSettings:
        section = settings.section("reviews")
        defaults = cls()

        num = partial(_number, section)
        cache_dir = settings.path("reviews.cache_dir") if section.get("cache_dir") else None
        base_urls, enabled, budgets, after_found = _per_source(section)
        refresh_days = (
            _day_counts(section.get("refresh_days"), "reviews.refresh_days") or defaults.refresh_days
        )
        source_refresh = _source_refresh_days(section)
        budget_day = str(section.get("budget_day") or defaults.budget_day).lower()
        if budget_day not in ("utc", "as_of"):
            raise ConfigError(f"reviews.budget_day must be utc or as_of, got {budget_day!r}")
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
            **_retry_fields(section, defaults),
            max_review_chars=num("max_review_chars", int, defaults.max_review_chars),
            cache_dir=cache_dir,
            user_agent=str(section.get("user_agent") or defaults.user_agent),
            language=language,
            progress_every=max(1, num("progress_every", int, defaults.progress_every)),
            base_urls=base_urls,
            enabled=enabled,
            api_keys=api_keys,
            daily_budgets=budgets,
            refresh_days=refresh_days,
            source_refresh_days=source_refresh,
            refresh_after_found=after_found,
            block_after_403s=max(1, num("block_after_403s", int, defaults.block_after_403s)),
            budget_day=budget_day,
        )


def _per_source(
    section: dict[str, Any],
) -> tuple[dict[str, str], dict[str, bool], dict[str, int], dict[str, bool]]:
    """Base URL, enabled flag, daily budget and refresh-after-found per source: the defaults, overridden by
    ``reviews.<source>.*``."""
    base_urls = dict(DEFAULT_BASE_URLS)
    enabled = dict.fromkeys(SOURCES, True)
    budgets = dict(DEFAULT_DAILY_BUDGETS)
    after_found = dict(DEFAULT_REFRESH_AFTER_FOUND)
    for source in SOURCES:
        sub = section.get(source) or {}
        if sub.get("base_url"):
            base_urls[source] = str(sub["base_url"])
        if sub.get("enabled") is not None:
            enabled[source] = bool(sub["enabled"])
        if sub.get("daily_budget") not in (None, ""):
            budgets[source] = max(0, int(sub["daily_budget"]))
        if sub.get("refresh_after_found") is not None:
            after_found[source] = bool(sub["refresh_after_found"])
    return base_urls, enabled, budgets, after_found


def _day_counts(value: Any, key: str) -> tuple[int, ...] | None:
    """``"3,7"`` or ``[3, 7]`` as sorted distinct positive day counts; None when empty."""
    if isinstance(value, str):
        value = [v for v in value.split(",") if v.strip()]
    if not value:
        return None
    out = tuple(sorted({int(v) for v in value}))
    if any(day <= 0 for day in out):
        raise ConfigError(f"{key} must be positive day counts, got {list(out)}")
    return out


def _source_refresh_days(section: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    """reviews.<source>.refresh_days over the per-source defaults."""
    source_refresh = dict(DEFAULT_SOURCE_REFRESH_DAYS)
    for source in SOURCES:
        own = _day_counts((section.get(source) or {}).get("refresh_days"), f"reviews.{source}.refresh_days")
        if own:
            source_refresh[source] = own
    return source_refresh


def _retry_fields(section: dict[str, Any], defaults: ReviewsSettings) -> dict[str, Any]:
    """The retry policy's shape (reviews.retry_*, reviews.max_retry_after_s; null = no cap, no deadline)."""
    return {
        "max_retry_after_s": _number(section, "max_retry_after_s", float, None),
        "retry_jitter": bool(_number(section, "retry_jitter", bool, defaults.retry_jitter)),
        "retry_deadline_s": _number(section, "retry_deadline_s", float, None),
        "retry_statuses": tuple(int(v) for v in section.get("retry_statuses") or defaults.retry_statuses),
    }


def _number(section: dict[str, Any], key: str, cast: Any, default: Any) -> Any:
    """``section[key]`` through ``cast``; ``default`` when absent or empty."""
    value = section.get(key)
    return default if value in (None, "") else cast(value)
