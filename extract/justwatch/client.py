"""HTTP client for JustWatch's GraphQL endpoint: browser-like headers, bounded retries, clear errors.

Retries (core.retry's policy with the justwatch.* settings: jittered exponential backoff, ``Retry-After``
honoured) cover the statuses of justwatch.retry_statuses, timeouts, connection errors and unreadable bodies. Everything else fails at once with an exception that names the cause:
HTTP 200 with ``errors`` and no usable ``data`` -> :class:`JustWatchGraphQLError` (the service's message),
HTTP 403 -> :class:`JustWatchBlockedError` (the WAF), other statuses -> :class:`JustWatchHTTPError`.
``errors`` next to usable ``data`` (a partial response) keep the data; the errors are recorded in
``stats.partial_errors``. A query-complexity or page-size error (``TOO_BIG``) halves the page size and asks
the same cursor again.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import requests

from core.retry import Retryable, RetryEvent, RetryHooks, parse_retry_after
from extract.justwatch.models import NewTitlesVariables, TitleFilter
from extract.justwatch.settings import GET_NEW_TITLES, OPERATION_NAME, PLATFORM, WEB_ORIGIN, JustWatchSettings

RATE_LIMIT_HINTS = ("rate limit", "too many requests", "throttl")
TOO_BIG_CODES = frozenset({"TOO_BIG", "TOO_COMPLEX", "QUERY_TOO_COMPLEX", "COMPLEXITY_LIMIT_EXCEEDED"})
TOO_BIG_HINTS = ("complexity", "too complex", "too big", "too large")
MIN_PAGE_SIZE = 1


class JustWatchError(RuntimeError):
    """Base class: the JustWatch request failed; the message names the cause."""


class JustWatchGraphQLError(JustWatchError):
    """HTTP 200 with an ``errors`` array: the service refused the query."""

    def __init__(self, messages: list[str], codes: list[str]) -> None:
        self.messages = messages
        self.codes = codes
        code = f" [{', '.join(codes)}]" if codes else ""
        super().__init__(f"JustWatch GraphQL error{code}: {'; '.join(messages) or 'no message'}")

    @property
    def retryable(self) -> bool:
        text = " ".join(self.messages).lower()
        return any(hint in text for hint in RATE_LIMIT_HINTS)

    @property
    def too_big(self) -> bool:
        """The query asks too much at once (complexity limit or page size): a smaller page may pass."""
        text = " ".join(self.messages).lower()
        return bool(TOO_BIG_CODES & set(self.codes)) or any(hint in text for hint in TOO_BIG_HINTS)


class JustWatchBlockedError(JustWatchError):
    """HTTP 403: JustWatch's WAF rejected the client."""


class JustWatchHTTPError(JustWatchError):
    """A non-retryable HTTP status, or retries exhausted on a transient failure."""


@dataclass
class ClientStats:
    requests: int = 0
    retries: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    slept_s: float = 0.0
    partial_errors: list[str] = field(default_factory=list)  # errors that came with usable data (kept)
    page_size_reductions: list[str] = field(default_factory=list)  # "100->50: <error>"


def _json_object(response: requests.Response) -> dict[str, Any]:
    """The body as a JSON object; anything else is transient (a proxy's error page, a truncated body)."""
    try:
        payload = response.json()
    except ValueError as exc:
        raise Retryable(f"unreadable response body (not JSON): {response.text[:80]!r}") from exc
    if not isinstance(payload, dict):
        raise Retryable(f"unexpected JSON body of type {type(payload).__name__}")
    return payload


def _error_code(error: object) -> str | None:
    code = (error.get("extensions") or {}).get("code") if isinstance(error, dict) else None
    return str(code) if code else None


def _graphql_error(errors: object) -> JustWatchGraphQLError:
    """The ``errors`` of a GraphQL body (a list, or one error) as one exception: messages and codes."""
    errors = errors if isinstance(errors, list) else [errors]
    messages = [str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in errors]
    codes = sorted({code for e in errors if (code := _error_code(e))})
    return JustWatchGraphQLError(messages, codes)


@dataclass(frozen=True)
class JustWatchApi:
    """JustWatch as a run's resource (built by the composition root): its settings, and a new client per
    country (each keeps its own request counts and page size). ``sleep`` is injectable so tests do not wait."""

    settings: JustWatchSettings
    sleep: Callable[[float], None] = time.sleep

    def client(self) -> JustWatchClient:
        return JustWatchClient(self.settings, sleep=self.sleep)


class JustWatchClient:
    """One ``requests.Session`` per client. ``sleep`` is injectable so tests do not wait."""

    def __init__(
        self,
        settings: JustWatchSettings,
        *,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.settings = settings
        self.session = session or requests.Session()
        self.session.headers.update(self.default_headers(settings))
        self.sleep = sleep
        self.rng = rng
        self.stats = ClientStats()
        self.policy = settings.retry_policy
        self.page_size = settings.page_size  # halved for the rest of the run on a complexity / TOO_BIG error

    @staticmethod
    def default_headers(settings: JustWatchSettings) -> dict[str, str]:
        return {
            "User-Agent": settings.user_agent,
            "Origin": WEB_ORIGIN,
            "Referer": f"{WEB_ORIGIN}/",
            "Accept": "application/json, */*;q=0.8",
            "Accept-Language": f"{settings.language},en;q=0.8",
            "Content-Type": "application/json",
        }

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> JustWatchClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- one GraphQL call with retries -------------------------------------------------------------
    def execute(self, query: str, operation_name: str, variables: dict[str, Any]) -> dict[str, Any]:
        """POST one operation; returns the JSON body (with ``data``) or raises a :class:`JustWatchError`."""
        body = {"operationName": operation_name, "variables": variables, "query": query}
        return self.policy.run(
            lambda: self._attempt(body),
            self._give_up,
            name="justwatch",
            hooks=RetryHooks(sleep=self.sleep, rng=self.rng, on_retry=self._count_retry),
        )

    def _count_retry(self, event: RetryEvent) -> None:
        self.stats.retries += 1
        self.stats.slept_s += event.delay_s

    def _give_up(self, last: Retryable, attempts: int) -> dict[str, Any]:
        raise JustWatchHTTPError(
            f"JustWatch request failed after {attempts} attempt(s) (justwatch.max_retries="
            f"{self.settings.max_retries}): {last.reason}"
        )

    def _attempt(self, body: dict[str, Any]) -> dict[str, Any]:
        url = self.settings.graphql_url
        self.stats.requests += 1
        try:
            response = self.session.post(url, json=body, timeout=self.settings.timeout_s)
        except requests.Timeout as exc:
            self.stats.statuses["timeout"] += 1
            raise Retryable(f"timeout after {self.settings.timeout_s:g}s ({type(exc).__name__})") from exc
        except requests.ConnectionError as exc:
            self.stats.statuses["connection_error"] += 1
            raise Retryable(f"connection error to {url}: {type(exc).__name__}") from exc
        status = response.status_code
        self.stats.statuses[str(status)] += 1
        if status == 403:
            raise JustWatchBlockedError(
                f"blocked by the service (WAF): HTTP 403 from {url}. JustWatch's firewall rejects bot-like "
                "clients and bursts of requests. Try: keep a browser-like justwatch.user_agent, wait 5-10 "
                "minutes before the next run, and fetch fewer days (--days) or fewer pages per run."
            )
        if self.policy.retryable_status(status):
            raise Retryable(
                f"HTTP {status} from {url}", parse_retry_after(response.headers.get("Retry-After"))
            )
        if status != 200:
            raise JustWatchHTTPError(f"JustWatch answered HTTP {status} from {url}: {response.text[:200]!r}")
        payload = _json_object(response)
        errors = payload.get("errors")
        if errors:
            error = _graphql_error(errors)
            if error.retryable:
                raise Retryable(str(error))
            if not _usable_data(payload):
                raise error
            self.stats.partial_errors.extend(
                error.messages
            )  # partial response: keep the data, record the errors
        return payload

    # ---- newTitles ------------------------------------------------------------------------------------
    def new_titles_variables(self, day: date, country: str, after: str | None) -> dict[str, Any]:
        s = self.settings
        return NewTitlesVariables(
            country=country,
            date=day,
            language=s.language,
            platform=PLATFORM,
            first=self.page_size,
            after=after,
            filter=TitleFilter(packages=list(s.packages), object_types=list(s.object_types)),
        ).as_json()

    def new_titles_page(self, day: date, country: str, after: str | None = None) -> dict[str, Any]:
        return self.execute(GET_NEW_TITLES, OPERATION_NAME, self.new_titles_variables(day, country, after))

    def iter_new_titles_pages(self, day: date, country: str) -> Iterator[dict[str, Any]]:
        """Every page of one day, following ``endCursor`` while ``hasNextPage``; never asks for a page twice.

        A complexity / TOO_BIG error halves the page size (down to 1) and asks the same cursor again.
        """
        after: str | None = None
        requested: set[str | None] = set()
        while True:
            page = self._page_or_smaller(day, country, after)
            if page is None:
                continue
            requested.add(after)
            yield page
            after = _next_cursor(page, requested)
            if after is None:
                return

    def _page_or_smaller(self, day: date, country: str, after: str | None) -> dict[str, Any] | None:
        """The page at ``after``; None after a TOO_BIG answer halved the page size (ask again)."""
        try:
            return self.new_titles_page(day, country, after)
        except JustWatchGraphQLError as exc:
            if not exc.too_big or self.page_size <= MIN_PAGE_SIZE:
                raise
            smaller = max(MIN_PAGE_SIZE, self.page_size // 2)
            self.stats.page_size_reductions.append(f"{self.page_size}->{smaller}: {exc}")
            self.page_size = smaller
            return None


def _next_cursor(page: dict[str, Any], requested: set[str | None]) -> str | None:
    """The cursor of the next page, None on the last one; a missing or repeated cursor is an error."""
    connection = (page.get("data") or {}).get("newTitles") or {}
    info = connection.get("pageInfo") or {}
    if not info.get("hasNextPage"):
        return None
    cursor = info.get("endCursor")
    if not cursor or cursor in requested:
        raise JustWatchError(
            f"paging stopped: hasNextPage is true but endCursor is {cursor!r} "
            "(missing or already fetched), so the next page cannot be requested safely"
        )
    return str(cursor)


def _usable_data(payload: dict[str, Any]) -> bool:
    """A newTitles connection with an edges list: what a partial GraphQL response must still carry."""
    data = payload.get("data")
    connection = data.get("newTitles") if isinstance(data, dict) else None
    return isinstance(connection, dict) and isinstance(connection.get("edges"), list)
