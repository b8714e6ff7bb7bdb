"""The offline provider: deterministic enrichment from the source data, no network, no cost.

- summary: extractive, 2-4 sentences lifted from the reviews (or, with none, a statement that there are
  no reviews followed by the synopsis);
- score: mean of the reviews' normalised scores (or their parsable original scores), clamped to 1-10;
  without any, the IMDb-like signals of the input, else 5.0;
- tags and genres: keyword rules over the source genres, synopsis and review text; every tag is one of
  the controlled vocabulary (the dbt seed ``vibe_tags``, a test holds the rules to it).
"""

from __future__ import annotations

import re
import time

from core.vocabulary import to_vocabulary
from enrich.inputs import ReviewInput, TitleInput
from enrich.providers.base import CallResult, CallUsage
from enrich.schema import MAX_SENTENCES, MAX_TAGS, MIN_TAGS, TitleEnrichment, split_sentences

MODEL = "heuristic-v1"
NEUTRAL_SCORE = 5.0
MIN_SENTENCE_CHARS = 25
MAX_SENTENCE_CHARS = 320

# (pattern over lowercase text, tag); first matches win, in this order.
TAG_RULES: tuple[tuple[str, str], ...] = (
    (r"\b(hilarious|funny|laugh|comic|witty)\b", "funny"),
    (r"\b(heartwarming|heart-warming|touching|tender)\b", "heartwarming"),
    (r"\b(feel-good|uplifting|charming|delightful)\b", "feel-good"),
    (r"\b(terrifying|scary|creepy|chilling|horrifying)\b", "scary"),
    (r"\b(tense|suspense|suspenseful|nail-biting|gripping)\b", "suspenseful"),
    (r"\b(dark|bleak|grim|sinister)\b", "dark"),
    (r"\b(twist|twists|twisty|unpredictable)\b", "twisty"),
    (r"\b(slow burn|slow-burn|slow|meditative)\b", "slow-burn"),
    (r"\b(epic|sweeping|spectacle|grand)\b", "epic"),
    (r"\b(romantic|romance|love story)\b", "romantic"),
    (r"\b(emotional|moving|tearjerker|poignant)\b", "emotional"),
    (r"\b(thought-provoking|provocative|philosophical|cerebral)\b", "thought-provoking"),
    (r"\b(satire|satirical|lampoon|skewers)\b", "satirical"),
    (r"\b(inspiring|inspirational|triumph|rousing)\b", "inspiring"),
    (r"\b(atmospheric|moody|haunting)\b", "atmospheric"),
    (r"\b(violent|gory|brutal|bloody)\b", "gritty"),
    (r"\b(stunning|beautiful|gorgeous|visually)\b", "visually striking"),
    (r"\b(quirky|offbeat|eccentric|weird)\b", "quirky"),
    (r"\b(nostalgic|nostalgia|retro)\b", "nostalgic"),
    (r"\b(action-packed|explosive|thrilling|adrenaline)\b", "action-packed"),
    (r"\b(mystery|mysterious|whodunit|investigation)\b", "mysterious"),
    (r"\b(family|kids|children)\b", "family-friendly"),
    (r"\b(true story|based on real|real-life|biopic)\b", "informative"),
)

GENRE_TAGS: dict[str, str] = {
    "Action & Adventure": "action-packed",
    "Animation": "whimsical",
    "Comedy": "light-hearted",
    "Crime": "gritty",
    "Documentary": "informative",
    "Drama": "character-driven",
    "Fantasy": "whimsical",
    "History": "epic",
    "Horror": "scary",
    "Kids & Family": "family-friendly",
    "Music & Musical": "feel-good",
    "Mystery & Thriller": "suspenseful",
    "Romance": "romantic",
    "Science-Fiction": "mind-bending",
    "Sport": "inspiring",
    "War & Military": "intense",
    "Western": "gritty",
    "Reality TV": "light-hearted",
}

# Tags that complete a list shorter than MIN_TAGS, in this order.
FILLER_TAGS_SHOW = ("binge-worthy", "character-driven", "atmospheric")
FILLER_TAGS_MOVIE = ("character-driven", "atmospheric", "stylish")

# Keyword rules used only when the source data names no genre we know.
GENRE_RULES: tuple[tuple[str, str], ...] = (
    (r"\b(documentary|docuseries)\b", "Documentary"),
    (r"\b(animated|animation|anime)\b", "Animation"),
    (r"\b(murder|detective|heist|gangster|cartel|crime)\b", "Crime"),
    (r"\b(ghost|haunted|demon|horror|slasher)\b", "Horror"),
    (r"\b(spaceship|alien|future|dystopian|robot|time travel)\b", "Science-Fiction"),
    (r"\b(wizard|dragon|magic|kingdom|fairy)\b", "Fantasy"),
    (r"\b(thriller|mystery|conspiracy|spy)\b", "Mystery & Thriller"),
    (r"\b(comedy|hilarious|sitcom)\b", "Comedy"),
    (r"\b(love|romance|romantic)\b", "Romance"),
    (r"\b(war|soldier|battle)\b", "War & Military"),
    (r"\b(football|basketball|boxing|baseball|athlete)\b", "Sport"),
    (r"\b(band|singer|musical|concert)\b", "Music & Musical"),
    (r"\b(cowboy|outlaw|frontier)\b", "Western"),
    (r"\b(reality|contestants|competition show)\b", "Reality TV"),
    (r"\b(mission|chase|adventure|explosion)\b", "Action & Adventure"),
)

_SCORE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:/\s*(\d+(?:\.\d+)?))?\s*(%)?\s*$")


def score_from_original(original: str | None) -> float | None:
    """``"3.5/4"`` -> 8.75, ``"80%"`` -> 8.0, ``"8"`` -> 8.0 (a bare number is taken as out of 10)."""
    if not original:
        return None
    match = _SCORE.match(original)
    if not match:
        return None
    value, scale, percent = float(match.group(1)), match.group(2), match.group(3)
    if percent:
        return value / 10
    out_of = float(scale) if scale else 10.0
    if out_of <= 0 or value > out_of:
        return None
    return value * 10 / out_of


def review_score(review: ReviewInput) -> float | None:
    if review.score_normalized is not None:
        return review.score_normalized
    return score_from_original(review.original_score)


def heuristic_score(title: TitleInput) -> float:
    scores = [s for s in (review_score(r) for r in title.reviews) if s is not None]
    if scores:
        value = sum(scores) / len(scores)
    elif title.imdb_score is not None:
        value = title.imdb_score
    elif title.tomato_meter is not None:
        value = title.tomato_meter / 10
    else:
        value = NEUTRAL_SCORE
    return round(min(10.0, max(1.0, value)), 1)


def _good_sentences(text: str) -> list[str]:
    return [s for s in split_sentences(text) if MIN_SENTENCE_CHARS <= len(s) <= MAX_SENTENCE_CHARS]


def _fit(sentences: list[str], head: str) -> str:
    """``head`` plus as many sentences as keep the total within 2-4 by the schema's own count."""
    chosen: list[str] = []
    for sentence in sentences:
        candidate = " ".join([head, *chosen, sentence])
        if len(split_sentences(candidate)) > MAX_SENTENCES:
            break
        chosen.append(sentence)
    return " ".join([head, *chosen])


def heuristic_summary(title: TitleInput) -> str:
    return _reviews_summary(title) if title.reviews else _synopsis_summary(title)


def _reviews_summary(title: TitleInput) -> str:
    """A head naming the review count and sources, then the first substantial sentence of each review."""
    sources = sorted({r.source_name for r in title.reviews if r.source_name})
    noun = "review" if len(title.reviews) == 1 else "reviews"
    head = f"Summary of {len(title.reviews)} {noun}" + (f" ({', '.join(sources)})." if sources else ".")
    picks: list[str] = []
    for review in title.reviews:  # the first substantial sentence of each review, in order
        first = next(iter(_good_sentences(review.review_text)), None)
        if first and first not in picks:
            picks.append(first)
    summary = _fit(picks, head)
    return f"{head} The reviews are too short to quote." if summary == head else summary


def _synopsis_summary(title: TitleInput) -> str:
    head = "No reviews were available for this title."
    synopsis = split_sentences(title.synopsis or "")
    summary = _fit(synopsis, head) if synopsis else head
    return f"{head} No usable synopsis was available either." if summary == head else summary


def heuristic_genres(title: TitleInput, text: str) -> list[str]:
    genres: list[str] = []
    for label in title.source_genres:
        genre = to_vocabulary(label)
        if genre and genre not in genres:
            genres.append(genre)
    if not genres:
        for pattern, genre in GENRE_RULES:
            if re.search(pattern, text) and genre not in genres:
                genres.append(genre)
    return genres or ["Drama"]


def heuristic_tags(title: TitleInput, genres: list[str], text: str) -> list[str]:
    tags: list[str] = []
    for pattern, tag in TAG_RULES:
        if re.search(pattern, text) and tag not in tags:
            tags.append(tag)
    for genre in genres:
        tag = GENRE_TAGS[genre]
        if tag not in tags:
            tags.append(tag)
    fillers = FILLER_TAGS_SHOW if title.content_type == "TV Show" else FILLER_TAGS_MOVIE
    for filler in fillers:
        if len(tags) >= MIN_TAGS:
            break
        if filler not in tags:
            tags.append(filler)
    return tags[:MAX_TAGS]


def enrich_one(title: TitleInput) -> TitleEnrichment:
    text = " ".join([title.title, title.synopsis or "", *(r.review_text for r in title.reviews)]).lower()
    genres = heuristic_genres(title, text)
    return TitleEnrichment(
        review_summary=heuristic_summary(title),
        score=heuristic_score(title),
        vibe_tags=heuristic_tags(title, genres, text),  # type: ignore[arg-type]
        primary_genre=genres[0],  # type: ignore[arg-type]
        secondary_genres=genres[1:4],  # type: ignore[arg-type]
    )


class HeuristicProvider:
    name = "heuristic"
    model = MODEL

    def call(self, titles: list[TitleInput]) -> CallResult:
        started = time.perf_counter()
        results = {title.id: enrich_one(title) for title in titles}
        return CallResult(usage=CallUsage(latency_ms=(time.perf_counter() - started) * 1000), results=results)

    def estimate_max_cost(self, titles: list[TitleInput]) -> float:
        return 0.0

    def close(self) -> None:
        return None
