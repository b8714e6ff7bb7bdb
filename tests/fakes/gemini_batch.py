"""The Gemini Batch API and Files API endpoints of the fake, in the REST shapes the google-genai SDK reads.

Routes (``{v}`` is ``v1`` or ``v1beta``; every route but the upload URL wants ``x-goog-api-key``):

- ``POST /{v}/models/{m}:batchGenerateContent``: body ``{"batch": {"displayName", "inputConfig":
  {"requests": {"requests": [{"request": {...}, "metadata": {"key": ..}}]}} | {"fileName": "files/.."}}}``;
  answers the long-running operation ``{"name": "batches/..", "metadata": {"@type": ..GenerateContentBatch,
  "state": "BATCH_STATE_PENDING", "batchStats": {..}, ..}}``.
- ``GET /{v}/batches/{id}``: the operation; every GET moves the batch one state on
  (PENDING -> RUNNING -> done after ``polls_to_finish`` GETs in RUNNING), so a test never waits on a clock.
  When it ends ``SUCCEEDED``, each request is answered by the same code as ``generateContent`` (the fake's
  per-call and per-title faults apply per request; an HTTP error fault becomes the request's
  ``error`` status, as the real service reports a request that failed inside a batch), inline
  (``metadata.output.inlinedResponses.inlinedResponses[]``) or, for a file input, as a JSONL file
  (``metadata.output.responsesFile``; lines ``{"key", "response"}`` or ``{"key", "error"}``).
- ``GET /{v}/batches``: ``{"operations": [...]}`` (``pageSize``/``pageToken`` honoured);
  ``POST /{v}/batches/{id}:cancel``; ``DELETE /{v}/batches/{id}``.
- Files API: ``POST /upload/{v}/files`` (resumable ``start``: the upload URL in ``x-goog-upload-url``),
  ``POST <upload url>`` (``upload, finalize``: ``{"file": {...}}``), ``GET /{v}/files/{id}``,
  ``GET [/download]/{v}/files/{id}:download?alt=media`` (the bytes).

Control: ``outcomes`` (FIFO: how the next batches end, ``SUCCEEDED`` by default, or ``EXPIRED``,
``FAILED``, ``CANCELLED``), ``polls_to_finish``, ``finish(name)`` to end a batch at once.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

BATCH_TYPE = "type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatch"
OUTPUT_TYPE = "type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatchOutput"
TERMINAL = ("SUCCEEDED", "FAILED", "CANCELLED", "EXPIRED")
# google.rpc.Code of the HTTP statuses the fake's faults use (a request's error inside a batch is a Status)
GRPC_CODES = {"INVALID_ARGUMENT": 3, "NOT_FOUND": 5, "PERMISSION_DENIED": 7, "RESOURCE_EXHAUSTED": 8,
              "FAILED_PRECONDITION": 9, "INTERNAL": 13, "UNAVAILABLE": 14}
_CREATE = re.compile(r"^/(v1|v1beta)/models/([^/:]+):batchGenerateContent$")
_BATCH = re.compile(r"^/(v1|v1beta)/batches/([^/:]+)(:cancel)?$")
_LIST = re.compile(r"^/(v1|v1beta)/batches$")
_UPLOAD_START = re.compile(r"^/upload/(v1|v1beta)/files$")
_FILE = re.compile(r"^(?:/download)?/(v1|v1beta)/files/([^/:]+)(:download)?$")
_TIME = "2026-12-06T03:00:00.000000Z"

# (status, body, extra headers); body bytes are sent as they are
Reply = tuple[int, Any, dict[str, str]]
# the fake's generateContent: (model, request body, api key) -> (HTTP status, body)
Generate = Callable[[str, dict[str, Any], str], tuple[int, dict[str, Any]]]


@dataclass
class Batch:
    name: str
    model: str
    display_name: str
    keys: list[str]
    requests: list[dict[str, Any]]
    api_key: str
    file_input: str | None = None
    state: str = "PENDING"
    polls: int = 0
    outcome: str = "SUCCEEDED"
    responses: list[dict[str, Any]] | None = None  # per request: {"key", "response"} or {"key", "error"}
    output_file: str | None = None

    def operation(self) -> dict[str, Any]:
        done = self.state in TERMINAL
        meta: dict[str, Any] = {
            "@type": BATCH_TYPE, "model": f"models/{self.model}", "displayName": self.display_name,
            "createTime": _TIME, "updateTime": _TIME, "batchStats": self._stats(done),
            "state": f"BATCH_STATE_{self.state}", "name": self.name,
        }
        body: dict[str, Any] = {"name": self.name, "metadata": meta}
        if done:
            meta["endTime"] = _TIME
            body["done"] = True
            if self.state == "SUCCEEDED":
                output = self._output()
                meta["output"] = output
                body["response"] = {"@type": OUTPUT_TYPE, **output}
            elif self.state == "FAILED":
                body["error"] = {"code": 13, "message": "Batch failed: internal error."}
        return body

    def _stats(self, done: bool) -> dict[str, str]:
        stats = {"requestCount": str(len(self.requests))}
        if not done:
            return stats | {"pendingRequestCount": str(len(self.requests))}
        ok = sum(1 for r in self.responses or [] if "response" in r)
        failed = sum(1 for r in self.responses or [] if "error" in r)
        return stats | {"successfulRequestCount": str(ok), "failedRequestCount": str(failed)}

    def _output(self) -> dict[str, Any]:
        if self.output_file:
            return {"responsesFile": self.output_file}
        inlined = [{k: v for k, v in r.items() if k != "key"} | {"metadata": {"key": r["key"]}}
                   for r in self.responses or []]
        return {"inlinedResponses": {"inlinedResponses": inlined}}



def _file_requests(data: bytes) -> tuple[list[str], list[dict[str, Any]]]:
    """(keys, requests) of an uploaded JSONL input file: one ``{"key", "request"}`` a line."""
    items = [json.loads(line) for line in data.decode("utf-8").splitlines() if line.strip()]
    return [str(item.get("key")) for item in items], [item.get("request") or {} for item in items]


def _inline_requests(config: dict[str, Any]) -> tuple[list[str], list[dict[str, Any]]]:
    """(keys, requests) of inlined requests; one without a metadata key is keyed by its position."""
    items = (config.get("requests") or {}).get("requests") or []
    keys = [str((item.get("metadata") or {}).get("key", i)) for i, item in enumerate(items)]
    return keys, [item.get("request") or {} for item in items]

@dataclass
class BatchService:
    """The fake's batch and file state. ``generate`` answers one request (the fake's generateContent)."""

    generate: Generate
    base_url: Callable[[], str]
    refuse: Callable[[str, str], tuple[int, dict[str, Any]] | None] = lambda model, key: None  # account faults
    polls_to_finish: int = 1
    outcomes: deque[str] = field(default_factory=deque)
    batches: dict[str, Batch] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)
    created: list[str] = field(default_factory=list)  # batch names in creation order
    gets: int = 0

    def __post_init__(self) -> None:
        self._lock = threading.RLock()
        self._ids = itertools.count(1)
        self._uploads: dict[str, dict[str, Any]] = {}

    def reset(self) -> None:
        with self._lock:
            self.batches.clear()
            self.files.clear()
            self.created.clear()
            self.outcomes.clear()
            self.gets = 0

    # ---- routing ------------------------------------------------------------------------------------
    def route(self, method: str, raw_path: str, raw: bytes, headers: dict[str, str]) -> Reply | None:
        """The reply to a batch or file request; None when the path is not one of these endpoints."""
        parts = urlsplit(raw_path)
        path, query = parts.path, parse_qs(parts.query)
        lower = {k.lower(): v for k, v in headers.items()}
        key = lower.get("x-goog-api-key", "")
        if method == "POST" and "upload_id" in query:
            return self._upload(query["upload_id"][0], raw, lower)
        handlers: list[tuple[str, re.Pattern[str], Callable[..., Reply]]] = [
            ("POST", _CREATE, lambda m: self._create(m.group(2), raw, key)),
            ("GET", _LIST, lambda m: self._list(query)),
            ("GET", _BATCH, lambda m: self._get(f"batches/{m.group(2)}")),
            ("POST", _BATCH, lambda m: self._cancel(f"batches/{m.group(2)}")),
            ("DELETE", _BATCH, lambda m: self._delete(f"batches/{m.group(2)}")),
            ("POST", _UPLOAD_START, lambda m: self._start_upload(m.group(1), raw, lower)),
            ("GET", _FILE, lambda m: self._file(m.group(2), bool(m.group(3)))),
        ]
        for verb, pattern, handler in handlers:
            match = pattern.match(path)
            if match and verb == method:
                if not key:
                    return 403, {"error": {"code": 403, "message": "Method doesn't allow unregistered callers.",
                                           "status": "PERMISSION_DENIED"}}, {}
                refused = self.refuse("", key)  # a revoked key is refused on every route
                if refused is not None:
                    return (*refused, {})
                return handler(match)
        return None

    # ---- batches ------------------------------------------------------------------------------------
    def _create(self, model: str, raw: bytes, key: str) -> Reply:
        refused = self.refuse(model, key)
        if refused is not None:
            return (*refused, {})
        batch_body = (json.loads(raw or b"{}").get("batch")) or {}
        config = batch_body.get("inputConfig") or batch_body.get("input_config") or {}
        file_name = config.get("fileName") or config.get("file_name")
        if file_name:
            data = self.files.get(file_name.removeprefix("files/"))
            if data is None:
                return _not_found(f"File {file_name} not found.")
            keys, requests = _file_requests(data)
        else:
            keys, requests = _inline_requests(config)
        return self._new_batch(model, key, batch_body, file_name, keys, requests)

    def _new_batch(
        self, model: str, key: str, batch_body: dict[str, Any], file_name: str | None, keys: list[str],
        requests: list[dict[str, Any]],
    ) -> Reply:
        if not requests:
            return 400, {"error": {"code": 400, "message": "Batch input is empty.", "status": "INVALID_ARGUMENT"}}, {}
        with self._lock:
            name = f"batches/fakebatch{next(self._ids):05d}"
            outcome = self.outcomes.popleft() if self.outcomes else "SUCCEEDED"
            batch = Batch(name, model, str(batch_body.get("displayName") or ""), keys, requests, key,
                          file_input=file_name, outcome=outcome)
            self.batches[name] = batch
            self.created.append(name)
            return 200, batch.operation(), {}

    def _get(self, name: str) -> Reply:
        with self._lock:
            batch = self.batches.get(name)
            if batch is None:
                return _not_found(f"Batch {name} not found.")
            self.gets += 1
            if batch.state == "PENDING":
                batch.state = "RUNNING"
            elif batch.state == "RUNNING":
                batch.polls += 1
                if batch.polls >= self.polls_to_finish:
                    self._finish(batch)
            return 200, batch.operation(), {}

    def finish(self, name: str) -> None:
        """End a batch now, with its planned outcome (a test's shortcut past the polls)."""
        with self._lock:
            self._finish(self.batches[name])

    def _finish(self, batch: Batch) -> None:
        if batch.state in TERMINAL:
            return
        batch.state = batch.outcome
        if batch.outcome != "SUCCEEDED":
            return
        batch.responses = [self._answer(batch, key, request) for key, request in zip(batch.keys, batch.requests,
                                                                                      strict=True)]
        if batch.file_input:
            file_id = f"batch-{batch.name.split('/')[-1]}-output"
            self.files[file_id] = "".join(json.dumps(r) + "\n" for r in batch.responses).encode("utf-8")
            batch.output_file = f"files/{file_id}"

    def _answer(self, batch: Batch, key: str, request: dict[str, Any]) -> dict[str, Any]:
        status, body = self.generate(batch.model, request, batch.api_key)
        if status == 200:
            return {"key": key, "response": body}
        error = body.get("error") or {}
        return {"key": key, "error": {"code": GRPC_CODES.get(str(error.get("status")), 2),
                                      "message": str(error.get("message", "error"))}}

    def _list(self, query: dict[str, list[str]]) -> Reply:
        size = int((query.get("pageSize") or ["50"])[0])
        start = int((query.get("pageToken") or ["0"])[0] or 0)
        with self._lock:
            names = list(reversed(self.created))  # newest first, as the service lists them
            page = names[start : start + size]
            body: dict[str, Any] = {"operations": [self.batches[n].operation() for n in page]}
            if start + size < len(names):
                body["nextPageToken"] = str(start + size)
            return 200, body, {}

    def _cancel(self, name: str) -> Reply:
        with self._lock:
            batch = self.batches.get(name)
            if batch is None:
                return _not_found(f"Batch {name} not found.")
            if batch.state not in TERMINAL:
                batch.state = "CANCELLED"
            return 200, {}, {}

    def _delete(self, name: str) -> Reply:
        with self._lock:
            if self.batches.pop(name, None) is None:
                return _not_found(f"Batch {name} not found.")
            self.created.remove(name)
            return 200, {}, {}

    # ---- files --------------------------------------------------------------------------------------
    def _start_upload(self, version: str, raw: bytes, headers: dict[str, str]) -> Reply:
        if headers.get("x-goog-upload-command") != "start":
            return 400, {"error": {"code": 400, "message": "Upload command must be start.",
                                   "status": "INVALID_ARGUMENT"}}, {}
        meta = (json.loads(raw or b"{}").get("file")) or {}
        with self._lock:
            upload_id = f"up{next(self._ids):05d}"
            self._uploads[upload_id] = {
                "version": version, "meta": meta,
                "size": int(headers.get("x-goog-upload-header-content-length") or 0),
                "mime": headers.get("x-goog-upload-header-content-type") or "application/octet-stream",
                "data": b"",
            }
        url = f"{self.base_url()}/upload/{version}/files?upload_id={upload_id}&upload_protocol=resumable"
        return 200, b"", {"x-goog-upload-url": url, "x-goog-upload-status": "active",
                          "x-goog-upload-chunk-granularity": "8388608"}

    def _upload(self, upload_id: str, raw: bytes, headers: dict[str, str]) -> Reply:
        with self._lock:
            upload = self._uploads.get(upload_id)
            if upload is None:
                return _not_found("Upload session not found.")
            if int(headers.get("x-goog-upload-offset") or 0) != len(upload["data"]):
                return 400, {"error": {"code": 400, "message": "Wrong upload offset.",
                                       "status": "INVALID_ARGUMENT"}}, {}
            upload["data"] += raw
            if "finalize" not in (headers.get("x-goog-upload-command") or ""):
                return 200, b"", {"x-goog-upload-status": "active"}
            del self._uploads[upload_id]
            file_id = f"fakefile{next(self._ids):05d}"
            self.files[file_id] = upload["data"]
            meta = upload["meta"]
            body = {"file": {
                "name": f"files/{file_id}", "displayName": meta.get("displayName") or meta.get("display_name") or "",
                "mimeType": upload["mime"], "sizeBytes": str(len(upload["data"])), "createTime": _TIME,
                "updateTime": _TIME, "expirationTime": "2026-12-08T03:00:00.000000Z", "sha256Hash": "",
                "uri": f"{self.base_url()}/{upload['version']}/files/{file_id}", "state": "ACTIVE",
                "source": "UPLOADED",
            }}
            return 200, body, {"x-goog-upload-status": "final"}

    def _file(self, file_id: str, download: bool) -> Reply:
        data = self.files.get(file_id)
        if data is None:
            return _not_found(f"File files/{file_id} not found.")
        if download:
            return 200, data, {"Content-Type": "application/octet-stream"}
        return 200, {"name": f"files/{file_id}", "sizeBytes": str(len(data)), "state": "ACTIVE",
                     "mimeType": "application/jsonl", "createTime": _TIME, "updateTime": _TIME,
                     "source": "GENERATED" if file_id.startswith("batch-") else "UPLOADED"}, {}


def _not_found(message: str) -> Reply:
    return 404, {"error": {"code": 404, "message": message, "status": "NOT_FOUND"}}, {}
