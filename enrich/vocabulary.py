"""The fixed vocabularies the enrichment answers in.

- primary genres: JustWatch's genre names, shared with dbt's ``accepted_values`` test;
- vibe tags: the controlled mood vocabulary, owned by the dbt seed ``vibe_tags`` (:mod:`core.vocabulary`
  reads it); :data:`VibeTag` is its ``Literal`` type, which the response schema sends to Gemini as an enum.
"""

from __future__ import annotations

from typing import Literal, get_args

from core.vocabulary import vibe_tag_names, vibe_tags

Genre = Literal[
    "Action & Adventure",
    "Animation",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "History",
    "Horror",
    "Kids & Family",
    "Music & Musical",
    "Mystery & Thriller",
    "Romance",
    "Science-Fiction",
    "Sport",
    "War & Military",
    "Western",
    "Reality TV",
]
PRIMARY_GENRES: tuple[str, ...] = get_args(Genre)

# JustWatch genre short names -> vocabulary ("eur", Made in Europe, is not a genre and maps to nothing).
JUSTWATCH_GENRE_CODES: dict[str, str] = {
    "act": "Action & Adventure",
    "ani": "Animation",
    "cmy": "Comedy",
    "crm": "Crime",
    "doc": "Documentary",
    "drm": "Drama",
    "fnt": "Fantasy",
    "hst": "History",
    "hrr": "Horror",
    "fml": "Kids & Family",
    "msc": "Music & Musical",
    "trl": "Mystery & Thriller",
    "rma": "Romance",
    "scf": "Science-Fiction",
    "spt": "Sport",
    "war": "War & Military",
    "wsn": "Western",
    "rly": "Reality TV",
}

# Common spellings from other sources (TMDB, review sites) -> vocabulary; keys are lowercase.
GENRE_ALIASES: dict[str, str] = {
    **{name.lower(): name for name in PRIMARY_GENRES},
    "action": "Action & Adventure",
    "adventure": "Action & Adventure",
    "action & adventure": "Action & Adventure",
    "animated": "Animation",
    "anime": "Animation",
    "crime drama": "Crime",
    "documentaries": "Documentary",
    "docuseries": "Documentary",
    "family": "Kids & Family",
    "kids": "Kids & Family",
    "children": "Kids & Family",
    "historical": "History",
    "music": "Music & Musical",
    "musical": "Music & Musical",
    "mystery": "Mystery & Thriller",
    "thriller": "Mystery & Thriller",
    "suspense": "Mystery & Thriller",
    "romantic": "Romance",
    "science fiction": "Science-Fiction",
    "sci-fi": "Science-Fiction",
    "sci-fi & fantasy": "Science-Fiction",
    "scifi": "Science-Fiction",
    "sports": "Sport",
    "war": "War & Military",
    "war & politics": "War & Military",
    "military": "War & Military",
    "reality": "Reality TV",
    "reality-tv": "Reality TV",
}


def to_vocabulary(label: str) -> str | None:
    """Map a source genre (JustWatch code or name in any common spelling) to the vocabulary, or None."""
    key = " ".join(label.strip().lower().split())
    if not key:
        return None
    return JUSTWATCH_GENRE_CODES.get(key) or GENRE_ALIASES.get(key)


VIBE_TAGS: tuple[str, ...] = vibe_tag_names()
VibeTag = Literal[VIBE_TAGS]  # type: ignore[valid-type]  # the seed's tags, in its order


def vibe_tag_lines() -> str:
    """The vocabulary as the prompt lists it: one ``- tag: description`` line per tag, in the seed's order."""
    return "\n".join(f"- {t.tag}: {t.description}" for t in vibe_tags())
