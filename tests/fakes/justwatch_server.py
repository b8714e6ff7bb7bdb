"""A real HTTP fake of JustWatch's GraphQL ``newTitles`` connection, on 127.0.0.1 (port 0).

It serves pages from an in-memory catalogue keyed by ``date`` (``{"2026-11-20": [edge, ...]}``) with
cursor paging (``after`` = base64 of the offset, like the real service), validates requests the way the
real service does (operation name, every declared variable used, non-null variables supplied, ``first``
above 100 rejected with ``TOO_BIG``), counts requests per ``(date, after)`` and injects faults on demand:

    with FakeJustWatch(catalogue) as fake:
        fake.inject("429", times=2, retry_after=1)
        fake.inject("graphql_error", message="Too much complexity")
        client = JustWatchClient(graphql_url=fake.url, ...)

Fault kinds: ``429`` (with ``Retry-After``), ``500``, ``403``, ``graphql_error`` (HTTP 200 + ``errors``),
``slow`` (sleeps ``delay_s`` before answering), ``garbage`` (HTTP 200 with a body that is not JSON),
``partial`` (the page's ``data`` with an ``errors`` entry next to it, as GraphQL reports a field it could
not resolve). ``complexity_limit=N`` answers a page asking more than ``N`` titles with a query-complexity
error (``data: null``), as the real service does for large pages with full credits.
Malformed nodes live in the catalogue itself (:func:`malformed_edge`).

The node builders (:class:`TitleSpec`, :func:`edge_for`) produce the recorded response format; the
synthetic generator (:func:`synthetic_catalogue`) uses them for tests and benches.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import random
import re
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any

from core.replay import ServedInBackground

MAX_FIRST = 100

PACKAGES: dict[str, tuple[int, str, str]] = {
    "nfx": (8, "Netflix", "netflix"),
    "amp": (9, "Amazon Prime Video", "amazonprime"),
    "dnp": (337, "Disney Plus", "disneyplus"),
    "mxx": (1899, "HBO Max", "max"),
    "atp": (350, "Apple TV+", "appletvplus"),
    "hlu": (15, "Hulu", "hulu"),
    "pct": (386, "Peacock Premium", "peacock"),
    "pmp": (531, "Paramount Plus", "paramountplus"),
    "itu": (2, "Apple TV", "itunes"),
    "amz": (10, "Amazon Video", "amazon"),
}


# ---- node builders (recorded format) ---------------------------------------------------------------
@dataclass
class ShowRef:
    object_id: int
    title: str
    full_path: str
    imdb_id: str | None
    tmdb_id: str | None


@dataclass
class TitleSpec:
    """One title as JustWatch lists it. ``kind`` is ``movie``, ``show`` or ``season``."""

    kind: str
    object_id: int
    title: str
    release_date: str
    runtime: int | None = None
    short_description: str | None = None
    genres: list[str] = field(default_factory=list)
    imdb_score: float | None = None
    imdb_votes: int | None = None
    tomato_meter: int | None = None
    offers: list[tuple[str, str, str]] = field(default_factory=list)  # (package, monetization, presentation)
    new_package: str | None = None
    # movies and shows
    original_title: str | None = None
    age_certification: str | None = None
    production_countries: list[str] = field(default_factory=list)
    imdb_id: str | None = None
    tmdb_id: str | None = None
    cast: list[tuple[str, str]] = field(default_factory=list)
    directors: list[str] = field(default_factory=list)
    full_path: str | None = None
    # seasons
    season_number: int | None = None
    show: ShowRef | None = None
    episode_count: int | None = None

    @property
    def node_id(self) -> str:
        return {"movie": "tm", "show": "ts", "season": "tss"}[self.kind] + str(self.object_id)

    @property
    def object_type(self) -> str:
        return {"movie": "MOVIE", "show": "SHOW", "season": "SHOW_SEASON"}[self.kind]

    @property
    def typename(self) -> str:
        return {"movie": "Movie", "show": "Show", "season": "Season"}[self.kind]


def slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def person_id(name: str) -> int:
    return int(hashlib.sha1(name.encode()).hexdigest()[:7], 16) % 2_000_000 + 10_000


def cursor_for(offset: int) -> str:
    """Cursor of the edge at ``offset`` (0-based): base64 of its 1-based position, as the service does."""
    return base64.b64encode(str(offset + 1).encode()).decode()


def offset_after(cursor: str | None) -> int:
    if not cursor:
        return 0
    return int(base64.b64decode(cursor.encode()).decode())


def _package(short: str) -> dict[str, Any]:
    package_id, clear, technical = PACKAGES[short]
    return {
        "__typename": "Package",
        "id": base64.b64encode(f"pa|{package_id}".encode()).decode(),
        "packageId": package_id,
        "clearName": clear,
        "shortName": short,
        "technicalName": technical,
    }


def _offer(spec: TitleSpec, short: str, monetization: str, presentation: str, country: str) -> dict[str, Any]:
    price = (
        None
        if monetization in ("FLATRATE", "FREE", "ADS")
        else ("$5.99" if monetization == "RENT" else "$19.99")
    )
    return {
        "__typename": "Offer",
        "monetizationType": monetization,
        "presentationType": presentation,
        "standardWebURL": f"https://www.{PACKAGES[short][2]}.com/title/{spec.object_id}",
        "retailPrice": price,
        "currency": "USD" if country == "US" else "EUR",
        "availableTo": None,
        "package": _package(short),
    }


def node_for(spec: TitleSpec, country: str = "US") -> dict[str, Any]:
    content: dict[str, Any] = {
        "title": spec.title,
        "originalReleaseYear": int(spec.release_date[:4]),
        "originalReleaseDate": spec.release_date,
        "runtime": spec.runtime,
        "shortDescription": spec.short_description,
        "isReleased": True,
        "genres": [{"__typename": "Genre", "shortName": g} for g in spec.genres],
        "scoring": _scoring(spec),
    }
    content.update(_season_content(spec) if spec.kind == "season" else _title_content(spec, country))
    node: dict[str, Any] = {
        "__typename": spec.typename,
        "id": spec.node_id,
        "objectId": spec.object_id,
        "objectType": spec.object_type,
        "content": content,
        "offers": [_offer(spec, *offer, country) for offer in spec.offers],
    }
    if spec.kind == "season":
        node.update(_season_parts(spec))
    return node


def _scoring(spec: TitleSpec) -> dict[str, Any]:
    return {
        "__typename": "Scoring",
        "imdbScore": spec.imdb_score,
        "imdbVotes": spec.imdb_votes,
        "tmdbScore": None if spec.imdb_score is None else round(spec.imdb_score - 0.2, 1),
        "tmdbPopularity": None,
        "tomatoMeter": spec.tomato_meter,
        "certifiedFresh": None if spec.tomato_meter is None else spec.tomato_meter >= 75,
    }


def _season_content(spec: TitleSpec) -> dict[str, Any]:
    assert spec.show is not None and spec.season_number is not None
    return {
        "__typename": "SeasonContent",
        "fullPath": f"{spec.show.full_path}/season-{spec.season_number}",
        "seasonNumber": spec.season_number,
        "externalIds": {
            "__typename": "ExternalIds",
            "imdbId": None,
            "tmdbId": f"{spec.show.tmdb_id}:{spec.season_number}" if spec.show.tmdb_id else None,
        },
    }


def _credit(role: str, name: str, character: str | None) -> dict[str, Any]:
    return {
        "__typename": "Credit",
        "role": role,
        "name": name,
        "characterName": character,
        "personId": person_id(name),
    }


def _title_content(spec: TitleSpec, country: str) -> dict[str, Any]:
    """A movie's or a show's own content fields (a season's are :func:`_season_content`)."""
    kind_path = "movie" if spec.kind == "movie" else "tv-show"
    credits = [_credit("ACTOR", name, character) for name, character in spec.cast]
    credits += [_credit("DIRECTOR", name, None) for name in spec.directors]
    return {
        "__typename": "MovieContent" if spec.kind == "movie" else "ShowContent",
        "originalTitle": spec.original_title or spec.title,
        "fullPath": spec.full_path or f"/{country.lower()}/{kind_path}/{slugify(spec.title)}",
        "ageCertification": spec.age_certification,
        "productionCountries": list(spec.production_countries),
        "externalIds": {"__typename": "ExternalIds", "imdbId": spec.imdb_id, "tmdbId": spec.tmdb_id},
        "credits": credits,
    }


def _season_parts(spec: TitleSpec) -> dict[str, Any]:
    """A season node's episode count and its show."""
    assert spec.show is not None
    return {
        "totalEpisodeCount": spec.episode_count,
        "show": {
            "__typename": "Show",
            "id": f"ts{spec.show.object_id}",
            "objectId": spec.show.object_id,
            "objectType": "SHOW",
            "content": {
                "__typename": "ShowContent",
                "title": spec.show.title,
                "fullPath": spec.show.full_path,
                "externalIds": {
                    "__typename": "ExternalIds",
                    "imdbId": spec.show.imdb_id,
                    "tmdbId": spec.show.tmdb_id,
                },
            },
        },
    }


def edge_for(spec: TitleSpec, day: str, country: str = "US") -> dict[str, Any]:
    """An edge without its cursor (the server sets cursors by position when it serves a page)."""
    new_offer = None
    if spec.new_package:
        match = next(
            (o for o in spec.offers if o[0] == spec.new_package), (spec.new_package, "FLATRATE", "HD")
        )
        offer = _offer(spec, *match, country)
        new_offer = {
            "__typename": "Offer",
            "id": base64.b64encode(
                f"of|{spec.node_id}:{country}:{PACKAGES[spec.new_package][0]}:{match[1].lower()}:{match[2].lower()}".encode()
            ).decode(),
            "monetizationType": match[1],
            "presentationType": match[2],
            "standardWebURL": offer["standardWebURL"],
            "currency": offer["currency"],
            "availableTo": None,
            "dateCreated": day,
            "newElementCount": spec.episode_count or 0,
            "package": _package(spec.new_package),
        }
    return {"__typename": "NewTitlesEdge", "newOffer": new_offer, "node": node_for(spec, country)}


def malformed_edge(day: str, missing: str = "id", object_id: int = 9_999_001) -> dict[str, Any]:
    """An edge whose node lacks a required field (``id`` by default), as a broken upstream record."""
    spec = TitleSpec(
        kind="movie",
        object_id=object_id,
        title="Roofman",
        release_date="2025-10-10",
        runtime=126,
        short_description="A former Army Ranger turned fast-food robber hides inside a toy store.",
        genres=["crm", "drm"],
        imdb_id="tt27306066",
        tmdb_id="1227920",
        new_package="pmp",
        offers=[("pmp", "FLATRATE", "HD")],
    )
    edge = edge_for(spec, day)
    edge["node"].pop(missing, None)
    return edge


# ---- synthetic catalogue -----------------------------------------------------------------------------
_WORDS = [
    "Midnight",
    "Harbor",
    "Signal",
    "Glass",
    "Orchard",
    "Ember",
    "Atlas",
    "Quiet",
    "River",
    "Falcon",
    "Paper",
    "Crown",
    "Winter",
    "Echo",
    "Northern",
    "Velvet",
    "Iron",
    "Lantern",
    "Silver",
    "Hollow",
    "Stone",
    "Garden",
    "Static",
    "Bloom",
    "Copper",
    "Tide",
]
_NAMES = [
    "Ava Chen",
    "Marcus Bell",
    "Lena Ortiz",
    "Tom Hardy-Lane",
    "Priya Nair",
    "Jonas Berg",
    "Maya Brooks",
    "Idris Cole",
    "Nora Fields",
    "Caleb Stone",
    "Sofia Marin",
    "Ethan Wolfe",
]
_GENRES = ["act", "cmy", "crm", "drm", "fnt", "hrr", "rma", "scf", "trl", "doc"]


def synthetic_specs(n: int, seed: int = 7) -> list[TitleSpec]:
    """``n`` synthetic titles: 60% movies, 25% shows, 15% seasons of synthetic shows."""
    rng = random.Random(seed)
    specs: list[TitleSpec] = []
    for i in range(n):
        words = rng.sample(_WORDS, 2)
        title = f"The {words[0]} {words[1]} {i}"
        roll = rng.random()
        pkgs = rng.sample(sorted(PACKAGES), 2)
        offers = [(pkgs[0], "FLATRATE", rng.choice(["HD", "_4K"])), (pkgs[1], "RENT", "HD")]
        common: dict[str, Any] = dict(
            object_id=2_000_000 + i,
            title=title,
            release_date=f"{rng.choice([2024, 2025, 2026])}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            runtime=rng.randint(22, 170),
            short_description=f"{title}: a story about {words[0].lower()} and "
            f"{words[1].lower()} told across a single long night.",
            genres=rng.sample(_GENRES, 2),
            imdb_score=round(rng.uniform(4, 9), 1),
            imdb_votes=rng.randint(100, 300_000),
            tomato_meter=rng.choice([None, rng.randint(10, 100)]),
            offers=offers,
            new_package=pkgs[0],
        )
        if roll < 0.15:
            show = ShowRef(
                object_id=3_000_000 + i,
                title=title,
                full_path=f"/us/tv-show/{slugify(title)}",
                imdb_id=f"tt{40_000_000 + i}",
                tmdb_id=str(500_000 + i),
            )
            season = rng.randint(1, 5)
            common["title"] = f"Season {season}"
            specs.append(
                TitleSpec(
                    kind="season", season_number=season, show=show, episode_count=rng.randint(6, 10), **common
                )
            )
            continue
        kind = "movie" if roll < 0.75 else "show"
        cast = [(name, f"Character {j}") for j, name in enumerate(rng.sample(_NAMES, 3))]
        specs.append(
            TitleSpec(
                kind=kind,
                original_title=title,
                age_certification=rng.choice(["PG", "PG-13", "R"]),
                production_countries=["US"],
                imdb_id=f"tt{30_000_000 + i}",
                tmdb_id=str(1_500_000 + i),
                cast=cast,
                directors=[rng.choice(_NAMES)],
                **common,
            )
        )
    return specs


def synthetic_catalogue(
    n: int, days: list[date], country: str = "US", seed: int = 7
) -> dict[str, list[dict]]:
    """``n`` synthetic titles spread round-robin over ``days``: ``{"YYYY-MM-DD": [edge, ...]}``."""
    catalogue: dict[str, list[dict]] = {d.isoformat(): [] for d in days}
    for i, spec in enumerate(synthetic_specs(n, seed)):
        day = days[i % len(days)].isoformat()
        catalogue[day].append(edge_for(spec, day, country))
    return catalogue


def window(as_of: date, days: int) -> list[date]:
    return [as_of - timedelta(days=k) for k in range(days - 1, -1, -1)]


# ---- the server ---------------------------------------------------------------------------------------
@dataclass
class Fault:
    kind: str
    date: str | None = None
    country: str | None = None
    retry_after: str | None = "1"
    message: str = "Internal server error"
    delay_s: float = 0.0


_HEADER = re.compile(r"(query|mutation)\s+(\w+)\s*\(([^)]*)\)", re.S)
_VAR_DECL = re.compile(r"\$(\w+)\s*:\s*([\w\[\]!]+)\s*(=\s*[^,$]+)?")


def _error(message: str, code: str, **extra: Any) -> dict[str, Any]:
    return {"message": message, "extensions": {"code": code}, **extra}


def validate_request(body: Any) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """Return ``(variables, errors)`` the way a GraphQL server would judge the request."""
    if not isinstance(body, dict):
        return None, [_error("Must provide a JSON object body", "BAD_REQUEST")]
    query = body.get("query") or ""
    op = body.get("operationName")
    variables = body.get("variables") or {}
    ops = {m.group(2): m for m in _HEADER.finditer(query)}
    if op != "GetNewTitles" or op not in ops:
        return None, [_error(f'Unknown operation named "{op}".', "GRAPHQL_VALIDATION_FAILED")]
    header = ops[op]
    declared = {m.group(1): (m.group(2), m.group(3)) for m in _VAR_DECL.finditer(header.group(3))}
    rest = query[header.end() :]
    errors = _variable_errors(op, declared, variables, rest)
    if "newTitles" not in rest:
        errors.append(_error("the operation does not select newTitles", "BAD_REQUEST"))
    errors += _value_errors(variables)
    return variables, errors


def _variable_errors(
    op: str, declared: dict[str, tuple[str, str | None]], variables: dict[str, Any], rest: str
) -> list[dict[str, Any]]:
    """Declared variables never used or required but missing; variables given but not declared."""
    errors = []
    for name, (vtype, default) in declared.items():
        if not re.search(rf"\${name}\b", rest):
            errors.append(_error(f'Variable "${name}" is never used in operation "{op}".', "GRAPHQL_VALIDATION_FAILED"))
        if vtype.endswith("!") and default is None and variables.get(name) is None:
            errors.append(_error(f'Variable "${name}" of required type "{vtype}" was not provided.', "BAD_USER_INPUT"))
    errors += [
        _error(f'Variable "${name}" is not defined by operation "{op}".', "GRAPHQL_VALIDATION_FAILED")
        for name in variables
        if name not in declared
    ]
    return errors


def _value_errors(variables: dict[str, Any]) -> list[dict[str, Any]]:
    """A page larger than the server serves; a country that is not an ISO code."""
    errors = []
    first = variables.get("first")
    if isinstance(first, int) and first > MAX_FIRST:
        errors.append(_error("page too large", "TOO_BIG", path=["newTitles"]))
    country = variables.get("country")
    if country is not None and not re.fullmatch(r"[A-Z]{2}", str(country)):
        errors.append(_error(f'Variable "$country" got invalid value "{country}"', "BAD_USER_INPUT"))
    return errors


def _page_info(start: int, served: int, total: int) -> dict[str, Any]:
    return {
        "__typename": "PageInfo",
        "startCursor": cursor_for(start) if served else None,
        "endCursor": cursor_for(start + served - 1) if served else None,
        "hasNextPage": start + served < total,
        "hasPreviousPage": start > 0,
    }


class FakeJustWatch(ServedInBackground):
    """Threaded HTTP GraphQL fake; ``url`` is the endpoint. Use as a context manager."""

    thread_name = "fake-justwatch"
    poll_interval_s = 0.05

    def __init__(
        self,
        catalogue: dict[str, list[dict]] | None = None,
        *,
        server_page_limit: int = MAX_FIRST,
        complexity_limit: int | None = None,
        by_country: dict[str, dict[str, list[dict]]] | None = None,
    ) -> None:
        self.catalogue: dict[str, list[dict]] = catalogue or {}
        # a catalogue per `country` variable (a country not in it is served `catalogue`)
        self.by_country: dict[str, dict[str, list[dict]]] = by_country or {}
        self.requests_by_country: Counter[str | None] = Counter()
        self.server_page_limit = server_page_limit
        self.complexity_limit = complexity_limit
        self.requests: Counter[tuple[str | None, str | None]] = Counter()
        self.bodies: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.status_log: list[int] = []
        self._faults: deque[Fault] = deque()
        self._lock = threading.Lock()
        self._bind(self._handler())

    # -- control
    @property
    def url(self) -> str:
        return f"{self.base_url}/graphql"

    def inject(self, kind: str, times: int = 1, **kw: Any) -> None:
        """Queue ``times`` faults of ``kind``; each is used by the next matching request (``date=`` to target a day)."""
        if kind not in ("429", "500", "403", "graphql_error", "slow", "garbage", "partial"):
            raise ValueError(f"unknown fault kind {kind!r}")
        with self._lock:
            self._faults.extend(Fault(kind=kind, **kw) for _ in range(times))

    @property
    def total_requests(self) -> int:
        return sum(self.requests.values())

    # -- behaviour
    def _take_fault(self, day: str | None, country: str | None = None) -> Fault | None:
        with self._lock:
            for fault in list(self._faults):
                if (fault.date is None or fault.date == day) and fault.country in (None, country):
                    self._faults.remove(fault)
                    return fault
        return None

    def page(self, variables: dict[str, Any]) -> dict[str, Any]:
        edges = self._edges(variables)
        start = offset_after(variables.get("after"))
        size = min(int(variables.get("first") or 10), self.server_page_limit)
        chunk = edges[start : start + size]
        served = [{**edge, "cursor": cursor_for(start + k)} for k, edge in enumerate(chunk)]
        return {
            "data": {
                "newTitles": {
                    "__typename": "NewTitlesConnection",
                    "totalCount": len(edges),
                    "edges": served,
                    "pageInfo": _page_info(start, len(chunk), len(edges)),
                }
            }
        }

    def _edges(self, variables: dict[str, Any]) -> list[dict[str, Any]]:
        """The day's edges in the asked country, only those new on the asked packages if any."""
        edges = self.by_country.get(str(variables.get("country")), self.catalogue).get(str(variables.get("date")), [])
        packages = ((variables.get("filter") or {}).get("packages")) or []
        if not packages:
            return edges
        return [e for e in edges if (e.get("newOffer") or {}).get("package", {}).get("shortName") in packages]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
                with fake._lock:
                    fake.status_log.append(status)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(body)

            def _json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
                self._send(status, json.dumps(payload).encode(), headers)

            def do_GET(self) -> None:
                self._json(405, {"message": "use POST"})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                if self.path.split("?")[0] != "/graphql":
                    self._json(404, {"message": f"no route {self.path}"})
                    return
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
                variables = (body or {}).get("variables") if isinstance(body, dict) else None
                variables = variables if isinstance(variables, dict) else {}
                day = variables.get("date")
                with fake._lock:
                    fake.requests[(day, variables.get("after"))] += 1
                    fake.requests_by_country[variables.get("country")] += 1
                    if isinstance(body, dict):
                        fake.bodies.append(body)
                    fake.headers.append({k: v for k, v in self.headers.items()})
                fault = fake._take_fault(day, variables.get("country"))
                if fault is not None:
                    if fault.kind == "slow":
                        time.sleep(fault.delay_s)
                    elif fault.kind == "429":
                        headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
                        self._json(429, {"message": "Too Many Requests"}, headers)
                        return
                    elif fault.kind == "500":
                        self._json(500, {"message": fault.message})
                        return
                    elif fault.kind == "403":
                        self._send(
                            403,
                            b"<html><body><h1>403 Forbidden</h1>Request blocked.</body></html>",
                            {"Content-Type": "text/html"},
                        )
                        return
                    elif fault.kind == "graphql_error":
                        self._json(
                            200,
                            {
                                "errors": [
                                    {
                                        "message": fault.message,
                                        "extensions": {"code": "INTERNAL_SERVER_ERROR"},
                                    }
                                ],
                                "data": None,
                            },
                        )
                        return
                    elif fault.kind == "garbage":
                        self._send(200, b"<!doctype html><html>upstream hiccup</html>")
                        return
                checked, errors = validate_request(body)
                if errors or checked is None:
                    self._json(200, {"errors": errors, "data": None})
                    return
                first = checked.get("first")
                if (
                    fake.complexity_limit is not None
                    and isinstance(first, int)
                    and first > fake.complexity_limit
                ):
                    cost = first * 31  # ~31 fields per node with credits and offers
                    self._json(
                        200,
                        {
                            "errors": [
                                {
                                    "message": f"Query complexity of {cost} exceeds the maximum allowed complexity of "
                                    f"{fake.complexity_limit * 31}",
                                    "extensions": {"code": "TOO_COMPLEX"},
                                }
                            ],
                            "data": None,
                        },
                    )
                    return
                page = fake.page(checked)
                if fault is not None and fault.kind == "partial":
                    page["errors"] = [
                        {
                            "message": fault.message,
                            "path": ["newTitles", "edges", 0, "newOffer"],
                            "extensions": {"code": "INTERNAL_SERVER_ERROR"},
                        }
                    ]
                self._json(200, page)

        return Handler
