"""Pure parsers: TMDB JSON, RogerEbert HTML, Guardian JSON, in the shapes the real services send."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest

from extract.reviews import guardian, rogerebert, tmdb
from extract.reviews.harvest import select_reviews
from extract.reviews.models import LayoutError, Review, Subject
from extract.reviews.text import cap, clean_review_text, slugify
from tests.fakes.review_sites import (
    NOT_FOUND_HTML,
    EbertPage,
    guardian_result,
    guardian_search_body,
    render_review_page,
    render_wordpress_2025_page,
    tmdb_review,
    tmdb_reviews_body,
)

SUBJECT = Subject(title_id="tm1", content_type="movie", title="Lock, Stock and Two Smoking Barrels", year=1998,
                  tmdb_id="100", imdb_id="tt0120735")


# ---- TMDB -------------------------------------------------------------------------------------------
def test_tmdb_real_shapes_name_fallback_null_rating_int_rating_and_stray_slash_avatar() -> None:
    body = tmdb_reviews_body(100, [
        tmdb_review("529bc23719c2957215011e7b", "BradFlix", "I just plain love this movie!", name="",
                    username="BradFlix", rating=None),
        tmdb_review("535856c30e0a26069400064c", "Andres Gomez", "Far from being a good movie.", name="Andres Gomez",
                    username="tanty", rating=3.0, avatar_path="/https://secure.gravatar.com/avatar/x.jpg"),
        tmdb_review("5873810f9251410e71009a68", "Prkns", "Genuinely one of my favourites.", name="", username="",
                    rating=7),
    ])
    reviews = tmdb.parse_reviews(body, "tm1", 4000)
    assert [r.author for r in reviews] == ["BradFlix", "Andres Gomez", "Prkns"]
    assert (reviews[0].original_score, reviews[0].score_normalized) == (None, None)
    assert (reviews[1].original_score, reviews[1].score_normalized) == ("3.0", 3.0)
    assert (reviews[2].original_score, reviews[2].score_normalized) == ("7", 7.0)
    assert reviews[0].review_key == "https://www.themoviedb.org/review/529bc23719c2957215011e7b"
    assert reviews[0].published_at == datetime(2025, 7, 1, 12, 0, tzinfo=UTC)


def test_tmdb_content_crlf_markdown_and_html_are_stripped_and_capped() -> None:
    content = ("The very entertaining ending makes this film.\r\n\r\nI wasn't sure about <em>'Lock, Stock'</em> "
               "until **that** point. See [my list](https://example.org/list).\r\n\r\n> All in all, _very_ good.")
    [review] = tmdb.parse_reviews(tmdb_reviews_body(100, [tmdb_review("a" * 24, "r96sk", content)]), "tm1", 4000)
    assert review.review_text == ("The very entertaining ending makes this film. I wasn't sure about 'Lock, Stock' "
                                  "until that point. See my list. All in all, very good.")
    [short] = tmdb.parse_reviews(tmdb_reviews_body(100, [tmdb_review("b" * 24, "x", content)]), "tm1", 40)
    assert len(short.review_text) <= 40 and short.review_text.endswith("…")


def test_tmdb_bold_with_a_space_inside_its_markers_is_stripped() -> None:
    # The shapes of real TMDB review contents (Oppenheimer, Cruella): a bold sentence closed as `. **`, bold
    # speaker names in a quoted exchange with an empty quote line, bold words mid-sentence, `\r\n` paragraphs.
    content = ('**IT IS "NOT FOR EVERYONE" AS THE DIRECTOR SAID BEFORE THE RELEASE. ** But with some physics it '
               "is a masterpiece.\r\n\r\n> **Oppenheimer:** I feel like I have blood on my hands.\r\n> \r\n"
               "> **Truman:** You think they care?\r\n\r\nThe **world-building** and ** the score ** work, 3 * 4.")
    [review] = tmdb.parse_reviews(tmdb_reviews_body(100, [tmdb_review("c" * 24, "msbreviews", content)]), "tm1", 4000)
    assert "**" not in review.review_text
    assert review.review_text == (
        'IT IS "NOT FOR EVERYONE" AS THE DIRECTOR SAID BEFORE THE RELEASE. But with some physics it is a '
        "masterpiece. Oppenheimer: I feel like I have blood on my hands. Truman: You think they care? "
        "The world-building and the score work, 3 * 4."
    )


def test_tmdb_empty_page_and_wrong_shapes() -> None:
    assert tmdb.parse_reviews({"id": 5, "page": 1, "results": [], "total_pages": 0, "total_results": 0}, "t", 10) == []
    with pytest.raises(LayoutError):
        tmdb.parse_reviews({"errors": ["page must be less than or equal to 500"]}, "t", 10)
    with pytest.raises(LayoutError):
        tmdb.parse_reviews(["not", "a", "page"], "t", 10)


def test_tmdb_error_messages_for_both_json_shapes_and_the_openresty_html_404() -> None:
    assert "could not be found" in tmdb.error_message(
        '{"success":false,"status_code":34,"status_message":"The resource you requested could not be found."}')
    assert "Invalid API key" in tmdb.error_message(
        '{"status_code":7,"status_message":"Invalid API key: You must be granted a valid key.","success":false}')
    assert tmdb.error_message('{"errors":["page must be less than or equal to 500"]}').startswith("page must")
    assert tmdb.error_message(NOT_FOUND_HTML) == "non-JSON error page"


def test_tmdb_ids_of_seasons_map_to_the_show() -> None:
    assert tmdb.tmdb_numeric_id("46648:1") == "46648"
    assert tmdb.tmdb_numeric_id("603") == "603"
    assert tmdb.tmdb_numeric_id("abc") is None and tmdb.tmdb_numeric_id(None) is None


# ---- RogerEbert -------------------------------------------------------------------------------------
def _page(**kw: object) -> EbertPage:
    values: dict = dict(path="/reviews/sinners-movie-review-2025", film_title="Sinners", film_year=2025,
                        critic="Robert Daniels", published=date(2025, 4, 18), stars=3.5, tmdb_id="1233413",
                        paragraphs=["First paragraph.", "Second   paragraph."], spoiler="Who survives.")
    values.update(kw)
    return EbertPage(**values)  # type: ignore[arg-type]


def test_rogerebert_page_parts_and_score() -> None:
    page = rogerebert.parse_page(render_review_page(_page()))
    assert (page.headline, page.film_title, page.film_year, page.critic) == ("Sinners", "Sinners", 2025, "Robert Daniels")
    assert page.published_at == datetime(2025, 4, 18, 9, tzinfo=UTC)  # JSON-LD datePublished
    assert page.stars == 3.5 and not page.thumbs_down and page.from_json_ld
    assert page.tmdb_id == "1233413"
    assert page.body == "First paragraph. Second paragraph."  # the spoiler box is not review text
    assert page.canonical_url == "https://www.rogerebert.com/reviews/sinners-movie-review-2025"
    review = rogerebert.to_review(page, Subject(title_id="tm9", content_type="movie", title="Sinners", year=2025),
                                  "http://127.0.0.1:1/x", 4000)
    assert (review.original_score, review.score_normalized) == ("3.5/4", 8.75)
    assert review.review_key == review.review_url == page.canonical_url


@pytest.mark.parametrize(
    ("stars", "thumbs", "expected"),
    [(4.0, False, ("4/4", 10.0)), (0.5, False, ("0.5/4", 1.25)), (None, True, ("0/4", 0.0)), (None, False, (None, None))],
)
def test_rogerebert_star_icons(stars: float | None, thumbs: bool, expected: tuple) -> None:
    for json_ld in (True, False):  # JSON-LD reviewRating, and the star icons when a page has no JSON-LD
        page = rogerebert.parse_page(render_review_page(_page(stars=stars, thumbs_down=thumbs, json_ld=json_ld)))
        review = rogerebert.to_review(page, SUBJECT, "u", 4000)
        assert (review.original_score, review.score_normalized) == expected
        assert page.from_json_ld is json_ld


def test_rogerebert_html_selectors_are_the_fallback_without_json_ld() -> None:
    page = rogerebert.parse_page(render_review_page(_page(json_ld=False)))
    assert (page.headline, page.critic, page.film_year, page.tmdb_id) == ("Sinners", "Robert Daniels", 2025, "1233413")
    assert page.published_at == datetime(2025, 4, 18, tzinfo=UTC)  # time.time text
    assert page.body == "First paragraph. Second paragraph."


def test_rogerebert_redesigned_page_is_read_from_json_ld() -> None:
    page = rogerebert.parse_page(render_wordpress_2025_page(_page(), json_ld=True))
    assert (page.headline, page.critic, page.film_title, page.film_year) == (
        "Sinners", "Robert Daniels", "Sinners", 2025)
    assert page.stars == 3.5 and page.tmdb_id == "1233413"  # TMDB id from itemReviewed.sameAs
    assert page.body == "First paragraph. Second paragraph."  # div.entry-content, the fallback body


def test_rogerebert_json_ld_review_body_and_ratings_on_other_scales() -> None:
    ld = {"@context": "https://schema.org", "@type": ["Review", "CriticReview"], "name": "Hamnet",
          "reviewBody": "Chloé Zhao's film   is devastating.", "author": [{"@type": "Person", "name": "Odie Henderson"}],
          "datePublished": "2025-11-26T10:00:00-05:00", "reviewRating": {"ratingValue": "7", "bestRating": "8"},
          "itemReviewed": {"@type": "Movie", "name": "Hamnet (2025)"}}
    html = f'<html><body><script type="application/ld+json">{json.dumps(ld)}</script><h1>x</h1></body></html>'
    page = rogerebert.parse_page(html)
    assert (page.body, page.critic, page.film_title, page.film_year) == (
        "Chloé Zhao's film is devastating.", "Odie Henderson", "Hamnet", 2025)
    assert page.stars == 3.5 and page.published_at == datetime(2025, 11, 26, 15, tzinfo=UTC)
    broken = '<html><body><script type="application/ld+json">{not json</script><h1>x</h1></body></html>'
    with pytest.raises(LayoutError, match="no JSON-LD Review"):
        rogerebert.parse_page(broken)


def test_rogerebert_layout_drift_and_garbage_raise_layout_error() -> None:
    with pytest.raises(LayoutError, match="headline selector"):
        rogerebert.parse_page(render_wordpress_2025_page(_page()))
    with pytest.raises(LayoutError, match="not an HTML page"):
        rogerebert.parse_page("\x00\x01 PK garbage bytes without any markup" * 20)
    for json_ld in (True, False):
        no_body = render_review_page(_page(json_ld=json_ld)).replace("page-content--block_editor-content", "x")
        with pytest.raises(LayoutError, match="body selector"):
            rogerebert.parse_page(no_body)


def test_rogerebert_namesake_guard_by_year_and_tmdb_widget() -> None:
    ours = Subject(title_id="tm1", content_type="movie", title="Frankenstein", year=2025, tmdb_id="1062722")
    old = rogerebert.parse_page(render_review_page(_page(film_title="Frankenstein", film_year=1931, tmdb_id=None)))
    assert "1931" in (rogerebert.namesake_reason(old, ours) or "")
    other = rogerebert.parse_page(render_review_page(_page(film_title="Frankenstein", film_year=2025, tmdb_id="3035")))
    assert "TMDB widget id 3035" in (rogerebert.namesake_reason(other, ours) or "")
    near = rogerebert.parse_page(render_review_page(_page(film_title="Frankenstein", film_year=2024, tmdb_id="1062722")))
    assert rogerebert.namesake_reason(near, ours) is None


def test_rogerebert_slug_guesses() -> None:
    assert slugify("Mission: Impossible – The Final Reckoning") == "mission-impossible-the-final-reckoning"
    assert slugify("Thunderbolts*") == "thunderbolts"
    movie = rogerebert.guess_urls(Subject(title_id="t", content_type="movie", title="Barbie", year=2023), "B")
    assert movie == ["B/reviews/barbie-2023", "B/reviews/barbie-movie-review-2023", "B/reviews/barbie-film-review-2023"]
    show = rogerebert.guess_urls(Subject(title_id="t", content_type="show", title="Willow", year=2022), "B")
    assert show == ["B/streaming/willow-tv-review-2022"]
    assert rogerebert.guess_urls(Subject(title_id="t", content_type="movie", title="X", year=None), "B") == []


# ---- Guardian ---------------------------------------------------------------------------------------
def _search(*results: dict) -> dict:
    return guardian_search_body(list(results))


def test_guardian_string_star_rating_and_fields() -> None:
    items = guardian.parse_search(_search(guardian_result(
        "film/2017/nov/26/beach-rats-review", "Beach Rats review – wounded beauty of a lost boy",
        "Eliza Hittman's second feature is a tender study.", "Wendy Ide", "2017-11-26T08:00:05Z",
        star_rating="4", imdb_id="tt6303866", extra_fields={"wordcount": "750", "legallySensitive": False})))
    subject = Subject(title_id="tm2", content_type="movie", title="Beach Rats", year=2017, imdb_id="tt6303866")
    accepted, rejected = guardian.match_results(items, subject)
    assert rejected == [] and len(accepted) == 1
    review = guardian.to_review(accepted[0], "tm2", 4000)
    assert review is not None
    assert (review.original_score, review.score_normalized, review.author) == ("4/5", 8.0, "Wendy Ide")
    assert review.review_key == "https://www.theguardian.com/film/2017/nov/26/beach-rats-review"


def test_guardian_missing_or_bad_star_rating_is_null_not_zero() -> None:
    assert guardian.parse_star_rating(None) == (None, None)
    assert guardian.parse_star_rating("") == (None, None)
    assert guardian.parse_star_rating("9") == (None, None)
    assert guardian.parse_star_rating("1") == ("1/5", 2.0)


def test_guardian_matching_by_imdb_reference_then_headline_and_year() -> None:
    subject = Subject(title_id="tm3", content_type="movie", title="Weapons", year=2025, imdb_id="tt26581740")
    items = guardian.parse_search(_search(
        guardian_result("a", "Weapons review – Zach Cregger's nightmare", "x", "B", "2025-08-06T10:00:00Z",
                        imdb_id="tt26581740"),
        guardian_result("b", "Weapons review – a 2007 thriller", "x", "B", "2025-08-06T10:00:00Z", imdb_id="tt0000001"),
        guardian_result("c", "Weapons review: the jury is out", "x", "C", "2025-08-07T10:00:00Z"),
        guardian_result("d", "Weapons review – old namesake", "x", "D", "2019-01-01T10:00:00Z"),
        guardian_result("e", "The best films about weapons", "x", "E", "2025-08-01T10:00:00Z"),
    ))
    accepted, rejected = guardian.match_results(items, subject)
    assert [i.id for i in accepted] == ["a", "c"]
    assert len(rejected) == 3 and any("published 2019" in r for r in rejected)


def test_guardian_error_and_shape_errors() -> None:
    with pytest.raises(guardian.GuardianApiError, match="Invalid authentication"):
        guardian.parse_search({"response": {"status": "error", "message": "Invalid authentication credentials"}})
    with pytest.raises(LayoutError):
        guardian.parse_search({"message": "API rate limit exceeded"})


# ---- selection --------------------------------------------------------------------------------------
def _review(source: str, key: str, author: str, text: str, day: int) -> Review:
    return Review(title_id="t", source=source, review_key=key, author=author, review_text=text,
                  published_at=datetime(2025, 1, day, tzinfo=UTC))


def test_select_reviews_dedupes_across_sources_and_prefers_critics_then_newest() -> None:
    reviews = [
        _review("tmdb", "t1", "ann", "Great fun.", 9),
        _review("tmdb", "t2", "bob", "Too long.", 10),
        _review("guardian", "g1", "Peter Bradshaw", "A triumph of style.", 2),
        _review("rogerebert", "r1", "Peter Bradshaw", "A triumph of style!", 5),  # same author + text
        _review("guardian", "g2", "Wendy Ide", "Slight but charming.", 3),
    ]
    kept = select_reviews(reviews, 1)  # the cap is per source
    assert [r.review_key for r in kept] == ["r1", "g2", "t2"]
    assert select_reviews(list(reversed(reviews)), 1) == kept
    assert [r.review_key for r in select_reviews(reviews, 5)] == ["r1", "g2", "t2", "t1"]


def test_text_helpers() -> None:
    assert clean_review_text("<p>Hello&nbsp;<b>world</b></p>\r\n\r\n  again", 100) == "Hello world again"
    assert cap("one two three four", 10) == "one two…"
