from __future__ import annotations

import json

from enrich.inputs import parse_input_row
from enrich.providers.heuristic import (
    FILLER_TAGS_MOVIE,
    FILLER_TAGS_SHOW,
    GENRE_TAGS,
    TAG_RULES,
    HeuristicProvider,
    enrich_one,
    heuristic_score,
    score_from_original,
)
from enrich.schema import split_sentences
from enrich.vocabulary import VIBE_TAGS
from tests.enrich.conftest import input_row


def test_same_input_gives_the_same_enrichment() -> None:
    titles = [parse_input_row(input_row(i)) for i in range(8)]
    first = HeuristicProvider().call(titles)
    second = HeuristicProvider().call(list(reversed(titles)))
    assert first.results == second.results
    assert first.usage.input_tokens == 0 and first.usage.cost_usd == 0


def test_summary_is_extractive_and_grounded() -> None:
    enrichment = enrich_one(parse_input_row(input_row(1)))
    sentences = split_sentences(enrichment.review_summary)
    assert 2 <= len(sentences) <= 4
    assert sentences[0] == "Summary of 2 reviews (guardian, tmdb)."
    assert "Title number 1 is a gripping, dark thriller with a stunning finale." in sentences
    assert sentences[2] == "A slow but rewarding watch."  # the first sentence of each review, in order
    assert "It lingers" not in enrichment.review_summary


def test_without_reviews_it_says_so_and_uses_the_synopsis() -> None:
    enrichment = enrich_one(parse_input_row(input_row(3)))
    assert enrichment.review_summary.startswith("No reviews were available for this title.")
    assert "A detective investigates case 3" in enrichment.review_summary
    empty = enrich_one(parse_input_row(input_row(3, synopsis=None)))
    assert len(split_sentences(empty.review_summary)) == 2


def test_score_is_mean_of_normalised_scores_clamped() -> None:
    assert enrich_one(parse_input_row(input_row(2))).score == 7.0  # (8 + 6) / 2
    reviews = [{"source_name": "a", "review_text": "Awful.", "score_normalized": 0.0},
               {"source_name": "b", "review_text": "Bad.", "original_score": "1/4"}]
    assert heuristic_score(parse_input_row(input_row(1, scraped_reviews=json.dumps(reviews)))) == 1.2
    zero = [{"source_name": "a", "review_text": "Awful.", "score_normalized": 0.0}]
    assert heuristic_score(parse_input_row(input_row(1, scraped_reviews=json.dumps(zero)))) == 1.0
    assert heuristic_score(parse_input_row(input_row(3))) == 5.0
    assert heuristic_score(parse_input_row({**input_row(3), "imdb_score": 7.3})) == 7.3


def test_original_scores_parse() -> None:
    assert score_from_original("3.5/4") == 8.75
    assert score_from_original("80%") == 8.0
    assert score_from_original("8") == 8.0
    assert score_from_original("five stars") is None
    assert score_from_original("5/4") is None


def test_genres_and_tags_come_from_source_data() -> None:
    enrichment = enrich_one(parse_input_row(input_row(1)))
    assert enrichment.primary_genre == "Mystery & Thriller"
    assert enrichment.secondary_genres == ["Crime", "Drama"]
    assert {"suspenseful", "dark"} <= set(enrichment.vibe_tags)  # "gripping", "dark" in the review
    assert set(enrichment.vibe_tags) <= set(VIBE_TAGS)
    assert 3 <= len(enrichment.vibe_tags) <= 6
    no_genres = enrich_one(parse_input_row(input_row(3, source_genres=None, synopsis="A haunted house.")))
    assert no_genres.primary_genre == "Horror"
    bare = enrich_one(parse_input_row(input_row(3, source_genres="eur", synopsis="Someone.")))
    assert bare.primary_genre == "Drama" and len(bare.vibe_tags) == 3


def test_every_tag_the_rules_can_give_is_in_the_vocabulary() -> None:
    given = {tag for _, tag in TAG_RULES} | set(GENRE_TAGS.values()) | {*FILLER_TAGS_MOVIE, *FILLER_TAGS_SHOW}
    assert given - set(VIBE_TAGS) == set()
