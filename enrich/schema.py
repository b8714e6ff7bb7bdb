"""The response the model must return, as pydantic models (also sent as ``response_schema``).

``TitleEnrichment`` is the answer for one title; ``BatchEnrichment`` wraps several, each with the ``id``
of the title it describes, so results of a multi-title call are matched back by id, never by position.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from enrich.vocabulary import Genre, VibeTag

MIN_SENTENCES = 2
MAX_SENTENCES = 4
MIN_TAGS = 3
MAX_TAGS = 6
MAX_SECONDARY_GENRES = 3

_ABBREVIATIONS = ("mr", "mrs", "ms", "dr", "st", "jr", "sr", "vs", "no", "vol", "prof", "etc", "e.g", "i.e")
_SENTENCE_END = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s+|$)")


def split_sentences(text: str) -> list[str]:
    """Split prose into sentences; abbreviations (``Dr.``) and initials (``J. R. R.``) do not end one."""
    text = " ".join(text.split())
    sentences: list[str] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        candidate = text[start : match.end()].strip()
        words = text[start : match.start()].split()
        last = words[-1].lower().rstrip(".") if words else ""
        if match.group().startswith(".") and (last in _ABBREVIATIONS or (len(last) == 1 and last.isalpha())):
            continue
        if candidate:
            sentences.append(candidate)
        start = match.end()
    tail = text[start:].strip()
    if tail:
        sentences.append(tail)
    return sentences


ReviewSummary = Annotated[
    str,
    Field(
        description=(
            "2 to 4 sentences summarising what the reviews say, grounded only in the review texts given. "
            "When there are no reviews, say so in the first sentence and summarise the synopsis instead."
        )
    ),
]
Score = Annotated[
    float, Field(ge=1, le=10, description="Overall critical reception from 1 (worst) to 10 (best).")
]
VibeTags = Annotated[
    list[VibeTag],
    Field(
        min_length=MIN_TAGS,
        max_length=MAX_TAGS,
        description=f"{MIN_TAGS} to {MAX_TAGS} tags from the vibe-tag vocabulary describing the mood or feel.",
    ),
]
PrimaryGenre = Annotated[Genre, Field(description="The single best-fitting genre from the fixed list.")]
SecondaryGenres = Annotated[
    list[Genre],
    Field(
        max_length=MAX_SECONDARY_GENRES,
        description=f"Up to {MAX_SECONDARY_GENRES} other genres from the fixed list, not repeating the primary genre.",
    ),
]


def clean_summary(value: str) -> str:
    value = " ".join(value.split())
    count = len(split_sentences(value))
    if not MIN_SENTENCES <= count <= MAX_SENTENCES:
        raise ValueError(f"review_summary must have {MIN_SENTENCES}-{MAX_SENTENCES} sentences, got {count}")
    return value


def clean_tags(tags: list[str]) -> list[str]:
    """The tags (each already one of the vocabulary: the enum) without repeats; at least MIN_TAGS distinct."""
    cleaned = list(dict.fromkeys(tags))
    if len(cleaned) < MIN_TAGS:
        raise ValueError(f"vibe_tags must hold at least {MIN_TAGS} distinct tags")
    return cleaned


def clean_secondary(primary: str, secondary: list[str]) -> list[str]:
    result: list[str] = []
    for genre in secondary:
        if genre != primary and genre not in result:
            result.append(genre)
    return result


class _Validated(BaseModel):
    model_config = ConfigDict(extra="ignore")

    @field_validator("review_summary", check_fields=False)
    @classmethod
    def _summary(cls, value: str) -> str:
        return clean_summary(value)

    @field_validator("vibe_tags", check_fields=False)
    @classmethod
    def _tags(cls, value: list[str]) -> list[str]:
        return clean_tags(value)

    @model_validator(mode="after")
    def _secondary(self):  # type: ignore[no-untyped-def]
        self.secondary_genres = clean_secondary(self.primary_genre, self.secondary_genres)  # type: ignore[attr-defined]
        return self


class TitleEnrichment(_Validated):
    """What the LLM returns for one title."""

    review_summary: ReviewSummary
    score: Score
    vibe_tags: VibeTags
    primary_genre: PrimaryGenre
    secondary_genres: SecondaryGenres = Field(default_factory=list)


class BatchItem(_Validated):
    """One title's answer inside a multi-title response; ``id`` comes first so the model states it first."""

    id: str = Field(description="The id attribute of the <title> block this item describes.")
    review_summary: ReviewSummary
    score: Score
    vibe_tags: VibeTags
    primary_genre: PrimaryGenre
    secondary_genres: SecondaryGenres = Field(default_factory=list)

    def enrichment(self) -> TitleEnrichment:
        return TitleEnrichment.model_validate(self.model_dump(exclude={"id"}))


class BatchEnrichment(BaseModel):
    """The answer to a multi-title prompt: one item per title, each carrying its id."""

    items: list[BatchItem]
