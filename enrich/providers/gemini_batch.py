"""Gemini's Batch API through google-genai: the day's titles as one batch, one request per title.

Each request is the sync path's request for one title (same prompt, system instruction, response schema and
generation config: :meth:`GeminiProvider.generation_config`), tagged with the key ``<id>|<source_data_hash>``
so an answer finds its title and the input it was made from. Up to ``enrich.batch.inline_max_bytes`` of
requests go inline (``batches.create(src=[...])``); more go as a JSONL file uploaded with the Files API
(``files.upload`` then ``batches.create(src="files/...")``), whose answers come back as a JSONL file
(``files.download``). The batch's ``display_name`` is our submission id, so a batch whose creation
answer was lost (a crash right after the call) is found again with ``batches.list``.

Usage is priced at ``enrich.batch.price_factor`` × the interactive prices (Gemini bills batches at 50 %).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

from google import genai
from google.genai import _common as genai_common
from google.genai import batches as genai_batches
from google.genai import errors as genai_errors
from google.genai import types

from core.config import Settings
from core.settings_schema import BatchSection
from enrich import api_errors
from enrich.inputs import TitleInput
from enrich.prompt import build_prompt
from enrich.providers.base import (
    CallUsage,
    InvalidResponse,
    PermanentError,
    ProviderError,
    TransientError,
)
from enrich.providers.gemini import (
    TIMEOUT_ERRORS,
    TRANSPORT_ERRORS,
    GeminiConfig,
    GeminiProvider,
    answer_text,
    parse_single,
    usage_of,
)
from enrich.schema import TitleEnrichment

TERMINAL_STATES = frozenset({"SUCCEEDED", "FAILED", "CANCELLED", "EXPIRED"})
KEY_SEPARATOR = "|"


def request_key(title: TitleInput) -> str:
    return f"{title.id}{KEY_SEPARATOR}{title.source_data_hash}"


def split_key(key: str) -> tuple[str, str]:
    """``(title id, source_data_hash)`` of a request key."""
    title_id, _, source_hash = key.rpartition(KEY_SEPARATOR)
    return title_id, source_hash


def short_state(state: Any) -> str:
    """``JOB_STATE_SUCCEEDED`` (or the REST ``BATCH_STATE_SUCCEEDED``) -> ``SUCCEEDED``."""
    text = str(getattr(state, "value", state) or "UNSPECIFIED")
    return text.removeprefix("JOB_STATE_").removeprefix("BATCH_STATE_")


@dataclass(frozen=True)
class BatchStatus:
    name: str
    state: str  # short: PENDING, RUNNING, SUCCEEDED, FAILED, CANCELLED, EXPIRED
    display_name: str = ""
    error: str | None = None

    @property
    def done(self) -> bool:
        return self.state in TERMINAL_STATES

    @classmethod
    def of(cls, job: types.BatchJob) -> BatchStatus:
        error = None
        if job.error is not None:
            error = job.error.message or f"code {job.error.code}"
        return cls(str(job.name), short_state(job.state), job.display_name or "", error)


@dataclass(frozen=True)
class Answer:
    """One request's outcome: its title, and an enrichment, or why it has none."""

    title_id: str
    source_data_hash: str
    usage: CallUsage
    enrichment: TitleEnrichment | None = None
    invalid: str | None = None  # answered, but not a valid enrichment (quarantined as a failed row)
    error: str | None = None  # not answered (the request failed inside the batch): re-queued


def provider_error(exc: Exception, statuses: frozenset[int]) -> ProviderError:
    """The runner's error type for an SDK/transport error of a batch call."""
    if isinstance(exc, genai_errors.APIError):
        verdict = api_errors.classify(exc.code, exc.status, exc.message, exc.details, statuses)
        if verdict.retryable:
            return TransientError(verdict.reason, retry_after=verdict.retry_after, code=exc.code)
        return PermanentError(verdict.reason, fatal=verdict.fatal, code=exc.code)
    if isinstance(exc, TIMEOUT_ERRORS):
        return TransientError(f"timeout ({type(exc).__name__})")
    return TransientError(f"transport error: {type(exc).__name__}: {exc}")


SDK_ERRORS: tuple[type[BaseException], ...] = (genai_errors.APIError, *TIMEOUT_ERRORS, *TRANSPORT_ERRORS)


class GeminiBatchClient:
    """Submit, find, poll and read Gemini batches for the configured model (sync SDK client)."""

    name = "gemini"

    def __init__(self, config: GeminiConfig, api_key: str, batch: BatchSection) -> None:
        self.sync = GeminiProvider(config, api_key)  # the same client, request config and prompt
        self.config = config
        self.batch = batch
        self.model = config.model
        self.price = replace(
            config,
            price_input_per_mtok=config.price_input_per_mtok * batch.price_factor,
            price_output_per_mtok=config.price_output_per_mtok * batch.price_factor,
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> GeminiBatchClient:
        return cls(
            GeminiConfig.from_settings(settings),
            settings.secrets.get("GEMINI_API_KEY") or "",
            settings.typed.enrich.batch,
        )

    @property
    def client(self) -> genai.Client:
        return self.sync.client

    def close(self) -> None:
        self.sync.close()

    # ---- requests -----------------------------------------------------------------------------------
    def inlined_request(self, title: TitleInput) -> types.InlinedRequest:
        return types.InlinedRequest(
            contents=build_prompt([title]),
            config=self.sync.generation_config(False),
            metadata={"key": request_key(title)},
        )

    def jsonl_line(self, request: types.InlinedRequest) -> str:
        """One line of a JSONL input file: the request in the REST shape the SDK sends inline.

        The SDK's own converter (the inline path's) writes it, so the file and the inline requests cannot
        drift apart; it is private to google-genai, pinned by the lock, and held by a test.
        """
        rest = genai_batches._InlinedRequest_to_mldev(self.client._api_client, request)
        rest = genai_common.encode_unserializable_types(genai_common.convert_to_dict(rest))
        return json.dumps({"key": rest["metadata"]["key"], "request": rest["request"]}, ensure_ascii=False)

    def estimate_max_cost(self, titles: list[TitleInput]) -> float:
        return self.sync.estimate_max_cost(titles) * self.batch.price_factor

    # ---- the Batch API ------------------------------------------------------------------------------
    def submit(self, titles: list[TitleInput], display_name: str) -> tuple[BatchStatus, str]:
        """Create the batch; returns its status and how the requests went (``inline`` or ``file``)."""
        requests = [self.inlined_request(t) for t in titles]
        lines = [self.jsonl_line(r) for r in requests]
        size = sum(len(line.encode("utf-8")) + 1 for line in lines)
        config = types.CreateBatchJobConfig(display_name=display_name)
        try:
            if size <= self.batch.inline_max_bytes:
                job = self.client.batches.create(model=self.model, src=requests, config=config)
                return BatchStatus.of(job), "inline"
            data = io.BytesIO("".join(line + "\n" for line in lines).encode("utf-8"))
            uploaded = self.client.files.upload(
                file=data, config=types.UploadFileConfig(display_name=display_name, mime_type="jsonl")
            )
            job = self.client.batches.create(model=self.model, src=str(uploaded.name), config=config)
            return BatchStatus.of(job), "file"
        except SDK_ERRORS as exc:
            raise provider_error(exc, self.config.retry_statuses) from exc

    def find(self, display_name: str) -> BatchStatus | None:
        """The batch created under ``display_name`` (our submission id), if the service has one."""
        try:
            for job in self.client.batches.list(config=types.ListBatchJobsConfig(page_size=100)):
                if job.display_name == display_name:
                    return BatchStatus.of(job)
        except SDK_ERRORS as exc:
            raise provider_error(exc, self.config.retry_statuses) from exc
        return None

    def get(self, name: str) -> types.BatchJob:
        try:
            return self.client.batches.get(name=name)
        except SDK_ERRORS as exc:
            raise provider_error(exc, self.config.retry_statuses) from exc

    def cancel(self, name: str) -> None:
        try:
            self.client.batches.cancel(name=name)
        except SDK_ERRORS as exc:
            raise provider_error(exc, self.config.retry_statuses) from exc

    # ---- answers ------------------------------------------------------------------------------------
    def answers(self, job: types.BatchJob) -> list[Answer]:
        """Every request's outcome in a finished batch (none when it failed, expired or was cancelled)."""
        return [self.answer(key, response, error) for key, response, error in self._outcomes(job)]

    def _outcomes(
        self, job: types.BatchJob
    ) -> Iterator[tuple[str, types.GenerateContentResponse | None, Any]]:
        dest = job.dest
        if dest is None:
            return
        if dest.inlined_responses:
            for item in dest.inlined_responses:
                yield str((item.metadata or {}).get("key", "")), item.response, item.error
            return
        if dest.file_name:
            try:
                data = self.client.files.download(file=dest.file_name)
            except SDK_ERRORS as exc:
                raise provider_error(exc, self.config.retry_statuses) from exc
            for line in data.decode("utf-8").splitlines():
                if not line.strip():
                    continue
                item = json.loads(line)
                response = item.get("response")
                parsed = types.GenerateContentResponse.model_validate(response) if response else None
                yield str(item.get("key", "")), parsed, item.get("error")

    def answer(self, key: str, response: types.GenerateContentResponse | None, error: Any) -> Answer:
        title_id, source_hash = split_key(key)
        if response is None:
            message = error.get("message") if isinstance(error, dict) else getattr(error, "message", None)
            code = error.get("code") if isinstance(error, dict) else getattr(error, "code", None)
            return Answer(
                title_id, source_hash, CallUsage(), error=f"batch request failed ({code}): {message}"
            )
        usage = usage_of(response, self.price, 0.0)
        try:
            result = parse_single(answer_text(response, usage), title_id, usage)
        except InvalidResponse as exc:
            return Answer(title_id, source_hash, usage, invalid=str(exc))
        return Answer(title_id, source_hash, usage, enrichment=result.results[title_id])


async def poll_once(config: GeminiConfig, api_key: str, name: str) -> BatchStatus:
    """The batch's status through the SDK's async client (the DAG's trigger: no worker thread held)."""
    client = genai.Client(
        api_key=api_key,
        http_options=types.HttpOptions(
            base_url=config.base_url, api_version=config.api_version, timeout=int(config.timeout_s * 1000)
        ),
    )
    try:
        return BatchStatus.of(await client.aio.batches.get(name=name))
    finally:
        await client.aio.aclose()
