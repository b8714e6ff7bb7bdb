"""RogerEbert.com critic reviews, scraped from review pages.

A page is read from its schema.org JSON-LD first (a ``Review`` with ``reviewRating.ratingValue``,
``author``, ``datePublished``, ``itemReviewed``; ``reviewBody`` when present), with the 2020–2024
template's CSS selectors as fallback for each missing part. A page with neither is layout drift
(:class:`LayoutError`, quarantined). A 403 is reported as ``blocked``: the harvester stops the source
after ``reviews.block_after_403s`` consecutive ones (a site-wide block).

Review pages cannot be searched without JavaScript, so the adapter guesses the editorial slug
(``/reviews/<slug>-<year>``, ``-movie-review-<year>``, ``-film-review-<year>``; TV:
``/streaming/<slug>-tv-review-<year>``) and confirms each page against the title: the film's year
must be within ±1 of ours and, when the page carries JustWatch's TMDB widget, its id must be ours.
``parse_page`` is pure; ``fetch_rogerebert`` does the HTTP.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime

from bs4 import BeautifulSoup

from extract.reviews.http import FetchError, HttpClient, HttpResponse, RobotsDisallowed
from extract.reviews.models import FetchOutcome, LayoutError, Review, SourceResult, Subject
from extract.reviews.settings import ReviewsSettings
from extract.reviews.text import cap, normalise_whitespace, parse_iso_datetime, slugify
from extract.reviews.tmdb import tmdb_numeric_id

SOURCE = "rogerebert"
MAX_STARS = 4
HEADLINE = "h1.page-content--title"
BODY = "section.page-content--block_editor-content"
BODY_FALLBACKS = ("div.entry-content", "div.wp-block-post-content")
_YEAR_IN_PARENS = re.compile(r"\((\d{4})\)\s*$")
_TMDB_URL = re.compile(r"themoviedb\.org/(?:movie|tv)/(\d+)")
REVIEW_TYPES = {"Review", "CriticReview"}


@dataclass(frozen=True)
class RogerEbertPage:
    headline: str
    body: str
    film_title: str | None
    film_year: int | None
    critic: str | None
    published_at: datetime | None
    stars: float | None
    thumbs_down: bool
    tmdb_id: str | None
    canonical_url: str | None
    from_json_ld: bool = False


def guess_urls(subject: Subject, base_url: str) -> list[str]:
    slug = slugify(subject.title)
    if not slug or not subject.year:
        return []
    if subject.content_type == "show":
        return [f"{base_url}/streaming/{slug}-tv-review-{subject.year}"]
    return [
        f"{base_url}/reviews/{slug}-{subject.year}",
        f"{base_url}/reviews/{slug}-movie-review-{subject.year}",
        f"{base_url}/reviews/{slug}-film-review-{subject.year}",
    ]


def _icon_count(classes: list[set[str]], name: str) -> int:
    """Icons carrying ``icon-<name>`` or ``<name>`` as a class or title."""
    return sum(1 for c in classes if f"icon-{name}" in c or name in c)


def _stars(soup: BeautifulSoup) -> tuple[float | None, bool]:
    rating = soup.select_one("div.page-content--star-rating span.star-rating")
    if rating is None:
        return None, False
    classes = [set(icon.get("class") or []) | {icon.get("title") or ""} for icon in rating.find_all("i")]
    if _icon_count(classes, "thumbsdown"):
        return 0.0, True
    full, half = _icon_count(classes, "star-full"), _icon_count(classes, "star-half")
    if full == 0 and half == 0:
        return None, False
    return min(float(MAX_STARS), full + 0.5 * half), False


def _published(soup: BeautifulSoup) -> datetime | None:
    node = soup.select_one("time.time")
    if node is None:
        return None
    text = normalise_whitespace(node.get_text(" "))
    for fmt in ("%B %d, %Y", "%b %d, %Y"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    attr = node.get("datetime")
    if attr:
        try:
            parsed = datetime.fromisoformat(str(attr).replace("Z", "+00:00"))
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        except ValueError:
            return None
    return None


def _ld_objects(node: object) -> Iterator[dict]:
    if isinstance(node, list):
        for item in node:
            yield from _ld_objects(item)
    elif isinstance(node, dict):
        yield node
        if "@graph" in node:
            yield from _ld_objects(node["@graph"])


def json_ld_review(soup: BeautifulSoup) -> dict | None:
    """The first schema.org ``Review`` object in the page's JSON-LD blocks (unreadable blocks are skipped)."""
    for script in soup.find_all("script", attrs={"type": "application/ld+json"}):
        try:
            data = json.loads(script.string or script.get_text() or "")
        except ValueError:
            continue
        for obj in _ld_objects(data):
            kinds = obj.get("@type")
            kinds = set(kinds) if isinstance(kinds, list) else {kinds}
            if kinds & REVIEW_TYPES:
                return obj
    return None


def _ld_text(value: object) -> str | None:
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict):
        value = value.get("name")
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        text = normalise_whitespace(str(value))
        return text or None
    return None


def _ld_stars(review: dict) -> tuple[float | None, bool]:
    rating = review.get("reviewRating")
    if not isinstance(rating, dict):
        return None, False
    try:
        value = float(str(rating.get("ratingValue")).strip())
        best = float(str(rating.get("bestRating") or MAX_STARS).strip())
    except (TypeError, ValueError):
        return None, False
    if best <= 0 or not 0 <= value <= best:
        return None, False
    stars = round(value * MAX_STARS / best * 2) / 2
    return stars, stars == 0


def _ld_item(review: dict) -> dict | None:
    item = review.get("itemReviewed")
    if isinstance(item, list):
        item = item[0] if item else None
    return item if isinstance(item, dict) else None


def _ld_year(item: dict) -> int | None:
    for key in ("dateCreated", "datePublished", "startDate", "copyrightYear"):
        match = re.match(r"\s*(\d{4})", str(item.get(key) or ""))
        if match:
            return int(match.group(1))
    return None


def _ld_tmdb_id(item: dict) -> str | None:
    same_as = item.get("sameAs")
    links = same_as if isinstance(same_as, list) else [same_as]
    matches = (_TMDB_URL.search(link) for link in links if isinstance(link, str))
    return next((m.group(1) for m in matches if m), None)


def _ld_film(review: dict) -> tuple[str | None, int | None, str | None]:
    """(title, year, TMDB id) of ``itemReviewed``; a year in parentheses after the title counts when no date does."""
    item = _ld_item(review)
    if item is None:
        return None, None, None
    title, year = _ld_text(item.get("name")), _ld_year(item)
    if year is None and title:
        match = _YEAR_IN_PARENS.search(title)
        if match:
            year, title = int(match.group(1)), title[: match.start()].strip() or None
    return title, year, _ld_tmdb_id(item)


def _body_paragraphs(soup: BeautifulSoup, selectors: tuple[str, ...]) -> list[str]:
    for selector in selectors:
        paragraphs: list[str] = []
        for section in soup.select(selector):
            for spoiler in section.select("div.spoilers"):
                spoiler.decompose()
            for node in section.find_all(["p", "li"]):
                text = normalise_whitespace(node.get_text(" "))
                if text:
                    paragraphs.append(text)
        if paragraphs:
            return paragraphs
    return []


def parse_page(html: str) -> RogerEbertPage:
    """A review page's parts, JSON-LD first, then the template's selectors.

    Raises :class:`LayoutError` naming what is missing.
    """
    soup = _soup(html)
    ld = json_ld_review(soup)
    return _parse_template(soup) if ld is None else _parse_json_ld(ld, soup)


def _soup(html: str) -> BeautifulSoup:
    if "<" not in html[:2000]:
        raise LayoutError("not an HTML page")
    soup = BeautifulSoup(html, "lxml")
    if soup.body is None and soup.find("h1") is None:
        raise LayoutError("not an HTML page (no <body>)")
    return soup


def _ld_string(ld: dict, key: str) -> str | None:
    value = ld.get(key)
    return value if isinstance(value, str) and value else None


def _ld_headline(ld: dict, soup: BeautifulSoup) -> str | None:
    headline = _ld_text(ld.get("name")) or _ld_text(ld.get("headline"))
    if headline:
        return headline
    node = soup.select_one(HEADLINE) or soup.find("h1")
    return normalise_whitespace(node.get_text(" ")) if node is not None else headline


def _ld_body(ld: dict, soup: BeautifulSoup) -> str:
    body_text = _ld_string(ld, "reviewBody")
    body = (
        normalise_whitespace(body_text)
        if body_text
        else " ".join(_body_paragraphs(soup, (BODY, *BODY_FALLBACKS)))
    )
    if not body:
        raise LayoutError(
            f"JSON-LD Review has no reviewBody and no body selector ({BODY} or fallbacks) matched"
        )
    return body


def _ld_or_template_stars(ld: dict, soup: BeautifulSoup) -> tuple[float | None, bool]:
    stars, thumbs_down = _ld_stars(ld)
    return (stars, thumbs_down) if stars is not None else _stars(soup)


def _parse_json_ld(ld: dict, soup: BeautifulSoup) -> RogerEbertPage:
    """A page with a JSON-LD Review; each missing part falls back to the template's selector."""
    headline = _ld_headline(ld, soup)
    body = _ld_body(ld, soup)
    film_title, film_year, tmdb_id = _ld_film(ld)
    html_title, html_year = _cast_and_crew(soup)
    stars, thumbs_down = _ld_or_template_stars(ld, soup)
    return RogerEbertPage(
        headline=headline or film_title or "",
        body=body,
        film_title=film_title or html_title,
        film_year=film_year or html_year,
        critic=_ld_text(ld.get("author")) or _critic(soup),
        published_at=parse_iso_datetime(_ld_string(ld, "datePublished")) or _published(soup),
        stars=stars,
        thumbs_down=thumbs_down,
        tmdb_id=_widget_tmdb_id(soup) or tmdb_id,
        canonical_url=_ld_string(ld, "url") or _canonical(soup),
        from_json_ld=True,
    )


def _cast_and_crew(soup: BeautifulSoup) -> tuple[str | None, int | None]:
    movie = soup.select_one(".cast-and-crew--movie-title")
    if movie is None:
        return None, None
    text = normalise_whitespace(movie.get_text(" "))
    match = _YEAR_IN_PARENS.search(text)
    if match:
        return text[: match.start()].strip() or None, int(match.group(1))
    return text or None, None


def _critic(soup: BeautifulSoup) -> str | None:
    critic_node = soup.select_one(".byline a")
    critic = normalise_whitespace(critic_node.get_text(" ")) if critic_node else None
    if not critic:
        meta = soup.select_one('meta[name="author"]')
        critic = normalise_whitespace(str(meta.get("content") or "")) if meta else None
    return critic or None


def _widget_tmdb_id(soup: BeautifulSoup) -> str | None:
    widget = soup.select_one('div[data-jw-widget][data-id-type="tmdb"][data-id]')
    return str(widget.get("data-id")).strip() if widget is not None else None


def _canonical(soup: BeautifulSoup) -> str | None:
    canonical = soup.select_one('link[rel="canonical"][href]') or soup.select_one(
        'meta[property="og:url"][content]'
    )
    if canonical is None:
        return None
    return str(canonical.get("href") or canonical.get("content") or "") or None


def _parse_template(soup: BeautifulSoup) -> RogerEbertPage:
    """A page without JSON-LD: the 2020–2024 template's selectors, all required."""
    headline_node = soup.select_one(HEADLINE)
    if headline_node is None:
        raise LayoutError(f"no JSON-LD Review, and headline selector {HEADLINE!r} matched nothing")
    paragraphs = _body_paragraphs(soup, (BODY,))
    if not paragraphs:
        raise LayoutError(f"no JSON-LD Review, and body selector {BODY + ' p, li'!r} matched nothing")
    film_title, film_year = _cast_and_crew(soup)
    stars, thumbs_down = _stars(soup)
    return RogerEbertPage(
        headline=normalise_whitespace(headline_node.get_text(" ")),
        body=" ".join(paragraphs),
        film_title=film_title,
        film_year=film_year,
        critic=_critic(soup),
        published_at=_published(soup),
        stars=stars,
        thumbs_down=thumbs_down,
        tmdb_id=_widget_tmdb_id(soup),
        canonical_url=_canonical(soup),
    )


def namesake_reason(page: RogerEbertPage, subject: Subject) -> str | None:
    """Why the page is about another work than ``subject``; None when it is ours."""
    if subject.year and page.film_year and abs(page.film_year - subject.year) > 1:
        return f"namesake: page reviews {page.film_title or page.headline!r} ({page.film_year}), ours is {subject.year}"
    ours = tmdb_numeric_id(subject.tmdb_id)
    if page.tmdb_id and ours and page.tmdb_id != ours:
        return f"namesake: page's TMDB widget id {page.tmdb_id} is not ours ({ours})"
    return None


def to_review(page: RogerEbertPage, subject: Subject, url: str, max_chars: int) -> Review:
    if page.stars is None:
        original, normalised = None, None
    else:
        original = f"{page.stars:g}/{MAX_STARS}"
        normalised = page.stars * 10.0 / MAX_STARS
    review_url = page.canonical_url or url
    return Review(
        title_id=subject.title_id,
        source=SOURCE,
        review_key=review_url,
        author=page.critic,
        review_text=cap(page.body, max_chars),
        original_score=original,
        score_normalized=normalised,
        review_url=review_url,
        published_at=page.published_at,
    )


def _outcome(subject: Subject, status: str, reason: str | None = None, found: int = 0) -> FetchOutcome:
    return FetchOutcome(
        title_id=subject.title_id, source=SOURCE, status=status, reason=reason, reviews_found=found
    )


def fetch_rogerebert(
    subject: Subject, client: HttpClient, settings: ReviewsSettings, as_of: date
) -> SourceResult:
    base = settings.base_url(SOURCE)
    candidates = guess_urls(subject, base)
    if not candidates:
        reason = "no title slug or release year to guess a review URL"
        return SourceResult(outcome=_outcome(subject, "not_found", reason))
    notes: list[str] = []
    disallowed = 0
    for url in candidates:
        path = url[len(base) :]
        try:
            response = client.get(url, source=SOURCE, site_root=base)
        except RobotsDisallowed as exc:
            disallowed += 1
            notes.append(str(exc))
            continue
        except FetchError as exc:
            return SourceResult(outcome=_outcome(subject, "error", f"{path}: {exc}"))
        found = _candidate_result(response, path, url, subject, settings.max_review_chars, as_of)
        if isinstance(found, SourceResult):
            return found
        if found:
            notes.append(found)
    if disallowed == len(candidates):
        return SourceResult(outcome=_outcome(subject, "skipped", "; ".join(dict.fromkeys(notes))))
    reason = f"no review page at {len(candidates)} guessed URL(s)"
    if notes:
        reason += "; " + "; ".join(notes)
    return SourceResult(outcome=_outcome(subject, "not_found", reason))


def _candidate_result(
    response: HttpResponse, path: str, url: str, subject: Subject, max_chars: int, as_of: date
) -> SourceResult | str | None:
    """One guessed page's answer: the source's result, or a note why it is not ours (None: no such page)."""
    if response.status in (404, 410):
        return None
    if response.status == 403:
        return SourceResult(outcome=_outcome(subject, "error", f"{path}: HTTP 403 (blocked)"), blocked=True)
    if response.status != 200:
        return SourceResult(
            outcome=_outcome(
                subject, "error", f"{path}: HTTP {response.status} after {response.attempts} attempt(s)"
            )
        )
    try:
        page = parse_page(response.text)
    except LayoutError as exc:
        reason = f"layout changed at {path}: {exc}"
        return SourceResult.unreadable(SOURCE, subject.title_id, reason, response.text, as_of)
    rejected = namesake_reason(page, subject)
    if rejected:
        return f"{path}: {rejected}"
    review = to_review(page, subject, url, max_chars)
    return SourceResult(outcome=_outcome(subject, "ok", None, 1), reviews=[review])
