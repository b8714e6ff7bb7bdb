"""The HTTP helper every review adapter uses.

One :class:`HttpClient` per run: thread-local ``requests`` sessions with a named User-Agent, a per-site
rate limit, a cap on requests in flight, retries (core.retry's policy with the reviews.* settings:
429/5xx/timeouts, exponential backoff, ``Retry-After`` honoured), robots.txt per site, and a conditional-request cache on disk (ETag / Last-Modified), so
a re-run downloads only what changed. Secrets passed as query parameters never reach logs, error
messages or cache files. ``sleep`` and ``clock`` are injectable so tests run without waiting.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit
from urllib.robotparser import RobotFileParser

import requests

from core.retry import Retryable, RetryHooks, parse_retry_after
from extract.reviews.settings import ReviewsSettings

SECRET_PARAMS = frozenset({"api_key", "api-key", "apikey", "key", "token", "access_token"})


class FetchError(RuntimeError):
    """A request could not be answered (timeouts or connection errors after every retry)."""


class RobotsDisallowed(FetchError):
    """robots.txt of the site forbids the URL for our User-Agent."""


class BudgetExhausted(RuntimeError):
    """The source's request budget for this run is spent: the request was not sent."""


def redact_url(url: str) -> str:
    """The URL with secret query parameters replaced, safe for logs, reasons and cache keys."""
    parts = urlsplit(url)
    if not parts.query:
        return url
    query = [
        (k, "***" if k.lower() in SECRET_PARAMS else v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
    ]
    return urlunsplit(parts._replace(query=urlencode(query).replace("%2A%2A%2A", "***")))


def build_url(url: str, params: Mapping[str, Any] | None) -> str:
    if not params:
        return url
    clean = [(k, str(v)) for k, v in params.items() if v is not None]
    return f"{url}{'&' if '?' in url else '?'}{urlencode(clean)}"


@dataclass
class HttpResponse:
    url: str  # redacted
    status: int
    body: bytes
    headers: dict[str, str]
    from_cache: bool = False
    attempts: int = 1

    @property
    def text(self) -> str:
        content_type = self.headers.get("Content-Type", "") or self.headers.get("content-type", "")
        charset = "utf-8"
        for part in content_type.split(";"):
            name, _, value = part.strip().partition("=")
            if name.lower() == "charset" and value:
                charset = value.strip('"')
        try:
            return self.body.decode(charset, errors="replace")
        except LookupError:
            return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.text)


class RateLimiter:
    """At most ``rps`` request starts per second per key; callers reserve a slot, then sleep outside the lock."""

    def __init__(self, rps: float, clock: Callable[[], float], sleep: Callable[[float], None]) -> None:
        self.interval = 0.0 if rps <= 0 else 1.0 / rps
        self.clock = clock
        self.sleep = sleep
        self._next: dict[str, float] = {}
        self._lock = threading.Lock()

    def acquire(self, key: str) -> float:
        if self.interval <= 0:
            return 0.0
        with self._lock:
            now = self.clock()
            start = max(now, self._next.get(key, now))
            self._next[key] = start + self.interval
        wait = start - now
        if wait > 0:
            self.sleep(wait)
        return wait


class HttpCache:
    """Bodies of 200 responses with their validators, one ``<sha256>.json`` + ``<sha256>.body`` per URL."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)

    def _paths(self, url: str) -> tuple[Path, Path]:
        key = hashlib.sha256(redact_url(url).encode()).hexdigest()
        return self.directory / f"{key}.json", self.directory / f"{key}.body"

    def load(self, url: str) -> tuple[dict[str, Any], bytes] | None:
        meta_path, body_path = self._paths(url)
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            return meta, body_path.read_bytes()
        except (OSError, ValueError):
            return None

    def validators(self, url: str) -> dict[str, str]:
        cached = self.load(url)
        if not cached:
            return {}
        meta, _ = cached
        headers = {}
        if meta.get("etag"):
            headers["If-None-Match"] = meta["etag"]
        if meta.get("last_modified"):
            headers["If-Modified-Since"] = meta["last_modified"]
        return headers

    def store(self, url: str, headers: Mapping[str, str], body: bytes) -> None:
        etag, last_modified = headers.get("ETag"), headers.get("Last-Modified")
        if not etag and not last_modified:
            return
        meta_path, body_path = self._paths(url)
        meta = {
            "url": redact_url(url),
            "etag": etag,
            "last_modified": last_modified,
            "content_type": headers.get("Content-Type"),
            "stored_at": time.time(),
        }
        suffix = f".{os.getpid()}.{threading.get_ident()}.tmp"
        for path, data in ((body_path, body), (meta_path, json.dumps(meta).encode())):
            tmp = path.with_name(path.name + suffix)
            tmp.write_bytes(data)
            tmp.replace(path)


@dataclass
class _Robots:
    parser: RobotFileParser | None
    reason: str | None = None  # set when the whole site is off limits (robots.txt unreachable)


@dataclass
class HttpClient:
    """Shared by the adapters of one run; thread-safe."""

    settings: ReviewsSettings
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    session_factory: Callable[[], requests.Session] = requests.Session
    stats: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))

    def __post_init__(self) -> None:
        self.limiter = RateLimiter(self.settings.per_host_rps, self.clock, self.sleep)
        self.cache = HttpCache(self.settings.cache_dir) if self.settings.cache_dir else None
        self._in_flight = threading.BoundedSemaphore(max(1, self.settings.concurrency))
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._lock = threading.Lock()
        self._robots: dict[str, _Robots] = {}
        self._robots_locks: dict[str, threading.Lock] = defaultdict(threading.Lock)
        self._caps: dict[str, int] = {}
        self.policy = self.settings.retry_policy

    # ---- budget ----------------------------------------------------------------------------------
    def set_budget(self, source: str, requests_allowed: int) -> None:
        """At most ``requests_allowed`` requests (retries and robots.txt included) to ``source`` from now on."""
        with self._lock:
            self._caps[source] = self.stats[source]["requests"] + max(0, int(requests_allowed))

    def remaining(self, source: str) -> int | None:
        """Requests ``source`` may still make (None: no budget set)."""
        with self._lock:
            cap = self._caps.get(source)
            return None if cap is None else max(0, cap - self.stats[source]["requests"])

    def _spend(self, source: str) -> None:
        with self._lock:
            cap = self._caps.get(source)
            if cap is not None and self.stats[source]["requests"] >= cap:
                raise BudgetExhausted(f"{source}: request budget for this run is spent")
            self.stats[source]["requests"] += 1

    # ---- public ----------------------------------------------------------------------------------
    def get(
        self,
        url: str,
        params: Mapping[str, Any] | None = None,
        *,
        source: str,
        site_root: str | None = None,
        use_cache: bool = True,
        headers: Mapping[str, str] | None = None,
    ) -> HttpResponse:
        """GET with retries; returns the final response whatever its status.

        ``site_root`` turns on robots.txt checks against ``<site_root>/robots.txt`` (paths relative to it).
        ``headers`` are sent as they are and never logged (credentials go there, e.g. ``Authorization``).
        Raises :class:`RobotsDisallowed` or :class:`FetchError` (timeouts/connection errors after retries), and
        :class:`BudgetExhausted` when the source's budget (:meth:`set_budget`) allows no further request.
        """
        full = build_url(url, params)
        if site_root:
            self._check_robots(full, site_root, source)
        cache = self.cache if use_cache else None
        validators = cache.validators(full) if cache else {}
        response = self._request(full, source, {**validators, **(headers or {})})
        if response.status == 304 and validators:
            return self._cached(cache, full, source, response)
        if response.status == 200:
            self._count(source, "downloads")
            if cache:
                cache.store(full, response.headers, response.body)
        return response

    def _cached(self, cache: HttpCache | None, url: str, source: str, response: HttpResponse) -> HttpResponse:
        """The cached body of ``url`` as a 200 (the server said 304 Not Modified); the 304 if it is gone."""
        cached = cache.load(url) if cache else None
        if not cached:
            return response
        meta, body = cached
        self._count(source, "cache_hits")
        headers = {"Content-Type": meta.get("content_type") or "", "ETag": meta.get("etag") or ""}
        return HttpResponse(redact_url(url), 200, body, headers, from_cache=True, attempts=response.attempts)

    def source_stats(self, source: str) -> dict[str, int]:
        with self._lock:
            return dict(self.stats.get(source, Counter()))

    def close(self) -> None:
        with self._lock:
            for session in self._sessions:
                session.close()
            self._sessions.clear()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- internals -------------------------------------------------------------------------------
    def _count(self, source: str, name: str, n: int = 1) -> None:
        with self._lock:
            self.stats[source][name] += n

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self.session_factory()
            session.headers["User-Agent"] = self.settings.user_agent
            self._local.session = session
            with self._lock:
                self._sessions.append(session)
        return session

    def _request(self, url: str, source: str, headers: Mapping[str, str]) -> HttpResponse:
        """GET through the retry policy (reviews.* settings); the last 5xx/429 response when retries run out."""
        safe = redact_url(url)
        numbers = itertools.count(1)

        def give_up(last: Retryable, attempts: int) -> HttpResponse:
            if last.result is not None:
                return last.result
            raise FetchError(f"{last.reason} ({attempts} attempt{'s' if attempts > 1 else ''}) for {safe}")

        return self.policy.run(
            lambda: self._attempt(url, safe, source, headers, next(numbers)),
            give_up,
            name=f"{source}: {safe}",
            hooks=RetryHooks(
                sleep=self.sleep, clock=self.clock, on_retry=lambda _event: self._count(source, "retries")
            ),
        )

    def _attempt(
        self, url: str, safe: str, source: str, headers: Mapping[str, str], number: int
    ) -> HttpResponse:
        """One GET (budget and rate limit spent first); a transient failure raises :class:`Retryable`."""
        self._spend(source)
        self.limiter.acquire(_site_key(url))
        try:
            with self._in_flight:
                raw = self._session().get(
                    url, headers=dict(headers), timeout=self.settings.timeout_s, allow_redirects=True
                )
        except requests.Timeout as exc:
            raise Retryable(f"timed out after {self.settings.timeout_s:g}s") from exc
        except requests.ConnectionError as exc:
            raise Retryable(f"connection failed ({type(exc).__name__})") from exc
        response = HttpResponse(safe, raw.status_code, raw.content, dict(raw.headers), attempts=number)
        if self.policy.retryable_status(raw.status_code):
            retry_after = parse_retry_after(raw.headers.get("Retry-After"))
            raise Retryable(f"HTTP {raw.status_code}", retry_after, result=response)
        return response

    def _check_robots(self, url: str, site_root: str, source: str) -> None:
        root = site_root.rstrip("/")
        robots = self._robots_for(root, source)
        if robots.reason:
            raise RobotsDisallowed(robots.reason)
        relative = url[len(root) :] if url.startswith(root) else urlsplit(url).path
        relative = relative if relative.startswith("/") else "/" + relative
        if robots.parser is not None and not robots.parser.can_fetch(self.settings.user_agent, relative):
            raise RobotsDisallowed(f"robots.txt disallows {relative.split('?')[0]}")

    def _robots_for(self, root: str, source: str) -> _Robots:
        with self._robots_locks[root]:
            if root in self._robots:
                return self._robots[root]
            robots_url = f"{root}/robots.txt"
            try:
                response = self.get(robots_url, source=source)
            except FetchError as exc:
                entry = _Robots(None, f"robots.txt unreachable ({exc}); not crawling the site")
            else:
                if response.status == 200:
                    parser = RobotFileParser(robots_url)
                    parser.parse(response.text.splitlines())
                    entry = _Robots(parser)
                elif 400 <= response.status < 500:
                    entry = _Robots(None)  # RFC 9309: no robots.txt = everything allowed
                else:
                    entry = _Robots(
                        None, f"robots.txt answered HTTP {response.status}; not crawling the site"
                    )
            self._robots[root] = entry
            return entry


def _site_key(url: str) -> str:
    """Rate-limit key: scheme, host and port (one key per real host)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
