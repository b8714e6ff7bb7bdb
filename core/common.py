"""Small helpers shared by every layer: the steps (extract/, enrich/, …) and the composition root (trending_now/).

Core layer: this module imports nothing from the project, so anything may import it.
"""

from __future__ import annotations

import email.utils
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime


@contextmanager
def environ(values: Mapping[str, str]) -> Iterator[None]:
    """Set process environment variables for the block, then restore each to what it was (or unset it)."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, old in saved.items():
            if old is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = old


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds (delta-seconds or an HTTP date, RFC 9110 §10.2.3).

    None when the header is absent or unreadable; a date in the past is 0. A date without a zone is UTC.
    """
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def first_line(error: BaseException | str, fallback: str | None = None) -> str:
    """The first non-blank line of an error's message, stripped, for a one-line log or report entry.

    ``fallback`` when the message has none (default: the exception's type name, or "" for a string).
    """
    for line in str(error).splitlines():
        if line.strip():
            return line.strip()
    if fallback is not None:
        return fallback
    return type(error).__name__ if isinstance(error, BaseException) else ""
