"""A real HTTP fake of the Gemini ``generateContent`` endpoint, for the google-genai SDK to talk to.

``POST /{v1,v1beta}/models/{model}:generateContent`` on 127.0.0.1. It parses what the SDK sends
(``contents``, ``systemInstruction``, ``generationConfig`` incl. ``responseSchema`` in the SDK's mixed
key spellings) and answers, in the shapes of the real recorded bodies, with JSON that satisfies the
schema, built deterministically from the prompt: one item per ``<title id=..>`` block for batch
prompts, a summary that mentions the title and says so when it has no reviews, a score from the
reviews' ``score_out_of_10``. ``usageMetadata`` counts tokens as chars/4.

Faults on demand, FIFO per call (``fail_next``) or when a call contains a title (``fail_title``):
``429`` (QuotaFailure + RetryInfo ``retry_delay``), ``429_daily``, ``500``, ``503``, ``400``, ``402``,
``403``, ``404``, ``malformed`` (truncated JSON), ``out_of_range`` (score 11), ``max_tokens`` (no parts),
``safety``, ``blocked`` (promptFeedback, no candidates), ``slow`` (sleeps ``slow_s``), ``ok`` (no fault:
lets a per-title list skip a call). Fatal account faults, in the bodies the live API returns (see
:data:`ACCOUNT_FAULTS`): ``key_invalid`` (400 INVALID_ARGUMENT, ErrorInfo ``API_KEY_INVALID``),
``key_expired``, ``suspended`` (403 CONSUMER_SUSPENDED, quoting the key as Google does), ``leaked``
(403), ``location`` (400 FAILED_PRECONDITION "User location is not supported for the API use."),
``project_denied`` (403), ``billing`` (400 FAILED_PRECONDITION, the location message naming billing); a key in ``revoked_keys`` gets ``key_invalid`` on every
call, a model in ``unknown_models`` the real 404 NOT_FOUND. ``drop_ids``
are left out of batch answers. Prompt injection probe: when the text ``ignore previous instructions``
appears outside the ``<review>`` blocks (or in the system instruction) the answer carries ``LEAK_FLAG``
and score 10, as a model that obeyed it would.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.fakes.gemini_batch import BatchService

LEAK_FLAG = "INJECTION-LEAKED"
INJECTION_PHRASE = "ignore previous instructions"
_PATH = re.compile(r"^/(v1|v1beta)/models/([^/:]+):generateContent$")
_TITLE = re.compile(r'<title id="([^"]*)">(.*?)</title>', re.S)
_REVIEW_BLOCK = re.compile(r"<review\b[^>]*>.*?</review>", re.S)
_TAG_WORDS = ("tense", "witty", "dark", "heartfelt", "slow-burn", "stylish", "gritty", "uplifting", "eerie",
              "epic", "quirky", "moody")
ERROR_BODIES: dict[str, tuple[int, dict[str, Any]]] = {
    "400": (400, {"error": {"code": 400, "message": "Request contains an invalid argument.",
                            "status": "INVALID_ARGUMENT"}}),
    "402": (402, {"error": {"code": 402, "message": "Your prepayment credits are depleted.",
                            "status": "RESOURCE_EXHAUSTED"}}),
    "403": (403, {"error": {"code": 403, "message": "Method doesn't allow unregistered callers.",
                            "status": "PERMISSION_DENIED"}}),
    "404": (404, {"error": {"code": 404, "message": "models/unknown is not found for API version v1beta.",
                            "status": "NOT_FOUND"}}),
    "500": (500, {"error": {"code": 500, "message": "An internal error has occurred. Please retry or report "
                            "in https://developers.generativeai.google/guide/troubleshooting",
                            "status": "INTERNAL"}}),
    "503": (503, {"error": {"code": 503, "message": "The model is overloaded. Please try again later.",
                            "status": "UNAVAILABLE"}}),
}


def _error_info(code: int, status: str, message: str, reason: str, **metadata: str) -> tuple[int, dict[str, Any]]:
    """A Google API error with ErrorInfo + LocalizedMessage details, as generativelanguage returns it."""
    return code, {"error": {"code": code, "message": message, "status": status, "details": [
        {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason, "domain": "googleapis.com",
         "metadata": {"service": "generativelanguage.googleapis.com", **metadata}},
        {"@type": "type.googleapis.com/google.rpc.LocalizedMessage", "locale": "en-US", "message": message},
    ]}}


def account_fault(fault: str, model: str, key: str) -> tuple[int, dict[str, Any]]:
    """The live API's answer to a call that no retry and no other title can fix (key, project, model)."""
    if fault == "key_invalid":
        return _error_info(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.",
                           "API_KEY_INVALID")
    if fault == "key_expired":
        return _error_info(400, "INVALID_ARGUMENT", "API key expired. Please renew the API key.", "API_KEY_INVALID")
    if fault == "suspended":  # Google quotes the key itself in this one
        return _error_info(403, "PERMISSION_DENIED", f"Permission denied: Consumer 'api_key:{key}' has been "
                           "suspended.", "CONSUMER_SUSPENDED", consumer="projects/578829824020",
                           containerInfo=f"api_key:{key}")
    if fault == "leaked":
        return 403, {"error": {"code": 403, "message": "Your API key was reported as leaked. Please use another "
                               "API key.", "status": "PERMISSION_DENIED"}}
    if fault == "location":  # the recorded body: no details, no billing hint (gemini-cli #24641)
        return 400, {"error": {"code": 400, "message": "User location is not supported for the API use.",
                               "status": "FAILED_PRECONDITION"}}
    if fault == "project_denied":
        return 403, {"error": {"code": 403, "message": "Your project has been denied access. Please contact "
                               "support.", "status": "PERMISSION_DENIED"}}
    if fault == "billing":
        return 400, {"error": {"code": 400, "message": "User location is not supported for the API use without a "
                               "billing account linked.", "status": "FAILED_PRECONDITION"}}
    if fault == "unknown_model":
        return 404, {"error": {"code": 404, "message": f"models/{model} is not found for API version v1beta, or "
                               "is not supported for generateContent. Call ModelService.ListModels to see the "
                               "list of available models and their supported methods.", "status": "NOT_FOUND"}}
    raise ValueError(f"unknown account fault {fault!r}")


ACCOUNT_FAULTS = ("key_invalid", "key_expired", "suspended", "leaked", "location", "project_denied", "billing",
                  "unknown_model")


def tokens(text: str) -> int:
    return max(1, (len(text) + 3) // 4) if text else 0


def _h(*parts: str) -> int:
    return int(hashlib.sha256("|".join(parts).encode()).hexdigest()[:8], 16)


def _get(d: dict[str, Any], *names: str) -> Any:
    for name in names:
        if name in d:
            return d[name]
    return None


@dataclass
class TitleView:
    """What the fake reads back from one ``<title>`` block of the prompt."""

    id: str
    name: str
    review_count: int
    review_scores: list[float]


def parse_titles(prompt: str) -> list[TitleView]:
    views = []
    for title_id, body in _TITLE.findall(prompt):
        name = re.search(r"<name>(.*?)</name>", body, re.S)
        scores = [float(s) for s in re.findall(r'score_out_of_10="([0-9.]+)"', body)]
        views.append(TitleView(title_id, name.group(1) if name else "this title",
                               len(_REVIEW_BLOCK.findall(body)), scores))
    return views


def leaked(prompt: str, system: str) -> bool:
    """True when the injection phrase is outside every <review> block, i.e. it reached the instructions."""
    outside = _REVIEW_BLOCK.sub("", prompt)
    return INJECTION_PHRASE in outside.lower() or INJECTION_PHRASE in system.lower()


@dataclass
class CallRecord:
    path: str
    model: str
    ids: list[str]
    status: int
    fault: str | None
    prompt_tokens: int = 0
    output_tokens: int = 0
    leaked: bool = False


@dataclass
class FakeGemini:
    latency_s: float = 0.0
    per_output_token_s: float = 0.0
    per_input_token_s: float = 0.0
    thoughts: bool = False
    retry_delay: str = "0.01s"
    slow_s: float = 2.0
    drop_ids: set[str] = field(default_factory=set)
    revoked_keys: set[str] = field(default_factory=set)
    unknown_models: set[str] = field(default_factory=set)
    calls: list[CallRecord] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: deque[str] = deque()
        self._title_faults: dict[str, deque[str]] = {}
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        # the Batch API and Files API endpoints (tests/fakes/gemini_batch.py); each request answered as above
        self.batch = BatchService(lambda model, request, key: self.generate(model, request, key, "batch"),
                                  lambda: self.base_url, self._refusal)

    # ---- control -------------------------------------------------------------------------------
    def fail_next(self, *faults: str) -> None:
        with self._lock:
            self._faults.extend(faults)

    def fail_title(self, title_id: str, *faults: str) -> None:
        with self._lock:
            self._title_faults.setdefault(title_id, deque()).extend(faults)

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()
            self.requests.clear()
            self._faults.clear()
            self._title_faults.clear()
            self.drop_ids.clear()
            self.revoked_keys.clear()
            self.unknown_models.clear()
        self.batch.reset()

    def _refusal(self, model: str, key: str) -> tuple[int, dict[str, Any]] | None:
        """The account fault a revoked key or an unknown model gets on any call (batch creation too)."""
        if key in self.revoked_keys:
            return account_fault("key_invalid", model, key)
        if model in self.unknown_models:
            return account_fault("unknown_model", model, key)
        return None

    @property
    def call_count(self) -> int:
        return len(self.calls)

    @property
    def prompt_tokens(self) -> int:
        return sum(c.prompt_tokens for c in self.calls)

    @property
    def output_tokens(self) -> int:
        return sum(c.output_tokens for c in self.calls)

    def calls_for(self, title_id: str) -> int:
        return sum(1 for c in self.calls if title_id in c.ids)

    @property
    def base_url(self) -> str:
        assert self._server is not None, "server not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FakeGemini:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                reply = fake.batch.route(method, self.path, raw, dict(self.headers))
                if reply is None and method == "POST":
                    reply = (*fake.handle(self.path, raw, dict(self.headers)), {})
                if reply is None:
                    reply = (404, {"error": {"code": 404, "message": f"no route {self.path}", "status": "NOT_FOUND"}},
                             {})
                status, body, extra = reply
                payload = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                headers = {"Content-Type": "application/json; charset=UTF-8", **extra}
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                try:
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    return  # the client gave up (timeout test): nothing to answer

            def do_POST(self) -> None:
                self._serve("POST")

            def do_GET(self) -> None:
                self._serve("GET")

            def do_DELETE(self) -> None:
                self._serve("DELETE")

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-gemini", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeGemini:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # ---- request handling ----------------------------------------------------------------------
    def handle(self, path: str, raw: bytes, headers: dict[str, str]) -> tuple[int, Any]:
        match = _PATH.match(path.split("?")[0])
        if not match:
            return 404, {"error": {"code": 404, "message": f"no route {path}", "status": "NOT_FOUND"}}
        key = headers.get("x-goog-api-key") or headers.get("X-Goog-Api-Key") or ""
        if not key:
            return 403, ERROR_BODIES["403"][1]
        try:
            request = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            return 400, ERROR_BODIES["400"][1]
        return self.generate(match.group(2), request, key, path)

    def generate(self, model: str, request: dict[str, Any], key: str, path: str) -> tuple[int, Any]:
        """Answer one generateContent request (a direct call, or one request of a batch)."""
        prompt, system, schema = _prompt_of(request)
        titles = parse_titles(prompt)
        ids = [t.id for t in titles]
        with self._lock:
            self.requests.append(request)
            fault, item_faults = self._faults_for(ids, key, model)
            record = CallRecord(path=path, model=model, ids=ids, status=200, fault=fault)
            self.calls.append(record)  # counted on arrival, also when the client gives up waiting
        if fault == "slow":
            time.sleep(self.slow_s)
        if fault in ACCOUNT_FAULTS:
            status, body = account_fault(fault, model, key)
        else:
            status, body = self._answer(fault, model, prompt, system, schema, titles, item_faults, record)
        record.status = status
        if status == 200 and path != "batch":  # a batch's requests are answered when it ends, not timed
            time.sleep(self.latency_s + self.per_input_token_s * record.prompt_tokens
                       + self.per_output_token_s * record.output_tokens)
        return status, body

    def _faults_for(self, ids: list[str], key: str, model: str) -> tuple[str | None, dict[str, str]]:
        """(the call's fault, the batch items' faults) for a call about ``ids`` (under the lock): the next
        queued call fault, else one title's; a revoked key or an unknown model overrides both."""
        fault = self._faults.popleft() if self._faults else None
        item_faults: dict[str, str] = {}
        for title_id in ids:  # at most one call-level fault per call; the rest wait for later calls
            queue = self._title_faults.get(title_id)
            if not queue:
                continue
            if queue[0] == "out_of_range" and len(ids) > 1:
                item_faults[title_id] = queue.popleft()
            elif fault is None:
                fault = queue.popleft()
        if key in self.revoked_keys:
            fault = "key_invalid"
        elif model in self.unknown_models:
            fault = "unknown_model"
        return fault, item_faults

    def _error(self, fault: str) -> tuple[int, dict[str, Any]]:
        if fault in ("429", "429_daily"):
            quota = ("GenerateRequestsPerDayPerProjectPerModel-FreeTier" if fault == "429_daily"
                     else "GenerateContentInputTokensPerModelPerMinute-FreeTier")
            details: list[dict[str, Any]] = [
                {"@type": "type.googleapis.com/google.rpc.QuotaFailure",
                 "violations": [{"quotaMetric": "generativelanguage.googleapis.com/generate_content_input_token_count",
                                 "quotaId": quota, "quotaDimensions": {"location": "global", "model": "m"},
                                 "quotaValue": "250000"}]},
                {"@type": "type.googleapis.com/google.rpc.Help",
                 "links": [{"description": "Learn more about Gemini API quotas",
                            "url": "https://ai.google.dev/gemini-api/docs/rate-limits"}]},
            ]
            if fault == "429":
                details.append({"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": self.retry_delay})
            return 429, {"error": {"code": 429, "message": "You exceeded your current quota, please check your "
                                   "plan and billing details.", "status": "RESOURCE_EXHAUSTED", "details": details}}
        return ERROR_BODIES[fault]

    def _text(
        self, fault: str | None, schema: Any, titles: list[TitleView], item_faults: dict[str, str], leak: bool
    ) -> str:
        """The JSON answer to ``schema``, broken as ``fault`` says (a score out of range, cut in half)."""
        value = Generator(titles, leak, item_faults, self.drop_ids).value(schema, "", titles[0] if titles else None)
        if fault == "out_of_range" and isinstance(value, dict):
            for obj in value.get("items") or [value]:
                obj["score"] = 11
        text = json.dumps(value)
        return text[: max(10, len(text) // 2)] if fault == "malformed" else text

    def _answer(
        self, fault: str | None, model: str, prompt: str, system: str, schema: Any,
        titles: list[TitleView], item_faults: dict[str, str], record: CallRecord,
    ) -> tuple[int, Any]:
        if fault and (fault in ERROR_BODIES or fault.startswith("429")):
            return self._error(fault)
        record.prompt_tokens = tokens(system) + tokens(prompt)
        usage: dict[str, Any] = {"promptTokenCount": record.prompt_tokens,
                                 "promptTokensDetails": [{"modality": "TEXT", "tokenCount": record.prompt_tokens}]}
        envelope: dict[str, Any] = {"modelVersion": model, "responseId": f"fake{len(self.requests):06d}"}
        refused = _no_text(fault, envelope, usage, record)
        if refused is not None:
            return 200, refused
        record.leaked = leaked(prompt, system)
        text = self._text(fault, schema, titles, item_faults, record.leaked) if schema else "A plain answer."
        parts: list[dict[str, Any]] = [{"text": text}]
        thoughts = 0
        if self.thoughts:
            thought = f"Reading the {len(titles)} title block(s) and weighing the reviews."
            parts.insert(0, {"text": thought, "thought": True})
            thoughts = tokens(thought) * 4
        out = tokens(text)
        record.output_tokens = out + thoughts
        usage.update(candidatesTokenCount=out, totalTokenCount=record.prompt_tokens + out + thoughts)
        if thoughts:
            usage["thoughtsTokenCount"] = thoughts
        return 200, {**envelope, "usageMetadata": usage, "candidates": [
            {"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}]}


def _prompt_of(request: dict[str, Any]) -> tuple[str, str, Any]:
    """(the prompt's text, the system instruction's, the response schema) of a generateContent request."""
    prompt = "\n".join(p.get("text", "") for c in request.get("contents", []) for p in c.get("parts", []))
    instruction = _get(request, "systemInstruction", "system_instruction") or {}
    system = "\n".join(p.get("text", "") for p in instruction.get("parts", []))
    config = _get(request, "generationConfig", "generation_config") or {}
    schema = _get(config, "responseSchema", "response_schema", "responseJsonSchema", "response_json_schema")
    return prompt, system, schema


def _no_text(
    fault: str | None, envelope: dict[str, Any], usage: dict[str, Any], record: CallRecord
) -> dict[str, Any] | None:
    """The body of an answer without text (a blocked prompt, a safety stop, out of tokens), if ``fault`` is one."""
    if fault == "blocked":
        usage["totalTokenCount"] = record.prompt_tokens
        return {**envelope, "promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}, "usageMetadata": usage}
    if fault == "safety":
        usage["totalTokenCount"] = record.prompt_tokens
        return {**envelope, "usageMetadata": usage, "candidates": [{
            "content": {}, "finishReason": "SAFETY",
            "safetyRatings": [{"category": "HARM_CATEGORY_HATE_SPEECH", "probability": "LOW", "blocked": True}]}]}
    if fault == "max_tokens":
        usage.update(thoughtsTokenCount=2, totalTokenCount=record.prompt_tokens + 2)
        record.output_tokens = 2
        return {**envelope, "usageMetadata": usage, "candidates": [
            {"content": {"role": "model"}, "finishReason": "MAX_TOKENS", "index": 0}]}
    return None


@dataclass
class Generator:
    """Builds a value satisfying an OpenAPI-subset schema (SDK spellings), deterministic in the prompt."""

    titles: list[TitleView]
    leak: bool
    item_faults: dict[str, str]
    drop_ids: set[str]

    def value(self, schema: dict[str, Any], name: str, title: TitleView | None) -> Any:
        kind = str(schema.get("type", "")).upper()
        key = title.id if title else ""
        if schema.get("enum"):
            return _pick(schema["enum"], key, name)
        if kind == "OBJECT" or "properties" in schema:
            props = schema.get("properties") or {}
            return {prop: self.value(sub, prop, title) for prop, sub in props.items()}
        if kind == "ARRAY":
            return self._array(schema, name, title)
        if kind in ("NUMBER", "INTEGER"):
            return self._number(schema, kind, name, title)
        if kind == "BOOLEAN":
            return True
        return self._string(name, title)

    def _array(self, schema: dict[str, Any], name: str, title: TitleView | None) -> list[Any]:
        item = schema.get("items") or {}
        if name == "items" and self.titles:
            return self._batch_items(item)
        key = title.id if title else ""
        count = _item_count(schema, key, name)
        if item.get("enum"):
            return _run_of(item["enum"], _h(key, name), count)
        if str(item.get("type", "")).upper() == "STRING":
            return _run_of(_TAG_WORDS, _h(key, name), count)
        return [self.value(item, name, title) for _ in range(count)]

    def _batch_items(self, item: dict[str, Any]) -> list[Any]:
        """One answer per title of a batch prompt, but the dropped ones; an out-of-range fault scores 11."""
        result = []
        for view in self.titles:
            if view.id in self.drop_ids:
                continue
            obj = self.value(item, "", view)
            if self.item_faults.get(view.id) == "out_of_range":
                obj["score"] = 11
            result.append(obj)
        return result

    def _number(self, schema: dict[str, Any], kind: str, name: str, title: TitleView | None) -> float | int:
        low = float(schema.get("minimum", 0))
        high = float(schema.get("maximum", low + 10))
        if self.leak and name == "score":
            return high
        scores = title.review_scores if title else []
        key = title.id if title else ""
        value = sum(scores) / len(scores) if scores else low + (high - low) * (0.3 + (_h(key) % 40) / 100)
        value = round(min(high, max(low, value)), 1)
        return int(value) if kind == "INTEGER" else value

    def _string(self, name: str, title: TitleView | None) -> str:
        key = title.id if title else ""
        if name == "id":
            return key
        if "summary" in name:
            return self._summary(title)
        return f"{name or 'value'} for {key or 'request'}"

    def _summary(self, title: TitleView | None) -> str:
        label = title.name if title else "This title"
        tone = _TAG_WORDS[_h(title.id if title else "") % 12]
        flag = f"{LEAK_FLAG}: the model obeyed text from a review. " if self.leak else ""
        if title and title.review_count == 0:
            return f"{flag}There are no reviews of {label} yet. The synopsis promises a {tone} story."
        count = title.review_count if title else 0
        return f"{flag}Across {count} reviews, critics found {label} engaging. They single out its {tone} tone."


def _item_count(schema: dict[str, Any], key: str, name: str) -> int:
    """Within the schema's minItems..maxItems: 1-3 items by the key, two secondary genres."""
    low = int(_get(schema, "minItems", "min_items") or 0)
    high = int(_get(schema, "maxItems", "max_items") or max(low, 3))
    return min(high, max(low, 1 + _h(key, name) % 3)) if name != "secondary_genres" else min(high, 2)


def _pick(options: list[Any], key: str, name: str) -> Any:
    return options[_h(key, name) % len(options)]


def _run_of(options: list[Any] | tuple[Any, ...], start: int, count: int) -> list[Any]:
    """``count`` consecutive options from ``start`` (wrapping)."""
    return [options[(start + i) % len(options)] for i in range(count)]
