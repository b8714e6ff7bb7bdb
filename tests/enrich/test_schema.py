from __future__ import annotations

import pytest
from pydantic import ValidationError

from core.vocabulary import JUSTWATCH_GENRE_CODES, PRIMARY_GENRES, to_vocabulary
from enrich.schema import BatchEnrichment, BatchItem, TitleEnrichment, split_sentences
from enrich.vocabulary import Genre

GOOD = {
    "review_summary": "Critics call it tense and stylish. Dr. Lee's score is singled out.",
    "score": 7.5,
    "vibe_tags": ["suspenseful", "stylish", "slow-burn"],
    "primary_genre": "Mystery & Thriller",
    "secondary_genres": ["Crime", "Drama"],
}


def make(**changes: object) -> TitleEnrichment:
    return TitleEnrichment.model_validate({**GOOD, **changes})


def test_vocabulary_is_exactly_the_18_agreed_names() -> None:
    assert PRIMARY_GENRES == (
        "Action & Adventure", "Animation", "Comedy", "Crime", "Documentary", "Drama", "Fantasy", "History",
        "Horror", "Kids & Family", "Music & Musical", "Mystery & Thriller", "Romance", "Science-Fiction",
        "Sport", "War & Military", "Western", "Reality TV",
    )
    assert set(Genre.__args__) == set(PRIMARY_GENRES)
    assert set(JUSTWATCH_GENRE_CODES.values()) == set(PRIMARY_GENRES)
    assert to_vocabulary("scf") == "Science-Fiction"
    assert to_vocabulary(" Sci-Fi ") == "Science-Fiction"
    assert to_vocabulary("eur") is None


def test_valid_answer_parses() -> None:
    enrichment = make()
    assert enrichment.score == 7.5
    assert enrichment.secondary_genres == ["Crime", "Drama"]


@pytest.mark.parametrize("score", [1, 10, 1.0, 9.95])
def test_score_bounds_are_inclusive(score: float) -> None:
    assert make(score=score).score == score


@pytest.mark.parametrize("score", [0, 0.99, 10.01, 11, -3])
def test_score_out_of_range_is_rejected(score: float) -> None:
    with pytest.raises(ValidationError, match="score"):
        make(score=score)


@pytest.mark.parametrize(
    ("tags", "message"),
    [
        (["dark", "twisty"], "at least 3"),
        (["dark", "twisty", "cozy", "epic", "funny", "scary", "quirky"], "at most 6"),
        (["Dark", "twisty", "cozy"], "vibe_tags.0"),  # not in the vocabulary as spelled
        (["dark", "twisty", "moody"], "vibe_tags.2"),  # not in the vocabulary at all
        (["dark", "twisty", "twisty"], "3 distinct"),
        (["dark", "twisty, cozy", "epic"], "vibe_tags.1"),
    ],
)
def test_bad_vibe_tags_are_rejected(tags: list[str], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        make(vibe_tags=tags)


@pytest.mark.parametrize(
    "summary",
    ["Just one sentence.", "One. Two. Three. Four. Five.", ""],
)
def test_summary_must_have_two_to_four_sentences(summary: str) -> None:
    with pytest.raises(ValidationError, match="sentences"):
        make(review_summary=summary)


def test_sentence_split_ignores_abbreviations_and_initials() -> None:
    assert split_sentences("J. R. R. Tolkien's Mr. Baggins returns. It is grand! Is it? Yes") == [
        "J. R. R. Tolkien's Mr. Baggins returns.", "It is grand!", "Is it?", "Yes",
    ]


def test_primary_genre_must_be_in_vocabulary() -> None:
    with pytest.raises(ValidationError, match="primary_genre"):
        make(primary_genre="Thriller")
    with pytest.raises(ValidationError, match="secondary_genres"):
        make(secondary_genres=["Space Opera"])


def test_secondary_genres_drop_the_primary_and_duplicates() -> None:
    assert make(secondary_genres=["Mystery & Thriller", "Crime", "Crime"]).secondary_genres == ["Crime"]


def test_batch_item_carries_id_first_and_converts() -> None:
    assert next(iter(BatchItem.model_fields)) == "id"
    item = BatchItem.model_validate({"id": "tm1", **GOOD})
    assert item.enrichment() == make()
    batch = BatchEnrichment.model_validate({"items": [{"id": "tm1", **GOOD}, {"id": "ts2", **GOOD}]})
    assert [i.id for i in batch.items] == ["tm1", "ts2"]


def test_generation_config_follows_settings() -> None:
    from dataclasses import replace

    from core.config import parse_settings
    from enrich.providers.gemini import GeminiConfig, GeminiProvider

    base = replace(GeminiConfig.from_settings(parse_settings("dev", environ={})), model="m",
                   base_url="http://127.0.0.1:9", temperature=None, thinking_level=None, thinking_budget=None)
    plain = GeminiProvider(base, "k")
    tuned = GeminiProvider(replace(base, temperature=0.2, thinking_level="minimal"), "k")
    budget = GeminiProvider(replace(base, thinking_budget=0), "k")
    try:
        config = plain.generation_config(batch=False)
        assert config.response_schema is TitleEnrichment
        assert config.response_mime_type == "application/json"
        assert config.temperature is None and config.thinking_config is None
        assert plain.generation_config(batch=True).response_schema is BatchEnrichment
        config = tuned.generation_config(batch=False)
        assert config.temperature == 0.2
        assert config.thinking_config.thinking_level.value == "MINIMAL"
        assert budget.generation_config(batch=False).thinking_config.thinking_budget == 0
    finally:
        for provider in (plain, tuned, budget):
            provider.close()
