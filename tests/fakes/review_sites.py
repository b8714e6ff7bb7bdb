"""Real HTTP fakes of the three review sources on 127.0.0.1 (port 0), one server, one mount per service.

``/tmdb``       TMDB v3 ``/3/movie/{id}/reviews`` and ``/3/tv/{id}/reviews``. Credentials as TMDB takes
                them: a v3 key as ``api_key`` or the v4 read access token (a JWT) as ``Authorization:
                Bearer``; none, a JWT sent as ``api_key``, or one not in ``tmdb_credentials`` (when set)
                answers TMDB's recorded 401 ``status_code 7`` body. Unknown ids: 404 ``status_code 34``.
``/rogerebert`` RogerEbert.com review pages (:func:`render_review_page`: the 2020–2024 template with
                schema.org JSON-LD), ``/robots.txt``, an openresty-style 404 HTML page for unknown paths,
                and a site-wide 403 for paths under :meth:`ReviewSites.block`.
``/guardian``   The Guardian Content API ``/search`` (``api-key`` required; one not in ``guardian_keys``
                answers 401), filtering stored results by ``q`` (phrase in the headline or body), ``tag``
                and ``from-date``.

GET 200 answers carry an ``ETag`` and honour ``If-None-Match`` with 304. Faults are injected per path
(optionally only when the query contains a string), for a number of requests or for ever::

    with ReviewSites() as sites:
        sites.add_tmdb("movie", 603, [tmdb_review(...)])
        sites.inject("/tmdb/3/movie/603/reviews", status=429, times=1, retry_after="0")
        sites.inject("/rogerebert/reviews/x-2024", delay_s=1.0)              # longer than the client timeout
        sites.inject("/rogerebert/reviews/y-2024", body=b"\\x00garbage", status=200)

``latency_s`` delays every answer (benches). Counters: ``hits[path]``, ``full[path]`` (200 with a body),
``not_modified[path]`` (304).
"""

from __future__ import annotations

import contextlib
import hashlib
import html
import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlsplit

from core.replay import ServedInBackground

DEFAULT_ROBOTS = "User-agent: *\nDisallow: /search\nDisallow: /wp-admin/\n\nUser-agent: GPTBot\nDisallow: /\n"
NOT_FOUND_HTML = (
    "<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n<center><h1>404 Not Found</h1></center>\r\n"
    "<hr><center>openresty</center>\r\n</body>\r\n</html>\r\n"
)
TMDB_NOT_FOUND = {"success": False, "status_code": 34, "status_message": "The resource you requested could not be found."}
TMDB_BAD_KEY = {"status_code": 7, "status_message": "Invalid API key: You must be granted a valid key.", "success": False}
GUARDIAN_BAD_KEY = {"message": "Invalid authentication credentials"}
BLOCKED_HTML = "<html><head><title>403 Forbidden</title></head><body><h1>Access denied</h1></body></html>"


# ---- recorded-format builders -------------------------------------------------------------------------
def tmdb_review(
    review_id: str,
    author: str,
    content: str,
    *,
    name: str = "",
    username: str | None = None,
    rating: float | int | None = None,
    avatar_path: str | None = None,
    created_at: str = "2025-07-01T12:00:00.000Z",
    updated_at: str | None = None,
) -> dict[str, Any]:
    return {
        "author": author,
        "author_details": {"name": name, "username": username or author, "avatar_path": avatar_path,
                           "rating": rating},
        "content": content,
        "created_at": created_at,
        "id": review_id,
        "updated_at": updated_at or created_at,
        "url": f"https://www.themoviedb.org/review/{review_id}",
    }


def tmdb_reviews_body(tmdb_id: int, reviews: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": tmdb_id,
        "page": 1,
        "results": reviews,
        "total_pages": 1 if reviews else 0,
        "total_results": len(reviews),
    }


@dataclass
class EbertPage:
    """One RogerEbert.com review page (2020–2024 template)."""

    path: str  # e.g. /reviews/sinners-movie-review-2025
    film_title: str
    film_year: int
    critic: str
    published: date
    paragraphs: list[str]
    stars: float | None = None
    thumbs_down: bool = False
    tmdb_id: str | None = None
    headline: str | None = None
    mpaa: str = "R"
    running_time: int = 120
    spoiler: str | None = None
    content_type: str = "movie"
    json_ld: bool = True  # current pages carry a schema.org Review in JSON-LD


def json_ld_script(page: EbertPage) -> str:
    """The schema.org ``Review`` a current review page carries (Yoast-style ``@graph``)."""
    url = f"https://www.rogerebert.com{page.path}"
    review: dict[str, Any] = {
        "@type": "Review",
        "@id": f"{url}#review",
        "name": page.headline or page.film_title,
        "url": url,
        "datePublished": f"{page.published.isoformat()}T09:00:00+00:00",
        "author": {"@type": "Person", "name": page.critic},
        "publisher": {"@type": "Organization", "name": "RogerEbert.com"},
        "itemReviewed": {
            "@type": "TVSeries" if page.content_type == "show" else "Movie",
            "name": page.film_title,
            "dateCreated": str(page.film_year),
            **({"sameAs": [f"https://www.themoviedb.org/{'tv' if page.content_type == 'show' else 'movie'}/"
                           f"{page.tmdb_id}"]} if page.tmdb_id else {}),
        },
    }
    if page.thumbs_down:
        review["reviewRating"] = {"@type": "Rating", "ratingValue": 0, "bestRating": 4, "worstRating": 0}
    elif page.stars is not None:
        review["reviewRating"] = {"@type": "Rating", "ratingValue": page.stars, "bestRating": 4, "worstRating": 0}
    graph = {"@context": "https://schema.org", "@graph": [
        {"@type": "WebPage", "@id": url, "url": url, "name": f"{page.film_title} | Roger Ebert"}, review]}
    return f'<script type="application/ld+json">{json.dumps(graph)}</script>'


def _stars_html(stars: float | None, thumbs_down: bool) -> str:
    if thumbs_down:
        return '<i class="icon-thumbsdown" title="thumbsdown"></i>'
    if stars is None:
        return ""
    full, half = int(stars), (stars - int(stars)) >= 0.5
    icons = ['<i class="icon-star-full" title="star-full"></i>'] * full
    if half:
        icons.append('<i class="icon-star-half" title="star-half"></i>')
    return "".join(icons)


def render_review_page(page: EbertPage) -> str:
    """A review page in the template public scrapers parse (h1.page-content--title, .byline a, time.time, ...)."""
    esc = html.escape
    critic_slug = "-".join(page.critic.lower().split())
    body = "\n".join(f"        <p>{esc(p)}</p>" for p in page.paragraphs)
    spoiler = ""
    if page.spoiler:
        spoiler = (
            '        <div class="spoilers"><span class="icon-warning"></span>'
            f"<p>This review contains spoilers. {esc(page.spoiler)}</p></div>\n"
        )
    widget = ""
    if page.tmdb_id:
        widget = (f'      <div data-jw-widget data-api-key="ABCdef12" data-object-type="{page.content_type}" '
                  f'data-id-type="tmdb" data-id="{esc(page.tmdb_id)}" data-theme="light"></div>\n')
    headline = page.headline or page.film_title
    kind = "TV review" if page.content_type == "show" else "movie review"
    return f"""<!DOCTYPE html>
<html lang="en-US">
<head>
  <meta charset="UTF-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{esc(page.film_title)} {kind} ({page.film_year}) | Roger Ebert</title>
  <link rel="canonical" href="https://www.rogerebert.com{esc(page.path)}">
  <meta property="og:url" content="https://www.rogerebert.com{esc(page.path)}">
  <meta name="author" content="{esc(page.critic)}">
  <link rel="stylesheet" href="/wp-content/themes/rogerebert/assets/css/main.css">
  {json_ld_script(page) if page.json_ld else ""}
</head>
<body class="reviews-template-default single single-reviews">
  <header class="site-header"><a class="site-logo" href="/">RogerEbert.com</a>
    <nav class="primary-nav"><a href="/reviews">Reviews</a><a href="/streaming">Streaming</a><a href="/great-movies">Great Movies</a></nav>
  </header>
  <main class="page-content">
    <article class="page-content--article">
      <header class="page-content--header">
        <h1 class="page-content--title">{esc(headline)}</h1>
        <div class="page-content--star-rating"><span class="star-rating">{_stars_html(page.stars, page.thumbs_down)}</span></div>
        <p class="byline">by <a href="/contributors/{critic_slug}">{esc(page.critic)}</a></p>
        <time class="time" datetime="{page.published.isoformat()}">{page.published.strftime('%B')} {page.published.day}, {page.published.year}</time>
      </header>
      <section class="page-content--block_editor-content">
{spoiler}{body}
      </section>
      <aside class="cast-and-crew">
        <h4 class="cast-and-crew--movie-title">{esc(page.film_title)} ({page.film_year})</h4>
        <p class="cast-and-crew--mpaa-rating">Rated {esc(page.mpaa)}</p>
        <p class="cast-and-crew--running-time">{page.running_time} minutes</p>
      </aside>
{widget}    </article>
  </main>
  <footer class="site-footer"><p>&copy; Ebert Digital LLC</p></footer>
</body>
</html>
"""


def render_wordpress_2025_page(page: EbertPage, json_ld: bool = False) -> str:
    """The same review in a redesigned template: none of the 2020–2024 selectors match (layout drift).

    With ``json_ld`` the page still carries its schema.org Review, so it stays readable.
    """
    esc = html.escape
    body = "\n".join(f"<p>{esc(p)}</p>" for p in page.paragraphs)
    return f"""<!DOCTYPE html>
<html lang="en-US"><head><meta charset="UTF-8"><title>{esc(page.film_title)} | Roger Ebert</title>
{json_ld_script(page) if json_ld else ""}</head>
<body class="wp-site-blocks">
<main class="wp-block-group"><h1 class="wp-block-post-title">{esc(page.film_title)}</h1>
<div class="wp-block-post-author-name">{esc(page.critic)}</div>
<div class="entry-content wp-block-post-content">
{body}
</div></main></body></html>
"""


def guardian_result(
    item_id: str,
    web_title: str,
    body_text: str,
    byline: str,
    published: str,
    *,
    star_rating: str | None = None,
    imdb_id: str | None = None,
    section: str = "film",
    extra_fields: dict[str, Any] | None = None,
) -> dict[str, Any]:
    fields: dict[str, Any] = {"headline": web_title, "byline": byline, "bodyText": body_text}
    if star_rating is not None:
        fields["starRating"] = star_rating
    fields.update(extra_fields or {})
    result: dict[str, Any] = {
        "id": item_id,
        "type": "article",
        "sectionId": section,
        "sectionName": "Film" if section == "film" else "Television & radio",
        "webPublicationDate": published,
        "webTitle": web_title,
        "webUrl": f"https://www.theguardian.com/{item_id}",
        "apiUrl": f"https://content.guardianapis.com/{item_id}",
        "fields": fields,
        "isHosted": False,
        "pillarId": "pillar/arts",
        "pillarName": "Arts",
    }
    result["references"] = [{"id": f"imdb/{imdb_id}", "type": "imdb"}] if imdb_id else []
    return result


def guardian_search_body(results: list[dict[str, Any]], page_size: int = 20) -> dict[str, Any]:
    return {
        "response": {
            "status": "ok",
            "userTier": "developer",
            "total": len(results),
            "startIndex": 1 if results else 0,
            "pageSize": page_size,
            "currentPage": 1,
            "pages": 1 if results else 0,
            "orderBy": "relevance",
            "results": results,
        }
    }


# ---- the server --------------------------------------------------------------------------------------
@dataclass
class Fault:
    path: str
    status: int | None = None
    times: int | None = 1  # None = every request
    delay_s: float = 0.0
    body: bytes | None = None
    retry_after: str | None = None
    query_contains: str | None = None
    content_type: str = "application/json"


@dataclass
class _GuardianStored:
    result: dict[str, Any]
    tags: frozenset[str]


def _guardian_matches(stored: _GuardianStored, query: dict[str, str]) -> bool:
    """The search's phrase (in the headline or body), every asked tag, and from-date hold for ``stored``."""
    phrase = query.get("q", "").strip().strip('"').lower()
    wanted_tags = {t for t in query.get("tag", "").split(",") if t}
    from_date = query.get("from-date")
    fields = stored.result.get("fields", {})
    haystack = f"{stored.result.get('webTitle', '')} {fields.get('bodyText', '')}".lower()
    return (
        (not phrase or phrase in haystack)
        and wanted_tags <= stored.tags
        and not (from_date and stored.result["webPublicationDate"][:10] < from_date)
    )


def _guardian_shaped(result: dict[str, Any], wanted_fields: set[str], references: bool) -> dict[str, Any]:
    """A result with the asked ``show-fields`` only, and its references only when asked."""
    item = dict(result)
    item["fields"] = {k: v for k, v in result["fields"].items() if k in wanted_fields}
    if not references:
        item.pop("references", None)
    return item

@dataclass
class ReviewSites(ServedInBackground):
    thread_name: ClassVar[str] = "review-sites"
    latency_s: float = 0.0
    robots_txt: str | None = DEFAULT_ROBOTS
    api_key_required: bool = True
    tmdb_credentials: set[str] | None = None  # None: any key or token is accepted
    guardian_keys: set[str] | None = None
    tmdb: dict[tuple[str, int], list[dict[str, Any]]] = field(default_factory=dict)
    pages: dict[str, str] = field(default_factory=dict)
    guardian: list[_GuardianStored] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.faults: list[Fault] = []
        self.hits: Counter[str] = Counter()
        self.full: Counter[str] = Counter()
        self.not_modified: Counter[str] = Counter()
        self.user_agents: set[str] = set()
        self.queries: list[tuple[str, dict[str, str]]] = []
        self.authorizations: list[str] = []
        self.blocked_prefixes: set[str] = set()
        self._lock = threading.Lock()
        self._bind(self._handler())

    # ---- content -------------------------------------------------------------------------------------
    def add_tmdb(self, kind: str, tmdb_id: int, reviews: list[dict[str, Any]]) -> None:
        self.tmdb[(kind, int(tmdb_id))] = reviews

    def add_page(self, page: EbertPage | str, path: str | None = None) -> None:
        if isinstance(page, EbertPage):
            self.pages[page.path] = render_review_page(page)
        else:
            assert path is not None
            self.pages[path] = page

    def add_guardian(self, result: dict[str, Any], tv: bool = False) -> None:
        tags = {"tv-and-radio/tv-and-radio", "tone/reviews"} if tv else {"film/film", "tone/reviews"}
        self.guardian.append(_GuardianStored(result, frozenset(tags)))

    def block(self, prefix: str) -> None:
        """Every path under ``prefix`` answers 403 from now on (a WAF blocking the site)."""
        with self._lock:
            self.blocked_prefixes.add(prefix)

    def inject(self, path: str, **kw: Any) -> Fault:
        fault = Fault(path=path, **kw)
        with self._lock:
            self.faults.append(fault)
        return fault

    # ---- addresses -----------------------------------------------------------------------------------
    def url(self, service: str) -> str:
        return f"{self.base_url}/{service}"

    def settings_overrides(self) -> dict[str, str]:
        return {f"reviews.{s}.base_url": self.url(s) for s in ("tmdb", "rogerebert", "guardian")}

    def base_urls(self) -> dict[str, str]:
        return {s: self.url(s) for s in ("tmdb", "rogerebert", "guardian")}

    def total(self, prefix: str = "") -> int:
        with self._lock:
            return sum(n for p, n in self.hits.items() if p.startswith(prefix))

    def total_full(self, prefix: str = "") -> int:
        with self._lock:
            return sum(n for p, n in self.full.items() if p.startswith(prefix))

    # ---- behaviour -----------------------------------------------------------------------------------
    def _take_fault(self, path: str, raw_query: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.path != path or (fault.query_contains and fault.query_contains not in raw_query):
                    continue
                if fault.times is not None:
                    if fault.times <= 0:
                        continue
                    fault.times -= 1
                return fault
        return None

    def answer(self, path: str, query: dict[str, str], authorization: str = "") -> tuple[int, bytes, str]:
        if any(path.startswith(prefix) for prefix in self.blocked_prefixes):
            return 403, BLOCKED_HTML.encode(), "text/html"
        if path.startswith("/tmdb/"):
            return self._tmdb(path[len("/tmdb"):], query, authorization)
        if path.startswith("/rogerebert/"):
            return self._rogerebert(path[len("/rogerebert"):])
        if path == "/guardian/search":
            return self._guardian(query)
        return 404, json.dumps({"error": "unknown service", "path": path}).encode(), "application/json"

    def _tmdb_authorised(self, query: dict[str, str], authorization: str) -> bool:
        if authorization.startswith("Bearer "):
            credential = authorization[len("Bearer "):].strip()
            if not credential.startswith("eyJ"):  # only a read access token (JWT) is a bearer credential
                return False
        else:
            credential = query.get("api_key", "")
            if credential.startswith("eyJ"):  # a v4 token sent as a v3 key: TMDB answers status_code 7
                return False
        return bool(credential) and (self.tmdb_credentials is None or credential in self.tmdb_credentials)

    def _tmdb(self, path: str, query: dict[str, str], authorization: str = "") -> tuple[int, bytes, str]:
        ctype = "application/json;charset=utf-8"
        if self.api_key_required and not self._tmdb_authorised(query, authorization):
            return 401, json.dumps(TMDB_BAD_KEY).encode(), ctype
        parts = path.strip("/").split("/")
        if len(parts) == 4 and parts[0] == "3" and parts[1] in ("movie", "tv") and parts[3] == "reviews":
            if not parts[2].isdigit():
                return 404, NOT_FOUND_HTML.encode(), "text/html"
            key = (parts[1], int(parts[2]))
            if key not in self.tmdb:
                return 404, json.dumps(TMDB_NOT_FOUND).encode(), ctype
            return 200, json.dumps(tmdb_reviews_body(key[1], self.tmdb[key])).encode(), ctype
        return 404, NOT_FOUND_HTML.encode(), "text/html"

    def _rogerebert(self, path: str) -> tuple[int, bytes, str]:
        if path == "/robots.txt":
            if self.robots_txt is None:
                return 404, NOT_FOUND_HTML.encode(), "text/html"
            return 200, self.robots_txt.encode(), "text/plain; charset=utf-8"
        page = self.pages.get(path)
        if page is None:
            return 404, NOT_FOUND_HTML.encode(), "text/html"
        return 200, page.encode(), "text/html; charset=UTF-8"

    def _guardian(self, query: dict[str, str]) -> tuple[int, bytes, str]:
        key = query.get("api-key")
        if self.api_key_required and (not key or (self.guardian_keys is not None and key not in self.guardian_keys)):
            return 401, json.dumps(GUARDIAN_BAD_KEY).encode(), "application/json"
        results = [stored.result for stored in self.guardian if _guardian_matches(stored, query)]
        wanted_fields = set(query.get("show-fields", "").split(","))
        shaped = [_guardian_shaped(result, wanted_fields, query.get("show-references") == "imdb") for result in results]
        return 200, json.dumps(guardian_search_body(shaped)).encode(), "application/json"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        sites = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            wbufsize = -1  # headers and body leave in one segment (no Nagle/delayed-ACK stalls)

            def log_message(self, format: str, *args: Any) -> None:
                return

            def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if body:
                    self.wfile.write(body)

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                path, raw_query = parts.path, parts.query
                query = dict(parse_qsl(raw_query, keep_blank_values=True))
                with sites._lock:
                    sites.hits[path] += 1
                    sites.user_agents.add(self.headers.get("User-Agent", ""))
                    sites.queries.append((path, query))
                    sites.authorizations.append(self.headers.get("Authorization", ""))
                if sites.latency_s:
                    time.sleep(sites.latency_s)
                fault = sites._take_fault(path, raw_query)
                if fault is not None:
                    if fault.delay_s:
                        time.sleep(fault.delay_s)
                    if fault.status is not None:
                        headers = {"Content-Type": fault.content_type}
                        if fault.retry_after is not None:
                            headers["Retry-After"] = fault.retry_after
                        body = fault.body if fault.body is not None else json.dumps(
                            {"status_code": 11, "status_message": "Internal error", "success": False}).encode()
                        if fault.status == 200:
                            with sites._lock:
                                sites.full[path] += 1
                        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                            self._send(fault.status, body, headers)
                        return
                status, body, ctype = sites.answer(path, query, self.headers.get("Authorization", ""))
                headers = {"Content-Type": ctype}
                if status == 200:
                    etag = '"' + hashlib.sha1(body).hexdigest() + '"'
                    headers["ETag"] = etag
                    if self.headers.get("If-None-Match") == etag:
                        with sites._lock:
                            sites.not_modified[path] += 1
                        self._send(304, b"", {"ETag": etag})
                        return
                    with sites._lock:
                        sites.full[path] += 1
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self._send(status, body, headers)

        return Handler


def iso_z(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")
