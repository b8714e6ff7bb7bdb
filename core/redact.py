"""Scrub secret values out of text before it reaches a log, a report or an exception message."""

from __future__ import annotations

import re
from collections.abc import Iterable

# Values passed as URL query parameters (api_key=..., key=...) are scrubbed even when not a known secret.
_QUERY_SECRET = re.compile(r"(?i)\b(api[_-]?key|key|token|password)=([^&\s'\"]+)")


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    for value in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(value, "***")
    return _QUERY_SECRET.sub(lambda m: f"{m.group(1)}=***", text)
