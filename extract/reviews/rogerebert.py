"""RogerEbert.com critic reviews, scraped from review pages (the 2020–2024 template).

Review pages cannot be searched without JavaScript, so the adapter guesses the editorial slug
(``/reviews/<slug>-<year>``, ``-movie-review-<year>``, ``-film-review-<year>``; TV:
``/streaming/<slug>-tv-review-<year>``) and confirms each page against the title: the film's year
must be within ±1 of ours and, when the page carries JustWatch's TMDB widget, its id must be ours.
``parse_page`` is pure; ``fetch_rogerebert`` does the HTTP.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime

from bs4 import BeautifulSoup

from extract.reviews.http import FetchError, HttpClient, RobotsDisallowed
from extract.reviews.models import FetchOutcome, LayoutError, QuarantineEntry, Review, SourceResult, Subject
from extract.reviews.settings import ReviewsSettings
from extract.reviews.text import cap, normalise_whitespace, slugify
from extract.reviews.tmdb import tmdb_numeric_id

SOURCE = "rogerebert"
MAX_STARS = 4
HEADLINE = "h1.page-content--title"
BODY = "section.page-content--block_editor-content"
_YEAR_IN_PARENS = re.compile(r"\((\d{4})\)\s*$")


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


def _stars(soup: BeautifulSoup) -> tuple[float | None, bool]:
    rating = soup.select_one("div.page-content--star-rating span.star-rating")
    if rating is None:
        return None, False
    icons = rating.find_all("i")
    classes = [set(icon.get("class") or []) | {icon.get("title") or ""} for icon in icons]
    if any("icon-thumbsdown" in c or "thumbsdown" in c for c in classes):
        return 0.0, True
    full = sum(1 for c in classes if "icon-star-full" in c or "star-full" in c)
    half = sum(1 for c in classes if "icon-star-half" in c or "star-half" in c)
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


def parse_page(html: str) -> RogerEbertPage:
    """A review page's parts. Raises :class:`LayoutError` naming the selector that missed."""
    if "<" not in html[:2000]:
        raise LayoutError("not an HTML page")
    soup = BeautifulSoup(html, "lxml")
    if soup.body is None and soup.find("h1") is None:
        raise LayoutError("not an HTML page (no <body>)")
    headline_node = soup.select_one(HEADLINE)
    if headline_node is None:
        raise LayoutError(f"headline selector {HEADLINE!r} matched nothing")
    paragraphs: list[str] = []
    for section in soup.select(BODY):
        for spoiler in section.select("div.spoilers"):
            spoiler.decompose()
        for node in section.find_all(["p", "li"]):
            text = normalise_whitespace(node.get_text(" "))
            if text:
                paragraphs.append(text)
    if not paragraphs:
        raise LayoutError(f"body selector {BODY + ' p, li'!r} matched nothing")

    film_title, film_year = None, None
    movie = soup.select_one(".cast-and-crew--movie-title")
    if movie is not None:
        text = normalise_whitespace(movie.get_text(" "))
        match = _YEAR_IN_PARENS.search(text)
        if match:
            film_year = int(match.group(1))
            film_title = text[: match.start()].strip() or None
        else:
            film_title = text or None

    critic_node = soup.select_one(".byline a")
    critic = normalise_whitespace(critic_node.get_text(" ")) if critic_node else None
    if not critic:
        meta = soup.select_one('meta[name="author"]')
        critic = normalise_whitespace(str(meta.get("content") or "")) if meta else None
    stars, thumbs_down = _stars(soup)
    widget = soup.select_one('div[data-jw-widget][data-id-type="tmdb"][data-id]')
    canonical = soup.select_one('link[rel="canonical"][href]') or soup.select_one('meta[property="og:url"][content]')
    canonical_url = None
    if canonical is not None:
        canonical_url = str(canonical.get("href") or canonical.get("content") or "") or None
    return RogerEbertPage(
        headline=normalise_whitespace(headline_node.get_text(" ")),
        body=" ".join(paragraphs),
        film_title=film_title,
        film_year=film_year,
        critic=critic or None,
        published_at=_published(soup),
        stars=stars,
        thumbs_down=thumbs_down,
        tmdb_id=str(widget.get("data-id")).strip() if widget is not None else None,
        canonical_url=canonical_url,
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


def fetch_rogerebert(subject: Subject, client: HttpClient, settings: ReviewsSettings, as_of: date) -> SourceResult:
    def outcome(status: str, reason: str | None = None, found: int = 0) -> FetchOutcome:
        return FetchOutcome(title_id=subject.title_id, source=SOURCE, status=status, reason=reason,
                            reviews_found=found)

    base = settings.base_url(SOURCE)
    candidates = guess_urls(subject, base)
    if not candidates:
        return SourceResult(outcome=outcome("not_found", "no title slug or release year to guess a review URL"))
    notes: list[str] = []
    disallowed = 0
    for url in candidates:
        path = url[len(base):]
        try:
            response = client.get(url, source=SOURCE, site_root=base)
        except RobotsDisallowed as exc:
            disallowed += 1
            notes.append(str(exc))
            continue
        except FetchError as exc:
            return SourceResult(outcome=outcome("error", f"{path}: {exc}"))
        if response.status in (404, 410):
            continue
        if response.status != 200:
            return SourceResult(outcome=outcome(
                "error", f"{path}: HTTP {response.status} after {response.attempts} attempt(s)"))
        try:
            page = parse_page(response.text)
        except LayoutError as exc:
            reason = f"layout changed at {path}: {exc}"
            entry = QuarantineEntry.build(SOURCE, subject.title_id, reason, response.text, as_of)
            return SourceResult(outcome=outcome("error", reason), quarantine=[entry])
        rejected = namesake_reason(page, subject)
        if rejected:
            notes.append(f"{path}: {rejected}")
            continue
        review = to_review(page, subject, url, settings.max_review_chars)
        return SourceResult(outcome=outcome("ok", None, 1), reviews=[review])
    if disallowed == len(candidates):
        return SourceResult(outcome=outcome("skipped", "; ".join(dict.fromkeys(notes))))
    reason = f"no review page at {len(candidates)} guessed URL(s)"
    if notes:
        reason += "; " + "; ".join(notes)
    return SourceResult(outcome=outcome("not_found", reason))
