"""Retry policy: which Gemini errors are worth retrying, how long to wait, and the server's RetryInfo.

The google-genai SDK ignores ``RetryInfo.retryDelay`` (python-genai #1875), so the runner retries
itself: exponential backoff with full jitter, but never sooner than the delay the server asked for.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import Any

RETRYABLE_STATUS = frozenset({408, 429, 499, 500, 502, 503, 504})
FATAL_STATUS = frozenset({401, 402, 403, 404})
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


def daily_quota_exhausted(details: Any) -> bool:
    """A 429 whose QuotaFailure names a per-day quota: it will not clear before midnight Pacific."""
    for item in error_body(details).get("details") or []:
        if isinstance(item, dict) and str(item.get("@type", "")).endswith("google.rpc.QuotaFailure"):
            for violation in item.get("violations") or []:
                if "perday" in str(violation.get("quotaId", "")).lower():
                    return True
    return False


def classify(code: int | None, status: str | None, message: str | None, details: Any) -> ErrorVerdict:
    """Decide what to do with an HTTP error from the Gemini API."""
    reason = f"HTTP {code} {status or ''}: {message or ''}".replace("  ", " ").strip()
    if code == 429 and daily_quota_exhausted(details):
        return ErrorVerdict(False, True, None, f"{reason} (per-day quota exhausted)")
    if code in RETRYABLE_STATUS:
        return ErrorVerdict(True, False, retry_delay_from(details), reason)
    if code in FATAL_STATUS:
        return ErrorVerdict(False, True, None, reason)
    return ErrorVerdict(False, False, None, reason)


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with full jitter, floored by the server's retry delay."""

    base_s: float = 1.0
    max_s: float = 60.0

    def delay(self, attempt: int, retry_after: float | None = None, rng: random.Random | None = None) -> float:
        """Seconds to wait before retry number ``attempt`` (1 = first retry)."""
        ceiling = min(self.max_s, self.base_s * (2 ** max(0, attempt - 1)))
        jittered = (rng or random).uniform(ceiling / 2, ceiling)
        if retry_after is not None:
            return max(retry_after, jittered) if retry_after <= self.max_s else retry_after
        return jittered
