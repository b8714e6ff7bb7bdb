"""Replay server: serves the recorded responses in ``data/samples/`` over HTTP on 127.0.0.1.

``make demo`` points the real JustWatch client, review adapters (and, if asked, the Gemini SDK) at it,
so the demo exercises every client, parser and dlt load without touching the internet.

Layout: ``data/samples/<service>/routes.json`` lists the recorded exchanges of one service, mounted
under ``/<service>``::

    [{"method": "POST", "path": "/graphql",
      "json": {"operationName": "GetNewTitles", "variables": {"date": "2026-11-20", "after": null}},
      "status": 200, "body_file": "new_titles_2026-11-20_p1.json"},
     {"method": "GET", "path": "/3/movie/603/reviews", "query": {"page": "1"},
      "status": 200, "body_file": "tmdb_movie_603_reviews.json",
      "headers": {"Content-Type": "application/json;charset=utf-8"}}]

A request matches an entry when method and path are equal, every ``query`` item of the entry is in the
request's query string, and the entry's ``json`` is a subset of the request's JSON body. The first match
wins. GET responses carry an ``ETag`` and honour ``If-None-Match`` with 304, like the real sites' CDNs.
Unmatched requests get 404 with a JSON body naming the request, so a missing recording is obvious.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import threading
from collections import Counter
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar, Self
from urllib.parse import parse_qsl, urlsplit

DEFAULT_SAMPLES = Path(__file__).resolve().parent.parent / "data" / "samples"


def is_subset(expected: Any, actual: Any) -> bool:
    """True when every key/value of ``expected`` appears in ``actual`` (recursively for mappings)."""
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            key in actual and is_subset(value, actual[key]) for key, value in expected.items()
        )
    return expected == actual


@dataclass
class Route:
    service: str
    method: str
    path: str
    status: int = 200
    query: dict[str, str] = field(default_factory=dict)
    json_body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    def matches(self, method: str, path: str, query: dict[str, str], body: Any) -> bool:
        if method != self.method or path != self.path:
            return False
        if any(query.get(k) != str(v) for k, v in self.query.items()):
            return False
        return self.json_body is None or is_subset(self.json_body, body)


def load_routes(samples_dir: Path) -> list[Route]:
    routes: list[Route] = []
    for routes_file in sorted(samples_dir.glob("*/routes.json")):
        service = routes_file.parent.name
        for entry in json.loads(routes_file.read_text(encoding="utf-8")):
            if "body_file" in entry:
                body = (routes_file.parent / entry["body_file"]).read_bytes()
            elif isinstance(entry.get("body"), str):
                body = entry["body"].encode("utf-8")
            else:
                body = json.dumps(entry.get("body", {})).encode("utf-8")
            headers = dict(entry.get("headers") or {})
            headers.setdefault("Content-Type", _guess_type(entry.get("body_file", ""), body))
            routes.append(
                Route(
                    service=service,
                    method=entry.get("method", "GET").upper(),
                    path=f"/{service}{entry['path']}",
                    status=int(entry.get("status", 200)),
                    query={k: str(v) for k, v in (entry.get("query") or {}).items()},
                    json_body=entry.get("json"),
                    headers=headers,
                    body=body,
                )
            )
    return routes


def _guess_type(name: str, body: bytes) -> str:
    if name.endswith(".html") or body.lstrip().startswith(b"<"):
        return "text/html; charset=utf-8"
    if name.endswith(".txt"):
        return "text/plain; charset=utf-8"
    return "application/json"


class ServedInBackground:
    """An HTTP server (``self._httpd``) served from a daemon thread: ``start()``/``stop()``, or ``with``."""

    _httpd: ThreadingHTTPServer
    thread_name: ClassVar[str] = "http-server"
    poll_interval_s: ClassVar[float] = 0.5  # how soon stop() is answered (http.server's default)

    def _bind(self, handler: type[BaseHTTPRequestHandler], host: str = "127.0.0.1", port: int = 0) -> None:
        """Bind the server (port 0: a free one); it serves from ``start()`` on, each request in its thread."""
        self._httpd = ThreadingHTTPServer((host, port), handler)
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> Self:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": self.poll_interval_s},
            name=self.thread_name,
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class ReplayServer(ServedInBackground):
    """A threaded HTTP server on 127.0.0.1 replaying ``routes``; use as a context manager."""

    thread_name = "replay-server"

    def __init__(self, samples_dir: Path = DEFAULT_SAMPLES, host: str = "127.0.0.1", port: int = 0) -> None:
        self.samples_dir = Path(samples_dir)
        self.routes = load_routes(self.samples_dir)
        self.hits: Counter[str] = Counter()
        self.misses: list[str] = []
        self._lock = threading.Lock()
        self._bind(self._handler_class(), host, port)

    def url(self, service: str) -> str:
        return f"{self.base_url}/{service}"

    def settings_overrides(self) -> dict[str, str]:
        """Dotted config overrides that point every client at this server."""
        return {
            "justwatch.graphql_url": f"{self.url('justwatch')}/graphql",
            "reviews.tmdb.base_url": self.url("tmdb"),
            "reviews.rogerebert.base_url": self.url("rogerebert"),
            "reviews.guardian.base_url": self.url("guardian"),
        }

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def _serve(self) -> None:
                parts = urlsplit(self.path)
                query = dict(parse_qsl(parts.query, keep_blank_values=True))
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = None
                key = f"{self.command} {parts.path}"
                for route in server.routes:
                    if route.matches(self.command, parts.path, query, body):
                        with server._lock:
                            server.hits[key] += 1
                        self._respond(route.status, route.headers, route.body)
                        return
                with server._lock:
                    server.misses.append(f"{key}?{parts.query}")
                missing = json.dumps({"error": "no recorded response", "request": f"{key}?{parts.query}"})
                self._respond(HTTPStatus.NOT_FOUND, {"Content-Type": "application/json"}, missing.encode())

            def _respond(self, status: int, headers: dict[str, str], body: bytes) -> None:
                etag = '"' + hashlib.sha1(body, usedforsecurity=False).hexdigest() + '"'
                if (
                    self.command == "GET"
                    and status == HTTPStatus.OK
                    and self.headers.get("If-None-Match") == etag
                ):
                    self.send_response(HTTPStatus.NOT_MODIFIED)
                    self.send_header("ETag", etag)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                if self.command == "GET" and status == HTTPStatus.OK:
                    self.send_header("ETag", etag)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = _serve
            do_POST = _serve

        return Handler


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m core.replay",
        description="Serve the recorded responses in data/samples/ on 127.0.0.1 until interrupted.",
    )
    parser.add_argument(
        "--samples", type=Path, default=DEFAULT_SAMPLES, help="samples folder (default: %(default)s)"
    )
    parser.add_argument("--port", type=int, default=8765, help="port on 127.0.0.1 (default: %(default)s)")
    args = parser.parse_args(argv)
    server = ReplayServer(args.samples, port=args.port)
    print(f"replaying {len(server.routes)} recorded responses from {args.samples} at {server.base_url}")
    for key, value in server.settings_overrides().items():
        print(f"  TRENDING_NOW__{key.upper().replace('.', '__')}={value}")
    try:
        server._httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server._httpd.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
