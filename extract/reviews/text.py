"""Pure text helpers shared by the parsers: HTML/markdown stripping, whitespace, caps, keys, slugs."""

from __future__ import annotations

import hashlib
import re
import unicodedata
import warnings
from datetime import UTC, datetime

from bs4 import BeautifulSoup, MarkupResemblesLocatorWarning

_WS = re.compile(r"\s+")
_MD_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
# Strong (**, __) and strikethrough (~~) pairs may hold a space inside a marker, as real reviews write them
# ("**Not for everyone. **", "** Verdict:**"); a single * must hug its text, or "3 * 4" would lose its star.
_MD_STRONG = re.compile(r"(\*\*|__|~~)[ \t]*(?=\S)(.+?)(?<=\S)[ \t]*\1")
_MD_EMPHASIS = re.compile(r"(\*)(?=\S)(.+?)(?<=\S)\1")
_MD_UNDERSCORE = re.compile(r"(?<!\w)_(?=\S)(.+?)(?<=\S)_(?!\w)")
_MD_LINE_MARKERS = re.compile(r"(?m)^\s{0,3}(?:#{1,6}\s+|>\s?|[-*+]\s+(?=\S))")
_MD_RULE = re.compile(r"(?m)^\s*(?:-{3,}|\*{3,}|_{3,})\s*$")


def strip_html(text: str) -> str:
    """Text content of an HTML fragment (plain text passes through unchanged)."""
    if "<" not in text and "&" not in text:
        return text
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MarkupResemblesLocatorWarning)
        soup = BeautifulSoup(text, "html.parser")
    for br in soup.find_all("br"):
        br.replace_with("\n")
    return soup.get_text(" ")


def strip_markdown(text: str) -> str:
    """Drop the markdown most reviews use: links, emphasis, headings, quotes, bullets, rules."""
    text = _MD_RULE.sub(" ", text)
    text = _MD_LINK.sub(r"\1", text)
    text = _MD_LINE_MARKERS.sub("", text)
    previous = None
    while previous != text:
        previous = text
        text = _MD_STRONG.sub(r"\2", text)
        text = _MD_EMPHASIS.sub(r"\2", text)
        text = _MD_UNDERSCORE.sub(r"\1", text)
    return text


def normalise_whitespace(text: str) -> str:
    return _WS.sub(" ", text.replace("\u00a0", " ")).strip()


def cap(text: str, max_chars: int) -> str:
    """At most ``max_chars`` characters, cut at a word boundary and marked with an ellipsis."""
    if max_chars <= 0 or len(text) <= max_chars:
        return text
    cut = text[: max_chars - 1]
    space = cut.rfind(" ")
    if space > max_chars // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:-") + "…"


def clean_review_text(raw: str, max_chars: int, markdown: bool = False) -> str:
    text = strip_html(raw)
    if markdown:
        text = strip_markdown(text)
    return cap(normalise_whitespace(text), max_chars)


def text_key(text: str) -> str:
    """sha1 of a review's text, the review key when the review has no URL."""
    return hashlib.sha1(normalise_whitespace(text).encode("utf-8"), usedforsecurity=False).hexdigest()


def dedupe_key(author: str | None, text: str) -> str:
    """Same author and same normalised text = the same review, whichever site carried it."""
    norm = re.sub(r"[^\w ]+", "", normalise_whitespace(text).casefold())
    return f"{(author or '').strip().casefold()}|{norm[:500]}"


def slugify(title: str) -> str:
    """RogerEbert-style slug: lowercase ASCII, spaces to ``-``, other punctuation dropped."""
    text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode("ascii").lower()
    text = text.replace("&", " and ")
    text = re.sub(r"[^a-z0-9\s-]", "", text)
    return re.sub(r"[\s-]+", "-", text).strip("-")


def title_match_key(title: str) -> str:
    """Case/punctuation-insensitive key used to compare a headline with a title."""
    return " ".join(slugify(title).split("-"))


def parse_iso_datetime(value: str | None) -> datetime | None:
    """``2018-06-09T17:51:53.359Z`` / ``2024-07-24T12:00:00Z`` -> aware UTC datetime; None when unparseable."""
    if not value or not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def format_score(value: float) -> str:
    """A number as published: ``7`` stays ``"7"``, ``8.0`` stays ``"8.0"``, ``3.5`` -> ``"3.5"``."""
    return str(value)


def clamp_score(value: float) -> float:
    return max(0.0, min(10.0, float(value)))
