"""Gemini through the google-genai SDK: one structured ``generateContent`` call per title (or per batch).

The SDK's own retries stay off (no ``retry_options``: one attempt per call); the runner retries with
core.retry's policy and the server's RetryInfo honoured (enrich/api_errors.py says why not the SDK's). Responses are validated with pydantic here, never trusted as parsed.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from typing import Any

import httpx
from google import genai
from google.genai import errors as genai_errors
from google.genai import types
from pydantic import ValidationError

from core.config import ConfigError, Settings
from enrich import api_errors
from enrich.inputs import TitleInput
from enrich.prompt import SYSTEM_INSTRUCTION, build_prompt
from enrich.providers.base import (
    CallResult,
    CallUsage,
    InvalidResponse,
    PermanentError,
    TransientError,
)
from enrich.schema import BatchEnrichment, BatchItem, TitleEnrichment

CHARS_PER_TOKEN = 4


def _transport_errors() -> tuple[tuple[type[BaseException], ...], tuple[type[BaseException], ...]]:
    """(timeouts, other transport errors) of httpx and of httpx2, the fork the SDK prefers when installed."""
    timeouts: list[type[BaseException]] = [httpx.TimeoutException]
    transport: list[type[BaseException]] = [httpx.TransportError]
    try:
        import httpx2

        timeouts.append(httpx2.TimeoutException)
        transport.append(httpx2.TransportError)
    except ImportError:
        pass
    return tuple(timeouts), tuple(transport)


TIMEOUT_ERRORS, TRANSPORT_ERRORS = _transport_errors()


@dataclass(frozen=True)
class GeminiConfig:
    """What the Gemini provider reads of the ``enrich`` section (typed settings; base.yaml holds the defaults)."""

    model: str
    base_url: str | None
    api_version: str
    timeout_s: float
    max_output_tokens: int
    temperature: float | None
    thinking_level: str | None  # None when thinking_budget is set (2.5 models)
    thinking_budget: int | None
    price_input_per_mtok: float
    price_output_per_mtok: float
    retry_statuses: frozenset[int]

    @classmethod
    def from_settings(cls, settings: Settings) -> GeminiConfig:
        enrich = settings.typed.enrich
        return cls(
            model=enrich.model,
            base_url=enrich.base_url or None,
            api_version=enrich.api_version,
            timeout_s=enrich.timeout_s,
            max_output_tokens=enrich.max_output_tokens,
            temperature=enrich.temperature,
            thinking_level=(enrich.thinking_level or None) if enrich.thinking_budget is None else None,
            thinking_budget=enrich.thinking_budget,
            price_input_per_mtok=enrich.price_input_per_mtok,
            price_output_per_mtok=enrich.price_output_per_mtok,
            retry_statuses=enrich.retry_statuses,
        )

    def cost(self, input_tokens: int, output_tokens: int) -> float:
        """USD for one call; ``output_tokens`` includes thinking tokens (billed as output)."""
        return (input_tokens * self.price_input_per_mtok + output_tokens * self.price_output_per_mtok) / 1e6


def usage_of(response: types.GenerateContentResponse, config: GeminiConfig, latency_ms: float) -> CallUsage:
    meta = response.usage_metadata
    prompt = (meta.prompt_token_count or 0) if meta else 0
    visible = (meta.candidates_token_count or 0) if meta else 0
    thoughts = (meta.thoughts_token_count or 0) if meta else 0
    tool = (meta.tool_use_prompt_token_count or 0) if meta else 0
    input_tokens = prompt + tool
    output_tokens = visible + thoughts
    return CallUsage(
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        thoughts_tokens=thoughts,
        cost_usd=config.cost(input_tokens, output_tokens),
        latency_ms=latency_ms,
    )


def answer_text(response: types.GenerateContentResponse, usage: CallUsage) -> str:
    """The JSON text of the first candidate's non-thought parts; InvalidResponse names why there is none."""
    _check_prompt_feedback(response, usage)
    if not response.candidates:
        raise InvalidResponse("response has no candidates", usage=usage)
    candidate = response.candidates[0]
    finish = _enum(candidate.finish_reason) if candidate.finish_reason is not None else None
    text = _candidate_text(candidate)
    if finish == "MAX_TOKENS":
        raise InvalidResponse(f"answer truncated (finish_reason MAX_TOKENS, {len(text)} chars)", usage=usage)
    if finish not in (None, "STOP"):
        raise InvalidResponse(f"no answer (finish_reason {finish})", usage=usage)
    if not text.strip():
        raise InvalidResponse("empty answer", usage=usage)
    return text


def _check_prompt_feedback(response: types.GenerateContentResponse, usage: CallUsage) -> None:
    feedback = response.prompt_feedback
    if feedback is not None and feedback.block_reason is not None:
        detail = f": {feedback.block_reason_message}" if feedback.block_reason_message else ""
        raise InvalidResponse(f"prompt blocked ({_enum(feedback.block_reason)}){detail}", usage=usage)


def _candidate_text(candidate: types.Candidate) -> str:
    """The candidate's text parts, thoughts left out."""
    parts = (candidate.content.parts if candidate.content else None) or []
    return "".join(part.text for part in parts if part.text and not part.thought)


def _enum(value: Any) -> str:
    return str(getattr(value, "value", value))


def _validation_message(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ()))
    return f"{where}: {first.get('msg')}" if where else str(first.get("msg"))


def parse_single(text: str, title_id: str, usage: CallUsage) -> CallResult:
    try:
        enrichment = TitleEnrichment.model_validate_json(text)
    except ValidationError as exc:
        raise InvalidResponse(f"invalid answer: {_validation_message(exc)}", usage=usage) from exc
    return CallResult(usage=usage, results={title_id: enrichment})


def parse_batch(text: str, ids: list[str], usage: CallUsage) -> CallResult:
    """Match items to titles by ``id``; a missing, duplicated-invalid or invalid item is a per-title problem."""
    result = CallResult(usage=usage)
    wanted = set(ids)
    for item in _batch_items(text, usage):
        item_id = item.get("id") if isinstance(item, dict) else None
        if item_id not in wanted or item_id in result.results:
            continue
        try:
            result.results[item_id] = BatchItem.model_validate(item).enrichment()
            result.problems.pop(item_id, None)
        except ValidationError as exc:
            result.problems[item_id] = f"invalid item: {_validation_message(exc)}"
    for title_id in ids:
        if title_id not in result.results and title_id not in result.problems:
            result.problems[title_id] = "id missing from the batch answer"
    return result


def _batch_items(text: str, usage: CallUsage) -> list[Any]:
    """The ``items`` array of a batch answer; InvalidResponse when the answer is not JSON or has none."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidResponse(f"invalid JSON answer: {exc.msg} at char {exc.pos}", usage=usage) from exc
    items = data.get("items") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise InvalidResponse("invalid answer: no `items` array", usage=usage)
    return items


class GeminiProvider:
    name = "gemini"

    def __init__(self, config: GeminiConfig, api_key: str) -> None:
        if not api_key:
            raise ConfigError("enrich.provider is gemini but GEMINI_API_KEY is not set")
        self.config = config
        self.model = config.model
        self._client = genai.Client(
            api_key=api_key,
            http_options=types.HttpOptions(
                base_url=config.base_url,
                api_version=config.api_version,
                timeout=int(config.timeout_s * 1000),
            ),
        )

    @property
    def client(self) -> genai.Client:
        """The SDK client (the Batch API path, enrich/providers/gemini_batch.py, shares it)."""
        return self._client

    def generation_config(self, batch: bool) -> types.GenerateContentConfig:
        thinking = None
        if self.config.thinking_budget is not None:
            thinking = types.ThinkingConfig(thinking_budget=self.config.thinking_budget)
        elif self.config.thinking_level:
            thinking = types.ThinkingConfig(thinking_level=self.config.thinking_level.upper())
        kwargs: dict[str, Any] = {}
        if self.config.temperature is not None:
            kwargs["temperature"] = self.config.temperature
        return types.GenerateContentConfig(
            system_instruction=SYSTEM_INSTRUCTION,
            response_mime_type="application/json",
            response_schema=BatchEnrichment if batch else TitleEnrichment,
            max_output_tokens=self.config.max_output_tokens,
            thinking_config=thinking,
            automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
            **kwargs,
        )

    def estimate_max_cost(self, titles: list[TitleInput]) -> float:
        prompt_chars = len(SYSTEM_INSTRUCTION) + len(build_prompt(titles))
        return self.config.cost(math.ceil(prompt_chars / CHARS_PER_TOKEN) + 50, self.config.max_output_tokens)

    def call(self, titles: list[TitleInput]) -> CallResult:
        batch = len(titles) > 1
        prompt = build_prompt(titles)
        started = time.perf_counter()
        try:
            response = self._client.models.generate_content(
                model=self.model, contents=prompt, config=self.generation_config(batch)
            )
        except genai_errors.APIError as exc:
            verdict = api_errors.classify(
                exc.code, exc.status, exc.message, exc.details, self.config.retry_statuses
            )
            if verdict.retryable:
                raise TransientError(verdict.reason, retry_after=verdict.retry_after, code=exc.code) from exc
            raise PermanentError(verdict.reason, fatal=verdict.fatal, code=exc.code) from exc
        except TIMEOUT_ERRORS as exc:
            raise TransientError(f"timeout after {self.config.timeout_s:g}s ({type(exc).__name__})") from exc
        except TRANSPORT_ERRORS as exc:
            raise TransientError(f"transport error: {type(exc).__name__}: {exc}") from exc
        usage = usage_of(response, self.config, (time.perf_counter() - started) * 1000)
        text = answer_text(response, usage)
        if batch:
            return parse_batch(text, [t.id for t in titles], usage)
        return parse_single(text, titles[0].id, usage)

    def close(self) -> None:
        self._client.close()
