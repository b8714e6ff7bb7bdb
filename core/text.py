"""Reading text the project stores or raises: an error's first line, a list column held as text.

Core layer: this module imports nothing from the project, so anything may import it.
"""

from __future__ import annotations

import json
from typing import Any


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


def parse_list(value: Any) -> list[str]:
    """A list column (``source_genres``, ``streaming_platforms``) as a list: accepts a JSON array, a
    comma-separated string or a list; items are stripped and blanks dropped."""
    return [item.strip() for item in _list_items(value) if item and item.strip()]


def _list_items(value: Any) -> list[str]:
    """The raw items of a list column, not yet stripped."""
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    text = str(value).strip()
    return _bracketed_items(text) if text.startswith("[") else text.split(",")


def _bracketed_items(text: str) -> list[str]:
    """A JSON array's items as text; text that only looks like one is split on commas inside its brackets."""
    try:
        loaded = json.loads(text)
    except json.JSONDecodeError:
        loaded = None
    return [str(v) for v in loaded] if isinstance(loaded, list) else text.strip("[]").split(",")
