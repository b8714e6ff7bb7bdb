"""The settings' types: one pydantic model per section of config/base.yaml, validated when the settings load.

config/base.yaml holds every default and these models hold none: every field is required, so a key missing
from base.yaml, a key no model declares (``extra="forbid"``) or a value of the wrong type fails the load with
one line naming the key (``settings: reviews.tmdb.daily_budget: Input should be a valid integer``). A step's
own settings object (``extract.justwatch.settings.JustWatchSettings``...) extends its section's model with
what it derives (secrets, resolved paths), so the keys are declared here once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    ValidationError,
    create_model,
)

from core import raw_spec
from core.countries import parse_countries

# JustWatch answers TOO_BIG from ~150 titles a page; 100 is the largest size clients use safely
JUSTWATCH_MAX_PAGE_SIZE = 100
JUSTWATCH_LANGUAGE = r"[a-z]{2}(-[0-9A-Z]+)?"  # JustWatch's Language scalar: en, pt-BR


def _comma_list(value: Any) -> Any:
    """``"nfx, amp"`` (a CLI flag, an environment override) as ``["nfx", "amp"]``; lists pass through."""
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


def _day_counts(days: tuple[int, ...]) -> tuple[int, ...]:
    if not days:
        raise ValueError("give at least one day count")
    return tuple(sorted(set(days)))


def _page_size(size: int) -> int:
    if not 1 <= size <= JUSTWATCH_MAX_PAGE_SIZE:
        raise ValueError(
            f"{size} is out of range: use 1..{JUSTWATCH_MAX_PAGE_SIZE} (JustWatch rejects larger pages with TOO_BIG)"
        )
    return size


def _object_types(types: tuple[str, ...]) -> tuple[str, ...]:
    upper = tuple(t.upper() for t in types)
    unknown = [t for t in upper if t not in raw_spec.OBJECT_TYPES]
    if unknown:
        raise ValueError(f"unknown values {unknown}: use {', '.join(raw_spec.OBJECT_TYPES)}")
    return upper


def _countries(value: Any) -> tuple[str, ...]:
    from core.config import ConfigError  # noqa: PLC0415 - core.config imports this module

    try:
        return parse_countries(value, where="")
    except ConfigError as exc:
        raise ValueError(str(exc).removeprefix(": ")) from exc


Strings = Annotated[tuple[str, ...], BeforeValidator(_comma_list)]
DayCounts = Annotated[tuple[PositiveInt, ...], BeforeValidator(_comma_list), AfterValidator(_day_counts)]
Countries = Annotated[tuple[str, ...], BeforeValidator(_countries)]
Statuses = Annotated[frozenset[int], Field(min_length=1)]


def first_error(exc: ValidationError, prefix: str = "") -> str:
    """One line naming the key at fault: ``settings: reviews.tmdb.daily_budget: Input should be ...``."""
    errors = exc.errors()
    first = errors[0]
    key = ".".join(str(part) for part in (*([prefix] if prefix else []), *first["loc"]))
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    message = str(first["msg"]).removeprefix("Value error, ")
    return f"settings: {key}: {message}{more}"


class Section(BaseModel):
    """A settings section: every key required (base.yaml holds the defaults), unknown keys refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    SECTION: ClassVar[str] = ""  # its dotted place in the settings, for error messages

    def with_changes(self, **changes: Any) -> Self:
        """A validated copy with ``changes``; a nested section takes a partial mapping
        (``reviews.with_changes(guardian={"enabled": False})``)."""
        data = self.model_dump()
        for key, value in changes.items():
            nested = isinstance(getattr(self, key, None), BaseModel) and isinstance(value, Mapping)
            data[key] = {**data[key], **value} if nested else value
        try:
            return type(self).model_validate(data)
        except ValidationError as exc:
            from core.config import ConfigError  # noqa: PLC0415 - core.config imports this module

            raise ConfigError(first_error(exc, self.SECTION)) from exc


class RunSection(Section):
    countries: Countries
    days: PositiveInt
    language: str
    lock_timeout_s: NonNegativeFloat
    lock_lease_s: PositiveFloat
    lock_heartbeat_s: PositiveFloat
    lock_poll_s: PositiveFloat
    deploy_lock_timeout_s: NonNegativeFloat


class PostgresSection(Section):
    host: str | None
    port: int | None
    database: str | None
    user: str | None


class RedshiftSection(PostgresSection):
    sslrootcert: str | None
    iam_role_arn: str | None
    staging_bucket_url: str | None


class WarehouseSection(Section):
    target: Literal["duckdb", "postgres", "redshift"]
    duckdb_path: str
    pipelines_dir: str
    postgres: PostgresSection
    redshift: RedshiftSection


class RetryWaits(Section):
    """The retry keys every caller of core.retry spells the same: how often, how long, on which statuses."""

    max_retries: NonNegativeInt
    backoff_base_s: NonNegativeFloat
    max_backoff_s: NonNegativeFloat
    max_retry_after_s: NonNegativeFloat | None
    retry_statuses: Statuses


class HttpRetry(RetryWaits):
    """An HTTP client's retries (core.retry.RetrySettings): the waits, their jitter and a deadline."""

    retry_jitter: bool
    retry_deadline_s: PositiveFloat | None


class JustWatchSection(HttpRetry):
    SECTION: ClassVar[str] = "justwatch"
    graphql_url: str
    language: Annotated[str, Field(pattern=f"^{JUSTWATCH_LANGUAGE}$")]
    page_size: Annotated[int, AfterValidator(_page_size)]
    packages: Strings
    object_types: Annotated[Strings, AfterValidator(_object_types)]
    timeout_s: PositiveFloat
    country_concurrency: PositiveInt
    user_agent: str


class ReviewSource(Section):
    """``reviews.<source>``: one review site's switch, address, daily budget and refresh schedule."""

    enabled: bool
    base_url: str
    daily_budget: NonNegativeInt
    refresh_days: DayCounts | None  # null: reviews.refresh_days
    refresh_after_found: bool


class ReviewsCommon(HttpRetry):
    SECTION: ClassVar[str] = "reviews"
    max_reviews: NonNegativeInt
    concurrency: PositiveInt
    per_host_rps: NonNegativeFloat
    timeout_s: PositiveFloat
    max_review_chars: PositiveInt
    progress_every: PositiveInt
    language: str
    cache_dir: str | None
    user_agent: str
    refresh_days: DayCounts
    budget_day: Literal["utc", "as_of"]
    block_after_403s: PositiveInt


# reviews.<source> for each source the raw_reviews contract names (core.raw_spec owns the list)
ReviewsSection = create_model(
    "ReviewsSection",
    __base__=ReviewsCommon,
    **{source: (ReviewSource, ...) for source in raw_spec.REVIEW_SOURCES},
)


class BatchSection(Section):
    price_factor: PositiveFloat
    inline_max_bytes: PositiveInt
    poll_interval_s: NonNegativeFloat
    max_wait_s: NonNegativeFloat
    requeue: Literal["sync", "next_batch"]


class EnrichSection(RetryWaits):
    SECTION: ClassVar[str] = "enrich"
    provider: Literal["auto", "gemini", "heuristic"]
    model: str
    base_url: str | None
    api_version: str
    batch_size: PositiveInt
    concurrency: PositiveInt
    requests_per_minute: NonNegativeFloat  # 0: no limit
    max_cost_usd: NonNegativeFloat | None
    temperature: float | None
    thinking_level: str | None
    thinking_budget: int | None
    max_output_tokens: PositiveInt
    price_input_per_mtok: NonNegativeFloat
    price_output_per_mtok: NonNegativeFloat
    timeout_s: PositiveFloat
    flush_every: PositiveInt
    flush_seconds: PositiveFloat
    mode: Literal["sync", "batch"]
    batch: BatchSection


class DbtSection(Section):
    project_dir: str
    profiles_dir: str
    target_path: str | None
    log_path: str | None


class QualitySection(Section):
    report_dir: str
    min_rows: NonNegativeInt
    min_titles: NonNegativeInt
    max_quarantine_share: Annotated[float, Field(ge=0, le=1)]
    min_enrichment_coverage: Annotated[float, Field(ge=0, le=1)]


class ReportSection(Section):
    history_runs: PositiveInt
    s3_url: str | None


class ScoreBandsSection(Section):
    mixed_from: float
    positive_from: float
    margin: NonNegativeFloat


class EvalSection(Section):
    set_path: str
    baseline_path: str
    grounding_min_overlap: Annotated[float, Field(ge=0, le=1)]
    labels_path: str
    score_bands: ScoreBandsSection
    tolerances: dict[str, NonNegativeFloat]


class ExportSection(Section):
    dir: str


class DvcSection(Section):
    remote: Literal["local", "s3"]
    local_remote_path: str
    site_cache_dir: str | None
    s3_url: str | None


class SecretsSection(Section):
    source: Literal["dotenv", "aws"]
    aws_secret_id: str | None


class AwsSection(Section):
    region: str
    endpoint_url: str | None


class AirflowSection(Section):
    dags_bucket: str | None
    failure_webhook_url: str | None
    dbt_execution_mode: Literal["watcher", "local"]
    llm_pool: str
    llm_pool_slots: PositiveInt
    retries: NonNegativeInt
    retry_delay_s: NonNegativeFloat
    max_retry_delay_s: NonNegativeFloat
    max_active_tasks: PositiveInt
    timezone: str
    timeout_min: PositiveFloat
    timeouts_min: dict[str, PositiveFloat]
    lock_timeout_s: NonNegativeFloat


class AppSettings(Section):
    """The whole of config/base.yaml <- <APP_ENV>.yaml <- TRENDING_NOW__ overrides, typed."""

    run: RunSection
    warehouse: WarehouseSection
    justwatch: JustWatchSection
    reviews: ReviewsSection
    enrich: EnrichSection
    dbt: DbtSection
    quality: QualitySection
    report: ReportSection
    eval: EvalSection
    export: ExportSection
    dvc: DvcSection
    secrets: SecretsSection
    aws: AwsSection
    airflow: AirflowSection
