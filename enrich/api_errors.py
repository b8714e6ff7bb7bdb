"""Gemini API errors: which are retried, which are fatal (key, project, model, credits), and RetryInfo.

The waits are core.retry's arithmetic (:class:`Backoff` is its Gemini shape: exponential backoff with
jitter, never sooner than the server's RetryInfo delay); the retryable statuses are enrich.retry_statuses
and the decision is :meth:`core.retry.RetryPolicy.retryable_status`. The SDK's own retries
(``HttpRetryOptions``) stay off: they ignore ``RetryInfo.retryDelay`` (python-genai #1875), and a retry
hidden in the SDK would bypass the runner's cost budget, its rate-limit tokens, its stop on a fatal answer
and its retry count, so the runner drives the attempts itself.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import Any

from core.retry import RetryPolicy

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*s\s*$")


@dataclass(frozen=True)
class ErrorVerdict:
    retryable: bool
    fatal: bool
    retry_after: float | None
    reason: str


def error_body(details: Any) -> dict[str, Any]:
    """The ``error`` object of a Google API error body (also when the body is wrapped in a list)."""
    if isinstance(details, list):
        details = next((item for item in details if isinstance(item, dict)), {})
    if not isinstance(details, dict):
        return {}
    inner = details.get("error", details)
    return inner if isinstance(inner, dict) else {}


def parse_duration(value: Any) -> float | None:
    """A protobuf Duration as JSON (``"26s"``, ``"0.5s"``) or as ``{"seconds": 26, "nanos": 0}``."""
    if isinstance(value, str):
        match = _DURATION.match(value)
        return float(match.group(1)) if match else None
    if isinstance(value, dict) and ("seconds" in value or "nanos" in value):
        try:
            return float(value.get("seconds") or 0) + float(value.get("nanos") or 0) / 1e9
        except (TypeError, ValueError):
            return None
    return None


def retry_delay_from(details: Any) -> float | None:
    """``RetryInfo.retryDelay`` of an error body, in seconds, or None when the server gave none."""
    for item in error_body(details).get("details") or []:
        if isinstance(item, dict) and str(item.get("@type", "")).endswith("google.rpc.RetryInfo"):
            return parse_duration(item.get("retryDelay"))
    return None


def _details(details: Any, type_suffix: str) -> list[dict[str, Any]]:
    """The ``error.details[]`` entries of one ``@type`` (e.g. ``google.rpc.ErrorInfo``)."""
    return [
        item
        for item in error_body(details).get("details") or []
        if isinstance(item, dict) and str(item.get("@type", "")).endswith(type_suffix)
    ]


def exhausted_quota(details: Any) -> str | None:
    """The quotaId of a 429's QuotaFailure that will not clear during a run (per day, per month), else None.

    A per-minute quota (``...PerMinute...``) clears in seconds and stays retryable; a per-day one (RPD)
    resets at midnight Pacific.
    """
    for item in _details(details, "google.rpc.QuotaFailure"):
        for violation in item.get("violations") or []:
            quota_id = str((violation or {}).get("quotaId", "")) if isinstance(violation, dict) else ""
            if "perday" in quota_id.lower() or "permonth" in quota_id.lower():
                return quota_id
    return None


def error_reasons(details: Any) -> list[str]:
    """``reason`` of every ``google.rpc.ErrorInfo`` in the body (``API_KEY_INVALID``, ``CONSUMER_SUSPENDED``...)."""
    return [str(item["reason"]) for item in _details(details, "google.rpc.ErrorInfo") if item.get("reason")]


# A Google error message may quote the key itself ("Consumer 'api_key:AIza...' has been suspended").
_KEY_IN_TEXT = re.compile(r"(api_key:)[^\s'\"]+|AIza[0-9A-Za-z_\-]{10,}")


def scrub(message: str | None) -> str:
    """``message`` on one line, without anything shaped like an API key."""
    text = " ".join(str(message or "").split())
    return _KEY_IN_TEXT.sub(lambda m: f"{m.group(1) or ''}***", text)


KEY_REASONS = frozenset({"API_KEY_INVALID", "API_KEY_EXPIRED"})
KEY_SETTING = "GEMINI_API_KEY (.env in dev, the Secrets Manager secret elsewhere)"


def fatal_cause(code: int | None, status: str | None, message: str | None, details: Any) -> str | None:
    """The one-line cause when no other call of this run can succeed (key, location, billing, permission,
    model, exhausted quota), with the remedy that fits that cause; None for an error of this request only."""
    status = (status or "").upper()
    reasons = error_reasons(details)
    head = f"{code} {status}".strip()
    said = re.split(r"(?<=\.)\s", scrub(message), maxsplit=1)[0]  # the first sentence
    if code == 401 or KEY_REASONS.intersection(reasons) or (code == 400 and "api key" in said.lower()):
        why = next((r for r in reasons if r in KEY_REASONS), head)
        return f"Gemini rejected the API key ({why}): check {KEY_SETTING}"
    if code == 429:
        return _quota_cause(head, details)
    if code == 400 and status == "FAILED_PRECONDITION":
        return _precondition_cause(head, said)
    return _status_cause(code, head, reasons, said)


def _precondition_cause(head: str, said: str) -> str:
    """400 FAILED_PRECONDITION: the caller's location (no remedy in the project but billing, where the free
    tier is not offered; none at all where the API is not offered), or another unmet project precondition."""
    lowered = said.lower()
    if "location" in lowered and "billing" in lowered:
        return (
            f"Gemini's free tier is not offered where the call came from ({head}: {said}): "
            "link a billing account to the key's project (paid tier)"
        )
    if "location" in lowered:
        return (
            f"Gemini does not serve the location the call came from ({head}: {said}): billing or a new key "
            "will not help; run the enrichment where the Gemini API is available (the worker's egress "
            "region) or set enrich.provider: heuristic meanwhile"
        )
    if "billing" in lowered:
        return f"Gemini needs billing for this project ({head}: {said}): enable billing for the key's project"
    return f"Gemini refused the project ({head}: {said}): check the key's project in Google AI Studio"


def _status_cause(code: int | None, head: str, reasons: list[str], said: str) -> str | None:
    """Permission (403), credits (402) and model (404) causes."""
    if code == 403:
        return _permission_cause(head, reasons, said)
    if code == 402:
        return f"Gemini prepaid credits are depleted ({head}: {said}): add credits or billing to the project"
    if code == 404:
        return f"Gemini model not found ({head}: {said}): check enrich.model and enrich.api_version"
    return None


def _permission_cause(head: str, reasons: list[str], said: str) -> str:
    why = ", ".join([head, *reasons])
    lowered = said.lower()
    if "leaked" in lowered:
        return f"Gemini blocked the API key as leaked ({why}: {said}): create a new key and replace {KEY_SETTING}"
    if "unregistered callers" in lowered:
        return f"Gemini received no API key ({why}: {said}): set {KEY_SETTING}"
    if "denied access" in lowered or "CONSUMER_SUSPENDED" in reasons:
        return (
            f"Gemini denied the key's project ({why}: {said}): the project is suspended or denied; "
            "contact Google support or use a key of another project"
        )
    return f"Gemini denied permission ({why}: {said}): check {KEY_SETTING} and its project"


def _quota_cause(head: str, details: Any) -> str | None:
    """A 429 is fatal only when a quota is exhausted (not a rate limit)."""
    quota = exhausted_quota(details)
    if not quota:
        return None
    when = "at midnight Pacific" if "perday" in quota.lower() else "at the start of the next period"
    return (
        f"Gemini quota {quota} exhausted ({head}): it resets {when}; "
        "raise the project's quota or run again after the reset"
    )


def classify(
    code: int | None,
    status: str | None,
    message: str | None,
    details: Any,
    statuses: frozenset[int],
) -> ErrorVerdict:
    """Decide what to do with an HTTP error from the Gemini API (``statuses``: enrich.retry_statuses)."""
    fatal = fatal_cause(code, status, message, details)
    if fatal:
        return ErrorVerdict(False, True, None, fatal)
    reason = f"HTTP {code} {status or ''}: {scrub(message)}".replace("  ", " ").strip()
    if code in statuses:
        return ErrorVerdict(True, False, retry_delay_from(details), reason)
    return ErrorVerdict(False, False, None, reason)


@dataclass(frozen=True)
class Backoff:
    """Gemini's waits: core.retry's jittered exponential backoff, floored by the server's retry delay (kept
    whole however long: the runner fails the row when it exceeds enrich.max_retry_after_s)."""

    base_s: float  # enrich.backoff_base_s
    max_s: float  # enrich.max_backoff_s

    def policy(self, statuses: frozenset[int] = frozenset(), max_retries: int = 0) -> RetryPolicy:
        return RetryPolicy(
            max_retries=max_retries,
            backoff_base_s=self.base_s,
            max_backoff_s=self.max_s,
            jitter=True,
            retry_after_is_floor=True,
            statuses=statuses,
        )

    def delay(
        self, attempt: int, retry_after: float | None = None, rng: random.Random | None = None
    ) -> float:
        """Seconds to wait before retry number ``attempt`` (1 = first retry)."""
        return self.policy().wait(attempt, retry_after, (rng or random).random)
