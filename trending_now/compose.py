"""The composition root's one builder, shared by the CLI and the DAG: a run's context and its resources.

Dagster's ``Definitions`` and resources are the model. :func:`run_context` is the one place a
:class:`~core.context.RunContext` is made, with one clock for ``as_of`` (:func:`run_day`: the day in the DAG's
timezone, ``airflow.timezone``, for the CLI too). :class:`Resources` holds what the steps use, built from the
run's settings once, each on first use, and closed when the run ends: the warehouse (``ctx.warehouse``), the
JustWatch API, the review sites' HTTP client, the LLM provider, the Gemini batch client (``enrich.mode: batch``)
and the shared remote. A step function declares
the resources it uses as typed parameters after the context (``extract_releases(ctx, justwatch: JustWatchApi)``);
:func:`call_step` passes them by name, and never builds a client the step could have built itself.

Step libraries load only when a resource is first built (the DAG file, parsed in every task, stays light).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, ExitStack
from datetime import UTC, date, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar
from zoneinfo import ZoneInfo

from core.config import Settings
from core.context import RunContext

if TYPE_CHECKING:
    from core.remote import Remote
    from core.warehouse import Warehouse
    from enrich.providers.base import Provider
    from enrich.providers.gemini_batch import GeminiBatchClient
    from extract.justwatch.client import JustWatchApi
    from extract.reviews.http import HttpClient

TIMEZONE_SETTING = "airflow.timezone"  # the DAG's timezone: the one clock of every run's as-of day
T = TypeVar("T")


def run_day(settings: Settings, moment: datetime | None = None) -> date:
    """The run's day: ``moment`` (default: now; naive means UTC) in the DAG's timezone, ``airflow.timezone``.

    The CLI and the DAG read this one clock, so the same moment is the same ``as_of`` wherever a run starts.
    """
    moment = moment or datetime.now(UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(ZoneInfo(str(settings.require(TIMEZONE_SETTING)))).date()


def run_context(
    settings: Settings,
    *,
    as_of: date | None = None,
    moment: datetime | None = None,
    days: int | None = None,
    countries: Sequence[str] | str | None = None,
    limit: int | None = None,
    run_id: str | None = None,
    quiet: bool = False,
) -> RunContext:
    """The run's context: ``as_of`` given, else the day of ``moment`` (default: now) by :func:`run_day`;
    ``days`` given, else ``run.days``; ``countries`` given (validated), else ``run.countries``."""
    return RunContext(
        settings=settings,
        as_of=as_of or run_day(settings, moment),
        days=int(days or settings.typed.run.days),
        countries=countries,
        limit=limit,
        quiet=quiet,
        **({"run_id": run_id} if run_id else {}),
    )


class Resources(AbstractContextManager["Resources"]):
    """What the steps of one run use, built from the run's settings once (each on first use) and closed with
    the run (``with Resources(ctx) as resources:``). The attribute names are the steps' parameter names."""

    def __init__(self, ctx: RunContext) -> None:
        self.settings = ctx.settings
        self.warehouse: Warehouse = ctx.warehouse
        self._closing = ExitStack()

    @cached_property
    def justwatch(self) -> JustWatchApi:
        """The JustWatch API (a client per country: each keeps its own request counts and page size)."""
        from extract.justwatch.client import JustWatchApi  # noqa: PLC0415 - step libraries load on first use
        from extract.justwatch.settings import JustWatchSettings  # noqa: PLC0415

        return JustWatchApi(JustWatchSettings.from_settings(self.settings))

    @cached_property
    def reviews_http(self) -> HttpClient:
        """The review sites' HTTP client: one per run, shared by the adapters (thread-safe, per-host limits)."""
        from extract.reviews.http import HttpClient  # noqa: PLC0415 - step libraries load on first use
        from extract.reviews.settings import ReviewsSettings  # noqa: PLC0415

        return self._closing.enter_context(HttpClient(ReviewsSettings.from_settings(self.settings)))

    @cached_property
    def provider(self) -> Provider:
        """The LLM provider ``enrich.provider`` names (Gemini, or the heuristic without a key)."""
        from enrich.providers.factory import make_provider  # noqa: PLC0415 - the LLM SDK loads on first use

        provider = make_provider(self.settings)
        self._closing.callback(provider.close)
        return provider

    @cached_property
    def gemini_batch(self) -> GeminiBatchClient | None:
        """The Gemini batch client when the run enriches in batches (``enrich.mode: batch`` with Gemini:
        :func:`enrich.batch.batch_mode`); ``None`` otherwise (sync mode, or the heuristic provider)."""
        from enrich.batch import batch_mode  # noqa: PLC0415 - the LLM SDK loads on first use
        from enrich.providers.gemini_batch import GeminiBatchClient  # noqa: PLC0415

        if not batch_mode(self.settings):
            return None
        client = GeminiBatchClient.from_settings(self.settings)
        self._closing.callback(client.close)
        return client

    @cached_property
    def remote(self) -> Remote:
        """The shared remote (``dvc.remote``): what passes between tasks and workers."""
        from core.remote import open_remote  # noqa: PLC0415 - fsspec loads on first use

        return open_remote(self.settings)

    def __exit__(self, *exc: object) -> None:
        """Close what was built (the review sites' HTTP sessions, the LLM clients), last built first."""
        self._closing.close()


RESOURCE_NAMES = ("justwatch", "reviews_http", "provider", "gemini_batch", "remote")


def call_step(
    function: Callable[..., T], ctx: RunContext, resources: Resources | None = None, **given: Any
) -> T:
    """Call a step function (or a step's part the DAG runs alone, ``enrich.batch.prepare_batches``) with the
    resources its parameters after the context name (``given`` ones first); without ``resources``, the run's
    are built for this call and closed after it. A step imported when it first runs (``pipeline.imported``) is
    resolved first."""
    function = getattr(function, "resolve", lambda: function)()
    parameters = list(inspect.signature(function).parameters.values())[1:]
    # a parameter with a default (``check_freshness``'s ``select``) is the step's own, unless given
    names = [p.name for p in parameters if p.default is inspect.Parameter.empty or p.name in given]
    unknown = [n for n in names if n not in given and n not in RESOURCE_NAMES]
    if unknown:
        raise TypeError(
            f"{function.__name__} asks for {', '.join(unknown)}; resources are {', '.join(RESOURCE_NAMES)}"
        )
    with ExitStack() as stack:
        if resources is None:
            resources = stack.enter_context(Resources(ctx))
        return function(ctx, **{n: given[n] if n in given else getattr(resources, n) for n in names})
